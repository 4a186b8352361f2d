/* fgtrace — the worker thread: snapshots in, timeline and profiles out.
 *
 * It pops snapshots from the queue in order, unwinds each copy, names the
 * frames, diffs each thread's stack into spans for every trace output, and
 * counts samples in every aggregate. The tracer never waits for it.
 */
#ifndef FGT_WORKER_H
#define FGT_WORKER_H

#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "queue.h"

struct fgt_output;
struct fgt_tef;
struct fgt_profile;

/* Where the worker writes: borrowed from the session. */
struct fgt_sinks {
	size_t n;
	struct fgt_output *out[FGT_MAX_OUTPUTS];
	struct fgt_tef *tef[FGT_MAX_OUTPUTS];	   /* trace outputs, else NULL */
	struct fgt_profile *prof[FGT_MAX_OUTPUTS]; /* aggregate outputs, else NULL */
};

struct fgt_worker_stats {
	uint64_t samples;      /* samples written (stopped, reused, job-stopped) */
	uint64_t unwound;      /* stacks unwound */
	uint64_t frames;       /* frames found by those unwinds */
	uint64_t truncated;    /* stacks marked [truncated] */
	uint64_t gaps;	       /* timeline gaps: a thread's samples were lost */
	uint64_t unwind_ns;    /* time spent unwinding */
	uint64_t remote_reads; /* code-memory reads from the target (page cache misses) */
	uint64_t page_hits;    /* code-memory reads served from the page cache */
	uint64_t memo_hits;    /* unwinds that took their upper frames from a memo */
	uint64_t memo_frames;  /* frames so taken */
	uint64_t fp_found;     /* unwinds that found a frame pointer (unwind.h) */
	uint64_t memo_checked; /* test builds: those unwound again */
	uint64_t memo_mismatches; /* ... and found different */
	uint64_t symbol_lookups;  /* pc lookups */
	uint64_t symbol_hits;	  /* pc lookups served from the cache */
	uint64_t symbol_ns;	  /* time spent naming cache misses */
	uint64_t bytes;		  /* bytes that reached the outputs */
	int worker_nice;	  /* the worker thread's nice value */
};

struct fgt_worker;

/* Creates the worker for process pid. cfg and sinks are borrowed and must
 * outlive it. Returns 0 or -ENOMEM. */
int fgt_worker_new(const struct fgt_config *cfg, pid_t pid, struct fgt_queue *q,
		   struct fgt_sinks *sinks, struct fgt_worker **out);
/* Starts the thread. Returns 0 or -errno. */
int fgt_worker_start(struct fgt_worker *w);
/* Closes the queue, lets the worker drain it, closes every open span at
 * end_ns and joins the thread. */
void fgt_worker_finish(struct fgt_worker *w, uint64_t end_ns);
void fgt_worker_free(struct fgt_worker *w);

/* The first output error (-errno), or 0. Safe from any thread. */
int fgt_worker_error(struct fgt_worker *w);
/* Bytes written so far. Safe from any thread. */
uint64_t fgt_worker_bytes(struct fgt_worker *w);
/* Counters (after finish, or approximate while running). */
void fgt_worker_get_stats(struct fgt_worker *w, struct fgt_worker_stats *st);

#endif
