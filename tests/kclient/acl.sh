# acl.sh - POSIX ACLs through the kernel's NFSv3 client (NFSACL, program
# 100227), in the qemu guest (busybox sh, cwd = the mount).  The guest has
# getfattr/setfattr, which read and write system.posix_acl_* as getfacl
# and setfacl do.  The ACLs to set (xattr values in hex) come from the
# host in acl-values.sh of the lower layer; "NAME VALUE" lines go back.
set -e
. ./acl-values.sh
get() {
	v=$(getfattr -e hex -n "$2" "$1" 2>/dev/null | sed -n "s/^$2=//p")
	echo "$3 ${v:-none}"
}
# the ACL a lower file has, through GETACL
get withacl.txt system.posix_acl_access get-lower
# a file without one: nothing (its minimal ACL is the mode)
get plain.txt system.posix_acl_access get-plain
# setfacl -m u:3000:r plain.txt: SETACL copies the lower file up
setfattr -n system.posix_acl_access -v "$SET_ACL" plain.txt
get plain.txt system.posix_acl_access set-lower
echo "mode-lower $(stat -c %a plain.txt)"
# setfacl -d -m g:3000:rwx d; the client copies it onto what it creates
mkdir d
setfattr -n system.posix_acl_default -v "$DEF_ACL" d
get d system.posix_acl_default set-default
echo x >d/f
get d/f system.posix_acl_access inherited
echo "mode-inherited $(stat -c %a d/f)"
# setfacl -b
setfattr -n system.posix_acl_access -v "$SET_ACL" other.txt
setfattr -x system.posix_acl_access other.txt
get other.txt system.posix_acl_access removed
