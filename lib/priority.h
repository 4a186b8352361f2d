/* fgtrace — the tracer thread's scheduling, and the worker's.
 *
 * A stopped target thread waits for the tracer, so the tracer must get a CPU
 * at once when a tick or a stop wakes it, and keep it while it resumes
 * threads. On the fair scheduler it cannot: a thread it resumes that waited
 * long for a CPU is owed time, preempts the tracer, and keeps the CPU until
 * the next scheduler tick. So the tracer runs at the lowest real-time
 * priority where allowed, bounded by two limits that hand it back to the fair
 * scheduler for the rest of the capture:
 * - a CPU budget, checked by fgt_prio_check: half a core over 100 ms;
 * - RLIMIT_RTTIME: 100 ms of CPU without sleeping sends SIGXCPU, whose
 *   handler leaves real-time priority at once, even in a tracer stuck in a
 *   loop. Where the hard limit leaves no room for that soft limit, the
 *   tracer stays on the fair scheduler.
 *
 * The state is process-wide: one tracer thread per process. fgt_prio_raise
 * installs the SIGXCPU handler and the soft limit, and fgt_prio_lower restores
 * them; call both from the tracer thread. Never prints.
 */
#ifndef FGT_PRIORITY_H
#define FGT_PRIORITY_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"

enum fgt_demotion {
	FGT_DEMOTED_NONE,
	FGT_DEMOTED_CPU,    /* over the CPU budget */
	FGT_DEMOTED_RTTIME, /* ran too long without sleeping (SIGXCPU) */
};

/* What the tracer thread got, for the metadata. */
struct fgt_prio_info {
	bool realtime;	   /* SCHED_FIFO when the capture started */
	int nice;	   /* its nice value on the fair scheduler */
	uint64_t slice_ns; /* its fair slice, 0 when the kernel does not say */
	enum fgt_demotion demoted;
};

/* Sets the calling thread's scheduling as asked, each step only where
 * allowed, and keeps what the kernel refused as it was:
 * - FGT_PRIORITY_INHERIT: nothing changes;
 * - FGT_PRIORITY_HIGH: nice -10 and the shortest fair slice (100 µs; Linux
 *   6.12 and later, no privilege needed);
 * - FGT_PRIORITY_REALTIME: the same, then SCHED_FIFO priority 1 with the
 *   limits above.
 * A thread that is not SCHED_OTHER (fgtrace run under chrt, say) keeps its
 * policy. now_ns (CLOCK_MONOTONIC) starts the first budget window. */
void fgt_prio_raise(enum fgt_priority want, uint64_t now_ns);

/* The worker thread's scheduling, from the worker thread: nice -5 on the
 * fair scheduler where allowed, unless want is FGT_PRIORITY_INHERIT or the
 * thread is not SCHED_OTHER or already runs at a lower nice value. It must
 * keep up with the samples when the target's threads take every CPU, or
 * samples are dropped; it never takes more than the samples need, since it
 * sleeps when the queue is empty. Returns its nice value. */
int fgt_prio_worker(enum fgt_priority want);

/* Checks the CPU budget once a window has passed; leaves real-time priority
 * when it was exceeded. Cheap between windows: call it on every wake-up. */
void fgt_prio_check(uint64_t now_ns);

/* Starts a budget window at now_ns, so that the CPU used before does not
 * count: the warm-up round, one stop per thread and bounded in time, is not
 * held to the budget. RLIMIT_RTTIME still applies to it. */
void fgt_prio_restart_budget(uint64_t now_ns);

/* Back to the fair scheduler, and the SIGXCPU disposition and RLIMIT_RTTIME
 * as they were. Safe to call when nothing was raised. */
void fgt_prio_lower(void);

void fgt_prio_get(struct fgt_prio_info *info);

/* The name of a demotion for the metadata: "cpu", "rttime", or NULL. */
const char *fgt_demotion_name(enum fgt_demotion d);

#endif
