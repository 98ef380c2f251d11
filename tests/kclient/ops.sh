# ops.sh - one sequence of everyday operations on a union, run twice by
# overlay_diff_test.sh: in the qemu guest on an NFS mount of unionnfsd, and
# on the host directly in a kernel overlay mount of a copy of the same layers.
# POSIX sh (busybox and dash); cwd = the union.
set -e
echo changed >file.txt              # copy-up by write
echo more >>append.txt               # copy-up by append
chmod 640 mode.txt                   # copy-up by chmod
truncate -s 3 trunc.txt              # copy-up by truncate
rm gone.txt                          # whiteout
rm -r gonedir                        # whiteout of a lower tree
rm -r redir && mkdir redir           # new dir over a whiteout: opaque
echo fresh >redir/inside.txt
mv old-name.txt new-name.txt         # rename of a lower file
echo up >upper.txt && mv upper.txt over.txt   # upper file over a lower one
mkdir -p deep/er/est && echo d >deep/er/est/f # parent copy-up chain
echo n >dir/new.txt                  # create in a lower dir
ln -s file.txt sym                   # symlink
echo l >l1 && ln l1 l2               # hard link of new files
mkdir newdir && echo x >newdir/x && mv newdir moved   # rename of an upper dir
mv lowdir movedlow                   # rename of a lower dir (a redirect)
echo hl >>hl-a                       # hard-linked lower file (see the test)
