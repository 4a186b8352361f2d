/* fgtrace bench — a target whose busy threads count their work and time
 * their own stalls, so that a profiler's cost is measured inside the victim.
 *
 *   target [--busy N] [--idle N] [--depth N] [--gap-ns NS]
 *
 * Busy threads descend through --depth noinline frames, then loop on a small
 * fixed computation (one work unit), reading CLOCK_MONOTONIC after each unit.
 * A gap between two reads longer than --gap-ns beyond the calibrated unit
 * time is a stall: someone (a ptrace stop, a preemption) took the CPU away.
 * Idle threads block forever, half in read() on a pipe, half in FUTEX_WAIT.
 *
 * It registers for membarrier's global expedited command, so that
 * bench/ipiprobe can measure what a bare interrupt costs a busy thread.
 *
 * Protocol: prints "ready" once every thread is in place. Each line "report"
 * on stdin prints one JSON line of cumulative counters (work units, stalls,
 * a stall histogram) plus the largest stall since the previous report. EOF
 * on stdin ends the program. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/futex.h>
#include <linux/membarrier.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "victim.h"

#define MAX_BUSY 256
#define MAX_IDLE 4096

struct busy {
	uint64_t work;	       /* work units done */
	uint64_t stall_count;  /* gaps above the threshold */
	uint64_t stall_ns;     /* sum of those gaps, less one unit each */
	uint64_t stall_max_ns; /* since the last report */
	uint64_t hist[HIST_BUCKETS];
	int depth;
} __attribute__((aligned(64)));

static struct busy busy[MAX_BUSY];
static int n_busy = 1;
static int n_idle;
static int depth = 5;
static uint64_t gap_ns = 10000;
static uint64_t unit_ns; /* calibrated time of one work unit plus one clock read */
static volatile int stop_flag;
static int idle_pipe[2];
static int idle_futex;
static pthread_barrier_t ready_barrier;
static int membarrier_ok; /* registered for bench/ipiprobe's interrupts */

/* One unit of work: a short dependent chain the compiler cannot fold. */
__attribute__((noinline)) static uint64_t work_unit(uint64_t x)
{
	for (int i = 0; i < 48; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		x *= 0x9e3779b97f4a7c15ull;
	}
	return x;
}

static void record_gap(struct busy *b, uint64_t gap)
{
	uint64_t extra = gap > unit_ns ? gap - unit_ns : 0;
	if (extra < gap_ns)
		return;
	__atomic_store_n(&b->stall_count, b->stall_count + 1, __ATOMIC_RELAXED);
	__atomic_store_n(&b->stall_ns, b->stall_ns + extra, __ATOMIC_RELAXED);
	__atomic_fetch_add(&b->hist[hist_index(extra)], 1, __ATOMIC_RELAXED);
	if (extra > __atomic_load_n(&b->stall_max_ns, __ATOMIC_RELAXED))
		__atomic_store_n(&b->stall_max_ns, extra, __ATOMIC_RELAXED);
}

__attribute__((noinline)) static uint64_t spin(struct busy *b)
{
	uint64_t x = (uint64_t)(uintptr_t)b | 1, work = 0, last = now_ns();
	while (!stop_flag) {
		x = work_unit(x);
		uint64_t t = now_ns();
		record_gap(b, t - last);
		last = t;
		__atomic_store_n(&b->work, ++work, __ATOMIC_RELAXED);
	}
	return x;
}

/* Each level keeps a small frame of its own and uses the callee's result, so
 * the calls cannot become jumps and the depth is real. */
__attribute__((noinline)) static uint64_t descend(struct busy *b, int level)
{
	volatile char pad[48];
	pad[level % sizeof(pad)] = (char)level;
	uint64_t r = level <= 0 ? spin(b) : descend(b, level - 1);
	return r + (uint64_t)pad[level % sizeof(pad)];
}

/* The thread's entry is frame 1 and spin is frame depth. */
static void *busy_main(void *arg)
{
	struct busy *b = arg;
	pthread_setname_np(pthread_self(), "busy");
	pthread_barrier_wait(&ready_barrier);
	uint64_t r = descend(b, b->depth - 3);
	return (void *)(uintptr_t)r;
}

static void *idle_main(void *arg)
{
	long n = (long)(intptr_t)arg;
	char c;
	pthread_setname_np(pthread_self(), "idle");
	pthread_barrier_wait(&ready_barrier);
	for (;;) {
		if (n % 2 == 0)
			(void)!read(idle_pipe[0], &c, 1); /* nobody ever writes */
		else
			syscall(SYS_futex, &idle_futex, FUTEX_WAIT_PRIVATE, 0, NULL, NULL,
				0);
	}
	return NULL;
}

