#!/bin/sh
# gss_test.sh - RPCSEC_GSS (krb5, krb5i, krb5p) end to end: a throwaway
# MIT KDC on loopback (realm, database, principals, keytabs, krb5.conf all
# in a temporary directory, on a free port; KRB5_CONFIG and
# KRB5_KDC_PROFILE point at them), a real daemon with a krb5-only export,
# and tests/gss_client (libtirpc's RPCSEC_GSS, and hand-made calls).
#   daemon@REALM  -> the local user "daemon" (the default user@REALM rule)
#   alice@REALM   -> 4242:4243 (the krb5-map file)
. "${TOP_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}/tests/lib.sh"

PATH=$PATH:/usr/sbin:/sbin
for p in krb5kdc kdb5_util kadmin.local kinit; do
	command -v $p >/dev/null || {
		echo "SKIP: $p not installed (scripts/deps.sh --test)"; exit 77; }
done
CLIENT=${GSS_CLIENT:-./tests/gss_client}
REALM=UNIONNFSD.TEST
ud_init gss
K=$D/krb5
mkdir -p "$K"
KDCPID=
cleanup() {
	[ -n "$KDCPID" ] && kill "$KDCPID" 2>/dev/null && wait "$KDCPID" 2>/dev/null
	ud_cleanup
}
trap cleanup EXIT

# ---- the realm -----------------------------------------------------------
write_profiles() {
	cat >"$K/krb5.conf" <<EOF
[libdefaults]
	default_realm = $REALM
	dns_lookup_kdc = false
	dns_lookup_realm = false
	dns_canonicalize_hostname = false
	rdns = false
	udp_preference_limit = 1
[realms]
	$REALM = {
		kdc = 127.0.0.1:$KPORT
	}
[domain_realm]
	localhost = $REALM
EOF
	cat >"$K/kdc.conf" <<EOF
[kdcdefaults]
	kdc_listen = 127.0.0.1:$KPORT
	kdc_tcp_listen = 127.0.0.1:$KPORT
[realms]
	$REALM = {
		database_name = $K/principal
		key_stash_file = $K/stash
		acl_file = $K/kadm5.acl
	}
[logging]
	kdc = FILE:$K/kdc.log
EOF
}
KRB5_CONFIG=$K/krb5.conf KRB5_KDC_PROFILE=$K/kdc.conf
KRB5RCACHEDIR=$K KRB5CCNAME=FILE:$K/ccache
export KRB5_CONFIG KRB5_KDC_PROFILE KRB5RCACHEDIR KRB5CCNAME
KPORT=$("$CLIENT" freeport) || exit 99
write_profiles
: >"$K/kadm5.acl"
kdb5_util create -s -r "$REALM" -P "throwaway-$$" >"$K/setup.log" 2>&1 || {
	echo "# kdb5_util failed:"; sed 's/^/#   /' "$K/setup.log"; exit 99; }
for q in "addprinc -randkey nfs/localhost" "addprinc -randkey daemon" \
	"addprinc -randkey alice" "ktadd -k $K/nfs.keytab nfs/localhost" \
	"ktadd -k $K/daemon.keytab daemon" "ktadd -k $K/alice.keytab alice"; do
	kadmin.local -r "$REALM" -q "$q" >>"$K/setup.log" 2>&1 || {
		echo "# kadmin.local $q failed:"; sed 's/^/#   /' "$K/setup.log"; exit 99; }
done
krb5kdc -n -r "$REALM" >>"$K/setup.log" 2>&1 &
KDCPID=$!
kdc_up=
for _ in $(seq 1 100); do
	kinit -k -t "$K/daemon.keytab" "daemon@$REALM" 2>/dev/null && { kdc_up=1; break; }
	kill -0 "$KDCPID" 2>/dev/null || break
	sleep 0.1
