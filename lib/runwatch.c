/* fgtrace — run watches: a thread's switch-ins seen in a perf event's page. */
#include "runwatch.h"
#include "procfs.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define SELFTEST_SLEEPS 3

int fgt_runwatch_open(pid_t tid, struct fgt_runwatch *w)
{
	*w = (struct fgt_runwatch)FGT_RUNWATCH_CLOSED;
	struct perf_event_attr attr;
	memset(&attr, 0, sizeof(attr));
	attr.size = sizeof(attr);
	attr.type = PERF_TYPE_SOFTWARE;
	attr.config = PERF_COUNT_SW_DUMMY;
	/* User space only: allowed under perf_event_paranoid 2 too. Not
	 * inherited: an inherited event's context can be swapped at a switch
	 * instead of scheduled in, which would leave the page as it was. */
	attr.exclude_kernel = 1;
	attr.exclude_hv = 1;
	long fd = syscall(SYS_perf_event_open, &attr, tid, -1, -1, PERF_FLAG_FD_CLOEXEC);
	if (fd < 0)
		return -errno;
	long pagesz = sysconf(_SC_PAGESIZE);
	void *page = mmap(NULL, (size_t)pagesz, PROT_READ, MAP_SHARED, (int)fd, 0);
	if (page == MAP_FAILED) {
		int err = -errno;
		close((int)fd);
		return err;
	}
	w->fd = (int)fd;
	w->page = page;
	return 0;
}

void fgt_runwatch_close(struct fgt_runwatch *w)
{
	if (w->page)
		munmap(w->page, (size_t)sysconf(_SC_PAGESIZE));
	if (w->fd >= 0)
		close(w->fd);
	*w = (struct fgt_runwatch)FGT_RUNWATCH_CLOSED;
}

int fgt_runwatch_selftest(void)
{
	pid_t tid = (pid_t)syscall(SYS_gettid);
	struct fgt_runwatch w;
	int rc = fgt_runwatch_open(tid, &w);
	if (rc < 0)
		return rc;
	int fd = fgt_procfs_open_schedstat(getpid(), tid);
	if (fd < 0) {
		fgt_runwatch_close(&w);
		return fd;
	}
	/* The sequence count first: a switch-in between the two reads counts
	 * in it, never in the run count alone. */
	uint64_t runs0 = 0, runs1 = 0;
	uint32_t seq0 = fgt_runwatch_seq(&w);
	rc = fgt_procfs_read_timeslices(fd, &runs0);
	for (int i = 0; rc == 0 && i < SELFTEST_SLEEPS; i++) {
		struct timespec ts = {0, 1000};
		nanosleep(&ts, NULL);
	}
	if (rc == 0)
		rc = fgt_procfs_read_timeslices(fd, &runs1);
	uint32_t seq1 = fgt_runwatch_seq(&w);
	close(fd);
	fgt_runwatch_close(&w);
	if (rc < 0)
		return rc;
	uint64_t runs = runs1 - runs0;
	return runs > 0 && (uint64_t)(uint32_t)(seq1 - seq0) >= 2 * runs ? 0 : -ENOTSUP;
}
