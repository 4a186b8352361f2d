/* fgtrace — process control with ptrace: seize, events, sampling
 * (look, interrupt, copy, resume), detach. The rest of the tracee is in
 * tracee_files.c, tracee_calls.c and tracee_spawn.c (see tracee_impl.h).
 */
#include "tracee_impl.h"
#include "config.h"
#include "state.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Stops in flight at once: enough to overlap the wake-up latency of several
 * threads, few enough that a stopped thread rarely waits for the tracer. */
#define MAX_INFLIGHT 4
/* A stop that has not arrived by then is taken for one of a thread waiting
 * for a CPU: it will come when the scheduler runs the thread, whatever we
 * do, so it stops holding back the next interrupts of the round. A running
 * thread reaches its stop in tens of microseconds. */
#define INFLIGHT_WAIT_NS 100000ull
/* A thread our interrupt woke from a sleep in a system call needs a CPU to
 * reach its stop. When the target's threads take every CPU it waits in a run
 * queue, with the other threads we woke: each more we wake lengthens the
 * queue, and the scheduler need not run them in the order woken, so one can
 * wait for many. So at most this many such stops are pending at once. One
 * still pending after INFLIGHT_WAIT_NS stops counting if the thread is not
 * runnable (it sleeps uninterruptibly, and takes no CPU), and any after
 * WOKEN_WAIT_NS (threads of higher priority keep it from every CPU). */
#define MAX_WOKEN     4
#define WOKEN_WAIT_NS 100000000ull
/* A stop that has not arrived by then may not come soon (uninterruptible
 * sleep): the thread is shown blocked on its last stack meanwhile. */
#define LATE_NS (10 * 1000 * 1000ull)
/* A pump looks at threads (look_round) for this long at most, and then
 * again after a pause at least this long, in which the loop sleeps: a
 * real-time tracer that runs 100 ms without sleeping is demoted
 * (RLIMIT_RTTIME), and 1,000 sleepers took 20 to 100 ms to sample. */
#define LOOK_SLICE_NS 1000000ull
#define LOOK_PAUSE_NS 20000ull
/* How long the warm-up waits for the worker to free a buffer. */
#define LOOK_BUFFER_WAIT_NS 1000000ull
#define REDZONE 128 /* x86-64 ABI: leaf functions may use 128 bytes below sp */
#define PAGE	4096ul
/* Adaptive copies: what the thread's recent unwinds needed, plus a margin,
 * never less than the floor. */
#define COPY_FLOOR  (16 * 1024ul)
#define REINTERRUPT_NS 1000000000ull

/* A sleeping thread whose stack was cut short is stopped again after this
 * long, then twice as long each time, up to the most. */
#define RESTOP_FIRST_NS 20000000ull
#define RESTOP_MAX_NS	5120000000ull
#define COPY_MARGIN (8 * 1024ul)
/* Run watches (runwatch.h): one opened per WATCH_OPEN_SHARE_NS of the time
 * between two ticks (an open takes 20 to 60 us: a fifth of the tracer's time
 * at most), within these bounds (and WATCH_MAX in all: tracee_files.c). */
#define WATCH_OPEN_SHARE_NS 200000ull
#define WATCH_OPENS_MIN	    2
#define WATCH_OPENS_MAX	    64
/* Files left to the rest of fgtrace (its outputs, the symbolizer's ELF and
 * debug files, /proc reads) when threads take their two files each. */
#define FD_RESERVE 256

int fgt_tracee_new(struct fgt_queue *q, size_t stack_bytes, uint64_t clock_start_ns,
		   struct fgt_tracee **out)
{
	struct fgt_tracee *t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->queue = q;
	t->stack_bytes = stack_bytes;
	t->clock_start_ns = clock_start_ns;
	t->exec_err_fd = -1;
	t->sampling = true;
	fgt_tidmap_init(&t->threads);
	/* Two files a thread: a process of thousands of threads needs more than
	 * the usual soft limit (1024). Take what the hard limit allows, and
	 * leave the rest of fgtrace its share. */
	rlim_t limit = 1024;
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		limit = rl.rlim_cur;
		if (rl.rlim_cur < rl.rlim_max) {
			struct rlimit raised = {rl.rlim_max, rl.rlim_max};
			if (setrlimit(RLIMIT_NOFILE, &raised) == 0) {
				t->nofile_old = rl;
				t->nofile_raised = true;
				limit = rl.rlim_max;
			}
		}
	}
	if (limit > (rlim_t)SIZE_MAX / 2)
		limit = (rlim_t)SIZE_MAX / 2;
	t->thread_fds_max =
	    limit > 2 * FD_RESERVE ? (size_t)limit - FD_RESERVE : (size_t)limit / 2;
	t->stats.run_watch =
	    fgt_runwatch_selftest() == 0 ? FGT_RUNWATCH_ON : FGT_RUNWATCH_UNAVAILABLE;
	*out = t;
	return 0;
}

static void unhold(struct fgt_tracee *t, struct thread *th)
{
	if (th->state != TH_EXITHELD)
		return;
	th->state = TH_RUNNING;
	if (--t->n_exit_held == 0)
		t->exit_release_ns = now_ns();
}

/* th's pending stop no longer counts against MAX_WOKEN. */
static void unwake(struct fgt_tracee *t, struct thread *th)
{
	if (th->woken) {
		th->woken = false;
		t->n_woken--;
	}
}

/* The thread's stop came, or it is gone: it no longer holds back the round. */
static void stop_not_pending(struct fgt_tracee *t, struct thread *th)
{
	if (th->inflight) {
		th->inflight = false;
		t->n_inflight--;
	}
	unwake(t, th);
}

static void free_thread(struct fgt_tracee *t, struct thread *th)
{
	unhold(t, th);
	if (th->snap)
		fgt_queue_put_back(t->queue, th->snap);
	stop_not_pending(t, th);
	tracee_close_thread_files(t, th);
	free(th);
}

void fgt_tracee_free(struct fgt_tracee *t)
{
	if (!t)
		return;
	struct thread *th;
	for (size_t i = 0; (th = fgt_tidmap_next(&t->threads, &i));)
		free_thread(t, th);
	fgt_tidmap_free(&t->threads);
	if (t->exec_err_fd >= 0)
		close(t->exec_err_fd);
	free(t->todo);
	free(t);
}

static uint64_t since_start(const struct fgt_tracee *t, uint64_t ns)
{
	return ns > t->clock_start_ns ? ns - t->clock_start_ns : 0;
}

/* A thread event, not yet queued; NULL when out of memory (the worker copes
 * with a missing event). */
static struct fgt_snapshot *new_event(struct fgt_tracee *t, enum fgt_snap_kind kind,
				      pid_t tid, long status)
{
	struct fgt_snapshot *s = fgt_queue_get_event(t->queue);
	if (!s)
		return NULL;
	s->kind = kind;
	s->tid = tid;
	s->ts_ns = since_start(t, now_ns());
	s->exit_status = status;
	return s;
}

