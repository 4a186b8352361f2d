/* fgtrace's scheduling: the tracer thread at real-time priority where
 * allowed, the two limits that hand it back to the fair scheduler, and the
 * worker thread at nice -5. These tests need the
 * privilege to raise priority (root or CAP_SYS_NICE) and skip without it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "priority.h"

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int nice_now(void)
{
	errno = 0;
	int n = getpriority(PRIO_PROCESS, (id_t)gettid());
	assert_int_equal(errno, 0);
	return n;
}

/* The policy, without SCHED_RESET_ON_FORK. */
static int policy(void)
{
	int p = sched_getscheduler(0);
	assert_true(p >= 0);
	return p & ~SCHED_RESET_ON_FORK;
}

static bool may_raise(void)
{
	struct sched_param p = {.sched_priority = 1};
	if (sched_setscheduler(0, SCHED_FIFO, &p) < 0)
		return false;
	p.sched_priority = 0;
	assert_int_equal(sched_setscheduler(0, SCHED_OTHER, &p), 0);
	return true;
}

static void burn_ns(uint64_t ns)
{
	uint64_t until = now_ns() + ns;
	while (now_ns() < until)
		;
}

static void test_realtime_and_back(void **state)
{
	(void)state;
	if (!may_raise())
		skip();
	int nice0 = nice_now();
	struct rlimit lim0, lim;
	struct sigaction sa;
	assert_int_equal(getrlimit(RLIMIT_RTTIME, &lim0), 0);

	fgt_prio_raise(FGT_PRIORITY_REALTIME, now_ns());
	struct fgt_prio_info info;
	fgt_prio_get(&info);
	assert_int_equal(sched_getscheduler(0), SCHED_FIFO | SCHED_RESET_ON_FORK);
	assert_true(info.realtime);
	assert_int_equal(info.nice, -10);
	assert_int_equal(info.demoted, FGT_DEMOTED_NONE);
	/* The net is up: a soft limit below the hard one, and a handler. */
	assert_int_equal(getrlimit(RLIMIT_RTTIME, &lim), 0);
	assert_int_equal(lim.rlim_cur, 100000);
	assert_true(lim.rlim_cur < lim.rlim_max);
	assert_int_equal(sigaction(SIGXCPU, NULL, &sa), 0);
	assert_true(sa.sa_handler != SIG_DFL);

	fgt_prio_lower();
	assert_int_equal(policy(), SCHED_OTHER);
	assert_int_equal(nice_now(), nice0);
	assert_int_equal(getrlimit(RLIMIT_RTTIME, &lim), 0);
	assert_true(lim.rlim_cur == lim0.rlim_cur && lim.rlim_max == lim0.rlim_max);
	assert_int_equal(sigaction(SIGXCPU, NULL, &sa), 0);
	assert_true(sa.sa_handler == SIG_DFL);
}

static void test_high_is_fair(void **state)
{
	(void)state;
	if (!may_raise())
		skip();
	fgt_prio_raise(FGT_PRIORITY_HIGH, now_ns());
	struct fgt_prio_info info;
	fgt_prio_get(&info);
	assert_int_equal(policy(), SCHED_OTHER);
	assert_false(info.realtime);
	assert_int_equal(nice_now(), -10);
	/* 0 where the kernel keeps no fair slice (before Linux 6.12). */
	assert_true(info.slice_ns == 100000 || info.slice_ns == 0);
	fgt_prio_lower();
	assert_int_equal(nice_now(), 0);
}

static void test_inherit_changes_nothing(void **state)
{
	(void)state;
	int nice0 = nice_now();
	fgt_prio_raise(FGT_PRIORITY_INHERIT, now_ns());
	struct fgt_prio_info info;
	fgt_prio_get(&info);
	assert_int_equal(policy(), SCHED_OTHER);
	assert_false(info.realtime);
	assert_int_equal(info.nice, nice0);
	assert_int_equal(nice_now(), nice0);
	fgt_prio_lower();
}

/* A user's chrt stands: no nice, no slice, no change of policy. */
static void test_real_time_policy_kept(void **state)
{
	(void)state;
	if (!may_raise())
		skip();
	struct sched_param p = {.sched_priority = 2};
	assert_int_equal(sched_setscheduler(0, SCHED_RR, &p), 0);
	fgt_prio_raise(FGT_PRIORITY_REALTIME, now_ns());
	struct fgt_prio_info info;
	fgt_prio_get(&info);
	assert_int_equal(policy(), SCHED_RR);
	assert_int_equal(sched_getparam(0, &p), 0);
	assert_int_equal(p.sched_priority, 2);
	assert_true(info.realtime);
	fgt_prio_lower();
	assert_int_equal(policy(), SCHED_RR);
	p.sched_priority = 0;
	assert_int_equal(sched_setscheduler(0, SCHED_OTHER, &p), 0);
}

