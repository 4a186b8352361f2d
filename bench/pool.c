/* fgtrace bench — a thread pool whose workers mostly sleep: the threads a
 * sampler harms when it stops a thread asleep in a system call, which wakes
 * it, or holds one just as it takes a task.
 *
 *   pool [--workers N] [--period-us US] [--task-us US]
 *
 * A dispatcher thread queues one task every --period-us (1000), on an
 * absolute clock, and signals a condition variable. The workers (16) wait on
 * it; one takes the task and spins --task-us (100) on it, then waits again.
 * Each task's wait, from being queued to a worker taking it, is recorded in
 * a histogram: a sampler that delays the workers lengthens it.
 *
 * Protocol: prints "ready" once the workers are started. Each line "report"
 * on stdin prints one JSON line with the tasks queued, the tasks taken and
 * the histogram of their waits in ns (4 buckets per power of two: see
 * victim.h), all since the previous report. EOF on stdin ends the program. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "victim.h"

#define MAX_WORKERS 256
#define QUEUE	    4096

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t work_ready = PTHREAD_COND_INITIALIZER;
/* Under lock: */
static uint64_t queue[QUEUE]; /* when each waiting task was queued */
static uint64_t head, tail;
static uint64_t queued, taken, overflows; /* since the last report */
static uint64_t hist[HIST_BUCKETS];

static int n_workers = 16;
static long period_us = 1000;
static long task_us = 100;
static volatile uint64_t sink;

__attribute__((noinline)) static void run_task(void)
{
	uint64_t end = now_ns() + (uint64_t)task_us * 1000u;
	while (now_ns() < end)
		sink++;
}

static void *worker_main(void *arg)
{
	(void)arg;
	for (;;) {
		pthread_mutex_lock(&lock);
		while (head == tail)
			pthread_cond_wait(&work_ready, &lock);
		uint64_t wait = now_ns() - queue[head++ % QUEUE];
		taken++;
		hist[hist_index(wait)]++;
		pthread_mutex_unlock(&lock);
		run_task();
	}
	return NULL;
}

static void *dispatcher_main(void *arg)
{
	(void)arg;
	struct timespec next;
	clock_gettime(CLOCK_MONOTONIC, &next);
	for (;;) {
		next.tv_nsec += period_us * 1000;
		while (next.tv_nsec >= 1000000000) {
			next.tv_nsec -= 1000000000;
			next.tv_sec++;
		}
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) ==
		       EINTR)
			;
		pthread_mutex_lock(&lock);
		if (tail - head < QUEUE) {
			queue[tail++ % QUEUE] = now_ns();
			queued++;
		} else {
			overflows++;
		}
		pthread_mutex_unlock(&lock);
		pthread_cond_signal(&work_ready);
	}
	return NULL;
}

static void report(void)
{
	pthread_mutex_lock(&lock);
	printf("{\"t_ns\":%" PRIu64 ",\"workers\":%d,\"period_us\":%ld,\"task_us\":%ld,"
	       "\"queued\":%" PRIu64 ",\"taken\":%" PRIu64 ",\"overflows\":%" PRIu64
	       ",\"hist\":{",
	       now_ns(), n_workers, period_us, task_us, queued, taken, overflows);
	print_hist(hist);
	printf("}}\n");
	fflush(stdout);
	memset(hist, 0, sizeof(hist));
	queued = taken = overflows = 0;
	pthread_mutex_unlock(&lock);
}

static void parse_args(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : "";
		if (strcmp(argv[i], "--workers") == 0)
			n_workers =
			    (int)parse_arg("pool", "--workers", v, 1, MAX_WORKERS);
		else if (strcmp(argv[i], "--period-us") == 0)
			period_us = parse_arg("pool", "--period-us", v, 10, 1000000);
		else if (strcmp(argv[i], "--task-us") == 0)
			task_us = parse_arg("pool", "--task-us", v, 0, 1000000);
		else {
			fprintf(stderr, "usage: pool [--workers N] [--period-us US] "
					"[--task-us US]\n");
			exit(2);
		}
		i++;
	}
}

static void start(void *(*fn)(void *))
{
	pthread_t t;
	if (pthread_create(&t, NULL, fn, NULL) != 0) {
		perror("pool: pthread_create");
		exit(1);
	}
}

int main(int argc, char **argv)
{
	char line[128];
	parse_args(argc, argv);
	for (int i = 0; i < n_workers; i++)
		start(worker_main);
	start(dispatcher_main);
	printf("ready\n");
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin))
		if (strcmp(line, "report\n") == 0)
			report();
	return 0;
}
