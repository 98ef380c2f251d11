#!/bin/bash
# portmap_test.sh - "portmap yes" (--portmap): with no rpcbind on the host,
# as in a container, unionnfsd answers portmapper v2 and rpcbind v3/v4 on
# port 111 itself.  rpcinfo, showmount and libnfs (no port options) find
# NFS, MOUNT and NLM through it; it lists exactly what the NFS port serves;
# nobody can register; a clean shutdown takes port 111 away again; the real
# Linux client mounts with no port options at all.  Port 111 is the host's
# rpcbind's, so all of this runs in a private network namespace.
. "${TOP_SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"

if [ -z "${PORTMAP_TEST_NETNS:-}" ]; then
	for t in unshare ip rpcinfo showmount nfs-ls nfs-cat; do
		command -v $t >/dev/null ||
			{ echo "# $t not installed (scripts/deps.sh --test)"; exit 77; }
	done
	unshare -n true 2>/dev/null ||
		{ echo "# cannot make a network namespace (not root?)"; exit 77; }
	PORTMAP_TEST_NETNS=1 exec unshare -n bash "$0" "$@"
fi
ip link set lo up || exit 99

PMAP_CLIENT=$(dirname "$UNIONNFSD")/tests/pmap_client
[ -x "$PMAP_CLIENT" ] || { echo "# $PMAP_CLIENT not built"; exit 99; }
ud_init portmap
trap ud_cleanup EXIT
mkdir -p "$D/lower/dir"
echo "from the lower layer" >"$D/lower/hello.txt"
echo b >"$D/lower/dir/b"

# "PROG VERS PROTO PORT" from the portmapper, sorted
pmap_list() { rpcinfo -p 127.0.0.1 | awk 'NR > 1 { print $1, $2, $3, $4 }' | sort; }
# The versions PROG answers on the NFS port itself, asked directly
served_versions() {
	rpcinfo -n "$PORT" -t 127.0.0.1 "$1" 2>/dev/null |
		sed -n 's/^program [0-9]* version \([0-9]*\) ready and waiting$/\1/p'
}

UD_EXTRA_ARGS=--portmap ud_start || exit 99
check "portmapper announced in the log" grep -q "portmapper (rpcbind v2, v3, v4) on 127.0.0.1:111" "$D/log"

# What it lists is what the NFS port serves: every program it names (and
# every one we know of) asked there directly, each version that answers.
progs=$( (pmap_list | awk '$1 != 100000 { print $1 }'; echo 100003 100005 100021 100024 | tr ' ' '\n') | sort -u)
want=$( (for v in 2 3 4; do echo "100000 $v tcp 111"; echo "100000 $v udp 111"; done
	for p in $progs; do
		for v in $(served_versions "$p"); do
			echo "$p $v tcp $PORT"; echo "$p $v udp $PORT"
		done
	done) | sort)
check_eq "rpcinfo -p: itself on 111, and what the NFS port serves on $PORT (tcp, udp)" \
	"$(pmap_list)" "$want"