/* A tracer that never sleeps gets SIGXCPU after 100 ms, and its handler
 * leaves real-time priority at once, wherever the thread is. */
static void test_running_without_sleep_leaves_realtime(void **state)
{
	(void)state;
	if (!may_raise())
		skip();
	uint64_t start = now_ns();
	fgt_prio_raise(FGT_PRIORITY_REALTIME, start);
	assert_int_equal(policy(), SCHED_FIFO);
	while (policy() == SCHED_FIFO && now_ns() - start < 900000000ull)
		;
	uint64_t took = now_ns() - start;
	struct fgt_prio_info info;
	fgt_prio_get(&info);
	print_message("left real-time priority after %.0f ms of spinning\n", took / 1e6);
	assert_int_equal(policy(), SCHED_OTHER);
	assert_int_equal(info.demoted, FGT_DEMOTED_RTTIME);
	assert_true(took >= 80000000ull);
	assert_int_equal(nice_now(), -10); /* back to the "high" fair settings */
	fgt_prio_lower();
}

/* A tracer that sleeps now and then but takes over half a CPU leaves
 * real-time priority at the next budget check. */
static void test_over_budget_leaves_realtime(void **state)
{
	(void)state;
	if (!may_raise())
		skip();
	uint64_t start = now_ns();
	fgt_prio_raise(FGT_PRIORITY_REALTIME, start);
	struct timespec nap = {0, 200000};
	while (policy() == SCHED_FIFO && now_ns() - start < 2000000000ull) {
		burn_ns(1000000);
		nanosleep(&nap, NULL);
		fgt_prio_check(now_ns());
	}
	struct fgt_prio_info info;
	fgt_prio_get(&info);
	assert_int_equal(policy(), SCHED_OTHER);
	assert_int_equal(info.demoted, FGT_DEMOTED_CPU);
	fgt_prio_lower();
}

/* Work well under the budget keeps real-time priority. */
static void test_under_budget_stays(void **state)
{
	(void)state;
	if (!may_raise())
		skip();
	uint64_t start = now_ns();
	fgt_prio_raise(FGT_PRIORITY_REALTIME, start);
	struct timespec nap = {0, 1000000};
	while (now_ns() - start < 400000000ull) {
		burn_ns(100000);
		nanosleep(&nap, NULL);
		fgt_prio_check(now_ns());
	}
	struct fgt_prio_info info;
	fgt_prio_get(&info);
	assert_int_equal(policy(), SCHED_FIFO);
	assert_int_equal(info.demoted, FGT_DEMOTED_NONE);
	fgt_prio_lower();
}

struct worker_run {
	enum fgt_priority want;
	int got;	/* fgt_prio_worker's answer */
	int nice;	/* what the thread then has */
	int other_nice; /* the caller's, unchanged */
};

static void *worker_thread(void *arg)
{
	struct worker_run *r = arg;
	r->got = fgt_prio_worker(r->want);
	r->nice = getpriority(PRIO_PROCESS, (id_t)gettid());
	return NULL;
}

/* Runs fgt_prio_worker on a thread of its own: the nice value is per thread. */
static void run_worker(struct worker_run *r)
{
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, worker_thread, r), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	r->other_nice = nice_now();
}

static void test_worker_at_nice_minus_5(void **state)
{
	(void)state;
	if (!may_raise())
		skip();
	int own = nice_now();
	for (int want = FGT_PRIORITY_REALTIME; want <= FGT_PRIORITY_HIGH; want++) {
		struct worker_run r = {.want = (enum fgt_priority)want};
		run_worker(&r);
		assert_int_equal(r.got, -5);
		assert_int_equal(r.nice, -5);
		assert_int_equal(r.other_nice, own);
	}
}

static void test_worker_inherit_changes_nothing(void **state)
{
	(void)state;
	int own = nice_now();
	struct worker_run r = {.want = FGT_PRIORITY_INHERIT};
	run_worker(&r);
	assert_int_equal(r.got, own);
	assert_int_equal(r.nice, own);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_realtime_and_back),
	    cmocka_unit_test(test_high_is_fair),
	    cmocka_unit_test(test_inherit_changes_nothing),
	    cmocka_unit_test(test_real_time_policy_kept),
	    cmocka_unit_test(test_running_without_sleep_leaves_realtime),
	    cmocka_unit_test(test_over_budget_leaves_realtime),
	    cmocka_unit_test(test_under_budget_stays),
	    cmocka_unit_test(test_worker_at_nice_minus_5),
	    cmocka_unit_test(test_worker_inherit_changes_nothing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
