#!/bin/sh
# kclient_acl_test.sh - getfacl/setfacl of the real Linux NFSv3 client
# (kernel 6.1 in qemu, ../shared/kclient) against unionnfsd's NFSACL
# program: the ACL of a lower file read, one set on a lower file (copied
# up, the ACL in the upper layer's xattr, the lower file untouched), a
# default ACL set on a directory and carried onto a file created there,
# an ACL removed.  tests/kclient/acl.sh runs in the guest.
. "${TOP_SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"
kc_need
command -v setfattr >/dev/null || { echo "# setfattr not installed (attr)"; exit 77; }

# xattr values (hex) of POSIX ACLs: "TAG:PERM[:ID] ...", tags 1 user_obj,
# 2 user, 4 group_obj, 8 group, 10 mask, 20 other (hex, as the kernel's)
le16() { printf '%02x%02x' $(($1 & 255)) $(($1 >> 8)); }
le32() { printf '%02x%02x%02x%02x' $(($1 & 255)) $((($1 >> 8) & 255)) \
	$((($1 >> 16) & 255)) $((($1 >> 24) & 255)); }
acl_hex() {
	printf '0x02000000'
	for e in "$@"; do
		tag=$((0x${e%%:*})); rest=${e#*:}; perm=${rest%%:*}; id=${rest#*:}
		[ "$id" = "$rest" ] && id=4294967295
		printf '%s%s%s' "$(le16 $tag)" "$(le16 "$perm")" "$(le32 "$id")"
	done
	echo
}
xattr() { getfattr -e hex -n "$2" "$1" 2>/dev/null | sed -n "s/^$2=//p"; }
guest() { sed -n "s/^$1 //p" "$D/guest.out"; }

ud_init kclient-acl
trap ud_cleanup EXIT
L=$D/lower U=$D/upper
echo plain >"$L/plain.txt" && chmod 644 "$L/plain.txt"
echo acl >"$L/withacl.txt"
echo other >"$L/other.txt"
lower_acl=$(acl_hex 1:6 2:6:2000 4:4 10:6 20:0)
setfattr -n system.posix_acl_access -v "$lower_acl" "$L/withacl.txt" || exit 99
set_acl=$(acl_hex 1:6 2:4:3000 4:4 10:6 20:4)
def_acl=$(acl_hex 1:7 4:5 8:7:3000 10:7 20:0)
printf 'SET_ACL=%s\nDEF_ACL=%s\n' "$set_acl" "$def_acl" >"$L/acl-values.sh"

ud_start || exit 99
kc_run "$D/guest.out" --vers 3 --port "$PORT" --mountport "$PORT" \
	--export /export --timeout 240 "$TOP_SRCDIR/tests/kclient/acl.sh"
st=$?
sed 's/^/guest: /' "$D/guest.out"
check_eq "guest script exit status" "$st" 0

check_eq "getfacl of a lower file: its ACL (GETACL)" "$(guest get-lower)" "$lower_acl"
check_eq "getfacl of a file without ACL: none" "$(guest get-plain)" none
check_eq "setfacl on a lower file reads back" "$(guest set-lower)" "$set_acl"
check_eq "and the mode follows the mask" "$(guest mode-lower)" 664
check_eq "the upper copy has the ACL as its xattr" \
	"$(xattr "$U/plain.txt" system.posix_acl_access)" "$set_acl"
check_eq "the lower file has none" "$(xattr "$L/plain.txt" system.posix_acl_access)" ""
check_eq "the lower file keeps its mode" "$(stat -c %a "$L/plain.txt")" 644
check_eq "setfacl -d on a directory reads back" "$(guest set-default)" "$def_acl"
check_eq "the upper directory has it" "$(xattr "$U/d" system.posix_acl_default)" "$def_acl"
# created 0666 (no umask under a default ACL): the MASK takes rw
inh_acl=$(acl_hex 1:6 4:5 8:7:3000 10:6 20:0)
check_eq "a file created there inherits it" "$(guest inherited)" "$inh_acl"
check_eq "in the upper layer too" "$(xattr "$U/d/f" system.posix_acl_access)" "$inh_acl"
check_eq "its mode" "$(guest mode-inherited)" 660
check_eq "setfacl -b removes the ACL" "$(guest removed)" none
check_eq "from the upper layer" "$(xattr "$U/other.txt" system.posix_acl_access)" ""
check "daemon still running" kill -0 "$PID"
ud_stop
check_eq "daemon exit status after SIGTERM" "$?" 0
finish
