#!/bin/bash
# Build the dom0 base image from the downloaded .debs, into the cache:
#   $XEN_CACHE/base/KEY/xen            Xen 4.17 (multiboot ELF, for qemu -kernel)
#   $XEN_CACHE/base/KEY/vmlinuz        the Debian PV dom0 kernel
#   $XEN_CACHE/base/KEY/dom0-base.cpio.gz
# The image holds busybox, the xl toolstack with its libraries (and
# libgcc_s, which glibc loads at run time), the xen kernel modules, Debian's
# python3.11 with a precompiled stdlib, and guest kernels under /guest
# (pvgrub, the Debian vmlinuz and a tiny busybox initrd). KEY covers the
# package versions, these scripts and the host libraries copied in.
# usage: build-base.sh DEBDIR      prints the base directory
set -euo pipefail
. "$(dirname "$0")/common.sh"
DEBS=${1:?usage: build-base.sh DEBDIR}
[ -f "$DEBS/versions.txt" ] || die "$DEBS has no versions.txt"

KEY=$( {
  cat "$DEBS/versions.txt"
  cat "$XEN_TOOLS/build-base.sh" "$XEN_TOOLS/dom0-init" "$XEN_TOOLS/guest-init" \
    "$XEN_TOOLS/guest-poweroff"
  dpkg-query -W busybox-static libc6 libgcc-s1 2>/dev/null
} | sha_of)
BASE=$XEN_CACHE/base/$KEY
if [ -f "$BASE/dom0-base.cpio.gz" ]; then
  step "cached base image: $BASE"
  echo "$BASE"
  exit 0
fi

step "building the dom0 base image (key $KEY)"
BUILD=$XEN_CACHE/build.$$
trap 'rm -rf "$BUILD"' EXIT
rm -rf "$BUILD"; mkdir -p "$BUILD"/{stage,stage-py,stage-grub,out}
STAGE=$BUILD/stage PYS=$BUILD/stage-py GRUBS=$BUILD/stage-grub OUT=$BUILD/out

deb() { ls "$DEBS/$1"_*.deb 2>/dev/null | head -1; }
for p in $XEN_PKGS; do dpkg-deb -x "$(deb "$p")" "$STAGE"; done
for p in $PY_PKGS; do dpkg-deb -x "$(deb "$p")" "$PYS"; done
for p in $GRUB_PKGS; do dpkg-deb -x "$(deb "$p")" "$GRUBS"; done
# Of the kernel package only the kernel, the xen modules and loop (the
# back-off test's page cache: tests/xen/pagecache.py) are needed.
KPKG=$(cat "$DEBS/kernel-package.txt")
dpkg-deb --fsys-tarfile "$(deb "$KPKG")" |
  tar -x -C "$STAGE" --wildcards './boot/vmlinuz-*' './lib/modules/*/kernel/drivers/xen/*' \
    './lib/modules/*/kernel/drivers/block/loop.ko'
KV=$(ls "$STAGE/lib/modules" | head -1)
gunzip -c "$STAGE/boot/xen-4.17-amd64.gz" > "$OUT/xen"   # qemu -kernel wants the ELF
cp "$STAGE/boot/vmlinuz-$KV" "$OUT/vmlinuz"
step "unpacked (kernel $KV)"

R=$BUILD/root
mkdir -p "$R"; cd "$R"
mkdir -p bin sbin usr/bin usr/sbin usr/lib/xen-4.17/bin lib64 \
  lib/x86_64-linux-gnu etc/xen proc sys dev run tmp root guest \
  var/lib/xen var/lib/xenstored var/log/xen/console var/lock \
  "lib/modules/$KV/kernel/drivers/xen/xenfs" "lib/modules/$KV/kernel/drivers/block"
ln -s /run var/run
ln -s ../../lib/x86_64-linux-gnu usr/lib/x86_64-linux-gnu
echo /lib/x86_64-linux-gnu > etc/ld.so.conf
echo 'root:x:0:0:root:/root:/bin/sh' > etc/passwd
echo 'root:x:0:' > etc/group

# busybox (static) and its applets
cp /bin/busybox bin/busybox
for a in $(bin/busybox --list); do [ -e "bin/$a" ] || ln -s busybox "bin/$a"; done

# the Xen toolstack
XB=$STAGE/usr/lib/xen-4.17/bin
for b in xl xenstored xenconsoled xen-init-dom0 libxl-save-helper \
         xenstore-control xenconsole; do
  cp -a "$XB/$b" usr/lib/xen-4.17/bin/
done
for b in xl xenstored xenconsoled xen-init-dom0; do
  ln -s "/usr/lib/xen-4.17/bin/$b" "usr/sbin/$b"
done
cp -a "$STAGE/usr/bin/xenstore" usr/bin/
for t in read write ls list rm exists watch chmod; do ln -s xenstore "usr/bin/xenstore-$t"; done
cp -a "$STAGE/etc/xen/xl.conf" etc/xen/
[ -d "$STAGE/etc/xen/scripts" ] && cp -a "$STAGE/etc/xen/scripts" etc/xen/

