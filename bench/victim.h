/* fgtrace bench — what the bench's target programs share (target.c and
 * pool.c): the clock, their argument check, and the log-linear histogram
 * they report, which bench/run.py reads (HIST_SUB there must match).
 * Header-only: each program is built from one file.
 */
#ifndef FGT_BENCH_VICTIM_H
#define FGT_BENCH_VICTIM_H

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* Log-linear histogram: 4 buckets per power of two, about 19% wide. */
#define HIST_SUB     4
#define HIST_BUCKETS (64 * HIST_SUB)

static inline uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline int hist_index(uint64_t v)
{
	if (v < HIST_SUB)
		return (int)v;
	int e = 63 - __builtin_clzll(v);
	return e * HIST_SUB + (int)((v >> (e - 2)) & (HIST_SUB - 1));
}

/* Prints hist's buckets that are not empty, as "index":count members of a
 * JSON object (without its braces). */
static inline void print_hist(const uint64_t *hist)
{
	const char *sep = "";
	for (int k = 0; k < HIST_BUCKETS; k++) {
		if (!hist[k])
			continue;
		printf("%s\"%d\":%" PRIu64, sep, k, hist[k]);
		sep = ",";
	}
}

/* The number s, for the option name of program prog, within [lo, hi]; exits
 * 2 with a message otherwise. */
static inline long parse_arg(const char *prog, const char *name, const char *s, long lo,
			     long hi)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi) {
		fprintf(stderr, "%s: invalid %s argument '%s' (%ld..%ld)\n", prog, name,
			s, lo, hi);
		exit(2);
	}
	return v;
}

#endif
