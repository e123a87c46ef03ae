#!/bin/bash
# tox -e xen: the project's tests inside a real Xen 4.17 dom0 under QEMU.
#
#   1. host-setup.sh     apt-get install qemu-system-x86 busybox-static cpio
#   2. fetch-debs.sh     apt-get download Xen, the kernel, python3.11 (cached)
#   3. build-base.sh     the dom0 base initramfs (cached by package versions)
#   4. build-payload.sh  project requirements (cached; pip runs in the
#                        background from the start) + the project tree
#   5. run-qemu.py       boot, run pytest in dom0, power off, report
#   6. compare.py        the simulator's predictions next to this run
#
# usage: tools/xen/run.sh [PYTEST_ARG...]     (default: tests/xen)
# env:   XENBALLOON_XEN_CACHE   cache dir (default ~/.cache/xenballoon-xen)
#        XENBALLOON_XEN_WORK    outputs (default .tox/xen): console.log,
#                               measurements.json, the initrd
#        XENBALLOON_XEN_TIMEOUT hard limit on the boot, s (default 900)
#        XENBALLOON_XEN_MIN_PASSED  tests that must pass (default: 15 for
#                               the whole of tests/xen, else 1)
#        XENBALLOON_XEN_ARGS    more run-qemu.py arguments
set -euo pipefail
TOOLS=$(cd "$(dirname "$0")" && pwd)
. "$TOOLS/common.sh"
mkdir -p "$XEN_WORK"
step "cache $XEN_CACHE, outputs $XEN_WORK"

# pip needs neither apt nor the base image: let it run meanwhile.
bash "$TOOLS/build-payload.sh" --pip & PIP=$!
trap 'kill $PIP 2>/dev/null || true' EXIT
bash "$TOOLS/host-setup.sh"
DEBS=$(bash "$TOOLS/fetch-debs.sh")
BASE=$(bash "$TOOLS/build-base.sh" "$DEBS")
wait $PIP || die "pip install failed (see $XEN_WORK/pip.log)"
trap - EXIT
INITRD=$(bash "$TOOLS/build-payload.sh" "$BASE" "$@")

# tests/xen has 15 tests, all must pass; a selection, at least one
MIN_PASSED=1
{ [ $# -eq 0 ] || [ "$*" = tests/xen ] || [ "$*" = tests/xen/ ]; } && MIN_PASSED=15
step "booting Xen + dom0 in QEMU (TCG); tests run inside dom0"
set +e
# shellcheck disable=SC2086
python3 "$TOOLS/run-qemu.py" \
  --xen "$BASE/xen" --kernel "$BASE/vmlinuz" --initrd "$INITRD" \
  --log "$XEN_WORK/console.log" --measurements "$XEN_WORK/measurements.json" \
  --timeout "${XENBALLOON_XEN_TIMEOUT:-900}" \
  --min-passed "${XENBALLOON_XEN_MIN_PASSED:-$MIN_PASSED}" ${XENBALLOON_XEN_ARGS:-}
rc=$?
set -e
if [ $rc -eq 0 ] && [ -s "$XEN_WORK/measurements.json" ]; then
  # A report, not a verdict: the fitted scenario's predictions next to
  # this run (tools/xen/compare.py); timing on a loaded machine varies.
  step "simulated vs real (the shipped xen-qemu scenario)"
  PYTHONPATH="$(bash "$TOOLS/build-payload.sh" --site):$XEN_WORK/payload/payload/src" \
    python3 "$TOOLS/compare.py" "$XEN_WORK/measurements.json" ||
    step "compare.py failed (the run itself passed)"
fi
step "done: rc=$rc"
exit $rc
