#!/bin/bash
# Build the test payload and the initrd that dom0 boots:
#   base image + Python dependencies (cached) + the project (every run)
# The kernel unpacks concatenated cpio archives in order, so each part is
# packed on its own and only the project's part is rebuilt each run.
#   /payload/site/   the project's requirements + pytest, pip install
#                    --target for python3.11, precompiled (sourceless .pyc)
#   /payload/src/    the project's source tree, precompiled beside its .py,
#                    plus a dist-info carrying setup.cfg's entry points
#   /payload/autorun.sh, /payload/pytest-args
# usage: build-payload.sh --pip        only the pip install (cached); needs
#                                      no base image, so run.sh runs it in
#                                      the background while the base builds
#        build-payload.sh BASEDIR [PYTEST_ARG...]   prints the initrd's path
set -euo pipefail
. "$(dirname "$0")/common.sh"
mkdir -p "$XEN_WORK" "$XEN_CACHE/pip" "$XEN_CACHE/pydeps"
PIP_PYTHON=${XENBALLOON_XEN_PIP_PYTHON:-python3}
# Beyond requirements.txt, the tests need pytest and fixtures (the
# project's tests/conftest.py uses oslo.config's fixture).
EXTRA_REQS="pytest fixtures"

# -- pip install --target (cached by the requirements) -------------------
RKEY=$( {
  cat "$PROJECT_ROOT/requirements.txt"; echo "$EXTRA_REQS"
  sed -n '/^# -- pip install/,/^# -- end pip/p' "$0"
} | sha_of)
SITE=$XEN_CACHE/pip/$RKEY/site
pip_install() {
  [ -d "$SITE" ] && { step "cached pip install: $SITE"; return 0; }
  step "pip install --target: project requirements + $EXTRA_REQS"
  local tmp=$XEN_CACHE/pip/$RKEY.tmp.$$
  local args=(--quiet --disable-pip-version-check --no-compile
              --no-warn-script-location)
  if ! $PIP_PYTHON -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
    # Another interpreter: ask for wheels made for dom0's CPython 3.11.
    args+=(--only-binary=:all: --implementation cp --python-version 3.11
           --abi cp311 --platform manylinux2014_x86_64
           --platform manylinux_2_28_x86_64 --platform linux_x86_64)
  fi
  rm -rf "$tmp"
  # shellcheck disable=SC2086
  $PIP_PYTHON -m pip install "${args[@]}" --target "$tmp/site" \
    -r "$PROJECT_ROOT/requirements.txt" $EXTRA_REQS >"$XEN_WORK/pip.log" 2>&1 ||
    { grep -v '^WARNING: Location' "$XEN_WORK/pip.log" | tail -n 20 >&2
      rm -rf "$tmp"; die "pip install failed"; }
  rm -rf "${SITE%/site}"; mv "$tmp" "${SITE%/site}"
  ls -dt "$XEN_CACHE"/pip/*/ 2>/dev/null | tail -n +4 | xargs -r rm -rf
  step "pip install done: $(du -sh "$SITE" | cut -f1)"
}
# -- end pip

if [ "${1:-}" = --site ]; then
  echo "$SITE"  # the requirements, for host-side tools (compare.py)
  exit 0
fi
if [ "${1:-}" = --pip ]; then
  pip_install
  exit 0
fi
BASE=${1:?usage: build-payload.sh --pip | BASEDIR [PYTEST_ARG...]}; shift
[ $# -gt 0 ] || set -- tests/xen
HOSTPY="env PYTHONHOME=$BASE/python/usr PYTHONDONTWRITEBYTECODE=1 LD_LIBRARY_PATH=$BASE/python/usr/lib/x86_64-linux-gnu $BASE/python/usr/bin/python3.11"

compile() {  # DIR DEST [-b]: unchecked-hash .pyc naming DEST as their source's
  # directory (-b: beside the .py, the legacy layout, for sourceless use)
  $HOSTPY -m compileall -q -j0 --invalidation-mode unchecked-hash -d "$2" \
    "${@:3}" "$1" >/dev/null || die "compileall failed in $1"
}

# -- the dependencies' archive (cached by pip's output and the base) -----
# Never needed at run time in dom0, where every file costs dom0 memory:
# test suites, packaging tools, the netaddr OUI database.
PRUNE="setuptools setuptools-* pkg_resources _distutils_hack
  distutils-precedence.pth bin netaddr/eui/*.txt netaddr/eui/*.idx"
DKEY=$( {
  echo "$RKEY"; cat "$BASE/libs.txt"; echo "$PRUNE"
  $HOSTPY -c 'import sys; print(sys.version)'
  sed -n '/^# -- the dependencies/,/^# -- end deps/p' "$0"
} | sha_of)
DEPS=$XEN_CACHE/pydeps/$DKEY/pydeps.cpio.gz
if [ ! -f "$DEPS" ]; then
  pip_install
  step "packing the dependencies for dom0"
  D=$XEN_CACHE/pydeps/$DKEY.tmp.$$
  rm -rf "$D"; mkdir -p "$D/root/payload" "$D/root/lib/x86_64-linux-gnu"
  cp -a "$SITE" "$D/root/payload/site"
  (
    cd "$D/root/payload/site"
    # shellcheck disable=SC2086
    rm -rf $PRUNE
    find . -type d \( -name tests -o -name test -o -name __pycache__ \) -prune -exec rm -rf {} +
    if command -v strip >/dev/null; then
      find . -name '*.so' -exec strip --strip-unneeded {} + 2>/dev/null || true
    fi
  )
  # Libraries the wheels' extensions need that the base image lacks (psutil
  # wants libpthread.so.0, which no Xen tool links): the host's, Debian 12.
  find "$D/root/payload/site" -name '*.so' -exec ldd {} + 2>/dev/null |
    awk '/=> \// { print $3 }' | sort -u | while read -r lib; do
      grep -qxF "$(basename "$lib")" "$BASE/libs.txt" ||
        cp -L "$lib" "$D/root/lib/x86_64-linux-gnu/"
    done
  # Third-party code is kept as .pyc only: half the memory in dom0.
  compile "$D/root/payload/site" /payload/site -b
  find "$D/root/payload/site" -name '*.py' -delete
  (cd "$D/root" && find . | cpio -o -H newc -R 0:0 --quiet | gzip -1) > "$D/pydeps.cpio.gz"
  du -sk "$D/root" | cut -f1 > "$D/unpacked-kb"
  rm -rf "$D/root" "${DEPS%/*}"; mv "$D" "${DEPS%/*}"
  ls -dt "$XEN_CACHE"/pydeps/*/ 2>/dev/null | tail -n +4 | xargs -r rm -rf
  step "dependencies: $(du -sh "$DEPS" | cut -f1) compressed, $(cat "${DEPS%/*}/unpacked-kb") KiB unpacked"
else
  step "cached dependencies: $DEPS"
fi
# -- end deps

# -- the project --------------------------------------------------------
P=$XEN_WORK/payload
rm -rf "$P"; mkdir -p "$P/payload/src"
cd "$PROJECT_ROOT"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  # tracked files and new ones not ignored: the tree as it is now
  git ls-files -co --exclude-standard -- xenballoon_driver tests etc tools/xen \
    setup.cfg setup.py requirements.txt test-requirements.txt tox.ini
else
  find xenballoon_driver tests etc tools/xen setup.cfg setup.py requirements.txt \
    test-requirements.txt tox.ini -type f ! -path '*/__pycache__/*' ! -name '*.pyc'
fi | while read -r f; do [ -f "$f" ] && printf '%s\0' "$f"; done |
  cpio -p0 -d --quiet "$P/payload/src"
# stevedore finds backends through entry points: give the tree a dist-info
$HOSTPY - "$PROJECT_ROOT/setup.cfg" "$P/payload/src" <<'EOF'
import configparser, os, sys
cfg = configparser.ConfigParser(interpolation=None)
cfg.read(sys.argv[1])
name = cfg['metadata']['name']
d = os.path.join(sys.argv[2], '%s-0.0.0.dist-info' % name.replace('-', '_'))
os.makedirs(d)
with open(os.path.join(d, 'METADATA'), 'w') as f:
    f.write('Metadata-Version: 2.1\nName: %s\nVersion: 0.0.0\n' % name)
with open(os.path.join(d, 'entry_points.txt'), 'w') as f:
    for group, text in cfg['entry_points'].items():
        f.write('[%s]\n' % group)
        for line in text.strip().splitlines():
            f.write(line.strip() + '\n')
        f.write('\n')
EOF
compile "$P/payload/src" /payload/src
cp "$XEN_TOOLS/guest-autorun.sh" "$P/payload/autorun.sh"; chmod 755 "$P/payload/autorun.sh"
printf '%s\n' "$@" > "$P/payload/pytest-args"
(cd "$P" && find . | cpio -o -H newc -R 0:0 --quiet | gzip -1) > "$XEN_WORK/project.cpio.gz"

cat "$BASE/dom0-base.cpio.gz" "$DEPS" "$XEN_WORK/project.cpio.gz" > "$XEN_WORK/dom0-initrd.cpio.gz"
step "initrd $(du -sh "$XEN_WORK/dom0-initrd.cpio.gz" | cut -f1) (project $(du -sh "$XEN_WORK/project.cpio.gz" | cut -f1))"
echo "$XEN_WORK/dom0-initrd.cpio.gz"
