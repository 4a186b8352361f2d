/* fgtrace — run watches: whether a thread has been switched in since a
 * look, told by a read of memory instead of a system call.
 *
 * The skip rule reads each thread's run count (schedstat field 3) at every
 * tick, one pread a thread: for a process of many idle threads, most of the
 * tracer's work. A watch is a software perf event on one thread that counts
 * nothing (PERF_COUNT_SW_DUMMY, user space only), with the first page of its
 * buffer mapped. The kernel schedules the event in each time it switches the
 * thread in, and then rewrites that page under a sequence count: the count
 * moves by 2 at every switch-in, after the run count has moved. While the
 * sequence count reads the same as before a pread, the run count is still
 * what that pread gave.
 *
 * The cost falls on the thread: each of its switches goes through perf's
 * context switch as well (about 0.6 us per switch measured on a 2-core VM),
 * and opening the first event of a thread sends one interrupt to the CPU the
 * thread last ran on. Callers watch threads that sleep, and drop the watch of
 * a thread that switches often.
 *
 * Nothing here allocates but the event's fd and mapping; not thread-safe per
 * watch.
 */
#ifndef FGT_RUNWATCH_H
#define FGT_RUNWATCH_H

#include <linux/perf_event.h>
#include <stdint.h>
#include <sys/types.h>

struct fgt_runwatch {
	int fd;	    /* the perf event, or -1 */
	void *page; /* its mapped first page, or NULL */
};

#define FGT_RUNWATCH_CLOSED                                                              \
	{                                                                                \
		-1, NULL                                                                 \
	}

/* Opens a watch on thread tid (a thread id of the caller's PID namespace).
 * Returns 0, or -errno of perf_event_open or mmap (-EACCES or -EPERM when
 * perf_event_paranoid forbids it, -ENOENT/-ESRCH when the thread is gone);
 * on error *w is closed. The caller owns the fd and the mapping until
 * fgt_runwatch_close. */
int fgt_runwatch_open(pid_t tid, struct fgt_runwatch *w);

/* Unmaps and closes a watch; a closed one is left as it is. */
void fgt_runwatch_close(struct fgt_runwatch *w);

/* The page's sequence count, read before whatever it is to vouch for (a
 * compiler barrier keeps later reads after it). Odd while the kernel
 * rewrites the page. */
static inline uint32_t fgt_runwatch_seq(const struct fgt_runwatch *w)
{
	uint32_t s = ((const volatile struct perf_event_mmap_page *)w->page)->lock;
	__atomic_signal_fence(__ATOMIC_ACQUIRE);
	return s;
}

/* Checks on the calling thread what the skip rule relies on: across a few
 * sleeps, the sequence count moves by at least 2 for each switch-in that its
 * run count shows. Returns 0 when it does, -ENOTSUP when it does not, or
 * -errno when no watch could be opened or schedstat read. */
int fgt_runwatch_selftest(void);

#endif
