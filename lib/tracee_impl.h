/* fgtrace — the tracee's own parts, shared by the files that make it up:
 *   tracee.c        threads, ptrace events, sampling rounds, detach;
 *   tracee_files.c  each thread's /proc files, run counts and run watch;
 *   tracee_calls.c  the system call a stop interrupts: restarted, or made
 *                   again;
 *   tracee_spawn.c  launching a command.
 * Nothing outside them includes this; the rest of fgtrace uses tracee.h.
 * Like all of the tracee, these run on the tracer thread only. A struct
 * thread belongs to t->threads, and is freed by tracee.c (free_thread).
 */
#ifndef FGT_TRACEE_IMPL_H
#define FGT_TRACEE_IMPL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/user.h>
#include <time.h>

#include "procfs.h"
#include "runwatch.h"
#include "tidmap.h"
#include "tracee.h"

enum thread_state {
	TH_RUNNING,	 /* resumed */
	TH_INTERRUPTING, /* PTRACE_INTERRUPT sent, stop not yet seen */
	TH_GROUPSTOP,	 /* in a job-control stop, PTRACE_LISTEN */
	TH_DETACHING,	 /* waiting for a stop to detach at */
	TH_LEAVING,	 /* left running at the detach: see fgt_tracee_detach */
	TH_EXITHELD,	 /* a launched command, held at its exit stop until the
			  * worker is done with its samples: see hold_at_exit */
	TH_EXITED,	 /* past its exit stop: no more code of its own (the
			  * leader stays a zombie while other threads run) */
};

struct thread {
	pid_t tid;
	enum thread_state state;
	/* Kept open when the budget allows (FD_RESERVE), or -1: opened for
	 * each read then (tracee_read_slices, tracee_read_syscall). */
	int schedstat_fd;	   /* /proc/.../schedstat */
	int syscall_fd;		   /* /proc/.../syscall */
	uint64_t last_slices;	   /* schedstat field 3 at the last decision */
	bool stopped_last;	   /* stopped since the last decision */
	bool stop_slices_ok;	   /* stop_slices was read */
	uint64_t stop_slices;	   /* schedstat field 3 while stopped */
	bool stopped_blocked;	   /* ... and it interrupted a blocking syscall */
	bool trusted;		   /* the last decision found it asleep and unmoved */
	bool asleep_in_call;	   /* asleep in a syscall when we last looked */
	bool decided;		   /* last_slices holds a reading */
	bool ran;		   /* the count moved since the decision before */
	long timeo_fd;		   /* a socket whose call failed with EINTR, or -1 */
	uint64_t asleep_seen_ns;   /* when first seen asleep in its current call */
	uint64_t restopped_ns;	   /* last stop to retry a stack cut short */
	uint64_t restop_gap_ns;	   /* ... and the wait before the next one */
	bool rewound;		   /* we made a failed call again at the last stop */
	uint64_t rewound_rip;	   /* ... and put the thread back at this pc */
	bool sampled;		   /* the worker has a stack for this thread */
	bool inflight;		   /* counts against MAX_INFLIGHT */
	bool woken;		   /* counts against MAX_WOKEN */
	bool blocked_shown;	   /* sampled from /proc since the interrupt: it
				    * sleeps uninterruptibly (push_blocked) */
	uint64_t interrupt_ns;	   /* when PTRACE_INTERRUPT was sent */
	uint32_t ticks_waited;	   /* ticks that passed while its stop was pending */
	bool warm_interrupt;	   /* the pending stop is of the warm-up round */
	uint64_t seen_ns;	   /* when its stop was reaped */
	uint32_t lost_ticks;	   /* ticks it ran, and lost a sample, since its last */
	uint64_t lost_ns;	   /* ... the first of them (ns since start) */
	struct fgt_snapshot *snap; /* buffer for the pending stop */
	bool opts_known;	   /* exit_stop is set as wants_exit_stop says */
	bool exit_stop;		   /* it stops at its exit (PTRACE_O_TRACEEXIT) */
	uint64_t exit_ns;	   /* when it reached its exit stop, or 0 */
	bool exit_reported;	   /* its THREAD_EXIT went out then */
	/* When stopped_blocked: the call the resume makes again. */
	struct fgt_proc_syscall stop_call;
	/* A run watch, opened once the thread is seen asleep (tracee_maybe_watch): */
	struct fgt_runwatch watch;
	bool watch_valid;	 /* watch_slices was read after watch_seq */
	uint32_t watch_seq;	 /* the page's sequence count before a pread, */
	uint64_t watch_slices;	 /* ... what that pread gave, */
	uint64_t watch_ns;	 /* ... and when */
	uint32_t watch_looks;	 /* looks that found the page unchanged */
	uint32_t watch_drops;	 /* times it was dropped for switching often */
	uint32_t unmoved_streak; /* decisions in a row that found it unmoved */
};

