/* fgtrace — the scheduling of the tracer and worker threads. */
#include "priority.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define HIGH_NICE	 (-10)
#define WORKER_NICE	 (-5)
#define SLICE_NS	 100000ull /* the shortest fair slice Linux allows */
#define RT_PRIORITY	 1	   /* the lowest: the target's own stay above */
#define BUDGET_WINDOW_NS 100000000ull
#define RTTIME_SOFT_US	 100000ul

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

#define POLICY_OTHER	   0
#define POLICY_FIFO	   1
#define POLICY_RR	   2
#define FLAG_RESET_ON_FORK 0x01

static struct {
	pid_t tid;
	bool raised;
	struct attr before; /* the thread's scheduling before fgt_prio_raise */
	struct fgt_prio_info info;
	bool net; /* the SIGXCPU handler and the limit are ours */
	struct sigaction old_action;
	struct rlimit old_limit;
	sigset_t old_mask;
	uint64_t window_start_ns, window_cpu_ns;
	volatile sig_atomic_t realtime; /* SCHED_FIFO now */
	volatile sig_atomic_t demoted;	/* enum fgt_demotion */
} g;

static int get_attr(pid_t tid, struct attr *a)
{
	memset(a, 0, sizeof(*a));
	return syscall(SYS_sched_getattr, tid, a, sizeof(*a), 0) < 0 ? -errno : 0;
}

static int set_attr(pid_t tid, struct attr *a)
{
	a->size = sizeof(*a);
	return syscall(SYS_sched_setattr, tid, a, 0) < 0 ? -errno : 0;
}

/* The fair scheduler with the nice value and slice recorded in g.info.
 * Async-signal-safe: the SIGXCPU handler calls it. */
static void to_fair(void)
{
	struct attr a = {0};
	a.sched_policy = POLICY_OTHER;
	a.sched_nice = g.info.nice;
	a.sched_runtime = g.info.slice_ns;
	set_attr(g.tid, &a);
}

static void demote(enum fgt_demotion why)
{
	if (!g.realtime)
		return;
	g.realtime = 0;
	to_fair();
	g.demoted = (sig_atomic_t)why;
}

static void on_sigxcpu(int sig)
{
	(void)sig;
	int saved = errno;
	demote(FGT_DEMOTED_RTTIME);
	errno = saved;
}

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;
	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) < 0)
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* SIGXCPU to our handler, and RLIMIT_RTTIME's soft limit. The hard limit
 * stays: lowering it could not be undone without CAP_SYS_RESOURCE. Without
 * both, no real-time priority. */
static int install_net(void)
{
	struct rlimit lim;
	if (getrlimit(RLIMIT_RTTIME, &g.old_limit) < 0)
		return -errno;
	lim.rlim_max = g.old_limit.rlim_max;
	lim.rlim_cur = RTTIME_SOFT_US;
	if (lim.rlim_max <= lim.rlim_cur)
		return -EPERM; /* no room for SIGXCPU before the kill */
	struct sigaction sa = {0};
	sa.sa_handler = on_sigxcpu;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGXCPU, &sa, &g.old_action) < 0)
		return -errno;
	if (setrlimit(RLIMIT_RTTIME, &lim) < 0) {
		int rc = -errno;
		sigaction(SIGXCPU, &g.old_action, NULL);
		return rc;
	}
	sigset_t xcpu;
	sigemptyset(&xcpu);
	sigaddset(&xcpu, SIGXCPU);
	pthread_sigmask(SIG_UNBLOCK, &xcpu, &g.old_mask);
	g.net = true;
	return 0;
}

static void remove_net(void)
{
	if (!g.net)
		return;
	setrlimit(RLIMIT_RTTIME, &g.old_limit);
	pthread_sigmask(SIG_SETMASK, &g.old_mask, NULL);
	sigaction(SIGXCPU, &g.old_action, NULL);
	g.net = false;
}

