/* A program that knows its own phases: two named threads ("worker" and
 * "helper"); the worker runs a busy loop, a nanosleep, a blocking pipe read
 * and a contended mutex, PHASE_MS each (argv[1], default 400). With
 * FGTRACE_TRUTH set, it writes "PHASE TID START_NS END_NS" lines
 * (CLOCK_MONOTONIC) to that file, so tests can compare a trace with the truth. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static long phase_ms = 400;
static int to_helper[2], data_pipe[2];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t lock_held;
static volatile uint64_t sink;
static FILE *truth;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0)
		;
}

__attribute__((noinline)) static void busy_inner(uint64_t until)
{
	while (now_ns() < until)
		for (int i = 0; i < 1000; i++)
			sink += (uint64_t)i * 7;
	__asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) static void busy_middle(uint64_t until)
{
	busy_inner(until);
	__asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) static void busy_outer(uint64_t until)
{
	busy_middle(until);
	__asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) static void busy_phase(void)
{
	busy_outer(now_ns() + (uint64_t)phase_ms * 1000000ull);
	__asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) static void sleep_phase(void)
{
	struct timespec ts = {phase_ms / 1000, (phase_ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
	__asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) static void read_phase(void)
{
	char c;
	if (write(to_helper[1], "r", 1) != 1 || read(data_pipe[0], &c, 1) != 1)
		exit(3);
	__asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) static void lock_phase(void)
{
	pthread_mutex_lock(&lock);
	pthread_mutex_unlock(&lock);
	__asm__ volatile("" ::: "memory");
}

static void record(const char *phase, uint64_t start, uint64_t end)
{
	if (truth)
		fprintf(truth, "%s %ld %llu %llu\n", phase, (long)syscall(SYS_gettid),
			(unsigned long long)start, (unsigned long long)end);
}

#define RUN(phase)                                                                       \
	do {                                                                             \
		uint64_t start_ = now_ns();                                              \
		phase();                                                                 \
		record(#phase, start_, now_ns());                                        \
	} while (0)

static void *worker(void *arg)
{
	(void)arg;
	pthread_setname_np(pthread_self(), "worker");
	RUN(busy_phase);
	RUN(sleep_phase);
	RUN(read_phase);
	/* The helper takes the lock and holds it; then the worker contends. */
	if (write(to_helper[1], "l", 1) != 1)
		exit(3);
	pthread_barrier_wait(&lock_held);
	RUN(lock_phase);
	return NULL;
}

static void *helper(void *arg)
{
	(void)arg;
	pthread_setname_np(pthread_self(), "helper");
	char c;
	for (int i = 0; i < 2; i++) {
		if (read(to_helper[0], &c, 1) != 1)
			exit(3);
		if (c == 'r') {
			sleep_ms(phase_ms);
			if (write(data_pipe[1], "d", 1) != 1)
				exit(3);
		} else {
			pthread_mutex_lock(&lock);
			pthread_barrier_wait(&lock_held);
			sleep_ms(phase_ms);
			pthread_mutex_unlock(&lock);
		}
	}
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc > 1)
		phase_ms = atol(argv[1]);
	const char *path = getenv("FGTRACE_TRUTH");
	if (path && !(truth = fopen(path, "w")))
		return 2;
	if (pipe(to_helper) || pipe(data_pipe))
		return 2;
	pthread_barrier_init(&lock_held, NULL, 2);
	pthread_t w, h;
	pthread_create(&h, NULL, helper, NULL);
	pthread_create(&w, NULL, worker, NULL);
	pthread_join(w, NULL);
	pthread_join(h, NULL);
	if (truth)
		fclose(truth);
	return 0;
}
