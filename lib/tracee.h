/* fgtrace — process control: the threads of one traced process.
 *
 * Owns every ptrace request. All calls must come from the thread that called
 * fgt_tracee_attach or fgt_tracee_spawn (ptrace's rule). The tracee never
 * blocks: the caller polls for SIGCHLD (signalfd) and calls
 * fgt_tracee_handle_events, and drives sampling with fgt_tracee_tick and
 * fgt_tracee_pump. Snapshots go to the queue given at creation.
 */
#ifndef FGT_TRACEE_H
#define FGT_TRACEE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "queue.h"

#define FGT_HELD_BUCKETS 16 /* histogram: [0,1us) [1,2) [2,4) ... [2^14us, inf) */

/* Run watches (runwatch.h) spare the skip rule its read of an idle thread's
 * run count. */
enum fgt_runwatch_state {
	FGT_RUNWATCH_ON,	   /* the kernel passed fgt_runwatch_selftest */
	FGT_RUNWATCH_UNAVAILABLE,  /* perf events not allowed, or the self-test
				    * failed: every count is read */
	FGT_RUNWATCH_CONTRADICTED, /* a page missed a switch-in during the
				    * capture: watches were dropped from then on */
};

struct fgt_tracee_stats {
	uint64_t ticks;	     /* sampling rounds started */
	uint64_t stops;	     /* samples taken by stopping a thread */
	uint64_t reused;     /* samples reused because the thread had not run */
	uint64_t unstopped;  /* samples of threads asleep in a call, taken from
			      * /proc without a stop */
	uint64_t restarted;  /* calls our stop, or a signal the process ignores,
			      * failed with EINTR, made again */
	uint64_t eintr;	     /* ... that could not be made again (unknown timeout) */
	uint64_t foreign;    /* clone()d processes (not threads) let go at birth */
	uint64_t jobstopped; /* samples of threads in a job-control stop */
	uint64_t blocked;    /* samples of threads in uninterruptible sleep, taken
			      * without a stop */
	uint64_t drops;	     /* samples dropped: the worker was behind */
	uint64_t late;	     /* ticks a thread spent frozen by a pending stop, which
			      * then stands for them (fgt_snapshot.ticks) */
	uint64_t ticks_late; /* rounds with a thread neither sampled nor frozen by
			      * an interrupt before the next tick */
	uint64_t vanished;   /* threads gone between interrupt and stop (races) */
	uint64_t signals;    /* signals passed on to the target */
	uint64_t threads_seen;	/* distinct threads seen */
	uint64_t threads_live;	/* threads traced now */
	uint64_t files_short;	/* threads whose /proc files were not kept open
				 * (open files ran short), but opened for each read */
	uint64_t copied_bytes;	/* stack bytes copied */
	uint64_t held_total_ns; /* sum of interrupt-to-resume times: an upper bound of
				 * the pauses (a thread runs until it reaches its stop) */
	uint64_t copy_total_ns; /* sum of stop-reaped-to-resume times: fgtrace's own part */
	uint64_t held_max_ns;
	uint64_t held_hist[FGT_HELD_BUCKETS];
	uint64_t exit_held_ns; /* a launched command held at its exit (see
				* fgt_tracee_exit_held), or 0 */
	enum fgt_runwatch_state run_watch; /* whether run watches were used */
	uint64_t watches_opened;	   /* run watches opened on threads */
	uint64_t watches_dropped;	   /* ... closed: the thread switched often */
	uint64_t run_reads_saved;	   /* run counts told by a watch, not read */
};

struct fgt_tracee;

/* Creates the controller. clock_start_ns is the CLOCK_MONOTONIC origin of
 * snapshot timestamps. Returns 0 or -ENOMEM.
 * It raises the process's soft limit on open files to the hard one, since it
 * keeps two files open per thread of the target, and keeps FD_RESERVE (256)
 * of them, or half when the limit is small, for the rest of fgtrace; a
 * thread beyond that budget is counted in files_short. A command it launches
 * gets the old limit back. A thread seen asleep takes a third, a run watch,
 * within the same budget, once fgt_runwatch_selftest has passed. */
int fgt_tracee_new(struct fgt_queue *q, size_t stack_bytes, uint64_t clock_start_ns,
		   struct fgt_tracee **out);
/* Frees the controller; call fgt_tracee_detach first. */
void fgt_tracee_free(struct fgt_tracee *t);

