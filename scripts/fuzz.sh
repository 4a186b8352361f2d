#!/bin/sh
# Builds every fuzz/fuzz_*.c as a libFuzzer target (with AddressSanitizer and
# UndefinedBehaviorSanitizer) and runs each for SECONDS (default 60). Each
# target names the sources it links on its first line ("// fuzz-sources: ...").
# Prints "fuzz NAME: N execs, ok" or "fuzz NAME: FAILED ..." per target; exits 1
# on any failure. The corpus is kept under build/fuzz/ between runs.
set -u
cd "$(dirname "$0")/.."
secs=${1:-60}
CLANG=${CLANG:-clang}
out=build/fuzz
mkdir -p "$out"
[ -f build/syscalls.h ] || scripts/gen-syscalls.sh cc >build/syscalls.h
failed=0
for src in fuzz/fuzz_*.c; do
	name=$(basename "$src" .c)
	sources=$(sed -n '1s|^// fuzz-sources:||p' "$src")
	bin="$out/$name"
	if ! $CLANG -std=gnu11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=all -Ilib -Icmd -Ibuild -o "$bin" "$src" $sources \
		>"$out/$name.build.log" 2>&1; then
		echo "fuzz $name: FAILED to build (see $out/$name.build.log)"
		failed=1
		continue
	fi
	corpus="$out/corpus-$name"
	mkdir -p "$corpus"
	[ -d "fuzz/seeds/$name" ] && cp -n fuzz/seeds/"$name"/* "$corpus"/ 2>/dev/null
	log="$out/$name.log"
	if "$bin" -max_total_time="$secs" -print_final_stats=1 -rss_limit_mb=1024 \
		-artifact_prefix="$out/$name-" "$corpus" >"$log" 2>&1; then
		execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
		echo "fuzz $name: ${execs:-?} execs, ok"
	else
		echo "fuzz $name: FAILED (see $log)"
		grep -m5 -E 'ERROR|SUMMARY|runtime error' "$log"
		failed=1
	fi
done
exit $failed
