#!/bin/sh
# kclient_v4_test.sh - the real Linux NFS client (kernel 6.1 in qemu, from
# ../shared/kclient) mounts unionnfsd with vers=4.0, 4.1 and 4.2 on the
# same port as v3 and does the everyday work of kclient_test.sh; the
# layers are checked on the host afterwards.  A file written over v4 is
# then read over v3 (libnfs' nfs-cat): one union, one catalog.  POSIX locks
# go to the server and hold across a copy-up (tests/kclient/locks.sh).
# A file removed while open stays usable through its descriptors, and
# flock(1) holds across a copy-up (tests/kclient/unlinked.sh).
. "${TOP_SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"
kc_need

trap ud_cleanup EXIT
for vers in 4.0 4.1 4.2; do
	ud_init "kclient-v$vers"
	everyday_lower
	echo "flock me" >"$L/lowdir/flock.txt"
	mkdir "$D/kfiles" && cp "$(command -v flock)" "$D/kfiles/" || exit 99
	before=$(tree_sum "$L")
	ud_start || exit 99
	kc_run "$D/guest.out" --vers "$vers" --port "$PORT" --export /export \
		--timeout 240 "$TOP_SRCDIR/tests/kclient/everyday.sh"
	st=$?
	sed "s/^/guest v$vers: /" "$D/guest.out"
	check_eq "v$vers: guest script exit status" "$st" 0
	check "v$vers: daemon still running" kill -0 "$PID"
	kc_run "$D/guest-locks.out" --vers "$vers" --port "$PORT" \
		--export /export --timeout 120 "$TOP_SRCDIR/tests/kclient/locks.sh"
	st=$?
	sed "s/^/guest v$vers locks: /" "$D/guest-locks.out"
	check_eq "v$vers: guest lock script exit status" "$st" 0
	kc_run "$D/guest-unlinked.out" --vers "$vers" --port "$PORT" \
		--export /export --timeout 120 --files "$D/kfiles" \
		"$TOP_SRCDIR/tests/kclient/unlinked.sh"
	st=$?
	sed "s/^/guest v$vers unlinked: /" "$D/guest-unlinked.out"
	check_eq "v$vers: guest unlinked script exit status" "$st" 0
	check "v$vers: flock.txt copied up" [ -f "$D/upper/lowdir/flock.txt" ]
	check "v$vers: no orphan left" \
		[ -z "$(ls -A "$D/work/#unionnfsd.orphans" 2>/dev/null)" ]
	# the same union over NFSv3, while the daemon still runs
	if command -v nfs-cat >/dev/null 2>&1; then
		check_eq "v$vers: written over v4, read over v3" \
			"$(nfs-cat "nfs://127.0.0.1/export/data/old.txt?version=3&nfsport=$PORT&mountport=$PORT" 2>&1)" \
			changed
	fi
	ud_stop
	check_eq "v$vers: daemon exit status after SIGTERM" "$?" 0

	check_eq "v$vers: lower layer untouched" "$(tree_sum "$L")" "$before"
	everyday_upper_checks "v$vers: "
	ud_cleanup
done
finish
