#!/bin/sh
# Usage: scripts/fuzz.sh [SECONDS [NAME...]]
#
# Builds every fuzz/fuzz_*.c (or only the NAMEs given, e.g. fuzz_json) as a
# libFuzzer target with AddressSanitizer and UndefinedBehaviorSanitizer, and
# runs each for SECONDS (default 60). A target names the sources it links on its
# first line: "// fuzz-sources: lib/json.c lib/strbuf.c".
#
# Prints one line per target, "fuzz NAME: N execs, ok" or "fuzz NAME: FAILED",
# with the reason on stderr; exits 1 if any failed, 2 on bad usage. The corpus
# grows in build/fuzz/corpus-NAME across runs and starts from fuzz/seeds/NAME/.
# A crashing input is saved as build/fuzz/NAME-crash-*; rerun it with
# build/fuzz/NAME FILE.
set -u
cd "$(dirname "$0")/.." || exit 2

secs=${1:-60}
case $secs in
'' | *[!0-9]* | 0)
	echo "usage: $0 [SECONDS [NAME...]] (SECONDS a positive integer)" >&2
	exit 2
	;;
esac
[ $# -gt 0 ] && shift

CLANG=${CLANG:-clang}
if ! command -v "$CLANG" >/dev/null 2>&1; then
	echo "fuzz.sh: $CLANG not found; libFuzzer needs clang (set CLANG=...)" >&2
	exit 2
fi

out=build/fuzz
mkdir -p "$out"
# Some lib/ sources include the generated syscall table.
if [ ! -s build/syscalls.h ]; then
	scripts/gen-syscalls.sh "${CC:-cc}" >build/syscalls.h.tmp &&
		mv build/syscalls.h.tmp build/syscalls.h
fi

# -fno-sanitize-recover: a UBSan finding must fail the run, not just print.
CFLAGS_FUZZ="-std=gnu11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined \
-fno-sanitize-recover=all -Ilib -Icmd -Ibuild"

wanted() {
	[ $# -eq 0 ] && return 0
	for w in "$@"; do
		case $w in "$name" | "${name#fuzz_}") return 0 ;; esac
	done
	return 1
}

report_failure() {
	echo "fuzz $name: FAILED"
	echo "fuzz $name: $1" >&2
	failed=1
}

build() {
	sources=$(sed -n '1s|^// fuzz-sources:||p' "$src")
	if [ -z "$sources" ]; then
		report_failure "$src has no '// fuzz-sources:' first line"
		return 1
	fi
	# shellcheck disable=SC2086 # the source list is split on purpose
	if ! $CLANG $CFLAGS_FUZZ -o "$out/$name" "$src" $sources \
		>"$out/$name.build.log" 2>&1; then
		report_failure "build failed, see $out/$name.build.log"
		sed 5q "$out/$name.build.log" >&2
		return 1
	fi
}

run() {
	corpus="$out/corpus-$name"
	seeds="fuzz/seeds/$name"
	log="$out/$name.log"
	mkdir -p "$corpus"
	[ -d "$seeds" ] || seeds=
	# New inputs go to the first corpus directory; the seeds are only read.
	# -timeout: an input that hangs fails the run instead of stalling it.
	"$out/$name" -max_total_time="$secs" -print_final_stats=1 -timeout=25 \
		-rss_limit_mb=2048 -artifact_prefix="$out/$name-" \
		"$corpus" ${seeds:+"$seeds"} >"$log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9][0-9]*\).*/\1/p' "$log" |
		tail -n 1)
	if [ $rc -ne 0 ]; then
		report_failure "exit status $rc, see $log"
		grep -m 8 -E 'ERROR|SUMMARY|runtime error|Test unit written' "$log" >&2
	elif [ -z "$execs" ]; then
		report_failure "no final stats in $log"
	else
		echo "fuzz $name: $execs execs, ok"
	fi
}

failed=0
found=0
for src in fuzz/fuzz_*.c; do
	[ -f "$src" ] || continue
	name=$(basename "$src" .c)
	wanted "$@" || continue
	found=1
	build && run
done
if [ $found -eq 0 ]; then
	echo "fuzz.sh: no fuzz target matches: $*" >&2
	exit 2
fi
exit $failed
