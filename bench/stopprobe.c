/* fgtrace bench — the stop floor: what it costs a busy thread to be stopped
 * with ptrace and resumed at once, with nothing copied.
 *
 *   stopprobe -d SECONDS -F HZ TID...
 *
 * It seizes the given threads (of one process), and at each tick stops each
 * in turn: PTRACE_INTERRUPT, a polling waitpid for the stop (cheaper here
 * than sleeping until the tracer is woken), PTRACE_GETREGS (any sampler
 * reads the registers) and PTRACE_CONT. No stack copy, no /proc read, no
 * bookkeeping: the cheapest stop a ptrace sampler can make, so the target's
 * stall per stop under this probe is a floor for every design that stops a
 * running thread, fgtrace's included. bench/ipiprobe measures the part of it
 * that is the interrupt alone.
 *
 * Protocol: prints "ready" once every thread is seized; at the end (the
 * duration, or SIGTERM or SIGINT) detaches and prints one JSON line of
 * statistics. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "probe.h"

#define MAX_TIDS 256

static volatile sig_atomic_t stop_requested;
static pid_t tids[MAX_TIDS];
static int n_tids;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

/* Polls for the interrupt's stop. A signal that arrives first is passed on,
 * and the wait goes on. Returns 0, or -1 when the thread is gone. */
static int poll_stop(pid_t tid)
{
	for (;;) {
		int status;
		pid_t got = waitpid(tid, &status, __WALL | WNOHANG);
		if (got == 0)
			continue;
		if (got < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		int rc = stop_status(tid, status);
		if (rc <= 0)
			return rc;
	}
}

int main(int argc, char **argv)
{
	double secs, hz;
	int first = probe_options("stopprobe", "stopprobe -d SECONDS -F HZ TID...", argc,
				  argv, &secs, &hz);
	if (first == argc || argc - first > MAX_TIDS) {
		fprintf(stderr, "usage: stopprobe -d SECONDS -F HZ TID...\n");
		return 2;
	}
	for (int i = first; i < argc; i++)
		tids[n_tids++] =
		    (pid_t)parse_num("stopprobe", "TID", argv[i], 1, 1 << 30);
	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	for (int i = 0; i < n_tids; i++) {
		if (ptrace(PTRACE_SEIZE, tids[i], 0, 0) < 0) {
			fprintf(stderr, "stopprobe: cannot seize %d: %s\n", tids[i],
				strerror(errno));
			return 1;
		}
	}
	printf("ready\n");
	fflush(stdout);

	uint64_t period = (uint64_t)(1e9 / hz), start = now_ns();
	uint64_t end = start + (uint64_t)(secs * 1e9), next = start;
	uint64_t rounds = 0, stops = 0, failed = 0, held_total = 0;
	while (!stop_requested && next < end) {
		struct timespec ts = {(time_t)(next / 1000000000u),
				      (long)(next % 1000000000u)};
		if (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
			continue;
		for (int i = 0; i < n_tids; i++) {
			struct user_regs_struct regs;
			uint64_t t0 = now_ns();
			if (ptrace(PTRACE_INTERRUPT, tids[i], 0, 0) < 0 ||
			    poll_stop(tids[i]) < 0 ||
			    ptrace(PTRACE_GETREGS, tids[i], 0, &regs) < 0) {
				failed++;
				continue;
			}
			ptrace(PTRACE_CONT, tids[i], 0, 0);
			held_total += now_ns() - t0;
			stops++;
		}
		rounds++;
		next += period;
		uint64_t now = now_ns();
		if (now > next) /* overran: skip the ticks that passed */
			next += (now - next) / period * period + period;
	}
	uint64_t duration = now_ns() - start;
	for (int i = 0; i < n_tids; i++) {
		if (ptrace(PTRACE_INTERRUPT, tids[i], 0, 0) == 0 &&
		    poll_stop(tids[i]) == 0)
			ptrace(PTRACE_DETACH, tids[i], 0, 0);
	}
	printf("{\"threads\":%d,\"rounds\":%" PRIu64 ",\"stops\":%" PRIu64
	       ",\"failed\":%" PRIu64 ",\"held_ns_total\":%" PRIu64
	       ",\"duration_ns\":%" PRIu64 "}\n",
	       n_tids, rounds, stops, failed, held_total, duration);
	return 0;
}
