#!/bin/bash
# machine.sh BUILD_DIR KERNEL_DIR OUT_DIR -- build the power-cut machine: a Debian
# cloud kernel, fetched and unpacked once into KERNEL_DIR, and, in OUT_DIR, an
# initramfs holding busybox, the virtio modules, the dynamic loader and libraries,
# libfams_preload.so (and the deliberately broken build), the workloads, the
# behaviour tests and commit_latency where they are built (for init's suite and
# bench workloads), and init.  POWERCUT_KERNEL says which kernel: stable (default:
# Debian 12's linux-image-cloud-amd64, 6.1, with apt-get download) or backports
# (the newest cloud kernel in bookworm-backports, with curl, into
# KERNEL_DIR/backports); they are the only network use.  Prints "kernel PATH
# initrd PATH"; exits 77 with one line when a piece cannot be had.
set -eu
build=$(realpath "$1")
kdir=$2
out=$3
here=$(cd "$(dirname "$0")" && pwd)
which=${POWERCUT_KERNEL:-stable}
case $which in
stable) ;;
backports) kdir=$kdir/backports ;;
*) echo "machine.sh: POWERCUT_KERNEL is stable or backports, not '$which'" >&2; exit 2 ;;
esac
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
	rm -rf "$kdir/deb" "$kdir/root" && mkdir -p "$kdir/deb"
	if [ "$which" = stable ]; then
		pkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
		[ -n "$pkg" ] || skip "apt cannot name Debian's cloud kernel package (linux-image-cloud-amd64)"
		(cd "$kdir/deb" && apt-get download -q "$pkg" >/dev/null 2>&1) || skip "cannot download $pkg"
	else # read bookworm-backports' package list; the machine's apt sources stay as they are
		mirror=http://deb.debian.org/debian
		list=$mirror/dists/bookworm-backports/main/binary-amd64/Packages.xz
		newest=$(curl -fsSL -m 120 "$list" 2>/dev/null | xz -dc 2>/dev/null |
			awk '/^Package: / {p = ($2 ~ /^linux-image-[0-9].*-cloud-amd64$/)} p && /^Version: / {v = $2}
			     p && /^Filename: / {f = $2} p && /^SHA256: / {s = $2} /^$/ {if (p) print v, f, s; p = 0}' |
			sort -V | tail -1) || true
		read -r _ file sum <<<"$newest"
		[ -n "${sum:-}" ] || skip "cannot read bookworm-backports' cloud kernels from $list"
		curl -fsSL -m 900 -o "$kdir/deb/$(basename "$file")" "$mirror/$file" 2>/dev/null || skip "cannot download $mirror/$file"
		echo "$sum  $kdir/deb/$(basename "$file")" | sha256sum -c --quiet >/dev/null 2>&1 || skip "$file: wrong SHA256"
	fi
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
# The modules for the virtio disk and ext4, each after those it depends on (from
# its .modinfo: the package has no modules.dep), less those built in; decompressed
# (newer kernels ship .ko.xz, and busybox insmod takes a plain .ko).  init loads
# them in the order of /modules/order.
declare -A path=() seen=()
while read -r f; do
	m=$(basename "$f") m=${m%%.ko*}
	path[${m//-/_}]=$f
done < <(find "$modules" -name '*.ko' -o -name '*.ko.xz' -o -name '*.ko.zst')
builtin=$(sed 's,.*/,,; s,\.ko$,,; s,-,_,g' "$modules/modules.builtin")
need() {
	local m=${1//-/_} d
	[ -z "${seen[$m]:-}" ] || return 0
	seen[$m]=1
	grep -qx "$m" <<<"$builtin" && return 0
	[ -n "${path[$m]:-}" ] || skip "$(basename "$modules") has no module $m"
	case ${path[$m]} in
	*.xz) xz -dc "${path[$m]}" ;;
	*.zst) zstd -qdc "${path[$m]}" ;;
	*) cat "${path[$m]}" ;;
	esac >"$root/modules/$m.ko"
	for d in $(tr '\0' '\n' <"$root/modules/$m.ko" | sed -n 's/^depends=//p' | tr , ' '); do need "$d"; done
	echo "$m" >>"$root/modules/order"
}
: >"$root/modules/order"
for m in virtio_pci virtio_blk ext4; do need $m; done
progs=("$build/preload/libfams_preload.so" "$build/preload/libfams_preload_broken.so"
	"$build/tests/torture_writer" "$build/tests/share_torture")
