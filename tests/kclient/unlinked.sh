#!/bin/sh
# unlinked.sh - runs inside the qemu guest (busybox sh), cwd = an NFSv4
# mount.  A file opened and then removed stays readable and writable
# through its descriptors, with another file opened and closed meanwhile
# (the Linux client silly-renames an open file rather than send REMOVE,
# so this mostly proves nothing breaks; tests/nfs4_unlinked_test proves
# the server's rule).  Then flock(1) on a lower-layer file holds across
# the copy-up a write makes: another process's flock -n fails before and
# after it, and succeeds once the holder let go.
fail=0
eq() { if [ "$2" = "$3" ]; then echo "ok - $1"; else echo "not ok - $1: got '$2' want '$3'"; fail=$((fail + 1)); fi; }
held() {
	i=0
	while [ ! -s "$1" ] && [ $i -lt 200 ]; do sleep 0.1; i=$((i + 1)); done
}

exec 3>unlinked.txt 4<unlinked.txt
echo first >&3
rm unlinked.txt
eq "the name is gone" "$(ls unlinked.txt 2>/dev/null)" ""
echo other >other.txt
eq "another file meanwhile" "$(cat other.txt)" other
rm other.txt
echo second >&3
eq "read through the descriptor" "$(cat <&4)" "first
second"
echo third >&3
eq "read again after another write" "$(cat <&4)" third
exec 3>&- 4<&-
# the client's silly-renamed name goes once the last descriptor closed
i=0
while ls -A | grep -q '^\.nfs' && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
eq "no silly-renamed file left" "$(ls -A | grep -c '^\.nfs')" 0

# flock(1) of util-linux, from the host (--files): busybox has none.
FLOCK=/files/flock
if [ ! -x "$FLOCK" ]; then
	echo "not ok - no $FLOCK in the guest"
	exit 1
fi
# A shared lock needs only a read-only open, which copies nothing up
# (the client emulates flock with a whole-file POSIX lock on the server;
# an exclusive one would need an open for write, which copies up).
cd lowdir || exit 1
timeout 40 "$FLOCK" -s flock.txt sh -c 'echo held >/tmp/flock.out; sleep 8' &
held /tmp/flock.out
"$FLOCK" -n -x flock.txt true
eq "flock -n -x by another process fails" "$?" 1
echo "copied up" >>flock.txt
"$FLOCK" -n -x flock.txt true
eq "flock -n -x still fails after the copy-up" "$?" 1
wait
"$FLOCK" -n -x flock.txt true
eq "flock -n -x succeeds once released" "$?" 0
eq "the write reached the file" "$(tail -n 1 flock.txt)" "copied up"
echo "# guest: $fail failed"
exit $fail
