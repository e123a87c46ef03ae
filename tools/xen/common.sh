# Sourced by the tools/xen scripts: paths, package lists, cache keys, logging.
# shellcheck shell=bash

XEN_TOOLS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PROJECT_ROOT=$(cd "$XEN_TOOLS/../.." && pwd)
# Downloaded .debs and built images are kept here between runs, keyed by
# the package versions (and by the scripts that build from them).
XEN_CACHE=${XENBALLOON_XEN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/xenballoon-xen}
# Per-run outputs (console log, measurements, the payload image).
XEN_WORK=${XENBALLOON_XEN_WORK:-$PROJECT_ROOT/.tox/xen}

# Debian 12 packages that are downloaded and unpacked, never installed.
XEN_PKGS="xen-hypervisor-4.17-amd64 xen-utils-4.17 xen-utils-common
  xenstore-utils libxencall1 libxendevicemodel1 libxenevtchn1
  libxenforeignmemory1 libxengnttab1 libxenhypfs1 libxenmisc4.17
  libxenstore4 libxentoolcore1 libxentoollog1 libyajl2"
PY_PKGS="python3.11-minimal libpython3.11-minimal libpython3.11-stdlib
  libexpat1 libffi8"
GRUB_PKGS="grub-xen-host"
# Installed on the host: the emulator, a static busybox for the images
# and cpio to pack them.
HOST_PKGS="qemu-system-x86 busybox-static cpio"

_T0=${_XEN_T0:-$(date +%s.%N)}
export _XEN_T0=$_T0

elapsed() {
  awk -v a="$_T0" -v b="$(date +%s.%N)" 'BEGIN { printf "%6.1fs", b - a }'
}

step() {
  echo "[$(elapsed)] xen: $*" >&2
}

die() {
  echo "[$(elapsed)] xen: ERROR: $*" >&2
  exit 1
}

sha_of() {
  # sha256 of stdin, first 16 hex digits: enough to key a cache entry.
  sha256sum | cut -c1-16
}

apt_update() {
  step "apt-get update"
  apt-get update -qq >"$XEN_WORK/apt-update.log" 2>&1 ||
    { tail -n 20 "$XEN_WORK/apt-update.log" >&2; die "apt-get update failed"; }
}

kernel_pkg() {
  # The versioned kernel package that linux-image-amd64 points at.
  apt-cache depends linux-image-amd64 2>/dev/null |
    awk '/Depends: linux-image-[0-9]/ { print $2; exit }'
}

# "package=version" for each package, from the local apt lists (no network).
pkg_versions() {
  # shellcheck disable=SC2086
  apt-cache show --no-all-versions "$@" 2>/dev/null |
    awk '/^Package: / { p = $2 } /^Version: / { print p "=" $2 }' | sort -u
}
