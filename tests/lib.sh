# lib.sh - shell helpers for tests that run a real unionnfsd.
#   . "$TOP_SRCDIR/tests/lib.sh"
#   ud_init TAG         make $D with lower/ upper/ work/ (D is exported)
#   ud_start            start the daemon on a free loopback port: sets PORT, PID
#                       (with --no-rpcbind unless UD_RPCBIND is set; more
#                       options in UD_EXTRA_ARGS)
#   ud_stop             SIGTERM and wait
# Exit codes follow automake: 0 pass, 1 fail, 77 skip, 99 hard error.

UNIONNFSD=${UNIONNFSD:-./unionnfsd}
TOP_SRCDIR=${TOP_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
SHARED_DIR=${SHARED_DIR:-$TOP_SRCDIR/../shared}
fails=0
LC_ALL=C; export LC_ALL

ok() { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; fails=$((fails + 1)); }
# check DESCRIPTION COMMAND...: pass when COMMAND succeeds
check() { d=$1; shift; if "$@"; then ok "$d"; else not_ok "$d"; fi; }
# check_eq DESCRIPTION GOT WANT
check_eq() {
	if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1"; echo "#   got:  '$2'"; echo "#   want: '$3'"; fi
}
finish() { echo "# $fails failed"; [ "$fails" -eq 0 ]; exit $?; }

ud_init() {
	D=$(mktemp -d "/tmp/unionnfsd-$1.XXXXXX") || exit 99
	mkdir -p "$D/lower" "$D/upper" "$D/work"
	export D
}

ud_start() {
	: >"$D/log"
	# --no-rpcbind, --control none: parallel tests must not take each
	# other's registrations or control socket (UD_EXTRA_ARGS may name one)
	# (UD_RPCBIND=1: the one test that checks them).
	rpcb_opt=--no-rpcbind
	[ -n "${UD_RPCBIND:-}" ] && rpcb_opt=
	# shellcheck disable=SC2086 # UD_EXTRA_ARGS: words on purpose
	"$UNIONNFSD" -f $rpcb_opt --control none ${UD_EXTRA_ARGS:-} --listen 127.0.0.1:0 --catalog "$D/catalog.db" \
		--export /export --lower "$D/lower" --upper "$D/upper" --work "$D/work" \
		--clients '127.0.0.0/8(rw,no_root_squash)' 2>>"$D/log" &
	PID=$!
	ud_wait_port
}

# ud_wait_port: the daemon $PID, started with its stderr in $D/log, says
# its port there; PORT is set, or the log shown and 1 returned.
ud_wait_port() {
	PORT=
	for _ in $(seq 1 100); do
		PORT=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' "$D/log" | tail -n 1)
		[ -n "$PORT" ] && break
		kill -0 "$PID" 2>/dev/null || break
		sleep 0.1
	done
	if [ -z "$PORT" ]; then
		echo "# unionnfsd did not start:"; sed 's/^/#   /' "$D/log"
		return 1
	fi
}

ud_stop() {
	[ -n "${PID:-}" ] || return 0
	kill -TERM "$PID" 2>/dev/null
	wait "$PID"
	st=$?
	PID=
	# A failed stop (a sanitizer report, an error on the way out) is only
	# understood with the daemon's own words.
	if [ "$st" -ne 0 ]; then
		echo "# unionnfsd exited with status $st; its log ends:"
		tail -n 40 "$D/log" | sed 's/^/#   /'
	fi
	return $st
}

ud_cleanup() {
	ud_stop >/dev/null 2>&1
	mountpoint -q "$D/merged" 2>/dev/null && umount "$D/merged"
	[ -n "${KEEP:-}" ] || rm -rf "$D"
}

# kc_need: the test needs the kernel client; run is its run.sh.  Without
# it the test is skipped (77), or fails in CI, where it must be there.
kc_need() {
	run=$SHARED_DIR/kclient/run.sh
	if [ ! -x "$run" ]; then
		echo "# no kernel client at $run"
		[ -n "${CI:-}" ] && exit 1
		exit 77
	fi
}

# kc_run OUT RUN-ARGS...: the kernel client (../shared/kclient/run.sh) with
# its output in OUT; returns its status.  For NFSv4.0 run.sh picks a free
# callback port and has qemu forward it, and a daemon of a test running in
# parallel may bind that port in between: qemu then cannot start.  That
# says nothing about unionnfsd, so that case alone is tried again.
kc_run() {
	kc_out=$1; shift
	for _ in 1 2 3; do
		"$SHARED_DIR/kclient/run.sh" "$@" >"$kc_out" 2>&1
		kc_st=$?
		grep -q "Could not set up host forwarding rule" "$kc_out" || break
		echo "# kclient: qemu could not forward its callback port; again"
	done
	return $kc_st
}

# tree_sum DIR: one line per entry (type, mode, size, link target, content hash)
tree_sum() {
	(cd "$1" && find . -mindepth 1 -printf '%p %y %m %s %l\n' | sort |
		while read -r p y m s l; do
			case $y in
			f) h=$(md5sum <"$p" | cut -c1-32) ;;
			d) h=- s=- ;;
			*) h=- ;;
			esac
			echo "$p $y $m $s $l $h"
		done)
}

