#!/bin/bash
# bench.sh - `make bench`: the shared yardstick (../shared/bench/nfsbench)
# against unionnfsd and, when available, NFS-Ganesha over kernel overlayfs
# (../shared/bench/ganesha-ns.sh), one after the other for each workload in
# the same run.  One line per workload: both figures and the ratio
# unionnfsd/Ganesha (for latencies, Ganesha/unionnfsd, so >1 is better).
#
#   scripts/bench.sh UNIONNFSD_BINARY        BENCH_T=secs BENCH_SIZE=1G BENCH_NO_PEER=1
#   BENCH_WORKLOADS="readdirplus remove"     only these nfsbench workloads
#                                            (create also measures remove)
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:?usage: bench.sh UNIONNFSD_BINARY}
shared=${SHARED_DIR:-$top/../shared}
W=${BENCH_DIR:-/tmp/unionnfsd-bench}
T=${BENCH_T:-5}
SIZE=${BENCH_SIZE:-1G}
NB=$W/tools/nfsbench
GNS=$shared/bench/ganesha-ns.sh
export NBG_DIR=${NBG_DIR:-/tmp/nfsbench-ganesha}

mkdir -p "$W"
rm -rf "$W/tools" && cp -r "$shared/bench" "$W/tools" && chmod -R u+w "$W/tools"
make -s -C "$W/tools" >/dev/null || { echo "bench: cannot build nfsbench" >&2; exit 2; }

peer=1
[ -n "${BENCH_NO_PEER:-}" ] && peer=
if [ -n "$peer" ] && ! command -v ganesha.nfsd >/dev/null; then
	# the peer script expects Debian's Ganesha to be installed already
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nfs-ganesha nfs-ganesha-vfs \
		>/dev/null 2>&1 || echo "bench: cannot install nfs-ganesha" >&2
fi
if [ -n "$peer" ]; then
	"$GNS" reset >/dev/null 2>&1 || "$GNS" start >/dev/null 2>&1 ||
		{ echo "bench: Ganesha peer unavailable; unionnfsd alone" >&2; peer=; }
fi
lower=$NBG_DIR/lower
if [ ! -d "$lower/small" ]; then   # no peer tree: make the same fixtures
	mkdir -p "$W/lower/small" && lower=$W/lower
	head -c 4096 /dev/urandom >"$W/blk"
	for i in $(seq 0 1999); do cp "$W/blk" "$(printf '%s/small/f%05d' "$lower" "$i")"; done
fi
rm -rf "$W/upper" "$W/work" "$W/catalog.db"*
mkdir -p "$W/upper" "$W/work"
# --no-rpcbind: a bench daemon must not take over the host's registrations
# (tests that run meanwhile rely on them); --control none: no socket either.
"$bin" -f --no-rpcbind --control none --listen 127.0.0.1:0 --catalog "$W/catalog.db" --export /bench \
	--lower "$lower" --upper "$W/upper" --work "$W/work" \
	--clients '127.0.0.0/8(rw,no_root_squash)' 2>"$W/unionnfsd.log" &
upid=$!
trap 'kill $upid 2>/dev/null; wait $upid 2>/dev/null; [ -n "$peer" ] && "$GNS" stop >/dev/null 2>&1' EXIT
for _ in $(seq 50); do
	port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$W/unionnfsd.log" | head -n 1)
	[ -n "$port" ] && break; sleep 0.1
done
[ -n "$port" ] || { cat "$W/unionnfsd.log"; exit 2; }
U="nfs://127.0.0.1/bench/?version=3&nfsport=$port&mountport=$port"
G=$([ -n "$peer" ] && "$GNS" urls | head -n 1)

# field KEY LINE
field() { sed -n "s/.* $1=\([0-9.]*\).*/\1/p" <<<"$2"; }
ours() { (cd "$W/tools" && ./nfsbench -T 300 "$@" "$U" "$WL"); }
theirs() { [ -n "$peer" ] && (cd "$W/tools" && "$GNS" exec ./nfsbench -T 300 "$@" "$G" "$WL"); }

