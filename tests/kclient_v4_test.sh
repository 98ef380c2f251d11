#!/bin/sh
# kclient_v4_test.sh - the real Linux NFS client (kernel 6.1 in qemu, from
# ../shared/kclient) mounts unionnfsd with vers=4.0, 4.1 and 4.2 on the
# same port as v3 and does the everyday work of kclient_test.sh; the
# layers are checked on the host afterwards.  A file written over v4 is
# then read over v3 (libnfs' nfs-cat): one union, one catalog.  POSIX locks
# go to the server and hold across a copy-up (tests/kclient/locks.sh).
. "${TOP_SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"
run=$SHARED_DIR/kclient/run.sh
if [ ! -x "$run" ]; then
	echo "# no kernel client at $run"
	[ -n "${CI:-}" ] && exit 1
	exit 77
fi

populate() {
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

trap ud_cleanup EXIT
for vers in 4.0 4.1 4.2; do
	ud_init "kclient-v$vers"
	populate
	before=$(tree_sum "$L")
	ud_start || exit 99
	"$run" --vers "$vers" --port "$PORT" --export /export \
		--timeout 240 "$TOP_SRCDIR/tests/kclient/everyday.sh" \
		>"$D/guest.out" 2>&1
	st=$?
	sed "s/^/guest v$vers: /" "$D/guest.out"
	check_eq "v$vers: guest script exit status" "$st" 0
	check "v$vers: daemon still running" kill -0 "$PID"
	"$run" --vers "$vers" --port "$PORT" --export /export \
		--timeout 120 "$TOP_SRCDIR/tests/kclient/locks.sh" \
		>"$D/guest-locks.out" 2>&1
	st=$?
	sed "s/^/guest v$vers locks: /" "$D/guest-locks.out"
	check_eq "v$vers: guest lock script exit status" "$st" 0
	# the same union over NFSv3, while the daemon still runs
	if command -v nfs-cat >/dev/null 2>&1; then
		check_eq "v$vers: written over v4, read over v3" \
			"$(nfs-cat "nfs://127.0.0.1/export/data/old.txt?version=3&nfsport=$PORT&mountport=$PORT" 2>&1)" \
			changed
	fi
	ud_stop
	check_eq "v$vers: daemon exit status after SIGTERM" "$?" 0

	U=$D/upper
	check_eq "v$vers: lower layer untouched" "$(tree_sum "$L")" "$before"
	check_eq "v$vers: upper: new file" "$(cat "$U/new.txt")" new
	check_eq "v$vers: upper: appended copy-up" "$(cat "$U/append.txt")" "line1
line2"
	check "v$vers: upper: whiteout for the renamed lower name" is_whiteout "$U/rename-me.txt"
	check "v$vers: upper: whiteout for the removed lower file" is_whiteout "$U/remove-me.txt"
	check "v$vers: upper: whiteout for the removed lower tree" is_whiteout "$U/rmtree"
	check_eq "v$vers: upper: hard link kept" "$(stat -c %i "$U/new.txt")" "$(stat -c %i "$U/new-link.txt")"
	check_eq "v$vers: upper: symlink" "$(readlink "$U/sym")" hello.txt
	check_eq "v$vers: upper: chmod copied up" "$(stat -c %a "$U/modes.txt")" 600
	check_eq "v$vers: upper: truncate copied up" "$(stat -c %s "$U/trunc.txt")" 10
	check_eq "v$vers: upper: write copied up" "$(cat "$U/data/old.txt")" changed
	check "v$vers: upper: untouched lower file not copied" [ ! -e "$U/data/keep.txt" ]
	check "v$vers: upper: directory made in a lower-only dir" [ -d "$U/lowdir/sub/new" ]
	ud_cleanup
done
finish
