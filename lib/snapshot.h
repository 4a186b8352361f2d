/* fgtrace — what the tracer hands to the worker: a copy of one thread's
 * registers and stack, or a thread event, in the order they happened.
 */
#ifndef FGT_SNAPSHOT_H
#define FGT_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/user.h>

#if !defined(__x86_64__)
#error "fgtrace supports x86-64 only for now"
#endif

enum fgt_snap_kind {
	FGT_SNAP_SAMPLE,  /* regs + stack copied at a stop */
	FGT_SNAP_REUSED,  /* thread has not run since its last sample: same stack */
	FGT_SNAP_JOBSTOP, /* thread is in a job-control stop: same stack, state stopped */
	FGT_SNAP_BLOCKED, /* in uninterruptible sleep, not stoppable: the same
			   * stack and state as its last sample, which was
			   * taken from /proc as it slept (SAMPLE, blocked) */
	FGT_SNAP_THREAD_NEW,  /* a thread appeared (attach, clone) */
	FGT_SNAP_THREAD_EXIT, /* a thread is gone; close its spans at its last sample */
	FGT_SNAP_EXEC,	      /* the process called exec: new image, old threads gone */
	FGT_SNAP_GAP,	      /* the capture ends while the thread's samples are lost
			       * (gap, gap_ns): its spans end there, not at the end */
};

#define FGT_THREAD_BORN 1

struct fgt_snapshot {
	struct fgt_snapshot *next; /* queue link, owned by the queue */
	enum fgt_snap_kind kind;
	pid_t tid;
	uint64_t ts_ns;	  /* CLOCK_MONOTONIC ns since the capture started */
	uint64_t held_ns; /* how long the stop held the thread (SAMPLE) */
	uint32_t ticks;	  /* SAMPLE: the ticks it stands for (1, more when its
			   * stop was pending at later ticks); others: 1 */
	struct user_regs_struct regs;
	uint64_t stack_addr; /* target address of stack[0] */
	size_t stack_len;    /* bytes copied */
	bool stack_cut; /* the copy stopped at the size cap, not at the mapping end */
	bool jobstop;	/* taken at a job-control stop */
	bool blocked;	/* SAMPLE: taken from /proc, without a stop, while the
			 * thread slept uninterruptibly (state D) */
	/* SAMPLE: taken from /proc without a stop (asleep in a call, or in
	 * state D): only pc, sp and the call's arguments are known, and the
	 * other registers read 0. rbp among them: code that keeps its frame
	 * there is unwound with one found on the stack (unwind.c). */
	bool regs_partial;
	bool warmup;	/* of the warm-up round: load symbols, show nothing */
	/* SAMPLE, REUSED, JOBSTOP, BLOCKED, GAP: the thread ran, and then lost its
	 * samples of two ticks or more (a drop, a round cut short), the first
	 * of them dated gap_ns: where it was in between is not known. */
	bool gap;
	uint64_t gap_ns;
	long
	    exit_status; /* THREAD_EXIT: wait status; EXEC: former tid;
			  * THREAD_NEW: FGT_THREAD_BORN when created during the capture */
	char comm[16];	 /* EXEC: the new image's name, read at the exec stop
			  * (the process may be gone when the worker gets it) */
	uint8_t *stack;	 /* stack_cap bytes from the pool, or NULL */
	size_t stack_cap;
	bool from_heap; /* header allocated outside the pool (rare control events) */
};

#endif