# is_whiteout PATH: an overlayfs whiteout (character device 0/0)
is_whiteout() { [ -c "$1" ] && [ "$(stat -c '%t:%T' "$1")" = "0:0" ]; }

# The lower layer tests/kclient/everyday.sh works on (sets L).
everyday_lower() {
	L=$D/lower
	mkdir -p "$L/data" "$L/lowdir/sub" "$L/rmtree/x"
	echo "hello lower" >"$L/hello.txt"
	echo old >"$L/data/old.txt"
	echo keep >"$L/data/keep.txt"
	echo bye >"$L/remove-me.txt"
	echo "rename me" >"$L/rename-me.txt"
	echo line1 >"$L/append.txt"
	head -c 1000 /dev/zero | tr '\0' x >"$L/trunc.txt"
	echo m >"$L/modes.txt" && chmod 644 "$L/modes.txt"
	echo f >"$L/lowdir/sub/f.txt"
	echo r >"$L/rmtree/x/r.txt"
}

# everyday_upper_checks PREFIX: the upper layer as overlayfs would leave it
# after everyday.sh (PREFIX names the run in the check descriptions).
everyday_upper_checks() {
	p=$1 U=$D/upper
	check_eq "${p}upper: new file" "$(cat "$U/new.txt")" new
	check_eq "${p}upper: appended copy-up" "$(cat "$U/append.txt")" "line1
line2"
	check "${p}upper: renamed file" [ -f "$U/renamed.txt" ]
	check "${p}upper: whiteout for the renamed lower name" is_whiteout "$U/rename-me.txt"
	check "${p}upper: whiteout for the removed lower file" is_whiteout "$U/remove-me.txt"
	check "${p}upper: whiteout for the removed lower tree" is_whiteout "$U/rmtree"
	check_eq "${p}upper: hard link kept" "$(stat -c %i "$U/new.txt")" "$(stat -c %i "$U/new-link.txt")"
	check_eq "${p}upper: symlink" "$(readlink "$U/sym")" hello.txt
	check_eq "${p}upper: chmod copied up" "$(stat -c %a "$U/modes.txt")" 600
	check_eq "${p}upper: truncate copied up" "$(stat -c %s "$U/trunc.txt")" 10
	check_eq "${p}upper: write copied up" "$(cat "$U/data/old.txt")" changed
	check "${p}upper: untouched lower file not copied" [ ! -e "$U/data/keep.txt" ]
	check "${p}upper: directory made in a lower-only dir" [ -d "$U/lowdir/sub/new" ]
}
