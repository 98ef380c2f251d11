#!/bin/bash
# rpcbind_test.sh - the daemon registers NFS, MOUNT, NLM and NSM with the local
# rpcbind on its port (TCP and UDP), showmount finds the export through it,
# the kernel client locks through NLM found there, and a clean shutdown
# removes the registrations.  (One test owns rpcbind: the others run with
# --no-rpcbind, in parallel.)  Starts rpcbind when none runs
# (and stops only that one); skips when another NFS server is registered,
# whose registrations this test would take.
. "${TOP_SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"

RPCBIND=$(command -v rpcbind || echo /sbin/rpcbind)
command -v rpcinfo >/dev/null && [ -x "$RPCBIND" ] ||
	{ echo "# rpcbind/rpcinfo not installed (scripts/deps.sh --test)"; exit 77; }
RPCB_PID=
ud_init rpcbind
cleanup() {
	ud_cleanup
	if [ -n "$RPCB_PID" ]; then kill "$RPCB_PID"; wait "$RPCB_PID"; fi
}
trap cleanup EXIT

if ! rpcinfo -p 127.0.0.1 >/dev/null 2>&1; then
	mkdir -p /run/rpcbind
	"$RPCBIND" -f -w &
	RPCB_PID=$!
	for _ in $(seq 1 50); do
		rpcinfo -p 127.0.0.1 >/dev/null 2>&1 && break
		sleep 0.1
	done
fi
rpcinfo -p 127.0.0.1 >/dev/null 2>&1 || { echo "# rpcbind did not start"; exit 99; }
if rpcinfo -p 127.0.0.1 | awk '$1 == 100003' | grep -q .; then
	echo "# another NFS server is registered with rpcbind; not touching it"
	exit 77
fi

# "PROG VERS PROTO PORT" lines of the programs we serve
regs() {
	# (NSM, 100024, apart: a system rpc.statd may hold it)
	rpcinfo -p 127.0.0.1 | awk '$1 == 100003 || $1 == 100005 ||
		$1 == 100021 { print $1, $2, $3, $4 }' | sort
}
# NSM is registered only where no other statd has it, and another's
# registration is neither taken nor removed.
nsm_regs() {
	rpcinfo -p 127.0.0.1 | awk '$1 == 100024 { print $1, $2, $3, $4 }' | sort
}
nsm_before=$(nsm_regs)

UD_RPCBIND=1 ud_start || exit 99
for _ in $(seq 1 50); do
	grep -q "rpcbind: registered" "$D/log" && break
	sleep 0.1
done
want=$(for p in tcp udp; do
	echo "100003 3 $p $PORT"
	echo "100003 4 $p $PORT"
	echo "100005 1 $p $PORT"
	echo "100005 3 $p $PORT"
done | sort)
check_eq "rpcinfo -p lists NFS v3/v4 and MOUNT v1/v3 on our port, tcp and udp" \
	"$(regs | awk '$1 != 100021')" "$want"
if regs | grep -q '^100021 '; then
	check_eq "NLM v4 registered on our port, tcp and udp" \
		"$(regs | awk '$1 == 100021 && $2 == 4')" \
		"$(printf '100021 4 tcp %s\n100021 4 udp %s' "$PORT" "$PORT")"
fi
if [ -z "$nsm_before" ]; then
	check_eq "NSM v1 registered on our port (no statd had it)" \
		"$(nsm_regs)" "$(printf '100024 1 tcp %s\n100024 1 udp %s' "$PORT" "$PORT")"
else
	check_eq "a running statd keeps its NSM registration" \
		"$(nsm_regs)" "$nsm_before"
fi
check_eq "showmount -e finds the export through rpcbind" \
	"$(showmount -e 127.0.0.1 | sed -n 2p | awk '{print $1}')" "/export"

# The Linux client (in qemu) asks this host's rpcbind for NLM and locks.
run=$SHARED_DIR/kclient/run.sh
if [ -x "$run" ] && regs | grep -q '^100021 '; then
	"$run" --vers 3 --lock --port "$PORT" --mountport "$PORT" --export /export \
		--timeout 120 "$TOP_SRCDIR/tests/kclient/lock.sh" >"$D/guest.out" 2>&1
	st=$?
	sed 's/^/# guest: /' "$D/guest.out"
	check_eq "kernel client: lock script" "$st" 0
	check_eq "kernel client: POSIX locks through NLM" \
		"$(grep -E '^(first|second|third|local_lock)' "$D/guest.out")" \
		"first: GRANTED
second: DENIED
third: GRANTED
local_lock=none"
	if [ -z "$nsm_before" ]; then
		check "kernel client's sm-notify reached our NSM, which freed its locks" \
			grep -q "nsm: .* rebooted .*freeing its locks" "$D/log"
	fi
else
	echo "# no kernel client at $run: lock check skipped"
fi

check "clean shutdown" ud_stop
check_eq "registrations gone after SIGTERM" "$(regs)" ""
check_eq "NSM registrations as before the daemon" "$(nsm_regs)" "$nsm_before"

# Registration off: nothing registered, the daemon still serves.
ud_start || exit 99
sleep 0.3
check_eq "--no-rpcbind registers nothing" "$(regs)" ""
check "still serving" rpcinfo -a "127.0.0.1.$((PORT / 256)).$((PORT % 256))" -T tcp 100003 3
ud_stop
finish
