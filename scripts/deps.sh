#!/bin/sh
# deps.sh -- install what fams needs to build and test (Debian 12; run as root or with sudo).
set -e
pkgs="build-essential cmake pkg-config dpkg-dev gnuplot-nox libxxhash-dev uthash-dev libunwind-dev bats strace eatmydata kyotocabinet-utils libpmemobj-dev xfsprogs clang libclang-rt-14-dev python3 fio stress-ng libtdb-dev tdb-tools liblmdb-dev sqlite3 qemu-system-x86 nbdkit busybox-static liburing2 lld libgdbm-dev"
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
sudo=""
[ "$(id -u)" = 0 ] || sudo=sudo
echo "installing:$missing"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $missing >/dev/null
