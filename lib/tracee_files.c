/* fgtrace — each traced thread's /proc files (schedstat, syscall), kept
 * open within a budget, and its run watch (runwatch.h), which tells the
 * skip rule that a thread has not run without reading its run count.
 */
#include "tracee_impl.h"

#include <errno.h>
#include <unistd.h>

/* Run watches (runwatch.h): WATCH_MAX in all; a watch whose page agrees with
 * the run count is checked against a pread at every this many-th look
 * anyway. */
#define WATCH_MAX	   8192
#define WATCH_VERIFY_EVERY 64
/* Files of the thread budget that watches leave to threads yet to come (two
 * each): a thread short of its files pays three system calls a look. */
#define WATCH_FD_HEADROOM 64
/* A watched thread switched in more often than this (a second) loses its
 * watch: each of its switches costs it perf's part too. It may have one
 * again after 2, 4, ... 1024 decisions in a row that find it asleep. */
#define WATCH_SWITCHES_MAX 2000u
#define WATCH_BACKOFF_MAX  10

/* Opens the thread's schedstat and syscall files to keep, when the budget
 * allows both. Returns false when it did not: they are then opened for each
 * read, three system calls where one would do. The thread is still skipped
 * when it has not run; only a stop of it lasts the few microseconds longer
 * that the read during the stop then takes. */
bool tracee_open_thread_files(struct fgt_tracee *t, struct thread *th)
{
	th->schedstat_fd = th->syscall_fd = -1;
	th->watch = (struct fgt_runwatch)FGT_RUNWATCH_CLOSED;
	th->watch_valid = false;
	if (t->thread_fds + 2 > t->thread_fds_max)
		return false;
	th->schedstat_fd = fgt_procfs_open_schedstat(t->pid, th->tid);
	th->syscall_fd = fgt_procfs_open_syscall(t->pid, th->tid);
	t->thread_fds += (th->schedstat_fd >= 0) + (th->syscall_fd >= 0);
	return true;
}

static void close_watch(struct fgt_tracee *t, struct thread *th)
{
	if (th->watch.fd < 0)
		return;
	fgt_runwatch_close(&th->watch);
	th->watch_valid = false;
	t->thread_fds--;
	t->n_watches--;
}

void tracee_close_thread_files(struct fgt_tracee *t, struct thread *th)
{
	if (th->schedstat_fd >= 0) {
		close(th->schedstat_fd);
		t->thread_fds--;
	}
	if (th->syscall_fd >= 0) {
		close(th->syscall_fd);
		t->thread_fds--;
	}
	th->schedstat_fd = th->syscall_fd = -1;
	close_watch(t, th);
}

/* The thread's run count (schedstat field 3). Returns 0 or -errno. */
int tracee_read_slices(const struct fgt_tracee *t, const struct thread *th,
		       uint64_t *slices)
{
	if (th->schedstat_fd >= 0)
		return fgt_procfs_read_timeslices(th->schedstat_fd, slices);
	int fd = fgt_procfs_open_schedstat(t->pid, th->tid);
	if (fd < 0)
		return fd;
	int rc = fgt_procfs_read_timeslices(fd, slices);
	close(fd);
	return rc;
}

/* Every run count is read from now on: the kernel did not do what watches
 * rest on (or does not let us use them). */
static void watches_off(struct fgt_tracee *t, enum fgt_runwatch_state why)
{
	struct thread *th;
	t->stats.run_watch = why;
	for (size_t i = 0; (th = fgt_tidmap_next(&t->threads, &i));)
		close_watch(t, th);
}

/* Whether th may have a watch: watches are on, it has none, and files and
 * WATCH_MAX allow one. */
bool tracee_can_watch(const struct fgt_tracee *t, const struct thread *th)
{
	return th->watch.fd < 0 && t->stats.run_watch == FGT_RUNWATCH_ON &&
	       th->schedstat_fd >= 0 &&
	       t->thread_fds + 1 + WATCH_FD_HEADROOM <= t->thread_fds_max &&
	       t->n_watches < WATCH_MAX;
}

