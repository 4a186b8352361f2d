/* Verifies, on this kernel, the rule that fgtrace's skip logic rests on: one
 * ptrace stop-and-resume of a blocked thread adds exactly 2 to field 3 of its
 * /proc/PID/task/TID/schedstat (scheduled in to stop, and again to go back to
 * sleep), and a thread left alone adds nothing. A preemption while the thread
 * runs between the two adds one more switch-in: on a busy machine, it does
 * happen, and fgtrace then stops the thread again. If this fails, fgtrace
 * still works (it stops any thread whose count is not exactly as expected),
 * but it saves no stops. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>

static pid_t child;
static int child_in[2];

static uint64_t timeslices(pid_t pid)
{
	char path[64], buf[128];
	snprintf(path, sizeof(path), "/proc/%d/schedstat", pid);
	int fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	assert_true(n > 0);
	buf[n] = '\0';
	unsigned long long run, wait, slices;
	assert_int_equal(sscanf(buf, "%llu %llu %llu", &run, &wait, &slices), 3);
	return slices;
}

/* The times the process was switched out involuntarily (preempted). */
static uint64_t preemptions(pid_t pid)
{
	char path[64], line[128];
	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	FILE *f = fopen(path, "re");
	assert_non_null(f);
	unsigned long long n = 0;
	bool found = false;
	while (!found && fgets(line, sizeof(line), f))
		found = sscanf(line, "nonvoluntary_ctxt_switches: %llu", &n) == 1;
	fclose(f);
	assert_true(found);
	return n;
}

static void wait_blocked(pid_t pid)
{
	/* Handshake: the child writes a byte, then blocks in read(); wait until
	 * the kernel shows it asleep. */
	char path[64], buf[512];
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	for (int i = 0; i < 100000; i++) {
		int fd = open(path, O_RDONLY);
		ssize_t n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		buf[n > 0 ? n : 0] = '\0';
		char *p = strrchr(buf, ')');
		if (p && p[2] == 'S')
			return;
		sched_yield();
	}
	fail_msg("child never blocked");
}

static int setup(void **state)
{
	(void)state;
	int ready[2];
	if (pipe(child_in) < 0 || pipe(ready) < 0)
		return -1;
	child = fork();
	if (child == 0) {
		char c;
		close(ready[0]);
		if (write(ready[1], "r", 1) != 1)
			_exit(1);
		while (read(child_in[0], &c, 1) < 0 && errno == EINTR)
			;
		_exit(0);
	}
	char c;
	if (read(ready[0], &c, 1) != 1)
		return -1;
	wait_blocked(child);
	return ptrace(PTRACE_SEIZE, child, 0, 0) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	ptrace(PTRACE_INTERRUPT, child, 0, 0);
	int status;
	waitpid(child, &status, __WALL);
	ptrace(PTRACE_DETACH, child, 0, 0);
	if (write(child_in[1], "q", 1) != 1)
		return -1;
	waitpid(child, &status, 0);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static void test_untouched_thread_adds_nothing(void **state)
{
	(void)state;
	uint64_t a = timeslices(child);
	for (int i = 0; i < 50; i++)
		assert_int_equal(timeslices(child), a);
}

static void test_one_stop_adds_exactly_two(void **state)
{
	(void)state;
	int unpreempted = 0;
	for (int i = 0; i < 50; i++) {
		uint64_t before = timeslices(child);
		uint64_t pre_before = preemptions(child);
		assert_int_equal(ptrace(PTRACE_INTERRUPT, child, 0, 0), 0);
		int status;
		assert_int_equal(waitpid(child, &status, __WALL), child);
		assert_true(WIFSTOPPED(status) && (status >> 16) == PTRACE_EVENT_STOP);
		assert_int_equal(ptrace(PTRACE_CONT, child, 0, 0), 0);
		wait_blocked(child);
		uint64_t after = timeslices(child);
		uint64_t preempted = preemptions(child) - pre_before;
		/* Each preemption is followed by one more switch-in. */
		assert_int_equal(after - before, 2 + preempted);
		unpreempted += preempted == 0;
	}
	/* The rule itself is seen, not only its exceptions. */
	assert_true(unpreempted >= 25);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_untouched_thread_adds_nothing),
	    cmocka_unit_test(test_one_stop_adds_exactly_two),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
