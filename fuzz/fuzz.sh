#!/bin/sh
# fuzz.sh - run the libFuzzer harnesses (built by `make`: fuzz/fuzz_*).
#
#   fuzz/fuzz.sh                  (make check) replay every seed corpus
#                                 once; SKIP if the harnesses were not built
#   FUZZ_MODE=run fuzz/fuzz.sh    (make fuzz) fuzz each harness for
#                                 FUZZ_SECONDS (60) seconds; FUZZ_ONLY=nfs3
#                                 picks one.  New inputs go to
#                                 fuzz-corpus/NAME, crashes to fuzz-artifacts/
#
# Run from the build directory.  A failure prints the sanitizer's report.
set -u
srcdir=${TOP_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
mode=${FUZZ_MODE:-regress}
seconds=${FUZZ_SECONDS:-60}
names=${FUZZ_ONLY:-"rpc nfs3 mount nlm nfs4 config record"}
status=0

for n in $names; do
	bin=fuzz/fuzz_$n
	seeds=$srcdir/fuzz/corpus/$n
	if [ ! -x "$bin" ]; then
		echo "SKIP: $bin not built (needs clang with libFuzzer)"
		exit 77
	fi
	log=fuzz/fuzz_$n.out
	if [ "$mode" = run ]; then
		mkdir -p "fuzz-corpus/$n" fuzz-artifacts
		echo "fuzz_$n: ${seconds}s"
		"$bin" -max_total_time="$seconds" -timeout=25 -rss_limit_mb=2048 \
			-print_final_stats=1 -artifact_prefix="fuzz-artifacts/$n-" \
			"fuzz-corpus/$n" "$seeds" >"$log" 2>&1
	else
		"$bin" -runs=0 "$seeds" >"$log" 2>&1
	fi
	rc=$?
	if [ $rc -ne 0 ]; then
		echo "FAIL: fuzz_$n (exit $rc); its output:"
		tail -60 "$log"
		status=1
	else
		echo "ok: fuzz_$n $(grep -aEo '(INITED|DONE) .*' "$log" | tail -1)"
	fi
done
exit $status
