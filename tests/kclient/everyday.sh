# everyday.sh - runs inside the qemu guest (busybox sh), cwd = the NFS mount
# of a union prepared by kclient_test.sh.  Everyday work; every step checked.
fail=0
t() { d=$1; shift; if "$@"; then echo "ok - $d"; else echo "not ok - $d"; fail=$((fail + 1)); fi; }
eq() { if [ "$2" = "$3" ]; then echo "ok - $1"; else echo "not ok - $1: got '$2' want '$3'"; fail=$((fail + 1)); fi; }

eq "read a lower file" "$(cat hello.txt)" "hello lower"
echo new >new.txt
eq "create and read back" "$(cat new.txt)" "new"
echo line2 >>append.txt
eq "append to a lower file" "$(cat append.txt)" "line1
line2"
eq "ls -l sees the merged tree" "$(ls -l | grep -c -e ' hello.txt$' -e ' new.txt$' -e ' data$')" 3
mv rename-me.txt renamed.txt
t "mv a lower file" [ ! -e rename-me.txt ]
eq "renamed content" "$(cat renamed.txt)" "rename me"
rm remove-me.txt
t "rm a lower file" [ ! -e remove-me.txt ]
mkdir -p a/b/c && echo deep >a/b/c/deep.txt
eq "mkdir -p and create inside" "$(cat a/b/c/deep.txt)" deep
mkdir gone && rmdir gone
t "rmdir" [ ! -e gone ]
ln new.txt new-link.txt
eq "hard link count" "$(stat -c %h new.txt)" 2
ln -s hello.txt sym
eq "symlink target" "$(readlink sym)" hello.txt
eq "read through symlink" "$(cat sym)" "hello lower"
chmod 600 modes.txt
eq "chmod a lower file" "$(stat -c %a modes.txt)" 600
truncate -s 10 trunc.txt
eq "truncate a lower file" "$(stat -c %s trunc.txt)" 10
echo changed >data/old.txt
eq "write into a lower file" "$(cat data/old.txt)" changed
mkdir lowdir/sub/new
t "mkdir inside a lower-only directory" [ -d lowdir/sub/new ]
rm -r rmtree
t "rm -r a lower tree" [ ! -e rmtree ]
sync
echo 3 >/proc/sys/vm/drop_caches
eq "data after dropping caches" "$(cat data/old.txt):$(cat new-link.txt):$(cat data/keep.txt)" "changed:new:keep"
eq "listing after dropping caches" "$(ls | tr '\n' ' ')" "a append.txt data hello.txt lowdir modes.txt new-link.txt new.txt renamed.txt sym trunc.txt "
echo "# guest: $fail failed"
exit $fail