cp "${progs[@]}" "$root/fams/"
if [ -x "$build/tests/gdbm_counter" ]; then
	cp "$build/tests/gdbm_counter" "$root/fams/" && progs+=("$build/tests/gdbm_counter")
fi
if command -v kchashtest >/dev/null; then
	cp "$(command -v kchashtest)" "$root/bin/"
	progs+=("$(command -v kchashtest)")
fi
# The behaviour tests (tests/CMakeLists.txt's PRELOAD_TESTS, in the build's own
# source tree, and t_startup), in /fams/suite in that order, and commit_latency.
src=$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$build/CMakeCache.txt" 2>/dev/null)
[ -e "${src:-/nonexistent}/tests/CMakeLists.txt" ] || src=$here/../..
awk '/^[ \t]*(set|list)\((APPEND )?PRELOAD_TESTS/ {on = 1} on {sub(/#.*/, ""); print} on && /\)/ {on = 0}' \
	"$src/tests/CMakeLists.txt" | grep -o '\bt_[a-z0-9_]*' >"$root/fams/suite.all"
echo t_startup >>"$root/fams/suite.all"
: >"$root/fams/suite"
while read -r t; do
	[ -x "$build/tests/$t" ] || continue
	cp "$build/tests/$t" "$root/fams/" && progs+=("$build/tests/$t") && echo "$t" >>"$root/fams/suite"
done <"$root/fams/suite.all"
rm "$root/fams/suite.all"
# The programs they run (execl("/usr/bin/touch", ...)): the host's, at the same
# path, so that they run under fams too (busybox's applets are static).
for p in $(cd "$src/tests" && sed 's/$/.c/' "$root/fams/suite" | xargs cat 2>/dev/null |
	grep -o '"/\(usr/\)\?bin/[a-z0-9_.-]*"' | tr -d '"' | sort -u); do
	[ -x "$p" ] || continue
	mkdir -p "$root/$(dirname "$p")" && cp -L "$p" "$root/$p" && progs+=("$p")
done
if [ -x "$build/bench/commit_latency" ]; then
	cp "$build/bench/commit_latency" "$root/fams/" && progs+=("$build/bench/commit_latency")
fi
# Every library they need, and the dynamic loader where they look for it.
for p in "${progs[@]}"; do
	ldd "$p" | awk '/=> \// {print $3} /^\t\/lib64\// {print $1}'
done | sort -u | while read -r lib; do
	cp -L "$lib" "$root/lib/"
done
# ... and the ones fams loads with dlopen when asked (libunwind, for FAMS_REPORT).
for lib in libunwind.so.8 liblzma.so.5; do
	found=$(ldconfig -p | awk -v l="$lib" '$1 == l && /x86-64/ {print $NF; exit}')
	[ -n "$found" ] && cp -L "$found" "$root/lib/"
done
cp -L /lib64/ld-linux-x86-64.so.2 "$root/lib64/"
# The C.UTF-8 locale (t_wide_stream), where the host has it.
if [ -d /usr/lib/locale/C.utf8 ]; then
	mkdir -p "$root/usr/lib/locale" && cp -r /usr/lib/locale/C.utf8 "$root/usr/lib/locale/"
fi
# The tracker probe (bench/probes), for the machine's kernel to be measured on.
cc -O2 -D_GNU_SOURCE -o "$root/fams/old_kernel_trackers" "$here/../../bench/probes/old_kernel_trackers.c" -lpthread ||
	skip "cannot build bench/probes/old_kernel_trackers.c"
progs+=("$root/fams/old_kernel_trackers")
cp "$here/init" "$root/init"
chmod +x "$root/init"
(cd "$root" && find . | busybox cpio -o -H newc 2>/dev/null | gzip -1) >"$out/initrd.gz"
rm -rf "$root"
echo "kernel $kdir/vmlinuz initrd $out/initrd.gz"