void fgt_prio_raise(enum fgt_priority want, uint64_t now_ns)
{
	struct attr a;
	memset(&g.info, 0, sizeof(g.info));
	g.tid = gettid();
	g.realtime = 0;
	g.demoted = FGT_DEMOTED_NONE;
	g.raised = get_attr(g.tid, &g.before) == 0;
	if (!g.raised)
		return;
	g.info.nice = g.before.sched_nice;
	g.info.slice_ns =
	    g.before.sched_policy == POLICY_OTHER ? g.before.sched_runtime : 0;
	if (g.before.sched_policy != POLICY_OTHER) {
		/* Run under chrt, say: the user's choice stands. */
		g.info.realtime = g.before.sched_policy == POLICY_FIFO ||
				  g.before.sched_policy == POLICY_RR;
		return;
	}
	if (want == FGT_PRIORITY_INHERIT)
		return;
	/* Each step on its own: nice needs CAP_SYS_NICE or RLIMIT_NICE, the
	 * slice nothing, and kernels before 6.12 ignore it. */
	a = g.before;
	a.sched_flags &= FLAG_RESET_ON_FORK;
	if (a.sched_nice > HIGH_NICE) {
		a.sched_nice = HIGH_NICE;
		if (set_attr(g.tid, &a) == 0)
			g.info.nice = HIGH_NICE;
	}
	a.sched_nice = g.info.nice;
	a.sched_runtime = SLICE_NS;
	set_attr(g.tid, &a);
	if (get_attr(g.tid, &a) == 0)
		g.info.slice_ns = a.sched_runtime;
	if (want != FGT_PRIORITY_REALTIME || install_net() < 0)
		return;
	memset(&a, 0, sizeof(a));
	a.sched_policy = POLICY_FIFO;
	a.sched_priority = RT_PRIORITY;
	a.sched_flags = FLAG_RESET_ON_FORK;
	if (set_attr(g.tid, &a) < 0) {
		remove_net();
		return;
	}
	g.info.realtime = true;
	g.realtime = 1;
	g.window_start_ns = now_ns;
	g.window_cpu_ns = thread_cpu_ns();
}

int fgt_prio_worker(enum fgt_priority want)
{
	struct attr a;
	pid_t tid = gettid();
	if (get_attr(tid, &a) < 0)
		return getpriority(PRIO_PROCESS, (id_t)tid); /* left as it is */
	if (want != FGT_PRIORITY_INHERIT && a.sched_policy == POLICY_OTHER &&
	    a.sched_nice > WORKER_NICE) {
		struct attr b = a;
		b.sched_flags &= FLAG_RESET_ON_FORK;
		b.sched_nice = WORKER_NICE;
		if (set_attr(tid, &b) == 0)
			return WORKER_NICE;
	}
	return a.sched_nice;
}

void fgt_prio_check(uint64_t now_ns)
{
	if (!g.realtime || now_ns - g.window_start_ns < BUDGET_WINDOW_NS)
		return;
	uint64_t cpu = thread_cpu_ns();
	if (cpu - g.window_cpu_ns > (now_ns - g.window_start_ns) / 2)
		demote(FGT_DEMOTED_CPU);
	g.window_start_ns = now_ns;
	g.window_cpu_ns = cpu;
}

void fgt_prio_restart_budget(uint64_t now_ns)
{
	if (!g.realtime)
		return;
	g.window_start_ns = now_ns;
	g.window_cpu_ns = thread_cpu_ns();
}

void fgt_prio_lower(void)
{
	if (!g.raised)
		return;
	g.realtime = 0;
	g.before.sched_flags &= FLAG_RESET_ON_FORK;
	set_attr(g.tid, &g.before);
	remove_net();
	g.raised = false;
}

void fgt_prio_get(struct fgt_prio_info *info)
{
	*info = g.info;
	info->demoted = (enum fgt_demotion)g.demoted;
}

const char *fgt_demotion_name(enum fgt_demotion d)
{
	switch (d) {
	case FGT_DEMOTED_CPU:
		return "cpu";
	case FGT_DEMOTED_RTTIME:
		return "rttime";
	case FGT_DEMOTED_NONE:
		break;
	}
	return NULL;
}
