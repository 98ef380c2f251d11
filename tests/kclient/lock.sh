#!/bin/sh
# lock.sh - runs in the kernel-client guest (cwd = the NFSv3 mount, mounted
# with locking): POSIX locks go to unionnfsd's NLM.  One process holds a
# lock, another is refused, then gets it once the first let go.
echo data >lockfile || exit 1
lockprobe lockfile 4 >held.out &
sleep 1
echo "first: $(cat held.out)"
echo "second: $(lockprobe lockfile)"
wait
echo "third: $(lockprobe lockfile)"
grep -o 'local_lock=[a-z]*' /proc/mounts | head -n 1
