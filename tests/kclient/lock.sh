#!/bin/sh
# lock.sh - runs in the kernel-client guest (cwd = the NFSv3 mount, mounted
# with locking): POSIX locks go to unionnfsd's NLM.  One process holds a
# lock, another is refused, then gets it once the first let go.
echo data >lockfile || exit 1
# Under emulation a boot-fresh guest is slow: hold long enough, and wait
# for the first probe's answer rather than for a fixed time.
lockprobe lockfile 20 >held.out &
i=0
while [ ! -s held.out ] && [ $i -lt 150 ]; do sleep 0.1; i=$((i + 1)); done
echo "first: $(cat held.out)"
echo "second: $(lockprobe lockfile)"
wait
echo "third: $(lockprobe lockfile)"
grep -o 'local_lock=[a-z]*' /proc/mounts | head -n 1