void tracee_open_watch(struct fgt_tracee *t, struct thread *th)
{
	int rc = fgt_runwatch_open(th->tid, &th->watch);
	if (rc == -EACCES || rc == -EPERM || rc == -EINVAL || rc == -ENOSYS ||
	    rc == -EOPNOTSUPP) {
		watches_off(t, FGT_RUNWATCH_UNAVAILABLE);
		return;
	}
	if (rc < 0)
		return; /* gone, or short of files or memory: maybe later */
	/* The next look reads the count, after the sequence count: a switch-in
	 * between the decision's read and now is in neither yet. */
	th->watch_valid = false;
	th->watch_looks = 0;
	t->thread_fds++;
	t->n_watches++;
	t->stats.watches_opened++;
}

/* Watches a thread the decision just found unmoved, when the budgets allow
 * and it has not lost a watch lately for switching often. */
void tracee_maybe_watch(struct fgt_tracee *t, struct thread *th)
{
	uint32_t backoff =
	    th->watch_drops < WATCH_BACKOFF_MAX ? th->watch_drops : WATCH_BACKOFF_MAX;
	if (!tracee_can_watch(t, th) || !t->watch_opens_left ||
	    th->unmoved_streak < (1u << backoff))
		return;
	t->watch_opens_left--;
	tracee_open_watch(t, th);
}

/* Whether th was switched in more than WATCH_SWITCHES_MAX times a second
 * since the look at watch_ns, by the sequence count now at seq (2 a
 * switch-in, and a little slack for a thread woken once or twice). */
static bool switched_often(const struct thread *th, uint32_t seq, uint64_t now)
{
	uint64_t switches = (uint32_t)(seq - th->watch_seq) / 2;
	return switches > 2 + WATCH_SWITCHES_MAX * (now - th->watch_ns) / 1000000000ull;
}

/* The run count for the skip rule: the last one read, while the thread's
 * watch shows no switch-in since that read; read otherwise, and at every
 * WATCH_VERIFY_EVERY-th look anyway, to check the page against it. Returns 0
 * or -errno. */
int tracee_read_slices_watched(struct fgt_tracee *t, struct thread *th, uint64_t *slices)
{
	if (th->watch.fd < 0)
		return tracee_read_slices(t, th, slices);
	uint32_t seq = fgt_runwatch_seq(&th->watch);
	bool still = th->watch_valid && seq == th->watch_seq;
	if (still && ++th->watch_looks % WATCH_VERIFY_EVERY != 0) {
		*slices = th->watch_slices;
		t->stats.run_reads_saved++;
		return 0;
	}
	int rc = tracee_read_slices(t, th, slices);
	if (rc < 0) {
		th->watch_valid = false;
		return rc;
	}
	if (still && *slices != th->watch_slices) {
		watches_off(t, FGT_RUNWATCH_CONTRADICTED); /* it missed one */
		return 0;
	}
	uint64_t now = now_ns();
	if (th->watch_valid && switched_often(th, seq, now)) {
		close_watch(t, th);
		th->watch_drops++;
		t->stats.watches_dropped++;
		return 0;
	}
	th->watch_seq = seq;
	th->watch_slices = *slices;
	th->watch_ns = now;
	th->watch_valid = !(seq & 1);
	return 0;
}

/* The call the thread sleeps in (/proc/.../syscall). Returns 0 or -errno. */
int tracee_read_syscall(const struct fgt_tracee *t, const struct thread *th,
			struct fgt_proc_syscall *sc)
{
	if (th->syscall_fd >= 0)
		return fgt_procfs_pread_syscall(th->syscall_fd, sc);
	int fd = fgt_procfs_open_syscall(t->pid, th->tid);
	if (fd < 0)
		return fd;
	int rc = fgt_procfs_pread_syscall(fd, sc);
	close(fd);
	return rc;
}
