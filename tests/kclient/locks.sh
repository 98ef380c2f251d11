# locks.sh - runs inside the qemu guest (busybox sh), cwd = an NFSv4 mount.
# POSIX locks reach the server: a lock held by one process is refused to
# another (LOCK gives DENIED), and granted again once released (LOCKU);
# a lock on a lower-layer file still holds after a write copied it up.
fail=0
eq() { if [ "$2" = "$3" ]; then echo "ok - $1"; else echo "not ok - $1: got '$2' want '$3'"; fail=$((fail + 1)); fi; }
# Under emulation a guest can be slow: the holder keeps its lock long
# enough, and the probes wait for its answer, never for a fixed time.
held() {
	i=0
	while [ ! -s "$1" ] && [ $i -lt 200 ]; do sleep 0.1; i=$((i + 1)); done
}

echo x >lockme.txt
timeout 40 lockprobe lockme.txt 8 >/tmp/holder.out &
held /tmp/holder.out
eq "a second process is refused the lock" "$(timeout 20 lockprobe lockme.txt)" DENIED
wait
eq "the holder had it" "$(cat /tmp/holder.out)" GRANTED
eq "granted once released" "$(timeout 20 lockprobe lockme.txt)" GRANTED

timeout 40 lockprobe hello.txt 8 >/tmp/holder2.out &
held /tmp/holder2.out
echo "copied up" >>hello.txt
eq "lock on a lower file holds after copy-up" "$(timeout 20 lockprobe hello.txt)" DENIED
wait
eq "its holder had it" "$(cat /tmp/holder2.out)" GRANTED
echo "# guest: $fail failed"
exit $fail
