#!/bin/sh
# Builds fgtrace and its unit tests with AddressSanitizer (with LeakSanitizer)
# and UndefinedBehaviorSanitizer, then runs the unit tests and a few real
# captures. Prints one PASS or FAIL line per check; exits 1 on any failure.
set -u
cd "$(dirname "$0")/.."
B=build/asan
SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:exitcode=99"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:exitcode=99"
export LSAN_OPTIONS="suppressions=$(pwd)/tests/lsan.supp:print_suppressions=0"
failed=0

pass() { echo "PASS sanitize/$1"; }
fail() { echo "FAIL sanitize/$1: $2"; failed=1; }

if ! make -s B=$B BIN=$B/fgtrace CFLAGS="-O1 -g" EXTRA_CFLAGS="$SAN" \
	build unit-tests >$B.log 2>&1; then
	fail build "see $B.log"
	tail -20 $B.log
	exit 1
fi
make -s targets >/dev/null 2>&1

for t in $B/tests/test_*; do
	name=$(basename "$t")
	out=$("$t" 2>&1)
	rc=$?
	if [ $rc -eq 0 ] && ! printf '%s' "$out" | grep -q 'Sanitizer\|runtime error'; then
		pass "$name"
	else
		fail "$name" "exit $rc"
		printf '%s\n' "$out" | grep -A20 'Sanitizer\|runtime error' | head -40
	fi
done

# Real captures: launch mode, and attach mode with a handshake.
capture() {
	name=$1
	shift
	err=$(mktemp)
	"$@" 2>"$err" >/dev/null
	rc=$?
	if [ $rc -eq 0 ] && ! grep -q 'Sanitizer\|runtime error' "$err"; then
		pass "$name"
	else
		fail "$name" "exit $rc"
		grep -A30 'Sanitizer\|runtime error' "$err" | head -60
	fi
	rm -f "$err"
}

tmp=$(mktemp -d)
if [ -x build/targets/phases ]; then
	capture capture-launch-phases $B/fgtrace -q -F 999 -o "$tmp/p.json" \
		-o "$tmp/p.pb.gz" -o "$tmp/p.folded" -- build/targets/phases 150
fi
if [ -x build/targets/churn ]; then
	capture capture-launch-churn $B/fgtrace -q -F 999 -o "$tmp/c.json.gz" \
		-- build/targets/churn 500
fi
# Attach mode: a 1 s capture at 999 Hz of a target started with its
# arguments, which prints "ready" once set up and exits at "q".
attach() {
	name=$1
	shift
	fifo="$tmp/in-$name"
	mkfifo "$fifo"
	"$@" <"$fifo" >"$tmp/ready-$name" &
	spid=$!
	exec 9>"$fifo"
	# Handshake: wait for the target's "ready" line.
	i=0
	while ! grep -q ready "$tmp/ready-$name" 2>/dev/null && [ $i -lt 1000 ]; do
		i=$((i + 1))
		sleep 0.01
	done
	capture "$name" $B/fgtrace -q -F 999 -d 1s -p $spid -o "$tmp/$name.json"
	echo q >&9
	exec 9>&-
	wait $spid || fail "$name" "the target exited $?"
}
# Threads that spin and sleep; threads in uninterruptible sleep (vfork
# parents), sampled from /proc.
[ -x build/targets/spinner ] && attach capture-attach-spinner build/targets/spinner 4
[ -x build/targets/vforker ] && attach capture-attach-vforker build/targets/vforker 8 100

# Code whose call frame information is only in .debug_frame: a C program
# (compressed section) and a Go program (lib/debugframe.c).
if gcc -O1 -g -gz -fno-asynchronous-unwind-tables -fno-unwind-tables \
	-fomit-frame-pointer -o "$tmp/noframe" tests/targets/cfi/noframe.c; then
	capture capture-launch-noframe $B/fgtrace -q -F 999 -o "$tmp/n.json" \
		-- "$tmp/noframe" 300
else
	fail capture-launch-noframe "cannot build tests/targets/cfi/noframe.c"
fi
if (cd tests/targets/cfi/gospin && GOCACHE="$(pwd)/../../../../build/go-cache" \
	GOPATH="$tmp/gopath" GOFLAGS=-mod=mod CGO_ENABLED=1 GOTOOLCHAIN=local \
	go build -o "$tmp/gospin" .); then
	capture capture-launch-gospin $B/fgtrace -q -F 999 -o "$tmp/g.json" \
		-o "$tmp/g.folded" -- "$tmp/gospin" 300
else
	fail capture-launch-gospin "cannot build tests/targets/cfi/gospin"
fi
rm -rf "$tmp"
exit $failed
