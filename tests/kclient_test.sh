#!/bin/sh
# kclient_test.sh - the real Linux NFS client (kernel 6.1 in qemu, from
# ../shared/kclient) mounts unionnfsd with vers=3 and does everyday work on
# the union; then the layers are checked on the host: lower untouched,
# upper as overlayfs would have it, and a kernel overlay mount of the same
# layers shows what the client saw.
. "${TOP_SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"
run=$SHARED_DIR/kclient/run.sh
if [ ! -x "$run" ]; then
	echo "# no kernel client at $run"
	[ -n "${CI:-}" ] && exit 1
	exit 77
fi
ud_init kclient
trap ud_cleanup EXIT
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
check_eq "upper: new file" "$(cat "$U/new.txt")" new
check_eq "upper: appended copy-up" "$(cat "$U/append.txt")" "line1
line2"
check "upper: renamed file" [ -f "$U/renamed.txt" ]
check "upper: whiteout for the renamed lower name" is_whiteout "$U/rename-me.txt"
check "upper: whiteout for the removed lower file" is_whiteout "$U/remove-me.txt"
check "upper: whiteout for the removed lower tree" is_whiteout "$U/rmtree"
check_eq "upper: hard link kept" "$(stat -c %i "$U/new.txt")" "$(stat -c %i "$U/new-link.txt")"
check_eq "upper: symlink" "$(readlink "$U/sym")" hello.txt
check_eq "upper: chmod copied up" "$(stat -c %a "$U/modes.txt")" 600
check_eq "upper: truncate copied up" "$(stat -c %s "$U/trunc.txt")" 10
check_eq "upper: write copied up" "$(cat "$U/data/old.txt")" changed
check "upper: untouched lower file not copied" [ ! -e "$U/data/keep.txt" ]
check "upper: directory made in a lower-only dir" [ -d "$U/lowdir/sub/new" ]

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
