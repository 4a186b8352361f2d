/* fgtrace bench — what the two floor probes (ipiprobe.c, stopprobe.c) share:
 * the clock they time ticks with and the parsing of their numbers. Header
 * only: each probe stays one program with no library of its own. */
#ifndef FGT_BENCH_PROBE_H
#define FGT_BENCH_PROBE_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

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

#endif
