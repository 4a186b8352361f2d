/* fgtrace bench — what the bench's samplers share (refsampler.c and the
 * floor probes, ipiprobe.c, stopprobe.c and perfprobe.c): the clock they time
 * ticks with, the parsing of their numbers and options, and what a wait status
 * means to one waiting for a ptrace stop. Header only: each stays one
 * program with no library of its own. */
#ifndef FGT_BENCH_PROBE_H
#define FGT_BENCH_PROBE_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ptrace.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static inline uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The number s, for the argument name of program prog, within [lo, hi].
 * Anything else is a usage error: a message on stderr, and exit status 2. */
static inline double parse_num(const char *prog, const char *name, const char *s,
			       double lo, double hi)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= lo && v <= hi)) {
		fprintf(stderr, "%s: invalid %s argument '%s'\n", prog, name, s);
		exit(2);
	}
	return v;
}

/* Reads -d SECONDS and -F HZ (both required) for program prog; anything
 * else prints usage and exits 2. Returns the index of the first operand. */
static inline int probe_options(const char *prog, const char *usage, int argc,
				char **argv, double *secs, double *hz)
{
	int opt;
	*secs = *hz = 0;
	while ((opt = getopt(argc, argv, "d:F:")) != -1) {
		if (opt == 'd') {
			*secs = parse_num(prog, "-d", optarg, 0.001, 86400);
		} else if (opt == 'F') {
			*hz = parse_num(prog, "-F", optarg, 1, 100000);
		} else {
			fprintf(stderr, "usage: %s\n", usage);
			exit(2);
		}
	}
	if (*secs <= 0 || *hz <= 0) {
		fprintf(stderr, "usage: %s\n", usage);
		exit(2);
	}
	return optind;
}

/* What wait status means to one waiting for tid's ptrace event stop (the
 * stop PTRACE_INTERRUPT asks for): 0, it is there; -1, the thread is gone;
 * 1, wait on. A signal-delivery stop met on the way is resumed with its
 * signal, so that none is lost. */
static inline int stop_status(pid_t tid, int status)
{
	if (WIFEXITED(status) || WIFSIGNALED(status))
		return -1;
	if (!WIFSTOPPED(status))
		return 1;
	if (status >> 16 == PTRACE_EVENT_STOP)
		return 0;
	ptrace(PTRACE_CONT, tid, 0, WSTOPSIG(status));
	return 1;
}

#endif