# shared libraries: the staged Xen ones first, then the host's (Debian 12)
copy_libs() {  # LIBPATH FILE...
  local libpath=$1; shift
  for f in "$@"; do
    LD_LIBRARY_PATH=$libpath ldd "$f" 2>/dev/null |
      awk '/=> \// { print $3 }'
  done | sort -u | while read -r lib; do
    [ -e "lib/x86_64-linux-gnu/$(basename "$lib")" ] || cp -L "$lib" lib/x86_64-linux-gnu/
  done
}
copy_libs "$STAGE/usr/lib/x86_64-linux-gnu" usr/lib/xen-4.17/bin/* usr/bin/xenstore
cp -L /lib64/ld-linux-x86-64.so.2 lib64/
# glibc dlopen()s libgcc_s for pthread_cancel; ldd does not list it, and
# without it "xl create" aborts (rc 134) once the domain is built.
cp -L /lib/x86_64-linux-gnu/libgcc_s.so.1 lib/x86_64-linux-gnu/

# Debian's python3.11, its stdlib precompiled (unchecked-hash .pyc: no
# compiling and no mtime checks in dom0, where every cycle is emulated)
cp -a "$PYS/usr/bin/python3.11" usr/bin/
ln -s python3.11 usr/bin/python3
mkdir -p usr/lib/python3.11
cp -a "$PYS/usr/lib/python3.11/." usr/lib/python3.11/
( cd usr/lib/python3.11 &&
  rm -rf test idlelib tkinter turtledemo ensurepip lib2to3 pydoc_data \
         config-3.11-x86_64-linux-gnu &&
  find . -name __pycache__ -prune -exec rm -rf {} + )
cp -an "$PYS/usr/lib/x86_64-linux-gnu/." lib/x86_64-linux-gnu/
HOSTPY="env PYTHONHOME=$PYS/usr LD_LIBRARY_PATH=$PYS/usr/lib/x86_64-linux-gnu $PYS/usr/bin/python3.11"
$HOSTPY -c 'import sys; assert sys.version_info[:2] == (3, 11)' ||
  die "the staged python3.11 does not run on this host"
$HOSTPY -m compileall -q -j0 --invalidation-mode unchecked-hash \
  usr/lib/python3.11 >/dev/null || die "precompiling the stdlib failed"
copy_libs "$PYS/usr/lib/x86_64-linux-gnu" usr/bin/python3.11 usr/lib/python3.11/lib-dynload/*.so

# kernel modules the toolstack needs
MD=$STAGE/lib/modules/$KV/kernel/drivers/xen
MR=lib/modules/$KV/kernel/drivers/xen
cp "$MD/xen-evtchn.ko" "$MD/xen-gntdev.ko" "$MD/xen-gntalloc.ko" "$MD/xen-privcmd.ko" "$MR/"
cp "$MD/xenfs/xenfs.ko" "$MR/xenfs/"
# loop: a block device over a sparse file, whose reads fill dom0's page
# cache with clean, reclaimable pages (the initramfs itself is shmem).
cp "$STAGE/lib/modules/$KV/kernel/drivers/block/loop.ko" "lib/modules/$KV/kernel/drivers/block/"

# guest kernels: pvgrub (a 2 MiB PV kernel that waits at a grub prompt: the
# cheapest guest that really runs) and the Debian kernel + a busybox initrd
cp "$GRUBS/usr/lib/grub-xen/grub-x86_64-xen.bin" guest/pvgrub.bin
cp "$OUT/vmlinuz" guest/vmlinuz
G=$BUILD/guest-root
mkdir -p "$G"/{bin,sbin,proc,sys,dev}
cp /bin/busybox "$G/bin/"; ln -s busybox "$G/bin/sh"
cp "$XEN_TOOLS/guest-init" "$G/init"; chmod 755 "$G/init"
# what Linux runs when xl shutdown asks the guest to power off
cp "$XEN_TOOLS/guest-poweroff" "$G/sbin/poweroff"; chmod 755 "$G/sbin/poweroff"
(cd "$G" && find . | cpio -o -H newc -R 0:0 --quiet | gzip -1) > guest/initrd.gz

cp "$XEN_TOOLS/dom0-init" init; chmod 755 init

find . | cpio -o -H newc -R 0:0 --quiet | gzip -1 > "$OUT/dom0-base.cpio.gz"
cp "$DEBS/versions.txt" "$OUT/"
ls lib/x86_64-linux-gnu > "$OUT/libs.txt"   # build-payload.sh adds what is missing
# the staged python3.11 stays beside the image: build-payload.sh compiles
# the payload with the very interpreter dom0 runs
mv "$PYS" "$OUT/python"
echo "$KV" > "$OUT/kernel-version.txt"
step "base image $(du -sh "$OUT/dom0-base.cpio.gz" | cut -f1) compressed, $(du -sh "$R" | cut -f1) unpacked"
cd /
mkdir -p "$XEN_CACHE/base"
rm -rf "$BASE"; mv "$OUT" "$BASE"
# keep only the newest few base images
ls -dt "$XEN_CACHE"/base/*/ 2>/dev/null | tail -n +4 | xargs -r rm -rf
echo "$BASE"
