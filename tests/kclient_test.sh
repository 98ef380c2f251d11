#!/bin/sh
# kclient_test.sh - the real Linux NFS client (kernel 6.1 in qemu, from
# ../shared/kclient) mounts unionnfsd with vers=3 and does everyday work on
# the union; then the layers are checked on the host: lower untouched,
# upper as overlayfs would have it, and a kernel overlay mount of the same
# layers shows what the client saw.
. "${TOP_SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"
kc_need
ud_init kclient
trap ud_cleanup EXIT
everyday_lower
before=$(tree_sum "$L")

ud_start || exit 99
"$run" --vers 3 --port "$PORT" --mountport "$PORT" --export /export \
	--timeout 240 "$TOP_SRCDIR/tests/kclient/everyday.sh" >"$D/guest.out" 2>&1
st=$?
sed 's/^/guest: /' "$D/guest.out"
check_eq "guest script exit status" "$st" 0
check "daemon still running" kill -0 "$PID"
ud_stop
check_eq "daemon exit status after SIGTERM" "$?" 0

U=$D/upper
check_eq "lower layer untouched" "$(tree_sum "$L")" "$before"
everyday_upper_checks ""

if mkdir -p "$D/merged" && mount -t overlay overlay \
	-o "lowerdir=$L,upperdir=$U,workdir=$D/work" "$D/merged" 2>/dev/null; then
	check_eq "kernel overlay shows the client's tree" \
		"$(cd "$D/merged" && ls | tr '\n' ' ')" \
		"a append.txt data hello.txt lowdir modes.txt new-link.txt new.txt renamed.txt sym trunc.txt "
	check_eq "kernel overlay shows the client's data" \
		"$(cat "$D/merged/data/old.txt" "$D/merged/a/b/c/deep.txt" "$D/merged/data/keep.txt")" "changed
deep
keep"
	umount "$D/merged"
else
	echo "# mount -t overlay not possible here; overlay view not compared"
fi
finish
