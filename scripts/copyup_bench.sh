#!/bin/sh
# copyup_bench.sh - measure a big copy-up through NFS (not a test).
#   scripts/copyup_bench.sh [-x] [-m] [-s SIZE] [UNIONNFSD]
# Makes a lower file of SIZE (default 1G, real data), starts UNIONNFSD
# (default ./unionnfsd) on a free loopback port and runs copyup_bench
# (scripts/copyup_bench.c, built here with libnfs): the time of the first
# NFSv3 WRITE of 4 KiB into that file, which copies it up, and the GETATTR
# latency of a second client on another file meanwhile.
#   -x  the layers on XFS with reflink=1 in a loop file (needs root and
#       mkfs.xfs from xfsprogs): the copy-up is a clone, O(1)
#   -m  the export with `metacopy yes`, and a chmod before the WRITE: the
#       chmod copies the metadata only, the WRITE then the data
# The directory of the layers is on the file system of $TMPDIR (or /tmp)
# unless -x; `df -T` of it is printed with the figures.
set -eu
xfs=
meta=
size=1G
while getopts xms: o; do
	case $o in
	x) xfs=1 ;;
	m) meta="chmod" ;;
	s) size=$OPTARG ;;
	*) echo "usage: $0 [-x] [-m] [-s SIZE] [UNIONNFSD]" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
UNIONNFSD=${1:-./unionnfsd}
here=$(cd "$(dirname "$0")" && pwd)
D=$(mktemp -d "${TMPDIR:-/tmp}/copyup_bench.XXXXXX")
PID=
cleanup() {
	if [ -n "$PID" ] && kill -TERM "$PID" 2>/dev/null; then
		wait "$PID" || :
	fi
	if [ -n "$xfs" ]; then
		umount "$D/fs" 2>/dev/null || :
	fi
	rm -rf "$D"
}
trap cleanup EXIT INT TERM
cc -O2 -o "$D/copyup_bench" "$here/copyup_bench.c" -lnfs -lpthread
L=$D
if [ -n "$xfs" ]; then
	mkdir "$D/fs"
	truncate -s 4G "$D/xfs.img"
	mkfs.xfs -q -m reflink=1 "$D/xfs.img"
	mount -o loop "$D/xfs.img" "$D/fs"
	L=$D/fs
fi
mkdir -p "$L/lower" "$L/upper" "$L/work"
head -c "$size" /dev/zero | tr '\0' 'z' >"$L/lower/big"
echo small >"$L/lower/other"
sync
df -T "$L" | tail -n 1
used0=$(df -k --output=used "$L" | tail -n 1)
# (no metacopy line without -m: binaries older than the option measure too)
cat >"$D/conf" <<C
export "/export" {
	lower "$L/lower"
	upper "$L/upper"
	work "$L/work"
	clients "127.0.0.0/8(rw,no_root_squash)"
	$([ -n "$meta" ] && echo "metacopy yes")
}
C
"$UNIONNFSD" -f --no-rpcbind --control none --listen 127.0.0.1:0 \
	--catalog "$D/catalog.db" --config "$D/conf" 2>"$D/log" &
PID=$!
PORT=
for _ in $(seq 1 100); do
	PORT=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' "$D/log" | tail -n 1)
	[ -n "$PORT" ] && break
	sleep 0.1
done
[ -n "$PORT" ] || { cat "$D/log" >&2; exit 1; }
"$D/copyup_bench" "nfs://127.0.0.1/export?version=3&nfsport=$PORT&mountport=$PORT" /big /other $meta
sync
echo "size=$size fs_used_by_copy=$(($(df -k --output=used "$L" | tail -n 1) - used0))K"
