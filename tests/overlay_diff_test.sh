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
kc_need
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

# 3. metacopy: an export with `metacopy yes` against a kernel overlay with
# metacopy=on,redirect_dir=on.  chmod, chown and touch of lower files copy
# their metadata only, reads take the data from below, a write or a
# truncate completes the copy.  Deliberate difference: unionnfsd gives a
# metacopy file an absolute overlay.redirect to its data at once (overlayfs
# adds one when it renames the file), so redirects are not compared here.
M=$D/mc
mkdir -p "$M/lower/sub" "$M/upper" "$M/work" "$M/ovl/upper" "$M/ovl/work" "$M/ovl/merged"
for f in chmod chown touch written cut sub/deep; do echo "data of $f" >"$M/lower/$f"; done
cp -a "$M/lower" "$M/ovl/lower"
cat >"$D/mc.conf" <<C
export "/mc" {
	lower "$M/lower"
	upper "$M/upper"
	work "$M/work"
	metacopy yes
	clients "127.0.0.0/8(rw,no_root_squash)"
}
C
# touch -c: no open for writing, which would copy the data up in overlayfs
cat >"$D/mc-ops.sh" <<'O'
set -e
chmod 600 chmod; chown 1:1 chown; touch -c -d @1200000000 touch cut
chmod 640 sub/deep; chmod 600 written; echo more >>written; truncate -s 3 cut
cat chmod chown touch sub/deep >/dev/null
O
cat "$D/mc-ops.sh" - >"$D/mc-guest.sh" <<'G'
echo "=== tree"; find . | sort
echo "=== data"; find . -type f | sort | xargs md5sum
G
UD_EXTRA_ARGS="--config $D/mc.conf" ud_start || exit 99
"$run" --vers 3 --port "$PORT" --mountport "$PORT" --export /mc \
	--timeout 240 "$D/mc-guest.sh" >"$D/mc-guest.out" 2>"$D/mc-guest.err"
check_eq "metacopy: ops through unionnfsd" "$?" 0
ud_stop
mount -t overlay overlay -o "lowerdir=$M/ovl/lower,upperdir=$M/ovl/upper,workdir=$M/ovl/work,index=off,redirect_dir=on,metacopy=on" \
	"$M/ovl/merged" || exit 99
(cd "$M/ovl/merged" && sh "$D/mc-ops.sh")
check_eq "metacopy: ops on kernel overlayfs" "$?" 0
merged_view() { (cd "$1" && { echo "=== tree"; find . | sort
	echo "=== data"; find . -type f | sort | xargs md5sum; }); }
mc_view=$(merged_view "$M/ovl/merged")
umount "$M/ovl/merged"
mc_nfs=$(sed -n '/^=== tree$/,$p' "$D/mc-guest.out")
check_eq "metacopy: merged tree: unionnfsd = overlayfs" "$mc_nfs" "$mc_view"
mc_upper() {
	tree_sum "$1"
	(cd "$1" && find . -type f | sort | while read -r f; do
		getfattr --absolute-names -n trusted.overlay.metacopy "$f" >/dev/null 2>&1 &&
			echo "metacopy $f"; done)
}
check_eq "metacopy: upper layer: unionnfsd = overlayfs" "$(mc_upper "$M/upper")" "$(mc_upper "$M/ovl/upper")"
check_eq "metacopy: chmod, chown, touch left metacopy files" \
	"$(mc_upper "$M/upper" | grep -c '^metacopy ')" 4
mount -t overlay overlay -o "lowerdir=$M/lower,upperdir=$M/upper,workdir=$M/work,redirect_dir=on,metacopy=on" "$D/merged" || exit 99
mc_kview=$(merged_view "$D/merged")
umount "$D/merged"
check_eq "metacopy: kernel overlay of unionnfsd's layers = what the NFS client saw" "$mc_kview" "$mc_nfs"
finish
