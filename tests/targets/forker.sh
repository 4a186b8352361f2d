#!/bin/sh
# A shell script that runs many short commands, for tracing a target that
# forks and execs all the time. Starts a long-lived child (a sleep), prints
# "ready PID CHILD" and waits for a line on stdin. Then runs COUNT (default
# 200) commands, each a grep reading its own TracerPid, counts those that
# were traced, ends the sleep, prints "done COUNT traced=N" and exits 7.
count=${1:-200}
sleep 60 &
child=$!
echo "ready $$ $child"
read -r _ || exit 2
n=0
traced=0
while [ "$n" -lt "$count" ]; do
	# The grep is a child of the shell: it reports its own tracer. The
	# words are meant to split: "TracerPid:" and the number.
	# shellcheck disable=SC2046
	set -- $(grep '^TracerPid:' /proc/self/status)
	[ "$2" = 0 ] || traced=$((traced + 1))
	n=$((n + 1))
done
kill "$child"
wait "$child" 2>/dev/null
echo "done $n traced=$traced"
exit 7
