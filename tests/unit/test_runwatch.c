/* Verifies, on this kernel, what run watches rest on: the sequence count of
 * a watched thread's perf page holds still while the thread sleeps, and moves
 * by 2 at least for each switch-in that its run count (schedstat field 3)
 * shows, already while the thread runs, before it is switched out. If this
 * fails, fgtrace still works: fgt_runwatch_selftest fails too, or a watch
 * contradicts a read of the count, and every count is read then. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "procfs.h"
#include "runwatch.h"

static pthread_t thread;
static atomic_int tid, spinning, spin;
static int wake[2];
static struct fgt_runwatch w = FGT_RUNWATCH_CLOSED;
static int schedstat_fd = -1;

/* Blocks in read(); a byte 's' makes it spin until spin is cleared, then it
 * blocks again; EOF ends it. */
static void *sleeper(void *arg)
{
	(void)arg;
	char c;
	atomic_store(&tid, (int)syscall(SYS_gettid));
	while (read(wake[0], &c, 1) == 1) {
		if (c != 's')
			continue;
		atomic_store(&spinning, 1);
		while (atomic_load(&spin))
			;
		atomic_store(&spinning, 0);
	}
	return NULL;
}

static uint64_t runs(void)
{
	uint64_t n = 0;
	assert_int_equal(fgt_procfs_read_timeslices(schedstat_fd, &n), 0);
	return n;
}

static void wait_blocked(void)
{
	struct fgt_proc_stat st;
	for (int i = 0; i < 1000000; i++) {
		assert_int_equal(fgt_procfs_read_stat(getpid(), atomic_load(&tid), &st),
				 0);
		if (st.state == 'S')
			return;
		sched_yield();
	}
	fail_msg("the thread never blocked");
}

static int setup(void **state)
{
	(void)state;
	if (pipe(wake) < 0 || pthread_create(&thread, NULL, sleeper, NULL) != 0)
		return -1;
	while (!atomic_load(&tid))
		sched_yield();
	schedstat_fd = fgt_procfs_open_schedstat(getpid(), atomic_load(&tid));
	return schedstat_fd >= 0 ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	fgt_runwatch_close(&w);
	close(wake[1]);
	pthread_join(thread, NULL);
	close(wake[0]);
	close(schedstat_fd);
	return 0;
}

/* perf_event_paranoid may forbid watches: fgtrace then reads every count. */
static void open_or_skip(void)
{
	int rc = fgt_runwatch_open(atomic_load(&tid), &w);
	if (rc == -EACCES || rc == -EPERM)
		skip();
	assert_int_equal(rc, 0);
}

static void test_selftest_passes(void **state)
{
	(void)state;
	int rc = fgt_runwatch_selftest();
	if (rc == -EACCES || rc == -EPERM)
		skip();
	assert_int_equal(rc, 0);
}

static void test_asleep_nothing_moves(void **state)
{
	(void)state;
	wait_blocked();
	if (w.fd < 0)
		open_or_skip();
	uint32_t seq = fgt_runwatch_seq(&w);
	uint64_t n = runs();
	assert_int_equal(seq % 2, 0);
	for (int i = 0; i < 50; i++) {
		sched_yield();
		assert_int_equal(fgt_runwatch_seq(&w), seq);
		assert_int_equal(runs(), n);
	}
}

static void test_each_switch_in_moves_the_page(void **state)
{
	(void)state;
	if (w.fd < 0)
		open_or_skip();
	for (int i = 0; i < 50; i++) {
		wait_blocked();
		uint32_t seq = fgt_runwatch_seq(&w);
		uint64_t n = runs();
		assert_int_equal(write(wake[1], "x", 1), 1);
		/* It wakes, reads, and blocks again: once switched in at least. */
		uint64_t moved;
		while ((moved = runs() - n) == 0)
			sched_yield();
		wait_blocked();
		moved = runs() - n;
		uint32_t seq_moved = fgt_runwatch_seq(&w) - seq;
		if (seq_moved < 2 * moved)
			fail_msg(
			    "round %d: run count +%llu, page sequence +%u: a switch-in "
			    "left the page as it was",
			    i, (unsigned long long)moved, seq_moved);
	}
}

static void test_page_moves_before_the_thread_leaves_its_cpu(void **state)
{
	(void)state;
	if (w.fd < 0)
		open_or_skip();
	wait_blocked();
	uint32_t seq = fgt_runwatch_seq(&w);
	uint64_t n = runs();
	atomic_store(&spin, 1);
	assert_int_equal(write(wake[1], "s", 1), 1);
	while (!atomic_load(&spinning))
		sched_yield();
	/* Running now, and it has not slept since it woke: the page moved at
	 * the switch-in already. */
	uint32_t seq_moved = fgt_runwatch_seq(&w) - seq;
	uint64_t moved = runs() - n;
	atomic_store(&spin, 0);
	assert_true(moved >= 1);
	if (seq_moved < 2)
		fail_msg("the thread runs (run count +%llu), yet its page has not moved",
			 (unsigned long long)moved);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_selftest_passes),
	    cmocka_unit_test(test_asleep_nothing_moves),
	    cmocka_unit_test(test_each_switch_in_moves_the_page),
	    cmocka_unit_test(test_page_moves_before_the_thread_leaves_its_cpu),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
