/* fgtrace bench — the interrupt floor: what it costs a busy thread merely to
 * be interrupted, with nothing else done to it.
 *
 *   ipiprobe -d SECONDS -F HZ
 *
 * At each tick it calls membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED), which
 * sends one inter-processor interrupt to every other CPU now running a thread
 * of a process registered for it (the bench target registers). The handler
 * runs a memory barrier and returns: no stop, no context switch, no copy.
 * Any sampler that stops a running thread must interrupt its CPU at least
 * this once, so the target's stall per tick under this probe is a floor for
 * every design that stops threads, fgtrace's included.
 *
 * Protocol: prints "ready" once its first call succeeded; at the end (the
 * duration, or SIGTERM or SIGINT) prints one JSON line of statistics. */
#include <errno.h>
#include <inttypes.h>
#include <linux/membarrier.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "probe.h"

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static long membarrier(int cmd)
{
	return syscall(SYS_membarrier, cmd, 0, 0);
}

int main(int argc, char **argv)
{
	double secs, hz;
	if (probe_options("ipiprobe", "ipiprobe -d SECONDS -F HZ", argc, argv, &secs,
			  &hz) != argc) {
		fprintf(stderr, "usage: ipiprobe -d SECONDS -F HZ\n");
		return 2;
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	if (membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED) < 0) {
		fprintf(stderr, "ipiprobe: membarrier: %s\n", strerror(errno));
		return 1;
	}
	printf("ready\n");
	fflush(stdout);

	uint64_t period = (uint64_t)(1e9 / hz);
	uint64_t start = now_ns(), end = start + (uint64_t)(secs * 1e9);
	uint64_t next = start + period, rounds = 0, missed = 0, failed = 0;
	while (!stop_requested && next < end) {
		struct timespec ts = {(time_t)(next / 1000000000u),
				      (long)(next % 1000000000u)};
		if (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
			continue;
		if (membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED) < 0)
			failed++;
		rounds++;
		next += period;
		uint64_t now = now_ns();
		while (next <= now) { /* a tick that passed unserved is missed */
			next += period;
			missed++;
		}
	}
	printf("{\"rounds\":%" PRIu64 ",\"missed\":%" PRIu64 ",\"failed\":%" PRIu64
	       ",\"duration_ns\":%" PRIu64 "}\n",
	       rounds, missed, failed, now_ns() - start);
	return failed ? 1 : 0;
}