static void calibrate(void)
{
	uint64_t best = UINT64_MAX, x = 1;
	for (int round = 0; round < 20; round++) {
		uint64_t t0 = now_ns();
		for (int i = 0; i < 1000; i++) {
			x = work_unit(x);
			(void)now_ns();
		}
		uint64_t per = (now_ns() - t0) / 1000;
		if (per < best)
			best = per;
	}
	unit_ns = best + (x == 0); /* x keeps the loop alive */
}

static void report(void)
{
	uint64_t work = 0, count = 0, sum = 0, max = 0;
	static uint64_t hist[HIST_BUCKETS];
	memset(hist, 0, sizeof(hist));
	for (int i = 0; i < n_busy; i++) {
		struct busy *b = &busy[i];
		work += __atomic_load_n(&b->work, __ATOMIC_RELAXED);
		count += __atomic_load_n(&b->stall_count, __ATOMIC_RELAXED);
		sum += __atomic_load_n(&b->stall_ns, __ATOMIC_RELAXED);
		uint64_t m = __atomic_exchange_n(&b->stall_max_ns, 0, __ATOMIC_RELAXED);
		if (m > max)
			max = m;
		for (int k = 0; k < HIST_BUCKETS; k++)
			hist[k] += __atomic_load_n(&b->hist[k], __ATOMIC_RELAXED);
	}
	printf("{\"t_ns\":%" PRIu64 ",\"busy\":%d,\"idle\":%d,\"depth\":%d,"
	       "\"unit_ns\":%" PRIu64 ",\"gap_ns\":%" PRIu64 ",\"work\":%" PRIu64
	       ",\"stall_count\":%" PRIu64 ",\"stall_ns\":%" PRIu64
	       ",\"stall_max_ns\":%" PRIu64 ",\"membarrier\":%s,\"hist\":{",
	       now_ns(), n_busy, n_idle, depth, unit_ns, gap_ns, work, count, sum, max,
	       membarrier_ok ? "true" : "false");
	print_hist(hist);
	printf("}}\n");
	fflush(stdout);
}

static void parse_args(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : "";
		if (strcmp(argv[i], "--busy") == 0)
			n_busy = (int)parse_arg("target", "--busy", v, 1, MAX_BUSY);
		else if (strcmp(argv[i], "--idle") == 0)
			n_idle = (int)parse_arg("target", "--idle", v, 0, MAX_IDLE);
		else if (strcmp(argv[i], "--depth") == 0)
			depth = (int)parse_arg("target", "--depth", v, 3, 100000);
		else if (strcmp(argv[i], "--gap-ns") == 0)
			gap_ns =
			    (uint64_t)parse_arg("target", "--gap-ns", v, 1, 1000000000);
		else {
			fprintf(stderr, "usage: target [--busy N] [--idle N] [--depth N] "
					"[--gap-ns NS]\n");
			exit(2);
		}
		i++;
	}
}

static void start_threads(void)
{
	pthread_attr_t attr;
	pthread_t t;
	pthread_attr_init(&attr);
	/* Deep recursion needs room; idle threads need little. */
	pthread_attr_setstacksize(&attr, 1u << 20);
	pthread_barrier_init(&ready_barrier, NULL, (unsigned)(n_busy + n_idle + 1));
	for (int i = 0; i < n_busy; i++) {
		busy[i].depth = depth;
		if (pthread_create(&t, &attr, busy_main, &busy[i]) != 0) {
			perror("target: pthread_create");
			exit(1);
		}
	}
	pthread_attr_setstacksize(&attr,
				  PTHREAD_STACK_MIN > 65536 ? PTHREAD_STACK_MIN : 65536);
	for (long i = 0; i < n_idle; i++) {
		if (pthread_create(&t, &attr, idle_main, (void *)(intptr_t)i) != 0) {
			perror("target: pthread_create");
			exit(1);
		}
	}
	pthread_attr_destroy(&attr);
	pthread_barrier_wait(&ready_barrier);
}

int main(int argc, char **argv)
{
	char line[128];
	parse_args(argc, argv);
	if (pipe(idle_pipe) < 0) {
		perror("target: pipe");
		return 1;
	}
	calibrate();
	/* Lets bench/ipiprobe interrupt the busy threads' CPUs, to measure what
	 * an interrupt alone costs them. Without it the probe finds nothing. */
	membarrier_ok =
	    syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED, 0, 0) == 0;
	start_threads();
	printf("ready\n");
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin)) {
		if (strncmp(line, "report", 6) == 0)
			report();
	}
	return 0;
}
