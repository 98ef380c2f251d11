#!/bin/bash
# rpcbind_test.sh - the daemon registers NFS, MOUNT, NLM, NSM and NFSACL with
# the local rpcbind on its port (TCP and UDP), showmount finds the export
# through it, the kernel client locks through NLM found there, and a clean
# shutdown removes the registrations.
# It runs its own rpcbind in a private network namespace (port 111 is the
# host's) and a private mount namespace with a tmpfs on /run: rpcbind and
# libtirpc's rpcb_set() meet at /run/rpcbind.sock, which a network
# namespace does not separate, and rpcbind keeps its lock and state files
# in /run.  So the table starts empty and every registration is ours,
# whatever else runs on the machine.
. "${TOP_SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"

RPCBIND=$(command -v rpcbind || echo /sbin/rpcbind)
if [ -z "${RPCBIND_TEST_NS:-}" ]; then
	for t in unshare ip mount rpcinfo showmount; do
		command -v $t >/dev/null ||
			{ echo "# $t not installed (scripts/deps.sh --test)"; exit 77; }
	done
	[ -x "$RPCBIND" ] ||
		{ echo "# rpcbind not installed (scripts/deps.sh --test)"; exit 77; }
	unshare -n -m true 2>/dev/null ||
		{ echo "# cannot make network and mount namespaces (not root?)"; exit 77; }
	# unshare(1) makes the new mount namespace's propagation private:
	# the tmpfs below is seen by nobody else.
	RPCBIND_TEST_NS=1 exec unshare -n -m bash "$0" "$@"
fi
ip link set lo up || exit 99
mount -t tmpfs -o mode=0755 rpcbind-test /run || exit 99
mkdir /run/rpcbind || exit 99

RPCB_PID=
ud_init rpcbind
cleanup() {
	ud_cleanup
	if [ -n "$RPCB_PID" ]; then kill "$RPCB_PID"; wait "$RPCB_PID"; fi
}
trap cleanup EXIT

"$RPCBIND" -f -w &
RPCB_PID=$!
for _ in $(seq 1 100); do
	rpcinfo -p 127.0.0.1 >/dev/null 2>&1 && break
	sleep 0.1
done
# "PROG VERS PROTO PORT" lines, sorted, of everything but rpcbind itself
regs() {
	rpcinfo -p 127.0.0.1 | awk 'NR > 1 && $1 != 100000 { print $1, $2, $3, $4 }' | sort
}
check_eq "a private rpcbind with nothing registered" "$(regs)" ""

UD_RPCBIND=1 ud_start || exit 99
for _ in $(seq 1 100); do
	grep -q "rpcbind: registered" "$D/log" && break
	sleep 0.1
done
check "the log says registered" grep -q "rpcbind: registered on port $PORT" "$D/log"
# NFS 3 and 4, MOUNT 1 and 3, NLM 4, NSM 1 (no statd here has it),
# NFSACL 3: each on our port, TCP and UDP
want=$(for pv in "100003 3" "100003 4" "100005 1" "100005 3" "100021 4" \
	"100024 1" "100227 3"; do
	echo "$pv tcp $PORT"
	echo "$pv udp $PORT"
done | sort)
check_eq "rpcinfo -p lists exactly NFS 3/4, MOUNT 1/3, NLM 4, NSM 1, NFSACL 3 on our port, tcp and udp" \
	"$(regs)" "$want"
uaddr="127.0.0.1.$((PORT / 256)).$((PORT % 256))"
check_eq "rpcbind v3/v4 table: NFSACL 3 over tcp at $uaddr" \
	"$(rpcinfo 127.0.0.1 | awk '$1 == 100227 && $2 == 3 && $3 == "tcp" { print $4 }')" \
	"$uaddr"
check "NFSACL 3 answers where rpcbind points" rpcinfo -t 127.0.0.1 100227 3
check_eq "showmount -e finds the export through rpcbind" \
	"$(showmount -e 127.0.0.1 | sed -n 2p | awk '{print $1}')" "/export"

# The Linux client (in qemu, started in this namespace: its host address
# 10.0.2.2 is our loopback) asks our rpcbind for NLM and locks.
run=${SHARED_DIR:-}/kclient/run.sh
if [ -n "${SHARED_DIR:-}" ] && [ -x "$run" ]; then
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
	check "kernel client's sm-notify reached our NSM, which freed its locks" \
		grep -q "nsm: .* rebooted .*freeing its locks" "$D/log"
else
	echo "# no kernel client (SHARED_DIR/kclient/run.sh): lock check skipped"
fi

check "clean shutdown" ud_stop
check_eq "every registration gone after SIGTERM" "$(regs)" ""

# Registration off: the daemon serves (its loop runs only after the point
# where it would have registered) and nothing is registered.
ud_start || exit 99
check "still serving" rpcinfo -a "127.0.0.1.$((PORT / 256)).$((PORT % 256))" -T tcp 100003 3
check_eq "--no-rpcbind registers nothing" "$(regs)" ""
ud_stop
finish
