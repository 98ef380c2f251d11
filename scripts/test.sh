#!/bin/sh
# test.sh - install the test dependencies, build with AddressSanitizer and
# UndefinedBehaviorSanitizer, and run the whole test suite (`make check`).
# Also builds once with clang -Werror, and runs make distcheck.  Ends with "N passed, N failed".
#
#   scripts/test.sh            (as root: tests use real cred switching, xattrs,
#                               overlay mounts and the qemu kernel client)
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
shared=${SHARED_DIR:-$top/../shared}
build=${BUILD_DIR:-$top/build}
jobs=$(nproc 2>/dev/null || echo 2)

"$top/scripts/deps.sh" --test || exit 1
if [ -x "$shared/kclient/setup.sh" ]; then
	"$shared/kclient/setup.sh" >/dev/null 2>&1 ||
		echo "test: kclient setup failed; the kernel-client tests will fail" >&2
fi

set -e
(cd "$top" && autoreconf -fi >/dev/null 2>&1)
rm -rf "$build" "$build-clang"
mkdir -p "$build" "$build-clang"
(cd "$build-clang" && CC=clang "$top/configure" -q && make -s -j"$jobs" unionnfsd >/dev/null)
echo "test: clang -Werror build OK"
cd "$build"
"$top/configure" -q --enable-sanitizers
make -s -j"$jobs"
set +e
SHARED_DIR=$shared make -j"$jobs" check
status=$?
for f in tests/*.log; do
	case $f in */test-suite.log) continue ;; esac
	if ! grep -q ':test-result: \(PASS\|SKIP\)' "${f%.log}.trs" 2>/dev/null; then
		# The failing checks first (with the lines around them, where the
		# daemon log usually is), then the end of the log.
		echo "==== $f: failing checks"
		grep -n -B3 -A12 '^\(.*: \)\?not ok' "$f" | head -n 150
		echo "==== $f: end"; tail -n 40 "$f"
	fi
done
# make distcheck (the tarball builds and passes its tests) counts as one more
# test program.
if SHARED_DIR=$shared make -j"$jobs" distcheck >distcheck.log 2>&1; then
	distcheck=0; echo "PASS: make distcheck"
else
	distcheck=1; status=1; echo "FAIL: make distcheck"; tail -n 60 distcheck.log
fi
pass=$(sed -n 's/^# PASS: *//p' test-suite.log)
fail=$(sed -n 's/^# FAIL: *//p' test-suite.log)
err=$(sed -n 's/^# ERROR: *//p' test-suite.log)
xpass=$(sed -n 's/^# XPASS: *//p' test-suite.log)
skip=$(sed -n 's/^# SKIP: *//p' test-suite.log)
echo "$(( ${pass:-0} + 1 - distcheck )) passed, $(( ${fail:-0} + ${err:-0} + ${xpass:-0} + distcheck )) failed, ${skip:-0} skipped"
exit $status
