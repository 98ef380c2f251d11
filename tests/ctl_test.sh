#!/bin/bash
# ctl_test.sh - unionnfsctl(8) against a running daemon: the counts of
# calls that libnfs made, clients, exports, a handle before and after its
# copy-up, where paths come from, reload with good and bad files, refusal
# of non-root callers, and the Prometheus endpoint.
. "$TOP_SRCDIR/tests/lib.sh"

BUILD=$(cd "$(dirname "$UNIONNFSD")" && pwd)
CTL=$BUILD/unionnfsctl
GETFH=$BUILD/tests/getfh
for t in nfs-cat nfs-cp setfattr setpriv; do
	command -v "$t" >/dev/null || { echo "# skip: no $t"; exit 77; }
done
[ -x "$GETFH" ] || { echo "# skip: no $GETFH"; exit 77; }

ud_init ctl
trap ud_cleanup EXIT
L=$D/lower U=$D/upper
mkdir -p "$L/dir" "$L/odir" "$U/odir" "$D/lower2"
echo "hello lower" >"$L/hello.txt"
echo A >"$L/dir/a.txt"
echo gone >"$L/gone.txt"
mknod "$U/gone.txt" c 0 0		# a whiteout hides lower gone.txt
echo hidden >"$L/odir/h.txt"
setfattr -n trusted.overlay.opaque -v y "$U/odir"
echo "metrics 127.0.0.1:0" >"$D/conf"

UD_EXTRA_ARGS="-c $D/conf --control $D/ctl" ud_start || exit 99
# ud_start returns at "listening on"; the control socket and the metrics
# endpoint open after that (and after the catalog's NLM/NFSv4 records are
# read): wait for the daemon to say so before looking at them.
for _ in $(seq 1 300); do
	grep -qF "control socket $D/ctl" "$D/log" && break
	sleep 0.1
done
ctl() { "$CTL" -s "$D/ctl" "$@"; }
# field STATS-LINE-PREFIX N: the Nth word of the line starting so
field() { ctl stats | awk -v p="$1" -v n="$2" 'index($0, p) == 1 { print $n }'; }
url() { echo "nfs://127.0.0.1/export/$1?version=3&nfsport=$PORT&mountport=$PORT"; }

check "socket is mode 0600" test "$(stat -c %a "$D/ctl")" = 600
check_eq "fresh daemon: no requests" "$(field 'requests ' 2)" 0

# ---- counts: three reads of one file make three times one read's calls
check_eq "nfs-cat reads" "$(nfs-cat "$(url hello.txt)")" "hello lower"
r1=$(field 'proc nfs3 READ ' 5)
l1=$(field 'proc nfs3 LOOKUP ' 5)
m1=$(field 'proc mount3 MNT ' 5)
nfs-cat "$(url hello.txt)" >/dev/null
nfs-cat "$(url hello.txt)" >/dev/null
check "one cat made at least one READ" test "${r1:-0}" -ge 1
check_eq "READ count after three cats" "$(field 'proc nfs3 READ ' 5)" $((3 * r1))
check_eq "LOOKUP count after three cats" "$(field 'proc nfs3 LOOKUP ' 5)" $((3 * l1))
check_eq "MNT count after three cats" "$(field 'proc mount3 MNT ' 5)" $((3 * m1))
check "percentiles are printed" grep -Eq \
	'^proc nfs3 READ calls [0-9]+ mean-us [0-9]+ p50-us [0-9]+ p90-us [0-9]+ p99-us [0-9]+$' <<<"$(ctl stats)"
check "bytes counted" test "$(field 'bytes-out ' 2)" -gt 0
check_eq "no connection left open" "$(field 'connections ' 2)" 0

# ---- clients and exports
out=$(ctl clients)
check "clients lists 127.0.0.1 on /export" grep -q '^client 127\.0\.0\.1 export /export requests [0-9]' <<<"$out"
out=$(ctl exports)
check "exports lists /export" grep -q '^export /export id [0-9]* rpc [1-9]' <<<"$out"
check "exports lists the lower layer" grep -qx "  lower 0 $L" <<<"$out"
check "exports lists the client rule" grep -qx "  clients 127.0.0.0/8(rw,no_root_squash)" <<<"$out"

# ---- a handle before and after its copy-up: a file made in a lower
# directory copies the directory up
fh=$("$GETFH" "$PORT" /export dir)
check "getfh gave a handle" test -n "$fh"
out=$(ctl handle "$fh")
check "handle: lower layer before copy-up" grep -qx "layer lower 0 $L" <<<"$out"
check "handle: path" grep -qx "path dir" <<<"$out"
check "handle: export" grep -qx "export /export" <<<"$out"
check "handle: one layer merged" grep -qx "merged 1" <<<"$out"
check_eq "no copy-up yet" "$(field 'copyups ' 2)" 0
echo "new" >"$D/new.txt"
check "nfs-cp into the lower directory" nfs-cp "$D/new.txt" "$(url dir/new.txt)"
check_eq "upper holds the new file" "$(cat "$U/dir/new.txt")" "new"
out=$(ctl handle "$fh")
check "handle: upper layer after copy-up" grep -qx "layer upper $U" <<<"$out"
check "handle: two layers merged" grep -qx "merged 2" <<<"$out"
check_eq "one copy-up done, none running" "$(ctl stats | grep '^copyups ')" "copyups 1 active 0"
bad=${fh%?}$(printf '%x' $(( (0x${fh: -1} + 1) % 16 )))
out=$(ctl handle "$bad" 2>&1)
check "forged handle refused" test $? -eq 1
check "forged handle: clear error" grep -q "bad handle" <<<"$out"
check "not hex refused" sh -c "! \"$CTL\" -s \"$D/ctl\" handle xyz 2>/dev/null"