done
[ -n "$kdc_up" ] || { echo "# the KDC did not answer:"; sed 's/^/#   /' "$K/setup.log" "$K/kdc.log"; exit 99; }
ok "throwaway KDC on 127.0.0.1:$KPORT, realm $REALM"

# ---- the daemon ------------------------------------------------------------
cat >"$D/krb5.map" <<EOF
# principal  uid gid
alice@$REALM 4242 4243
EOF
cat >"$D/unionnfsd.conf" <<EOF
listen 127.0.0.1:0
catalog "$D/catalog.db"
rpcbind no
control none
udp no
workers 1
krb5-keytab "$K/nfs.keytab"
krb5-principal "nfs/localhost@$REALM"
krb5-map "$D/krb5.map"
export "/export" {
	lower "$D/lower"
	upper "$D/upper"
	work "$D/work"
	clients "127.0.0.1(rw,sec=krb5:krb5i:krb5p)"
}
export "/sysonly" {
	lower "$D/lower2"
	clients "127.0.0.1(ro)"
}
EOF
mkdir -p "$D/lower2"
# Principals create files at the root as themselves.
chmod 1777 "$D/lower" "$D/upper"
: >"$D/log"
"$UNIONNFSD" -f -c "$D/unionnfsd.conf" 2>>"$D/log" &
PID=$!
ud_wait_port || exit 99

# ---- configuration errors, each with its FILE:LINE ---------------------------
printf 'ok@R 1 2\nbad@R 1 2 3\nbad2@R x y\nok@R 3 4\ncarol@R carol # a user\n' >"$D/bad.map"
cat >"$D/bad.conf" <<EOF
catalog "$D/bad.db"
krb5-keytab "$D/no.keytab"
krb5-map "$D/bad.map"
export "/x" {
	lower "$D/lower"
	clients "127.0.0.1(sec=krb5:ntlm) *(sec=krb5:krb5)"
}
EOF
check_eq "config: bad sec= and krb5-map lines reported" \
	"$("$UNIONNFSD" --check-config "$D/bad.conf" 2>&1)" \
"$D/bad.conf:2: krb5-keytab \"$D/no.keytab\": No such file or directory
$D/bad.conf:6: bad client option \"sec=krb5:ntlm\"
$D/bad.conf:6: bad client option \"sec=krb5:krb5\"
$D/bad.map:2: want PRINCIPAL UID GID or PRINCIPAL USERNAME, not \"bad@R\"
$D/bad.map:3: bad uid or gid for \"bad2@R\"
$D/bad.map:4: duplicate principal \"ok@R\""

# ---- the clients -----------------------------------------------------------
daemon_ids="$(id -u daemon) $(id -g daemon)"
# shellcheck disable=SC2086 # two words on purpose
"$CLIENT" "$PORT" daemon $daemon_ids || not_ok "gss_client as daemon@$REALM"
KRB5CCNAME=FILE:$K/ccache.alice
kinit -k -t "$K/alice.keytab" "alice@$REALM" || not_ok "kinit alice"
"$CLIENT" "$PORT" alice 4242 4243 || not_ok "gss_client as alice@$REALM"

for s in krb5 krb5i krb5p; do
	check_eq "upper: daemon-$s.txt owned by daemon" \
		"$(stat -c '%u %g' "$D/upper/daemon-$s.txt" 2>&1)" "$daemon_ids"
	check_eq "upper: alice-$s.txt owned by 4242:4243 (krb5-map)" \
		"$(stat -c '%u %g' "$D/upper/alice-$s.txt" 2>&1)" "4242 4243"
	check_eq "upper: alice-$s.txt content" \
		"$(cat "$D/upper/alice-$s.txt" 2>&1)" "written with $s by alice"
done
check "log: contexts mapped" grep -q "context for alice@$REALM as uid 4242 gid 4243" "$D/log"
check "log: contexts destroyed" grep -q "context for alice@$REALM destroyed" "$D/log"
ud_stop || not_ok "unionnfsd exits cleanly"
finish
