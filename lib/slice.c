/* fgtrace — the fair-scheduler slice of our own threads. */
#include "slice.h"

#include <errno.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

/* struct sched_attr of sched_setattr(2). glibc before 2.41 has no wrapper,
 * and the kernel header's struct clashes with glibc's sched.h. */
struct attr {
	uint32_t size;
	uint32_t sched_policy;
	uint64_t sched_flags;
	int32_t sched_nice;
	uint32_t sched_priority;
	uint64_t sched_runtime; /* SCHED_OTHER: the slice, since Linux 6.12 */
	uint64_t sched_deadline;
	uint64_t sched_period;
};

#define POLICY_OTHER 0

int fgt_slice_set(uint64_t slice_ns)
{
	struct attr a = {0};
	if (syscall(SYS_sched_getattr, 0, &a, sizeof(a), 0) < 0)
		return -errno;
	if (a.sched_policy != POLICY_OTHER)
		return -EPERM; /* a real-time or batch tracer keeps its policy */
	errno = 0;
	int nice = getpriority(PRIO_PROCESS, (id_t)gettid());
	if (errno)
		return -errno;
	memset(&a, 0, sizeof(a));
	a.size = sizeof(a);
	a.sched_policy = POLICY_OTHER;
	a.sched_nice = nice;
	a.sched_runtime = slice_ns;
	if (syscall(SYS_sched_setattr, 0, &a, 0) < 0)
		return -errno;
	return 0;
}

uint64_t fgt_slice_get(void)
{
	struct attr a = {0};
	if (syscall(SYS_sched_getattr, 0, &a, sizeof(a), 0) < 0)
		return 0;
	return a.sched_policy == POLICY_OTHER ? a.sched_runtime : 0;
}
