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
# The client "reboots" while holding a lock: sm-notify sends SM_NOTIFY to
# the server, whose NSM (found through the host's rpcbind) frees the locks
# this host holds.  The holder is then stopped; the host checks its log.
lockprobe lockfile 60 >held2.out &
i=0
while [ ! -s held2.out ] && [ $i -lt 150 ]; do sleep 0.1; i=$((i + 1)); done
echo "held: $(cat held2.out)"
sm-notify -f -d 2>&1 | sed 's/^/sm-notify: /'
kill $! 2>/dev/null
wait