for pv in "100003 3" "100003 4" "100005 1" "100005 3" "100021 4"; do
	check_eq "rpcinfo -p lists $pv on tcp and udp" \
		"$(pmap_list | awk -v p="${pv% *}" -v v="${pv#* }" '$1 == p && $2 == v' | tr '\n' ' ')" \
		"${pv} tcp $PORT ${pv} udp $PORT "
done

# rpcbind v3/v4: the same table with universal addresses and our owner.
uaddr="127.0.0.1.$((PORT / 256)).$((PORT % 256))"
check_eq "rpcinfo (rpcbind DUMP): NFS v3 over tcp at $uaddr" \
	"$(rpcinfo 127.0.0.1 | awk '$1 == 100003 && $2 == 3 && $3 == "tcp" { print $4, $6 }')" \
	"$uaddr unionnfsd"
check "rpcinfo -T tcp 127.0.0.1 100003 3 (GETADDR, then NULL)" \
	rpcinfo -T tcp 127.0.0.1 100003 3
check "rpcinfo -T udp 127.0.0.1 100005 3" rpcinfo -T udp 127.0.0.1 100005 3
check_eq "rpcinfo -l (GETADDRLIST): NFS v3 on tcp and udp" \
	"$(rpcinfo -l 127.0.0.1 100003 3 | awk 'NR > 1 { print $3, $4 }')" \
	"inet/tcp/cots_ord $uaddr
inet/udp/clts $uaddr"

check_eq "showmount -e finds MOUNT through the portmapper" \
	"$(showmount -e 127.0.0.1 | sed -n 2p | awk '{print $1}')" "/export"
check_eq "nfs-ls nfs://127.0.0.1/export?version=3 (no ports)" \
	"$(nfs-ls "nfs://127.0.0.1/export?version=3" | awk '{ print $NF }' | sort | tr '\n' ' ')" \
	"dir hello.txt "
check_eq "nfs-cat through the portmapper" \
	"$(nfs-cat "nfs://127.0.0.1/export/hello.txt?version=3")" "from the lower layer"

# The calls no tool makes: registrations refused, lookups of a missing
# program or version, the address conversions, CALLIT not served, and each
# port serving only its own programs.
check_eq "SET/UNSET refused, GETPORT/GETADDR/GETVERSADDR, conversions, CALLIT" \
	"$("$PMAP_CLIENT" 127.0.0.1 111 "$PORT")" \
	"v2 SET: SUCCESS FALSE
v2 UNSET: SUCCESS FALSE
v3 SET: SUCCESS FALSE
v4 UNSET: SUCCESS FALSE
v2 GETPORT 300000 1 tcp: SUCCESS 0
v2 GETPORT 100005 3 udp: SUCCESS $PORT
v2 GETPORT 100003 2 tcp: SUCCESS $PORT
v3 GETADDR 100003 2 tcp: SUCCESS \"$uaddr\"
v4 GETVERSADDR 100003 2 tcp: SUCCESS \"\"
v4 GETVERSADDR 100003 3 udp: SUCCESS \"$uaddr\"
v3 UADDR2TADDR: SUCCESS family inet port $PORT
v3 TADDR2UADDR: SUCCESS same
v3 GETTIME: SUCCESS now
v2 CALLIT: PROC_UNAVAIL
v4 INDIRECT: PROC_UNAVAIL
NFS on the portmapper port: PROG_UNAVAIL
portmapper on the NFS port: PROG_UNAVAIL"
check_eq "refused registrations are logged" \
	"$(grep -c 'SET of 300000 v1 refused' "$D/log")" 1
check_eq "still listing only its own programs" "$(pmap_list)" "$want"

check "clean shutdown" ud_stop
check "port 111 closed after SIGTERM" sh -c '! rpcinfo -p 127.0.0.1 >/dev/null 2>&1'

# start_conf FILE LINE: run from a configuration file until LINE is logged
start_conf() {
	: >"$D/log"
	"$UNIONNFSD" -f -c "$1" 2>>"$D/log" &
	PID=$!
	for _ in $(seq 1 100); do
		grep -qF "$2" "$D/log" && return 0
		kill -0 "$PID" 2>/dev/null || break
		sleep 0.1
	done
	echo "# unionnfsd did not start:"; sed 's/^/#   /' "$D/log"
	return 1
}

# From a configuration file, on another port.
cat >"$D/conf" <<EOF
listen 127.0.0.1:0
catalog $D/catalog-1111.db
portmap yes
portmap-port 1111
export /export {
	lower $D/lower
	clients 127.0.0.0/8(rw)
}
EOF
start_conf "$D/conf" "portmapper (rpcbind v2, v3, v4) on 127.0.0.1:1111" || exit 99
PORT=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' "$D/log")
check_eq "portmap-port 1111: GETPORT there" \
	"$("$PMAP_CLIENT" 127.0.0.1 1111 "$PORT" | grep '^v2 GETPORT 100005')" \
	"v2 GETPORT 100005 3 udp: SUCCESS $PORT"
check "nothing on port 111 then" sh -c '! rpcinfo -p 127.0.0.1 >/dev/null 2>&1'
check "clean shutdown (portmap-port)" ud_stop

# As in a container: the standard ports on the wildcard address.  GETADDR
# answers with the address the caller reached, not 0.0.0.0.
sed -i -e 's/^listen .*/listen 0.0.0.0:2049/' -e '/^portmap-port/d' \
	-e "s|^catalog .*|catalog $D/catalog-2049.db|" "$D/conf"
start_conf "$D/conf" "portmapper (rpcbind v2, v3, v4) on 0.0.0.0:111" || exit 99
check_eq "listen 0.0.0.0: GETADDR gives the address the caller reached" \
	"$("$PMAP_CLIENT" 127.0.0.1 111 2049 | grep '^v3 GETADDR')" \
	"v3 GETADDR 100003 2 tcp: SUCCESS \"127.0.0.1.8.1\""
check_eq "listen 0.0.0.0: DUMP shows the address as registered" \
	"$(rpcinfo 127.0.0.1 | awk '$1 == 100003 && $2 == 3 && $3 == "tcp" { print $4 }')" \
	"0.0.0.0.8.1"

# The real Linux client (qemu; its host 10.0.2.2 is this namespace's
# 127.0.0.1): mount.nfs 10.0.2.2:/export with no options (NFSv4, port
# 2049), and NFSv3 with its MOUNT and NFS ports from our portmapper.
run=$SHARED_DIR/kclient/run.sh
if [ -x "$run" ]; then
	cat >"$D/guest.sh" <<'EOF'
mkdir -p /mnt/v4 /mnt/v3
mount.nfs 10.0.2.2:/export /mnt/v4 && echo "v4: $(cat /mnt/v4/hello.txt)"
umount /mnt/v4
mount.nfs 10.0.2.2:/export /mnt/v3 -o vers=3,nolock && echo "v3: $(cat /mnt/v3/dir/b)"
umount /mnt/v3
EOF
	"$run" --no-mount --timeout 300 "$D/guest.sh" >"$D/guest.out" 2>&1
	st=$?
	sed 's/^/# guest: /' "$D/guest.out"
	check_eq "kernel client: mount with no port options (v4, then v3)" \
		"$st $(grep -E '^v[34]: ' "$D/guest.out" | tr '\n' ' ')" \
		"0 v4: from the lower layer v3: b "
else
	echo "# no kernel client at $run: plain mount check skipped"
fi
check "clean shutdown (container ports)" ud_stop

cat >"$D/bad.conf" <<EOF
rpcbind yes
portmap yes
export /export {
	lower $D/lower
	clients *(ro)
}
EOF
check_eq "portmap yes with rpcbind yes: an error at the portmap line" \
	"$("$UNIONNFSD" --check-config "$D/bad.conf" 2>&1)" \
	"$D/bad.conf:2: \"portmap yes\" makes unionnfsd the portmapper; it cannot also register with rpcbind (\"rpcbind yes\" at line 1)"
finish
