#!/bin/bash
# Download (never install) the Debian packages the dom0 image is built
# from, into a cache directory keyed by their versions. Prints that
# directory. A second run with the same versions downloads nothing.
set -euo pipefail
. "$(dirname "$0")/common.sh"
mkdir -p "$XEN_WORK" "$XEN_CACHE/debs"

resolve() {
  KPKG=$(kernel_pkg)
  # shellcheck disable=SC2086
  VERSIONS=$(pkg_versions $XEN_PKGS $PY_PKGS $GRUB_PKGS ${KPKG:-})
  local want
  want=$(echo $XEN_PKGS $PY_PKGS $GRUB_PKGS $KPKG | wc -w)
  [ -n "$KPKG" ] && [ "$(echo "$VERSIONS" | grep -c =)" -eq "$want" ]
}

if ! resolve; then
  apt_update
  resolve || die "cannot resolve the Xen/kernel/python packages in the apt lists"
fi

download() {
  local dir=$1
  rm -rf "$dir.tmp"; mkdir -p "$dir.tmp"
  # shellcheck disable=SC2086
  (cd "$dir.tmp" && apt-get download $VERSIONS) >"$XEN_WORK/apt-download.log" 2>&1 ||
    return 1
  echo "$VERSIONS" > "$dir.tmp/versions.txt"
  echo "$KPKG" > "$dir.tmp/kernel-package.txt"
  rm -rf "$dir"; mv "$dir.tmp" "$dir"
}

KEY=$(echo "$VERSIONS" | sha_of)
DIR=$XEN_CACHE/debs/$KEY
if [ ! -f "$DIR/versions.txt" ]; then
  step "apt-get download $(echo "$VERSIONS" | wc -l) packages (kernel $KPKG)"
  if ! download "$DIR"; then
    # The lists named a version the mirror no longer has: refresh, retry.
    apt_update
    resolve || die "cannot resolve packages after apt-get update"
    KEY=$(echo "$VERSIONS" | sha_of)
    DIR=$XEN_CACHE/debs/$KEY
    download "$DIR" || { tail -n 20 "$XEN_WORK/apt-download.log" >&2; die "apt-get download failed"; }
  fi
  step "downloaded $(du -sh "$DIR" | cut -f1) of .debs into $DIR"
else
  step "cached .debs: $DIR"
fi
echo "$DIR"