static void push_event(struct fgt_tracee *t, enum fgt_snap_kind kind, pid_t tid,
		       long status)
{
	struct fgt_snapshot *s = new_event(t, kind, tid, status);
	if (s)
		fgt_queue_push(t->queue, s, false);
}

struct thread *tracee_add_thread(struct fgt_tracee *t, pid_t tid, enum thread_state st,
				 bool born)
{
	struct thread *th = calloc(1, sizeof(*th));
	if (!th)
		return NULL;
	th->tid = tid;
	th->state = st;
	th->timeo_fd = -1;
	if (!tracee_open_thread_files(t, th))
		t->stats.files_short++;
	if (fgt_tidmap_put(&t->threads, tid, th) < 0) {
		tracee_close_thread_files(t, th);
		free(th);
		return NULL;
	}
	/* The todo list holds every thread in the worst case: grow it here, off
	 * the sampling path. */
	if (t->threads.len > t->todo_cap) {
		size_t cap = t->todo_cap ? t->todo_cap * 2 : 64;
		while (cap < t->threads.len)
			cap *= 2;
		pid_t *todo = realloc(t->todo, cap * sizeof(*todo));
		if (todo) {
			t->todo = todo;
			t->todo_cap = cap;
		}
	}
	t->stats.threads_seen++;
	t->stats.threads_live = t->threads.len;
	push_event(t, FGT_SNAP_THREAD_NEW, tid, born ? FGT_THREAD_BORN : 0);
	return th;
}

static void remove_thread(struct fgt_tracee *t, struct thread *th, int status)
{
	struct fgt_snapshot *s =
	    th->exit_reported ? NULL : new_event(t, FGT_SNAP_THREAD_EXIT, th->tid, status);
	if (s) {
		/* One held at its exit ended there, not when we let it go. */
		if (th->exit_ns)
			s->ts_ns = since_start(t, th->exit_ns);
		fgt_queue_push(t->queue, s, false);
	}
	fgt_tidmap_del(&t->threads, th->tid);
	free_thread(t, th);
	t->stats.threads_live = t->threads.len;
}

/* ---- attaching ---------------------------------------------------------- */

static bool traced_by_us(pid_t pid, pid_t tid)
{
	struct fgt_proc_status st;
	return fgt_procfs_read_status(pid, tid, &st) == 0 && st.tracer_pid == gettid();
}

static bool is_zombie(pid_t pid)
{
	struct fgt_proc_stat st;
	return fgt_procfs_read_stat(pid, 0, &st) == 0 && st.state == 'Z';
}

