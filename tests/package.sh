#!/bin/bash
# package.sh BUILD -- the Debian package: configure a build of the engine, the
# preload library and the scripts for /usr, make the .deb with cpack, unpack it into
# a scratch root (dpkg -x), and run programs under the famsrun it holds: it must
# find its own library (Debian's multiarch directory), refuse a static program, and
# a program's commit under it must reach the file.
set -u
build=$(realpath "$1")
src=$(cd "$(dirname "$0")/.." && pwd)
for t in cpack dpkg-deb dpkg-shlibdeps; do
	command -v $t >/dev/null || { echo "skip: $t not installed (dpkg-dev)"; exit 77; }
done
work=$(mktemp -d "${FAMS_TEST_DIR:-$build/testdata}/package.XXXXXX")
trap 'rm -rf "$work"' EXIT
fail() { echo "package: $*"; exit 1; }
cmake -S "$src" -B "$work/build" -DCMAKE_INSTALL_PREFIX=/usr -DFAMS_BUILD_TESTS=OFF -DBUILD_TESTING=OFF \
	>"$work/log" 2>&1 || fail "configure failed: $(tail -3 "$work/log")"
cmake --build "$work/build" -j2 >>"$work/log" 2>&1 || fail "build failed: $(tail -3 "$work/log")"
(cd "$work/build" && cpack -G DEB >>"$work/log" 2>&1) || fail "cpack failed: $(tail -3 "$work/log")"
deb=$(ls "$work/build"/fams_*_*.deb 2>/dev/null | head -1)
[ -n "$deb" ] || fail "no fams_VERSION_ARCH.deb made"
echo "made $(basename "$deb"): $(dpkg-deb -f "$deb" Depends)"
root=$work/root
dpkg -x "$deb" "$root" || fail "dpkg -x failed"
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)
for f in usr/bin/famsrun "usr/lib/$multiarch/fams/libfams_preload.so" usr/libexec/fams/fams-recover \
	usr/libexec/fams/fams-exec-check usr/share/man/man1/famsrun.1.gz usr/share/man/man7/fams.7.gz \
	usr/share/doc/fams/copyright usr/share/doc/fams/changelog.gz; do
	[ -e "$root/$f" ] || fail "the package lacks /$f"
done
famsrun=$root/usr/bin/famsrun
preload=$("$famsrun" sh -c 'echo "$LD_PRELOAD"')
[ "$preload" = "$root/usr/lib/$multiarch/fams/libfams_preload.so" ] ||
	fail "the packaged famsrun preloads '$preload', not its own library"
"$famsrun" "$build/tests/static_prog" 2>/dev/null
[ $? = 126 ] || fail "the packaged famsrun ran a static program"
FAMS_TEST_DIR=$work "$famsrun" "$build/tests/t_commit_msync" >"$work/run" 2>&1 ||
	fail "t_commit_msync under the packaged famsrun: $(tail -3 "$work/run")"
echo "the packaged famsrun preloads its own library, refuses a static program, and commits"
