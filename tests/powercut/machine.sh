#!/bin/bash
# machine.sh BUILD_DIR KERNEL_DIR OUT_DIR -- build the power-cut machine: a Debian
# cloud kernel, fetched with apt-get download (the only network use) and unpacked
# once into KERNEL_DIR, and, in OUT_DIR, an initramfs holding busybox, the virtio
# modules, the dynamic loader and libraries, libfams_preload.so (and the
# deliberately broken build), the workloads and init.  Prints "kernel PATH initrd
# PATH"; exits 77 with one line when a piece cannot be had.
set -eu
build=$(realpath "$1")
kdir=$2
out=$3
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$kdir" "$out"
kdir=$(realpath "$kdir") out=$(realpath "$out")
skip() { echo "skip: $*"; exit 77; }
command -v busybox >/dev/null && busybox --list | grep -qx insmod || skip "busybox-static is not installed"
for f in preload/libfams_preload.so preload/libfams_preload_broken.so tests/torture_writer tests/share_torture; do
	[ -e "$build/$f" ] || skip "$build/$f is not built"
done

# The kernel: the package of Debian's cloud kernel, unpacked once (under a lock:
# several runs may start at once).
exec 9>"$kdir/.lock"
flock 9
if [ ! -e "$kdir/vmlinuz" ]; then
	pkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
	[ -n "$pkg" ] || skip "apt cannot name Debian's cloud kernel package (linux-image-cloud-amd64)"
	rm -rf "$kdir/deb" "$kdir/root" && mkdir -p "$kdir/deb"
	(cd "$kdir/deb" && apt-get download -q "$pkg" >/dev/null 2>&1) || skip "cannot download $pkg"
	dpkg-deb -x "$kdir"/deb/*.deb "$kdir/root"
	cp "$kdir"/root/boot/vmlinuz-* "$kdir/vmlinuz.new" && mv "$kdir/vmlinuz.new" "$kdir/vmlinuz"
fi
flock -u 9
modules=$(ls -d "$kdir"/root/lib/modules/*)

# The initramfs, rebuilt every time (the library and workloads change).
root=$out/initramfs
rm -rf "$root"
mkdir -p "$root"/{bin,lib,lib64,modules,fams,proc,sys,dev,mnt}
cp "$(command -v busybox)" "$root/bin/busybox"
ln -s busybox "$root/bin/sh"
for m in virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_blk; do
	cp "$(find "$modules" -name "$m.ko" | head -1)" "$root/modules/"
done
progs=("$build/preload/libfams_preload.so" "$build/preload/libfams_preload_broken.so"
	"$build/tests/torture_writer" "$build/tests/share_torture")
cp "${progs[@]}" "$root/fams/"
if command -v kchashtest >/dev/null; then
	cp "$(command -v kchashtest)" "$root/bin/"
	progs+=("$(command -v kchashtest)")
fi
# Every library they need, and the dynamic loader where they look for it.
for p in "${progs[@]}"; do
	ldd "$p" | awk '/=> \// {print $3} /^\t\/lib64\// {print $1}'
done | sort -u | while read -r lib; do
	cp -L "$lib" "$root/lib/"
done
cp -L /lib64/ld-linux-x86-64.so.2 "$root/lib64/"
# The tracker probe (bench/probes), for the machine's kernel to be measured on.
cc -O2 -D_GNU_SOURCE -o "$root/fams/old_kernel_trackers" "$here/../../bench/probes/old_kernel_trackers.c" -lpthread ||
	skip "cannot build bench/probes/old_kernel_trackers.c"
progs+=("$root/fams/old_kernel_trackers")
cp "$here/init" "$root/init"
chmod +x "$root/init"
(cd "$root" && find . | busybox cpio -o -H newc 2>/dev/null | gzip -1) >"$out/initrd.gz"
rm -rf "$root"
echo "kernel $kdir/vmlinuz initrd $out/initrd.gz"