struct fgt_tracee {
	struct fgt_queue *queue;
	size_t stack_bytes;
	uint64_t clock_start_ns;
	pid_t pid;
	size_t thread_fds;	  /* files open for threads (schedstat, syscall) */
	size_t thread_fds_max;	  /* ... at most */
	bool nofile_raised;	  /* the soft limit was raised: */
	struct rlimit nofile_old; /* ... a launched command gets this one back */
	bool launched;
	bool sampling;	 /* false until a launched command has exec'd */
	int exec_err_fd; /* read end of the child's exec-error pipe, or -1 */
	struct fgt_tidmap threads;
	/* Threads still to sample in this round: todo[todo_pos..look_pos) were
	 * looked at and wait for their stop, todo[look_pos..n_todo) are still
	 * to be looked at (look_round). */
	pid_t *todo;
	size_t n_todo, todo_pos, look_pos, todo_cap;
	uint64_t look_again_ns; /* when look_round may go on (LOOK_PAUSE_NS) */
	size_t n_inflight;
	size_t n_woken;	       /* pending stops of threads we woke (MAX_WOKEN) */
	bool round_short;      /* a thread of this round got no sample (a drop) */
	bool warming;	       /* the current round is the warm-up round */
	uint64_t tick_ns;      /* when the current round's tick came (ns since start) */
	uint64_t reap_ewma_ns; /* recent interrupt-to-stop times, averaged */
	bool leader_exited;
	int leader_status;
	bool leader_left;	   /* the leader exited alone (pthread_exit), or was a
				    * zombie when we attached: other threads run on */
	size_t n_exit_held;	   /* threads in TH_EXITHELD */
	uint64_t exit_hold_ns;	   /* when the hold at the command's exit began, or 0 */
	uint64_t exit_release_ns;  /* ... and ended, or 0 */
	size_t n_watches;	   /* run watches open */
	unsigned watch_opens_left; /* ... that this tick may still open */
	struct fgt_tracee_stats stats;
};

#define SEIZE_OPTIONS (PTRACE_O_TRACECLONE | PTRACE_O_TRACEEXEC)
/* The leader also stops at its exit: see wants_exit_stop. */
#define LEADER_OPTIONS (SEIZE_OPTIONS | PTRACE_O_TRACEEXIT)

static inline uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* tracee.c */

/* Adds a thread in state st and announces it to the worker (born: it was
 * created while we traced). Returns NULL when out of memory. */
struct thread *tracee_add_thread(struct fgt_tracee *t, pid_t tid, enum thread_state st,
				 bool born);

/* tracee_files.c */

bool tracee_open_thread_files(struct fgt_tracee *t, struct thread *th);
void tracee_close_thread_files(struct fgt_tracee *t, struct thread *th);
int tracee_read_slices(const struct fgt_tracee *t, const struct thread *th,
		       uint64_t *slices);
int tracee_read_slices_watched(struct fgt_tracee *t, struct thread *th, uint64_t *slices);
int tracee_read_syscall(const struct fgt_tracee *t, const struct thread *th,
			struct fgt_proc_syscall *sc);
bool tracee_can_watch(const struct fgt_tracee *t, const struct thread *th);
void tracee_open_watch(struct fgt_tracee *t, struct thread *th);
void tracee_maybe_watch(struct fgt_tracee *t, struct thread *th);

/* tracee_calls.c */

bool tracee_interrupted_blocking_call(const struct user_regs_struct *r);
void tracee_call_to_restart(const struct user_regs_struct *r, struct fgt_proc_syscall *c);
void tracee_remake_call(struct fgt_tracee *t, struct thread *th,
			const struct user_regs_struct *at_stop);
void tracee_undo_remake(struct fgt_tracee *t, struct thread *th, int sig);
/* At the delivery stop of signal sig: when a signal the process ignores woke
 * th from a call that then failed with EINTR (epoll_wait...), makes the call
 * again, as tracee_remake_call does after our own stops. Without a tracer
 * the kernel drops an ignored signal as it is sent, and the call sleeps on;
 * a traced thread is woken to show it to its tracer. at_stop: the registers
 * at this stop, or NULL to read them. */
void tracee_remake_for_ignored(struct fgt_tracee *t, struct thread *th, int sig,
			       const struct user_regs_struct *at_stop);

#endif