static int seize_new_threads(struct fgt_tracee *t, size_t *added, char *err,
			     size_t errlen)
{
	pid_t *tids;
	size_t n;
	int rc = fgt_procfs_list_tasks(t->pid, &tids, &n);
	if (rc < 0) {
		snprintf(err, errlen, "cannot list the threads of %d: %s", t->pid,
			 strerror(-rc));
		return rc;
	}
	*added = 0;
	for (size_t i = 0; i < n; i++) {
		if (fgt_tidmap_get(&t->threads, tids[i]))
			continue;
		bool leader = tids[i] == t->pid;
		if (ptrace(PTRACE_SEIZE, tids[i], 0,
			   leader ? LEADER_OPTIONS : SEIZE_OPTIONS) < 0) {
			int e = errno;
			if (e == ESRCH)
				continue; /* exited meanwhile */
			/* A leader that called pthread_exit stays a zombie while
			 * the other threads run on: they are the process now. */
			if (leader && e == EPERM && is_zombie(t->pid)) {
				t->leader_left = true;
				continue;
			}
			/* A thread cloned by a thread we hold is ours already. */
			if (!(e == EPERM && t->threads.len &&
			      traced_by_us(t->pid, tids[i]))) {
				if (t->threads.len == 0) {
					snprintf(err, errlen, "cannot attach to %d: %s",
						 t->pid, strerror(e));
					free(tids);
					return -e;
				}
				continue; /* degrade: that thread goes unsampled */
			}
		}
		struct thread *th = tracee_add_thread(t, tids[i], TH_RUNNING, false);
		if (!th) {
			free(tids);
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
		th->opts_known = true;
		th->exit_stop = leader;
		(*added)++;
	}
	free(tids);
	return 0;
}

int fgt_tracee_attach(struct fgt_tracee *t, pid_t pid, char *err, size_t errlen)
{
	t->pid = pid;
	/* Threads may be created while we list them: list again until stable. */
	for (int round = 0; round < 1000; round++) {
		size_t added;
		int rc = seize_new_threads(t, &added, err, errlen);
		if (rc < 0) {
			if (t->threads.len)
				fgt_tracee_detach(t, 1000);
			return rc;
		}
		if (added == 0)
			break;
	}
	if (t->threads.len == 0) {
		if (t->leader_left)
			snprintf(err, errlen,
				 "cannot attach to %d: it has exited (a zombie that its "
				 "parent has not reaped)",
				 pid);
		else
			snprintf(err, errlen, "cannot attach to %d: %s", pid, strerror(ESRCH));
		return -ESRCH;
	}
	return 0;
}

/* ---- sampling ------------------------------------------------------------ */

/* The thread ran since its last sample, and the round of t->tick_ns takes
 * none of it. */
static void lose_sample(struct fgt_tracee *t, struct thread *th)
{
	if (!th->lost_ticks++)
		th->lost_ns = t->tick_ns;
}

/* Hands the samples the thread lost over with its next snapshot, for the
 * timeline to show a gap there rather than its last stack. One lost tick is
 * let pass: the timeline then moves on a tick late, as at half the rate,
 * where a gap would split every span the thread is in. */
static void hand_over_gap(struct thread *th, struct fgt_snapshot *s)
{
	s->gap = th->lost_ticks >= 2;
	s->gap_ns = th->lost_ns;
	th->lost_ticks = 0;
}

static void record_held(struct fgt_tracee *t, uint64_t held)
{
	t->stats.held_total_ns += held;
	if (held > t->stats.held_max_ns)
		t->stats.held_max_ns = held;
	uint64_t us = held / 1000;
	int b = 0;
	while (us && b < FGT_HELD_BUCKETS - 1) {
		us >>= 1;
		b++;
	}
	t->stats.held_hist[b]++;
}

/* How many stack bytes to copy from thread tid at its next stop: what its
 * recent unwinds needed, plus a margin; else all that --stack-bytes allows,
 * or the copy floor while the pool is filling. */
static size_t copy_size(struct fgt_tracee *t, pid_t tid)
{
	size_t want = t->stack_bytes;
	size_t need = fgt_queue_hint(t->queue, tid, NULL);
	if (need) {
		need = (need + need / 2 + COPY_MARGIN + PAGE - 1) & ~(PAGE - 1);
		if (need < COPY_FLOOR)
			need = COPY_FLOOR;
		if (need < want)
			want = need;
	} else if (want > COPY_FLOOR && fgt_queue_stacks_filling(t->queue)) {
		/* Not unwound yet, so copied blind, in full; but with the
		 * worker behind, full copies would soon use up the pool and
		 * drop samples. The floor holds most stacks whole, and a copy
		 * cut short still shows its leaf frames, marked [truncated]. */
		want = COPY_FLOOR;
	}
	return want;
}

/* Takes a snapshot header for a stop of th, with a buffer for its stack copy
 * (see copy_size); NULL when the queue has none left. */
static struct fgt_snapshot *get_sample_buffer(struct fgt_tracee *t, struct thread *th)
{
	return fgt_queue_get(t->queue, copy_size(t, th->tid));
}

/* Copies the stack from just below sp, page by page, so that a read that runs
 * off the end of the mapping still returns everything before it. The buffer
 * was sized by copy_size when it was taken. */
static void copy_stack(struct fgt_tracee *t, struct fgt_snapshot *s)
{
	uint64_t start = s->regs.rsp - REDZONE;
	size_t want = s->stack_cap;
	struct iovec local = {.iov_base = s->stack, .iov_len = want};
	struct iovec remote[FGT_MAX_STACK_BYTES / PAGE + 2];
	size_t n = 0;
	uint64_t addr = start, end = start + want;
	while (addr < end && n < sizeof(remote) / sizeof(remote[0])) {
		uint64_t next = (addr & ~(PAGE - 1)) + PAGE;
		if (next > end)
			next = end;
		remote[n].iov_base = (void *)addr;
		remote[n].iov_len = next - addr;
		n++;
		addr = next;
	}
	/* Through the thread itself: the leader may have exited alone, and
	 * a zombie has no memory. */
	ssize_t got = process_vm_readv(s->tid, &local, 1, remote, n, 0);
	s->stack_addr = start;
	s->stack_len = got > 0 ? (size_t)got : 0;
	s->stack_cut = s->stack_len == want;
	t->stats.copied_bytes += s->stack_len;
}

/* The thread is in a ptrace-stop: copy what the worker needs. The caller
 * resumes the thread, then calls finish_sample. */
static struct fgt_snapshot *take_sample(struct fgt_tracee *t, struct thread *th,
					bool stopped)
{
	struct fgt_snapshot *s = th->snap;
	th->snap = NULL;
	stop_not_pending(t, th);
	if (ptrace(PTRACE_GETREGS, th->tid, 0, &s->regs) < 0) {
		fgt_queue_put_back(t->queue, s);
		t->stats.vanished++;
		return NULL;
	}
	s->kind = FGT_SNAP_SAMPLE;
	s->tid = th->tid;
	s->jobstop = stopped;
	s->blocked = false;
	s->regs_partial = false;
	th->seen_ns = now_ns();
	/* From PTRACE_INTERRUPT on, the thread runs no user code until its
	 * stop: a running one is kicked into the kernel at once, and one that
	 * waits for a CPU or sleeps goes to the stop before it returns to user
	 * space. So the stack copied now is the one it had when we asked, and
	 * at every tick since: date it then, and let it count for those ticks. */
	s->ts_ns = since_start(t, th->interrupt_ns && th->interrupt_ns < th->seen_ns
				       ? th->interrupt_ns
				       : th->seen_ns);
	s->ticks = 1 + th->ticks_waited;
	if (th->warm_interrupt) {
		/* Ticks it waited through after the warm-up are real samples. */
		s->warmup = th->ticks_waited == 0;
		s->ticks = th->ticks_waited ? th->ticks_waited : 1;
		th->warm_interrupt = false;
	}
	th->ticks_waited = 0;
	if (th->interrupt_ns && th->seen_ns > th->interrupt_ns) {
		uint64_t lat = th->seen_ns - th->interrupt_ns;
		t->reap_ewma_ns = t->reap_ewma_ns - t->reap_ewma_ns / 8 + lat / 8;
	}
	copy_stack(t, s);
	/* The run count cannot move while the thread is stopped: if it still
	 * reads this later, the thread has not run since we resumed it. */
	th->stop_slices_ok = tracee_read_slices(t, th, &th->stop_slices) == 0;
	return s;
}

static void finish_sample(struct fgt_tracee *t, struct thread *th, struct fgt_snapshot *s)
{
	if (!s)
		return;
	uint64_t now = now_ns();
	/* One shown blocked was asleep, not held, until its stop came. */
	s->held_ns = now - (th->blocked_shown ? th->seen_ns : th->interrupt_ns);
	th->blocked_shown = false;
	t->stats.copy_total_ns += now - th->seen_ns;
	record_held(t, s->held_ns);
	th->sampled = true;
	th->stopped_last = true;
	th->stopped_blocked = tracee_interrupted_blocking_call(&s->regs);
	if (th->stopped_blocked)
		tracee_call_to_restart(&s->regs, &th->stop_call);
	/* One the warm-up round stopped in a call goes back to sleep: it gets
	 * its watch now, as the round's sleepers do (sample_asleep), outside
	 * the ticks, which would otherwise read each count until the per-tick
	 * budget has opened them all (a third of a second for 1,500 threads
	 * at 99 Hz). */
	if (s->warmup && th->stopped_blocked && tracee_can_watch(t, th))
		tracee_open_watch(t, th);
	t->stats.stops++;
	hand_over_gap(th, s);
	fgt_queue_push(t->queue, s, false);
}

static void resume(struct thread *th, int sig)
{
	ptrace(PTRACE_CONT, th->tid, 0, (void *)(long)sig);
}

static void push_reuse(struct fgt_tracee *t, struct thread *th, enum fgt_snap_kind kind)
{
	struct fgt_snapshot *s = fgt_queue_get(t->queue, 0);
	if (!s) {
		t->stats.drops++;
		t->round_short = true;
		return;
	}
	s->kind = kind;
	s->tid = th->tid;
	s->ts_ns = since_start(t, now_ns());
	s->warmup = t->warming;
	hand_over_gap(th, s);
	fgt_queue_push(t->queue, s, false);
	if (kind == FGT_SNAP_REUSED)
		t->stats.reused++;
	else
		t->stats.jobstopped++;
}

/* th's scheduler state, from /proc/PID/task/TID/stat ('R', 'S', 'D', ...),
 * or 0 when it cannot be read. */
static char sched_state(const struct fgt_tracee *t, const struct thread *th)
{
	struct fgt_proc_stat st;
	return fgt_procfs_read_stat(t->pid, th->tid, &st) == 0 ? st.state : 0;
}

/* Fills s, a buffer for th, from what /proc shows of it asleep (sc): its call
 * and arguments (orig_rax -1 outside one), sp and pc, and its stack, which
 * holds still while it sleeps. Its other registers are not in /proc: code
 * that keeps its frame only in rbp unwinds no further. */
static void fill_from_proc(struct fgt_tracee *t, struct thread *th,
			   struct fgt_snapshot *s, const struct fgt_proc_syscall *sc,
			   bool blocked)
{
	memset(&s->regs, 0, sizeof(s->regs));
	s->regs.orig_rax = (unsigned long)sc->nr;
	s->regs.rax = sc->nr >= 0 ? (unsigned long)-EINTR : 0;
	s->regs.rdi = sc->args[0];
	s->regs.rsi = sc->args[1];
	s->regs.rdx = sc->args[2];
	s->regs.r10 = sc->args[3];
	s->regs.r8 = sc->args[4];
	s->regs.r9 = sc->args[5];
	s->regs.rsp = sc->sp;
	s->regs.rip = sc->pc;
	s->kind = FGT_SNAP_SAMPLE;
	s->tid = th->tid;
	s->jobstop = false;
	s->blocked = blocked;
	s->regs_partial = true;
	s->warmup = t->warming;
	s->held_ns = 0;
	s->ts_ns = since_start(t, now_ns());
	copy_stack(t, s);
}

/* A thread whose stop is long overdue may be in uninterruptible sleep (state
 * D), which no signal or ptrace request ends: shows it blocked (in its
 * syscall, if any) without waiting for it. The first time since the
 * interrupt, with its stack as /proc shows it, which the pending stop keeps
 * from changing until the stop; after that, the same stack again. Returns
 * true when it did, or tried to (a drop). */
static bool push_blocked(struct fgt_tracee *t, struct thread *th)
{
	struct fgt_proc_syscall sc;
	struct fgt_snapshot *s;
	if (now_ns() - th->interrupt_ns < LATE_NS || sched_state(t, th) != 'D')
		return false;
	if (!th->blocked_shown && tracee_read_syscall(t, th, &sc) == 0 && !sc.running) {
		if (!(s = get_sample_buffer(t, th))) {
			t->stats.drops++;
			t->round_short = true;
			return true;
		}
		fill_from_proc(t, th, s, &sc, true);
		th->blocked_shown = true;
		th->sampled = true;
	} else if (th->sampled && (s = fgt_queue_get(t->queue, 0))) {
		s->kind = FGT_SNAP_BLOCKED;
		s->tid = th->tid;
		s->ts_ns = since_start(t, now_ns());
		s->warmup = t->warming;
	} else {
		if (th->sampled) {
			t->stats.drops++;
			t->round_short = true;
		}
		return th->sampled;
	}
	hand_over_gap(th, s);
	fgt_queue_push(t->queue, s, false);
	t->stats.blocked++;
	return true;
}

/* True when the thread sleeps in the call its last stop interrupted, made
 * again from the same place with the same arguments. Asleep alone is not
 * enough: a call whose wait ended while the thread was stopped (a futex word
 * that changed, a wake that found it unqueued) returns in the switch-in the
 * resume gives, and the thread runs on to sleep somewhere else in that same
 * one switch-in. */
static bool back_in_stopped_call(const struct fgt_tracee *t, const struct thread *th)
{
	struct fgt_proc_syscall sc;
	if (tracee_read_syscall(t, th, &sc) < 0 || sc.running)
		return false;
	const struct fgt_proc_syscall *c = &th->stop_call;
	return sc.nr == c->nr && sc.sp == c->sp && sc.pc == c->pc &&
	       memcmp(sc.args, c->args, sizeof(sc.args)) == 0;
}

/* The skip rule: a thread whose run count (schedstat field 3, which grows
 * each time the thread is switched in) has not moved has not run, so its
 * stack cannot have changed.
 * - After one of our stops, the count read during the stop is the
 *   reference: a thread resumed but not yet switched in (runnable, waiting
 *   for a CPU, as most are when threads outnumber cores) still has it. A
 *   thread whose stop interrupted a restartable blocking call is switched in
 *   once more by the resume, restarts the call and sleeps again: one more,
 *   when /proc shows it asleep in that same call. (Left and made again
 *   within that one switch-in, from the same pc and sp with the same
 *   arguments, the call would pass too: the stack then differs from the
 *   old one only in callers that came and went at equal frame sizes.)
 * - Otherwise the count of the last decision is trusted only when that
 *   decision found the thread asleep: a thread that never leaves a CPU is
 *   not switched in either. A thread we meant to stop but did not (its
 *   previous stop was late, or the worker was behind) is trusted again only
 *   after a stop or a look that shows it has not run. */
static bool has_not_run(struct fgt_tracee *t, struct thread *th)
{
	uint64_t slices;
	th->ran = false;
	if (tracee_read_slices_watched(t, th, &slices) < 0) {
		th->trusted = false;
		return false;
	}
	/* Switched in since the previous decision: a call it sleeps in now
	 * began, or was made again by us, since then. */
	th->ran = th->decided && slices != th->last_slices;
	th->decided = true;
	bool same;
	if (th->stopped_last)
		same = th->stop_slices_ok &&
		       (slices == th->stop_slices ||
			(slices == th->stop_slices + 1 && th->stopped_blocked &&
			 back_in_stopped_call(t, th)));
	else
		same = th->trusted && slices == th->last_slices;
	same = same && th->sampled;
	/* A stack cut short (taken while libraries were still loading, say)
	 * would be shown for as long as the thread sleeps: stop it again now
	 * and then, in case it unwinds further now. */
	bool cut;
	if (same) {
		fgt_queue_hint(t->queue, th->tid, &cut);
		uint64_t now = now_ns();
		if (!cut) {
			th->restop_gap_ns = 0;
		} else if (!th->restop_gap_ns) {
			th->restop_gap_ns = RESTOP_FIRST_NS;
			th->restopped_ns = now;
		} else if (now - th->restopped_ns >= th->restop_gap_ns) {
			if (th->restop_gap_ns < RESTOP_MAX_NS)
				th->restop_gap_ns *= 2;
			th->restopped_ns = now;
			same = false;
		}
	}
	if (!same)
		th->asleep_seen_ns = 0; /* it ran: any sleep now is a new one */
	th->unmoved_streak = same ? th->unmoved_streak + 1 : 0;
	if (same)
		tracee_maybe_watch(t, th);
	th->trusted = same;
	th->last_slices = slices;
	th->stopped_last = false;
	return same;
}

size_t fgt_tracee_tick(struct fgt_tracee *t, bool warmup)
{
	struct thread *th;
	if (!t->sampling)
		return 0;
	t->warming = warmup;
	if (!warmup)
		t->stats.ticks++;
	/* The previous round was on time when every thread in it was sampled,
	 * or frozen by an interrupt, before this tick. */
	if (t->stats.ticks > 1 && (t->todo_pos < t->n_todo || t->round_short))
		t->stats.ticks_late++;
	/* Threads the late round did not reach ran, and have no sample of it. */
	for (size_t i = t->todo_pos; i < t->n_todo; i++)
		if ((th = fgt_tidmap_get(&t->threads, t->todo[i])) && th->state == TH_RUNNING)
			lose_sample(t, th);
	uint64_t last_tick_ns = t->tick_ns;
	t->tick_ns = since_start(t, now_ns());
	t->round_short = false;
	uint64_t opens = (t->tick_ns - last_tick_ns) / WATCH_OPEN_SHARE_NS;
	t->watch_opens_left = opens < WATCH_OPENS_MIN	? WATCH_OPENS_MIN
			      : opens > WATCH_OPENS_MAX ? WATCH_OPENS_MAX
							: (unsigned)opens;
	t->n_todo = t->todo_pos = t->look_pos = 0;
	for (size_t i = 0; (th = fgt_tidmap_next(&t->threads, &i));) {
		switch (th->state) {
		case TH_GROUPSTOP:
			if (th->sampled)
				push_reuse(t, th, FGT_SNAP_JOBSTOP);
			continue;
		case TH_RUNNING:
			break;
		case TH_EXITHELD:
		case TH_EXITED:
			continue; /* its life is over: nothing to sample */
		case TH_INTERRUPTING:
			/* Frozen since the interrupt: the coming stop stands for
			 * this tick too, unless it is shown as blocked now. */
			t->stats.late++;
			if (!push_blocked(t, th))
				th->ticks_waited++;
			/* A stop we missed would leave the thread unsampled for
			 * good: ask again now and then (a pending trap is not
			 * doubled). */
			if (now_ns() - th->interrupt_ns > REINTERRUPT_NS) {
				th->interrupt_ns = now_ns();
				ptrace(PTRACE_INTERRUPT, th->tid, 0, 0);
			}
			continue;
		default:
			t->stats.late++;
			continue;
		}
		if (has_not_run(t, th)) {
			push_reuse(t, th, FGT_SNAP_REUSED);
			continue;
		}
		if (t->n_todo < t->todo_cap)
			t->todo[t->n_todo++] = th->tid;
	}
	fgt_tracee_pump(t);
	return t->n_todo;
}

/* Takes a buffer for th's sample (th->snap). Returns false when none is
 * free: the sample is then lost (a drop), but in the warm-up round, which
 * keeps no time, the thread waits for the worker to free one rather than go
 * unsampled, which would have it looked at in every round until it has a
 * sample. */
static bool take_buffer(struct fgt_tracee *t, struct thread *th)
{
	if ((th->snap = get_sample_buffer(t, th)))
		return true;
	if (!t->warming) {
		t->stats.drops++;
		t->round_short = true;
		lose_sample(t, th);
	}
	return false;
}

/* What a look at a thread found (sample_asleep). */
enum look {
	LOOK_DONE, /* asleep: sampled without a stop, or its sample lost */
	LOOK_STOP, /* it needs a stop */
	LOOK_WAIT, /* asleep, but the warm-up must wait for a buffer */
};

/* Looks at the thread before stopping it. One asleep in a system call is
 * sampled without a stop: /proc gives its call, arguments, sp and pc, and
 * its stack holds still while it sleeps. A stop would wake it, only for it to
 * sleep again: the thread would then need a CPU to reach the stop, a wake-up
 * meant for it meanwhile (the lock or the task it waits for) would reach it
 * late, and some calls (epoll_wait and the like, see signal(7)) would fail
 * with EINTR. One in uninterruptible sleep outside a call (a page fault) is
 * sampled so too: no stop reaches it until it wakes, and one pending then
 * would hold it up just as it wakes. A run count that moved since this
 * tick's decision read it (last_slices) means it woke, and the copy may be
 * torn: it is then stopped as usual. Only a thread found asleep takes a
 * buffer (take_buffer). */
static enum look sample_asleep(struct fgt_tracee *t, struct thread *th)
{
	struct fgt_proc_syscall sc;
	uint64_t after;
	th->asleep_in_call = true; /* until /proc says otherwise */
	if (tracee_read_syscall(t, th, &sc) < 0)
		return LOOK_STOP;
	/* Running, or asleep outside a call (in a page fault): any call it
	 * makes begins after now. */
	if (sc.running || sc.nr < 0)
		th->asleep_in_call = false;
	if (sc.running)
		return LOOK_STOP;
	/* In state D (counted as blocked), unless its call only ever sleeps
	 * interruptibly. */
	bool blocked = (sc.nr < 0 || (fgt_syscall_stop_effect(sc.nr) != FGT_STOP_EINTR &&
				      fgt_syscall_may_block(sc.nr))) &&
		       sched_state(t, th) == 'D';
	if (!blocked && sc.nr < 0)
		return LOOK_STOP;
	if (!take_buffer(t, th))
		return t->warming ? LOOK_WAIT : LOOK_DONE;
	struct fgt_snapshot *s = th->snap;
	fill_from_proc(t, th, s, &sc, blocked);
	uint64_t now = now_ns();
	if (tracee_read_slices(t, th, &after) < 0 || after != th->last_slices) {
		fgt_queue_put_back(t->queue, s);
		th->snap = NULL;
		th->asleep_in_call = false; /* it woke: a call now is a new one */
		return LOOK_STOP;
	}
	th->snap = NULL;
	th->sampled = true;
	th->stopped_last = false;
	th->trusted = true;
	if (!th->asleep_seen_ns)
		th->asleep_seen_ns = now;
	if (blocked)
		t->stats.blocked++;
	else
		t->stats.unstopped++;
	/* The warm-up looks at every thread, most of them asleep: each gets
	 * its run watch now, rather than from the ticks' budget (see
	 * finish_sample). */
	if (t->warming && tracee_can_watch(t, th))
		tracee_open_watch(t, th);
	hand_over_gap(th, s);
	fgt_queue_push(t->queue, s, false);
	return LOOK_DONE;
}

/* Whether th, woken by our interrupt and not yet in its stop, waits for a
 * CPU (state R), rather than sleeping uninterruptibly. */
static bool waits_for_cpu(const struct fgt_tracee *t, const struct thread *th)
{
	return sched_state(t, th) == 'R';
}

/* Looks at the threads of the round not looked at yet: each one asleep is
 * sampled now, without a stop (sample_asleep); the others are kept, in
 * order, for their stops. The looks come before the stops: a stop held
 * while the tracer reads /proc and copies sleepers' stacks (1,000 of them in
 * a warm-up) would hold its thread that much longer. After LOOK_SLICE_NS the
 * rest waits for the next pump after a pause; the threads looked at so far
 * are stopped meanwhile. Returns false when the warm-up must wait for a
 * buffer. */
static bool look_round(struct fgt_tracee *t)
{
	size_t w = t->look_pos, r = t->look_pos;
	bool all = true;
	uint64_t now = now_ns();
	if (r < t->n_todo && now < t->look_again_ns)
		return true; /* pausing */
	uint64_t end = now + LOOK_SLICE_NS;
	for (; r < t->n_todo; r++) {
		if ((r - t->look_pos) % 16 == 15 && (now = now_ns()) >= end) {
			t->look_again_ns = now + LOOK_PAUSE_NS;
			break;
		}
		struct thread *th = fgt_tidmap_get(&t->threads, t->todo[r]);
		if (!th || th->state != TH_RUNNING)
			continue;
		enum look found = sample_asleep(t, th);
		if (found == LOOK_WAIT) {
			/* The worker frees buffers: look again later. */
			t->look_again_ns = now_ns() + LOOK_BUFFER_WAIT_NS;
			all = false;
			break;
		}
		if (found == LOOK_STOP)
			t->todo[w++] = th->tid;
	}
	t->look_pos = w;
	while (r < t->n_todo)
		t->todo[w++] = t->todo[r++];
	t->n_todo = w;
	return all;
}

/* Asks th, looked at in this round, to stop. Returns false, and does
 * nothing, when the warm-up must wait for a buffer (take_buffer). */
static bool interrupt(struct fgt_tracee *t, struct thread *th)
{
	if (!take_buffer(t, th))
		return !t->warming;
	th->interrupt_ns = now_ns();
	th->ticks_waited = 0;
	th->warm_interrupt = t->warming;
	th->blocked_shown = false;
	if (ptrace(PTRACE_INTERRUPT, th->tid, 0, 0) < 0) {
		fgt_queue_put_back(t->queue, th->snap);
		th->snap = NULL;
		t->stats.vanished++;
		return true;
	}
	th->state = TH_INTERRUPTING;
	th->inflight = true;
	t->n_inflight++;
	/* /proc could not tell: it may be asleep in a call, which our
	 * interrupt would wake. */
	if (th->asleep_in_call) {
		th->woken = true;
		t->n_woken++;
	}
	return true;
}

void fgt_tracee_pump(struct fgt_tracee *t)
{
	if (t->n_inflight || t->n_woken) {
		/* A thread that takes long to stop (it waits for a CPU, or is in
		 * uninterruptible sleep) must not hold up the others. */
		uint64_t now = now_ns();
		struct thread *th;
		for (size_t i = 0; (th = fgt_tidmap_next(&t->threads, &i));) {
			if (th->inflight && now - th->interrupt_ns >= INFLIGHT_WAIT_NS) {
				th->inflight = false;
				t->n_inflight--;
				if (th->woken && !waits_for_cpu(t, th))
					unwake(t, th);
			}
			if (th->woken && now - th->interrupt_ns >= WOKEN_WAIT_NS)
				unwake(t, th);
		}
	}
	if (!look_round(t)) {
		/* Warm-up, no buffer free: the worker frees them. */
		fgt_queue_wake(t->queue);
		return;
	}
	while (t->n_inflight < MAX_INFLIGHT && t->n_woken < MAX_WOKEN &&
	       t->todo_pos < t->look_pos) {
		struct thread *th = fgt_tidmap_get(&t->threads, t->todo[t->todo_pos]);
		if (th && th->state == TH_RUNNING && !interrupt(t, th)) {
			fgt_queue_wake(t->queue);
			return;
		}
		t->todo_pos++;
	}
	if (t->n_inflight == 0 && t->todo_pos >= t->n_todo)
		fgt_queue_wake(t->queue); /* one wake-up per round */
}

bool fgt_tracee_round_done(const struct fgt_tracee *t)
{
	if (t->todo_pos < t->n_todo)
		return false;
	struct thread *th;
	for (size_t i = 0; (th = fgt_tidmap_next(&t->threads, &i));)
		if (th->state == TH_INTERRUPTING)
			return false;
	return true;
}

bool fgt_tracee_inflight(const struct fgt_tracee *t)
{
	return t->n_inflight > 0;
}

uint64_t fgt_tracee_pump_due_ns(const struct fgt_tracee *t)
{
	/* The rest of a round whose looks pause (look_round). */
	uint64_t due = t->look_pos < t->n_todo ? t->look_again_ns : UINT64_MAX;
	bool full = t->n_inflight >= MAX_INFLIGHT, woken_full = t->n_woken >= MAX_WOKEN;
	if (t->todo_pos >= t->look_pos || (!full && !woken_full))
		return due;
	/* When the next pending stop may stop counting (an arriving stop
	 * wakes the loop anyway; waking early costs only a look). */
	struct thread *th;
	for (size_t i = 0; (th = fgt_tidmap_next(&t->threads, &i));) {
		uint64_t at = UINT64_MAX;
		if (th->inflight)
			at = th->interrupt_ns + INFLIGHT_WAIT_NS;
		else if (woken_full && th->woken)
			at = th->interrupt_ns + WOKEN_WAIT_NS;
		if (at < due)
			due = at;
	}
	return due;
}

uint64_t fgt_tracee_stop_latency_ns(const struct fgt_tracee *t)
{
	return t->reap_ewma_ns;
}

/* ---- events -------------------------------------------------------------- */

/* Whether th should stop at its exit. The leader does: its exit stop tells
 * us that it left while other threads run on (it is a zombie from then on,
 * with no memory of its own), or holds a launched command (hold_at_exit).
 * Once a launched command's leader has left, its other threads do too: the
 * last one's exit is the command's end. No other exit is worth a stop. */
static bool wants_exit_stop(const struct fgt_tracee *t, const struct thread *th)
{
	return th->tid == t->pid || (t->launched && t->leader_left);
}

/* Sets th's options as wants_exit_stop says. th is in a ptrace-stop. A new
 * thread has its creator's options until its first stop. */
static void set_exit_stop(struct fgt_tracee *t, struct thread *th)
{
	bool want = wants_exit_stop(t, th);
	if (th->opts_known && th->exit_stop == want)
		return;
	if (ptrace(PTRACE_SETOPTIONS, th->tid, 0, want ? LEADER_OPTIONS : SEIZE_OPTIONS) ==
	    0) {
		th->opts_known = true;
		th->exit_stop = want;
	}
}

static void handle_exec(struct fgt_tracee *t, struct thread *th)
{
	unsigned long former = 0;
	ptrace(PTRACE_GETEVENTMSG, th->tid, 0, &former);
	/* Every other thread is gone; the execing one now has the leader's id. */
	struct thread *o;
	for (size_t i = 0; (o = fgt_tidmap_next(&t->threads, &i));)
		if (o != th)
			remove_thread(t, o, 0);
	struct fgt_snapshot *s = new_event(t, FGT_SNAP_EXEC, th->tid, (long)former);
	if (s) {
		/* Named now, while the thread holds still at its exec: a short
		 * command may be gone by the time the worker looks. */
		fgt_procfs_read_comm(t->pid, 0, s->comm, sizeof(s->comm));
		fgt_queue_push(t->queue, s, false);
	}
	/* The exec'ing thread now has the leader's id: open its files anew
	 * (the other threads' are closed, so the budget allows it). */
	tracee_close_thread_files(t, th);
	tracee_open_thread_files(t, th);
	/* ... and may be a thread that did not stop at its exit, or the place
	 * of a leader that had exited. */
	th->opts_known = false;
	th->exit_ns = 0;
	th->exit_reported = false;
	if (th->state == TH_EXITED)
		th->state = TH_RUNNING;
	t->leader_left = false;
	set_exit_stop(t, th);
	th->sampled = false;
	th->trusted = false;
	t->sampling = true;
	if (t->exec_err_fd >= 0) {
		close(t->exec_err_fd); /* the exec worked */
		t->exec_err_fd = -1;
	}
}

static bool is_stop_signal(int sig)
{
	return sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU;
}

static void detach_now(struct fgt_tracee *t, struct thread *th, int sig)
{
	ptrace(PTRACE_DETACH, th->tid, 0, (void *)(long)sig);
	fgt_tidmap_del(&t->threads, th->tid);
	free_thread(t, th);
	t->stats.threads_live = t->threads.len;
}

/* A clone() without CLONE_THREAD makes a process, which PTRACE_O_TRACECLONE
 * traces too (its exit signal is not SIGCHLD). Only threads of the target
 * are ours. */
static bool is_our_thread(const struct fgt_tracee *t, pid_t tid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/task/%d", t->pid, tid);
	return access(path, F_OK) == 0;
}

/* Launch mode. A command that ends takes its memory and its maps with it, and
 * the worker, some way behind, could then neither unwind nor name the samples
 * it has still to do: all of them, for a command that ends before the worker
 * has loaded its first symbols. So at its exit stop it is held there until
 * the worker is done (see fgt_tracee_exit_held). That is a stop after the
 * command's last instruction: it has run every exit handler and written
 * everything, and only its descriptors close late. An exit is the command's
 * end when it takes the process with it: an exit_group, a fatal signal (which
 * brings every thread here), or the last thread's exit. A thread leaving
 * alone (pthread_exit) while other threads run on is not. */
static bool hold_at_exit(struct fgt_tracee *t, struct thread *th)
{
	if (!t->launched || !t->sampling || th->state == TH_DETACHING)
		return false;
	struct user_regs_struct r;
	if (ptrace(PTRACE_GETREGS, th->tid, 0, &r) < 0)
		return false;
	if ((long)r.orig_rax != SYS_exit)
		return true;
	struct thread *o;
	for (size_t i = 0; (o = fgt_tidmap_next(&t->threads, &i));)
		if (o != th && o->state != TH_EXITED && o->state != TH_EXITHELD)
			return false;
	return true;
}

/* th passed its exit stop and was let go: it runs no code of its own again,
 * though it stays in the process (a zombie leader) or is reaped later. Its
 * timeline ends now. */
static void mark_exited(struct fgt_tracee *t, struct thread *th)
{
	th->state = TH_EXITED;
	th->exit_ns = now_ns();
	if (th->tid == t->pid)
		t->leader_left = true;
	struct fgt_snapshot *s = new_event(t, FGT_SNAP_THREAD_EXIT, th->tid, 0);
	if (s) {
		fgt_queue_push(t->queue, s, false);
		th->exit_reported = true;
	}
}

static void handle_stop(struct fgt_tracee *t, struct thread *th, int status)
{
	int sig = WSTOPSIG(status);
	int event = (unsigned)status >> 16;
	struct fgt_snapshot *s;
	bool hold = false;

	if (event != PTRACE_EVENT_EXIT)
		set_exit_stop(t, th);
	if (th->state == TH_LEAVING)
		th->state = TH_DETACHING; /* stopped after all: detach it now */
	if (event == PTRACE_EVENT_CLONE) {
		unsigned long tid = 0;
		if (ptrace(PTRACE_GETEVENTMSG, th->tid, 0, &tid) == 0 && tid > 0 &&
		    !fgt_tidmap_get(&t->threads, (pid_t)tid) &&
		    is_our_thread(t, (pid_t)tid))
			tracee_add_thread(
			    t, (pid_t)tid,
			    th->state == TH_DETACHING ? TH_DETACHING : TH_RUNNING, true);
		sig = 0;
	} else if (event == PTRACE_EVENT_EXEC) {
		handle_exec(t, th);
		sig = 0;
	} else if (event == PTRACE_EVENT_EXIT) {
		hold = hold_at_exit(t, th);
		sig = 0;
	} else if (event == PTRACE_EVENT_STOP) {
		if (th->state == TH_DETACHING) {
			/* Detaching in a group-stop leaves the thread stopped. */
			struct user_regs_struct r;
			if (!is_stop_signal(sig) &&
			    ptrace(PTRACE_GETREGS, th->tid, 0, &r) == 0)
				tracee_remake_call(t, th, &r);
			detach_now(t, th, 0);
			return;
		}
		bool group = is_stop_signal(sig);
		/* A thread found in a job-control stop (one stopped before we
		 * attached, or one born into it) has no stack yet: its stop
		 * holds it still, so take one now, to show it as stopped. */
		if (group && !th->snap && !th->sampled && t->sampling &&
		    (th->snap = get_sample_buffer(t, th)))
			th->interrupt_ns = now_ns();
		s = th->snap ? take_sample(t, th, group) : NULL;
		if (s && !group)
			tracee_remake_call(t, th, &s->regs);
		else
			th->rewound = false;
		if (group) {
			th->state = TH_GROUPSTOP;
			ptrace(PTRACE_LISTEN, th->tid, 0, 0);
		} else {
			/* Our interrupt, the first stop of a new thread, or the end
			 * of a group-stop: let it run. */
			th->state = TH_RUNNING;
			resume(th, 0);
		}
		finish_sample(t, th, s);
		return;
	} else {
		/* A signal-delivery-stop: pass the signal on. Any ptrace-stop
		 * consumes a pending PTRACE_INTERRUPT (the kernel clears the
		 * pending trap), so a pending sample is taken here. */
		t->stats.signals++;
		tracee_undo_remake(t, th, sig);
		if (th->state == TH_DETACHING) {
			tracee_remake_for_ignored(t, th, sig, NULL);
			detach_now(t, th, sig);
			return;
		}
		s = th->snap ? take_sample(t, th, false) : NULL;
		tracee_remake_for_ignored(t, th, sig, s ? &s->regs : NULL);
		if (th->state == TH_INTERRUPTING)
			th->state = TH_RUNNING;
		resume(th, sig);
		finish_sample(t, th, s);
		return;
	}
	if (th->state == TH_DETACHING) {
		detach_now(t, th, 0);
		return;
	}
	/* A clone, exec or exit event stop consumed our pending interrupt: no
	 * PTRACE_EVENT_STOP follows, so the sample is taken here. */
	s = th->state == TH_INTERRUPTING && th->snap ? take_sample(t, th, false) : NULL;
	if (s && event == PTRACE_EVENT_EXEC) {
		/* exec replaced the stack the interrupt froze: this one is new. */
		s->ts_ns = since_start(t, th->seen_ns);
		s->ticks = 1;
	}
	if (th->state == TH_INTERRUPTING)
		th->state = TH_RUNNING;
	if (hold) {
		th->state = TH_EXITHELD;
		th->exit_ns = now_ns();
		if (!t->n_exit_held++ && !t->exit_hold_ns)
			t->exit_hold_ns = th->exit_ns;
	} else {
		resume(th, sig);
	}
	finish_sample(t, th, s);
	if (!hold && event == PTRACE_EVENT_EXIT)
		mark_exited(t, th); /* after its last sample */
}

static void handle_status(struct fgt_tracee *t, pid_t tid, int status)
{
	struct thread *th = fgt_tidmap_get(&t->threads, tid);
	if (WIFEXITED(status) || WIFSIGNALED(status)) {
		if (th) {
			if (th->snap)
				t->stats.vanished++;
			remove_thread(t, th, status);
		}
		if (tid == t->pid) {
			t->leader_exited = true;
			t->leader_status = status;
		}
		return;
	}
	if (!WIFSTOPPED(status))
		return;
	if (!th) {
		/* A new thread can report its first stop before its parent's clone
		 * event does. A new process (clone without CLONE_THREAD) is not
		 * ours: let it go at its first stop. */
		if (!is_our_thread(t, tid)) {
			ptrace(PTRACE_DETACH, tid, 0, 0);
			t->stats.foreign++;
			return;
		}
		th = tracee_add_thread(t, tid, TH_RUNNING, true);
		if (!th) {
			ptrace(PTRACE_CONT, tid, 0, 0);
			return;
		}
	}
	handle_stop(t, th, status);
}

int fgt_tracee_handle_events(struct fgt_tracee *t)
{
	for (;;) {
		int status;
		pid_t tid = waitpid(-1, &status, __WALL | WNOHANG);
		if (tid == 0)
			return 0;
		if (tid < 0) {
			if (errno == EINTR)
				continue;
			return errno == ECHILD ? 0 : -errno;
		}
		handle_status(t, tid, status);
	}
}

bool fgt_tracee_exit_held(const struct fgt_tracee *t)
{
	return t->n_exit_held > 0;
}

uint64_t fgt_tracee_exit_ns(const struct fgt_tracee *t)
{
	return t->exit_hold_ns;
}

void fgt_tracee_release_exit(struct fgt_tracee *t)
{
	struct thread *th;
	for (size_t i = 0; (th = fgt_tidmap_next(&t->threads, &i));) {
		if (th->state == TH_EXITHELD) {
			unhold(t, th);
			resume(th, 0);
		}
	}
}

bool fgt_tracee_alive(const struct fgt_tracee *t)
{
	return t->threads.len > 0 && !t->leader_exited;
}

pid_t fgt_tracee_pid(const struct fgt_tracee *t)
{
	return t->pid;
}

bool fgt_tracee_exit_status(const struct fgt_tracee *t, int *status)
{
	if (t->leader_exited)
		*status = t->leader_status;
	return t->leader_exited;
}

/* ---- detaching ----------------------------------------------------------- */

static size_t count_detaching(const struct fgt_tracee *t)
{
	size_t n = 0;
	struct thread *th;
	for (size_t i = 0; (th = fgt_tidmap_next(&t->threads, &i));)
		n += th->state == TH_DETACHING;
	return n;
}

int fgt_tracee_detach(struct fgt_tracee *t, int timeout_ms)
{
	struct thread *th;
	int rc = 0;
	/* Samples lost up to the end leave no snapshot to report them: say so. */
	for (size_t i = 0; (th = fgt_tidmap_next(&t->threads, &i));) {
		if (th->lost_ticks < 2)
			continue;
		struct fgt_snapshot *s = new_event(t, FGT_SNAP_GAP, th->tid, 0);
		if (s) {
			hand_over_gap(th, s);
			fgt_queue_push(t->queue, s, false);
		}
	}
	t->n_todo = t->todo_pos = t->look_pos = 0;
	for (size_t i = 0; (th = fgt_tidmap_next(&t->threads, &i));) {
		if (th->snap) {
			fgt_queue_put_back(t->queue, th->snap);
			th->snap = NULL;
		}
		stop_not_pending(t, th);
		/* A running thread is left as it is: a stop could fail its call
		 * with EINTR or wake it for nothing. An interrupted one has its
		 * stop on the way; a listening one is detached at a stop, which
		 * keeps it in its group-stop. */
		if (th->state == TH_RUNNING) {
			th->state = TH_LEAVING;
			continue;
		}
		if (th->state == TH_EXITHELD) { /* at its exit stop: let it end */
			detach_now(t, th, 0);
			continue;
		}
		if (th->state == TH_EXITED) { /* a zombie: it never stops again */
			th->state = TH_LEAVING;
			continue;
		}
		if (th->state != TH_INTERRUPTING &&
		    ptrace(PTRACE_INTERRUPT, th->tid, 0, 0) < 0 && errno == ESRCH) {
			fgt_tidmap_del(&t->threads, th->tid);
			free_thread(t, th);
			continue;
		}
		th->state = TH_DETACHING;
	}
	t->stats.threads_live = t->threads.len;
	uint64_t deadline = now_ns() + (uint64_t)timeout_ms * 1000000ull;
	while (count_detaching(t) > 0) {
		int status;
		pid_t tid = waitpid(-1, &status, __WALL | WNOHANG);
		if (tid < 0 && errno == EINTR)
			continue;
		if (tid < 0)
			break; /* ECHILD: nothing left to wait for */
		if (tid > 0) {
			handle_status(t, tid, status);
			continue;
		}
		uint64_t now = now_ns();
		if (now > deadline) {
			rc = -ETIMEDOUT;
			break;
		}
		/* SIGCHLD is blocked for the session's signalfd: wait for it here. */
		sigset_t chld;
		sigemptyset(&chld);
		sigaddset(&chld, SIGCHLD);
		uint64_t left = deadline - now;
		struct timespec ts = {(time_t)(left / 1000000000ull),
				      (long)(left % 1000000000ull)};
		sigtimedwait(&chld, NULL, &ts);
	}
	/* What is left stays attached until the calling thread exits. */
	for (size_t i = 0; (th = fgt_tidmap_next(&t->threads, &i));) {
		fgt_tidmap_del(&t->threads, th->tid);
		free_thread(t, th);
	}
	t->stats.threads_live = 0;
	return rc;
}

void fgt_tracee_get_stats(const struct fgt_tracee *t, struct fgt_tracee_stats *st)
{
	*st = t->stats;
	if (t->exit_hold_ns)
		st->exit_held_ns =
		    (t->exit_release_ns ? t->exit_release_ns : now_ns()) - t->exit_hold_ns;
}
