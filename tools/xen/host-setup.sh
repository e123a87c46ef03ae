#!/bin/bash
# Install what the host needs to build and boot the Xen test machine:
# qemu-system-x86, busybox-static and cpio. Nothing else is installed on
# the host: Xen, the kernel and python3.11 are only downloaded and unpacked.
set -euo pipefail
. "$(dirname "$0")/common.sh"
mkdir -p "$XEN_WORK"

[ "$(uname -m)" = x86_64 ] || die "needs an x86_64 host (got $(uname -m))"
[ -r /etc/debian_version ] && grep -q '^12' /etc/debian_version ||
  die "needs Debian 12: the images copy the host's glibc and libgcc_s"

missing=""
command -v qemu-system-x86_64 >/dev/null || missing="$missing qemu-system-x86"
dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'ok installed' ||
  missing="$missing busybox-static"
command -v cpio >/dev/null || missing="$missing cpio"
[ -z "$missing" ] && exit 0

[ "$(id -u)" = 0 ] || die "missing host packages:$missing (install them as root)"
step "apt-get install$missing"
install() {
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
    --no-install-recommends $missing >"$XEN_WORK/apt-install.log" 2>&1
}
if ! install; then
  # Stale or missing package lists: refresh once and try again.
  apt_update
  install || { tail -n 20 "$XEN_WORK/apt-install.log" >&2; die "apt-get install failed"; }
fi
