#!/bin/sh
# overlay_diff_test.sh - differential test against kernel overlayfs.  The
# same operations (tests/kclient/ops.sh) run through unionnfsd (the Linux
# NFS client in qemu) and directly on a kernel overlay mount of an identical
# copy of the layers.  The merged trees must match, and so must the upper
# directories (whiteouts, opaque markers, copied-up content), except where
# unionnfsd deliberately does better than overlayfs:
#   - hard links kept over copy-up: writing one name of a hard-linked lower
#     file (hl-a) updates every name (hl-b too); overlayfs without index
#     breaks the link.  hl-a/hl-b are compared separately.
# Both rename lower directories with redirects (the kernel mounted with
# redirect_dir=on): the upper directories' overlay.redirect values must be
# the same, and the kernel must read unionnfsd's layers as the client saw
# them.
. "${TOP_SRCDIR:-$(dirname "$0")/..}/tests/lib.sh"
run=$SHARED_DIR/kclient/run.sh
if [ ! -x "$run" ]; then
	echo "# no kernel client at $run"; [ -n "${CI:-}" ] && exit 1; exit 77
fi
ud_init ovldiff
trap 'umount "$D/ovl/merged" 2>/dev/null; ud_cleanup' EXIT
mkdir -p "$D/ovl/merged" "$D/merged"
if ! mount -t overlay overlay -o "lowerdir=$D/lower,upperdir=$D/upper,workdir=$D/work" \
	"$D/merged" 2>/dev/null; then
	echo "# mount -t overlay does not work here"; rm -rf "$D"; exit 77
fi
umount "$D/merged"
L=$D/lower
mkdir -p "$L/gonedir/sub" "$L/redir" "$L/deep" "$L/dir" "$L/lowdir/in"
echo orig >"$L/file.txt"; echo a >"$L/append.txt"; echo m >"$L/mode.txt"
chmod 644 "$L/mode.txt"; echo 1234567 >"$L/trunc.txt"; echo g >"$L/gone.txt"
echo g >"$L/gonedir/sub/g"; echo r >"$L/redir/hidden.txt"; echo o >"$L/old-name.txt"
echo low >"$L/over.txt"; echo d >"$L/dir/d.txt"; echo i >"$L/lowdir/in/i.txt"
echo hl >"$L/hl-a"; ln "$L/hl-a" "$L/hl-b"
mkdir -p "$L/rn/a/sub" "$L/rn/b" "$L/rn/c" "$L/rn/d/e"
echo f >"$L/rn/a/f"; echo g >"$L/rn/a/sub/g"; echo h >"$L/rn/c/h"
echo i >"$L/rn/d/e/i"
cp -a "$L" "$D/ovl/lower"; mkdir -p "$D/ovl/upper" "$D/ovl/work"

# 1. unionnfsd through the kernel NFS client
ud_start || exit 99
# Lower directory renames (redirect_dir), after the everyday operations.
cat >"$D/renames.sh" <<'R'
set -e
mv rn/a rn/a2                      # same directory: relative redirect
mv rn/a2/sub rn/b/sub2             # elsewhere, out of a renamed dir
mv rn/b/sub2 rn/sub3               # again: the absolute redirect stays
mv rn/a2 rn/a                      # back to its own name
mv rn/c rn/a/c2                    # into a renamed dir
echo w >rn/a/f                     # copy-up below a redirect
echo n >rn/sub3/new                # create below a redirect
rm rn/sub3/g rn/sub3/new && rmdir rn/sub3   # rmdir of a redirected dir
mv rn/d/e rn/e && mv rn/d rn/e/d   # a parent moved into its renamed child
R
cat "$TOP_SRCDIR/tests/kclient/ops.sh" "$D/renames.sh" - >"$D/guest.sh" <<'G'
echo "=== tree"; find . | sort
echo "=== data"; find . -type f | sort | xargs md5sum
G
"$run" --vers 3 --port "$PORT" --mountport "$PORT" --export /export \
	--timeout 240 "$D/guest.sh" >"$D/guest.out" 2>"$D/guest.err"
check_eq "ops through unionnfsd" "$?" 0
ud_stop

# 2. kernel overlayfs directly (no index, no metacopy; redirect_dir)
mount -t overlay overlay -o "lowerdir=$D/ovl/lower,upperdir=$D/ovl/upper,workdir=$D/ovl/work,index=off,redirect_dir=on,metacopy=off" \
	"$D/ovl/merged" || exit 99
(cd "$D/ovl/merged" && cat "$TOP_SRCDIR/tests/kclient/ops.sh" "$D/renames.sh" | sh)
check_eq "ops on kernel overlayfs" "$?" 0
ovl_view=$(cd "$D/ovl/merged" && { echo "=== tree"; find . | sort
	echo "=== data"; find . -type f | sort | xargs md5sum; })
umount "$D/ovl/merged"

# Deliberate difference: drop hl-b's data line (stale on overlayfs).
filter() { grep -v ' \./hl-b$'; }
nfs_view=$(sed -n '/^=== tree$/,$p' "$D/guest.out")
check_eq "merged tree: unionnfsd (as the NFS client saw it) = overlayfs" \
	"$(echo "$nfs_view" | filter)" "$(echo "$ovl_view" | filter)"
check_eq "hard link kept: hl-b shows the write to hl-a" \
	"$(echo "$nfs_view" | sed -n 's/ \.\/hl-b$//p')" "$(printf 'hl\nhl\n' | md5sum | cut -c1-32) "

# Upper layers: entries, types, modes, data, whiteouts, opaque markers,
# redirects.
upper_sum() {
	tree_sum "$1" | grep -v -e '^\./hl-[ab] '
	(cd "$1" && find . -type d | sort | while read -r d; do
		for x in opaque redirect; do
			v=$(getfattr --absolute-names --only-values -n "trusted.overlay.$x" "$d" 2>/dev/null) &&
				echo "$x $d $v"
		done; done)
}
check_eq "upper layer: unionnfsd = overlayfs" "$(upper_sum "$D/upper")" "$(upper_sum "$D/ovl/upper")"
check_eq "upper layer: the directory renames left redirects" \
	"$(upper_sum "$D/upper" | grep -c '^redirect ')" 5
check_eq "upper layer: hl-a and hl-b are one inode" \
	"$(stat -c %i "$D/upper/hl-a")" "$(stat -c %i "$D/upper/hl-b" 2>/dev/null)"

# The kernel reads unionnfsd's layers as the NFS client saw them.
mount -t overlay overlay -o "lowerdir=$L,upperdir=$D/upper,workdir=$D/work,redirect_dir=on" "$D/merged" || exit 99
kview=$(cd "$D/merged" && { echo "=== tree"; find . | sort
	echo "=== data"; find . -type f | sort | xargs md5sum; })
umount "$D/merged"
check_eq "kernel overlay of unionnfsd's layers = what the NFS client saw" "$kview" "$nfs_view"
finish