# ---- whereis
w() { ctl whereis /export "$1"; }
check "whereis copied-up directory: upper" grep -qx "layer upper $U" <<<"$(w dir)"
check "whereis new file: upper" grep -qx "layer upper $U" <<<"$(w dir/new.txt)"
check "whereis lower file: lower 0" grep -qx "layer lower 0 $L" <<<"$(w dir/a.txt)"
check "whereis lower file: its path" grep -qx "path dir/a.txt" <<<"$(w dir/a.txt)"
check "whereis whited-out name" grep -qx "state whiteout" <<<"$(w gone.txt)"
check "whereis opaque directory" grep -qx "opaque yes" <<<"$(w odir)"
check "whereis merged directory" grep -qx "merged 2" <<<"$(w dir)"
check "whereis missing name" grep -qx "state absent" <<<"$(w nothere)"
check "whereis unknown export fails" sh -c "! \"$CTL\" -s \"$D/ctl\" whereis /nope x 2>/dev/null"

# ---- reload
cat >>"$D/conf" <<EOF
export /second {
	lower "$D/lower2"
	clients "127.0.0.1(ro)"
}
EOF
check_eq "reload takes a good file" "$(ctl reload)" "reloaded 2 exports"
check "the new export is listed" grep -q '^export /second ' <<<"$(ctl exports)"
echo "bogus-keyword 1" >>"$D/conf"
out=$(ctl reload 2>&1)
check "reload of a bad file fails" test $? -eq 1
check "reload names FILE:LINE" grep -q "^$D/conf:6: unknown keyword" <<<"$out"
check "the running exports are kept" grep -q '^export /second ' <<<"$(ctl exports)"

# ---- bad input gets a clear error and the socket keeps serving
out=$(ctl frobnicate 2>&1)
check "unknown command fails" test $? -eq 1
check "unknown command: clear error" grep -q 'unknown command "frobnicate"' <<<"$out"
out=$(ctl stats extra 2>&1)
check "stats takes no argument" grep -q "stats takes no argument" <<<"$out"
out=$(ctl handle "$(head -c 20000 /dev/zero | tr '\0' 0)" 2>&1)
check_eq "an over-long line is refused" "$out" "unionnfsctl: line too long"
check "still serving after bad input" ctl stats >/dev/null
printf 'metrics not-an-address\n' >"$D/bad.conf"
out=$("$UNIONNFSD" --check-config "$D/bad.conf" 2>&1)
check "bad metrics address: FILE:LINE" grep -q "^$D/bad.conf:1: bad metrics address" <<<"$out"

# ---- only root
check "nobody cannot connect (mode 0600)" sh -c "! setpriv --reuid=nobody --regid=nogroup --clear-groups \"$CTL\" -s \"$D/ctl\" stats 2>/dev/null"
chmod 711 "$D"		# mktemp's 0700 would stop nobody at the directory
chmod 666 "$D/ctl"
out=$(setpriv --reuid=nobody --regid=nogroup --clear-groups "$CTL" -s "$D/ctl" stats 2>&1)
check "nobody refused by SO_PEERCRED" test $? -eq 1
check "refusal says why" grep -q "permission denied: root only" <<<"$out"

# ---- Prometheus
maddr=$(field 'metrics ' 2)
check "metrics address shown" test -n "$maddr"
reads=$(field 'proc nfs3 READ ' 5)
exec 3<>"/dev/tcp/${maddr%:*}/${maddr##*:}" || exit 99
printf 'GET /metrics HTTP/1.0\r\n\r\n' >&3
page=$(cat <&3)
exec 3<&-
check "metrics: HTTP 200" grep -q '^HTTP/1\.[01] 200' <<<"$page"
check_eq "metrics: READ counter" \
	"$(sed -n 's/^unionnfsd_rpc_requests_total{program="nfs",version="3",procedure="READ"} //p' <<<"$page" | tr -d '\r')" "$reads"
check "metrics: READ histogram count" grep -q "^unionnfsd_rpc_duration_seconds_count{program=\"nfs\",version=\"3\",procedure=\"READ\"} $reads" <<<"$page"
check "metrics: +Inf bucket" grep -q "^unionnfsd_rpc_duration_seconds_bucket{program=\"nfs\",version=\"3\",procedure=\"READ\",le=\"+Inf\"} $reads" <<<"$page"
check "metrics: catalog size" grep -Eq '^unionnfsd_catalog_bytes [1-9]' <<<"$page"

ud_stop || not_ok "daemon stopped cleanly"
check "socket removed at exit" test ! -e "$D/ctl"
finish