/* Seizes every thread of process pid, looping until no new thread appears.
 * Returns 0, or -errno when the first thread cannot be seized (-EPERM,
 * -ESRCH); err gets a reason. Nothing is left attached on failure. */
int fgt_tracee_attach(struct fgt_tracee *t, pid_t pid, char *err, size_t errlen);

/* Starts argv[0] (searched in PATH) as a child stopped before its exec. The
 * child restores child_mask as its signal mask. Returns the child's pid, or
 * -ENOENT (not found: exit 127), -EACCES/-ENOEXEC (not executable: exit 126),
 * or another -errno; err gets a reason. */
pid_t fgt_tracee_spawn(struct fgt_tracee *t, char *const argv[], const void *child_mask,
		       char *err, size_t errlen);
/* Seizes the stopped child and lets it run into exec. Returns 0 or -errno. */
int fgt_tracee_spawn_start(struct fgt_tracee *t);
/* Kills and reaps a spawned child that was never started (setup failed). */
void fgt_tracee_spawn_abort(struct fgt_tracee *t);

/* Reaps every pending ptrace event without blocking: stops, clones, execs,
 * exits, signals to pass on. Returns 0 or -errno (ECHILD is not an error). */
int fgt_tracee_handle_events(struct fgt_tracee *t);

/* Starts a sampling round: reuses stacks of threads that have not run, queues
 * the others to be stopped. A warmup round is not counted as a tick, and its
 * samples are marked to be processed but not shown. Returns the number of
 * threads to stop. */
size_t fgt_tracee_tick(struct fgt_tracee *t, bool warmup);
/* Interrupts queued threads while fewer than a few are in flight. */
void fgt_tracee_pump(struct fgt_tracee *t);
/* True when every thread of the last round was sampled: none is waiting to
 * be interrupted, and no stop is pending. */
bool fgt_tracee_round_done(const struct fgt_tracee *t);
/* True while stops that should arrive within microseconds are pending. */
bool fgt_tracee_inflight(const struct fgt_tracee *t);
/* When fgt_tracee_pump can next interrupt more threads of the round because
 * a slow stop stops holding its place (CLOCK_MONOTONIC ns), or UINT64_MAX
 * when that is not what holds the round back. */
uint64_t fgt_tracee_pump_due_ns(const struct fgt_tracee *t);
/* How long stops have taken to arrive lately (a moving average, ns). */
uint64_t fgt_tracee_stop_latency_ns(const struct fgt_tracee *t);

/* Launch mode: true while the command, at its exit, is held stopped there so
 * that the worker can still read its memory and maps for the samples queued
 * before (the process and its memory are gone once it exits). The caller lets
 * it go with fgt_tracee_release_exit when the worker is done or a bound has
 * passed; fgt_tracee_detach lets it go too. Sampling rounds do nothing
 * meanwhile. */
bool fgt_tracee_exit_held(const struct fgt_tracee *t);
/* Lets the held command end. */
void fgt_tracee_release_exit(struct fgt_tracee *t);
/* When the command's exit was reached (CLOCK_MONOTONIC ns), when it was held
 * there; else 0. */
uint64_t fgt_tracee_exit_ns(const struct fgt_tracee *t);

/* True while any thread of the process is alive. */
bool fgt_tracee_alive(const struct fgt_tracee *t);
/* The traced process id (after exec too). */
pid_t fgt_tracee_pid(const struct fgt_tracee *t);
/* The leader's wait status, when the whole process has exited; else false. */
bool fgt_tracee_exit_status(const struct fgt_tracee *t, int *status);
/* Errno of a failed exec in a spawned child, or 0. */
int fgt_tracee_exec_error(struct fgt_tracee *t);

/* Detaches from every thread, passing on pending signals and leaving a
 * job-stopped process stopped. Threads that are running or asleep are not
 * stopped (a stop would fail some calls with EINTR): they stay attached until
 * the calling thread, which must be the one that attached, exits; the kernel
 * then detaches them where they are (exit_ptrace). So the caller must end
 * that thread soon after: until then, a signal or clone of theirs waits for
 * it. Waits at most timeout_ms for interrupted threads to reach a stop; the
 * kernel detaches those too. Returns 0 or -ETIMEDOUT. */
int fgt_tracee_detach(struct fgt_tracee *t, int timeout_ms);

/* A copy of the counters. */
void fgt_tracee_get_stats(const struct fgt_tracee *t, struct fgt_tracee_stats *st);

#endif