echo "# unionnfsd bench $(date -Is) $(nproc) cpus, $(uname -r); unionnfsd vs Ganesha 4.3 over overlayfs (index=on,nfs_export=on), NFSv3, loopback"
printf '%-26s %14s %14s %8s\n' workload unionnfsd ganesha ratio
# show NAME KEY HIGHER_IS_BETTER OURS_LINE THEIR_LINE
show() {
	local name=$1 key=$2 better=$3 a b r
	a=$(field "$key" "$4"); b=$(field "$key" "$5")
	r=-
	if [ -n "$a" ] && [ -n "$b" ]; then
		if [ "$better" = high ]; then r=$(awk "BEGIN{printf \"%.2f\", $a/$b}")
		else r=$(awk "BEGIN{printf \"%.2f\", $b/$a}"); fi
	fi
	printf '%-26s %14s %14s %8s\n' "$name" "${a:-FAIL} " "${b:--}" "$r"
}
# run NFSBENCH_ARGS...: both servers' output in $A and $B
run() {
	A=$(ours "$@" 2>>"$W/bench.err"); B=$(theirs "$@" 2>>"$W/bench.err")
	echo "$A" >>"$W/raw.txt"; echo "$B" >>"$W/raw.txt"
}
# pick WORKLOAD LINES: the line of one workload (create also prints remove)
pick() { grep "^workload=$1 " <<<"$2"; }
# row NAME KEY HIGHER_IS_BETTER NFSBENCH_ARGS...
row() {
	local name=$1 key=$2 better=$3; shift 3
	sel "$WL" || return 0
	run "$@"
	show "$name" "$key" "$better" "$A" "$B"
}
: >"$W/raw.txt"
# sel WORKLOAD...: is one of them asked for (all when BENCH_WORKLOADS is unset)?
sel() {
	local w
	[ -z "${BENCH_WORKLOADS:-}" ] && return 0
	for w; do [[ " $BENCH_WORKLOADS " == *" $w "* ]] && return 0; done
	return 1
}
# read reads the file that write leaves
sel read && ! sel write && BENCH_WORKLOADS+=" write"
WL=null;        row "null c=1 ops/s" ops_per_s high -c 1 -t "$T"
WL=null;        row "null c=16 ops/s" ops_per_s high -c 16 -t "$T"
WL=getattr;     row "getattr c=1 ops/s" ops_per_s high -c 1 -t "$T"
WL=getattr;     row "getattr c=16 ops/s" ops_per_s high -c 16 -t "$T"
if sel lookup readdirplus; then
	WL=prepare; ours -c 16 >/dev/null 2>&1; theirs -c 16 >/dev/null 2>&1
fi
WL=lookup;      row "lookup c=16 ops/s" ops_per_s high -c 16 -t "$T"
WL=readdirplus; row "readdirplus 10k first ms" listing_ms low -c 1 -n 1
WL=readdirplus; row "readdirplus 10k ms" listing_ms low -c 1 -t "$T"
if sel create remove; then
	WL=create; run -c 16 -n 2000
	show "create c=16 files/s" ops_per_s high "$(pick create "$A")" "$(pick create "$B")"
	show "remove c=16 ops/s" ops_per_s high "$(pick remove "$A")" "$(pick remove "$B")"
fi
WL=write;       row "write 1GiB MB/s (cold)" mb_per_s high -c 4 -s "$SIZE"
WL=write;       row "write 1GiB MB/s" mb_per_s high -c 4 -s "$SIZE"
WL=read;        row "read 1GiB MB/s" mb_per_s high -c 4 -s "$SIZE"
WL=copyup;      row "copyup 4KiB p50 us" p50_us low -c 1 -n 200 -p /small/f%05d
WL=clean;       ours -c 16 >/dev/null 2>&1; theirs -c 16 >/dev/null 2>&1
echo "# raw nfsbench lines: $W/raw.txt"
