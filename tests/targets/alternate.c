/* A thread that never sleeps and changes its stack every 2 ms: "alternator"
 * spins in phase_a, then in phase_b, 2 ms of CLOCK_MONOTONIC each, in turn.
 * After a line "c" on stdin it spins in phase_c instead, for good. After a
 * line "n", a second thread, "newcomer", starts and spins in newcomer_spin,
 * on a stack with readable memory above its top (as the first thread of a
 * program often has: libc's data), so that a copy of it runs past the top
 * to the full size asked for; "newcomer TID" is printed once it runs.
 * Prints "ready" once the alternator runs; exits 0 at EOF on stdin or on a
 * line "q". */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define TURN_NS 2000000ull

static volatile uint64_t sink;
static atomic_int running, to_c, newcomer_tid;
/* The newcomer's stack is the lower half: the upper half lies above it. */
static char newcomer_mem[2 << 20] __attribute__((aligned(4096)));

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

__attribute__((noinline)) static void phase_a(uint64_t until)
{
	while (now_ns() < until)
		for (int i = 0; i < 100; i++)
			sink += (uint64_t)i;
	__asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) static void phase_b(uint64_t until)
{
	while (now_ns() < until)
		for (int i = 0; i < 100; i++)
			sink ^= (uint64_t)i;
	__asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) static void phase_c(void)
{
	for (;;)
		for (int i = 0; i < 100; i++)
			sink -= (uint64_t)i;
}

__attribute__((noinline)) static void newcomer_spin(void)
{
	for (;;)
		for (int i = 0; i < 100; i++)
			sink += (uint64_t)i * 3;
}

static void *newcomer(void *arg)
{
	(void)arg;
	pthread_setname_np(pthread_self(), "newcomer");
	atomic_store(&newcomer_tid, (int)syscall(SYS_gettid));
	newcomer_spin();
	return NULL;
}

static int start_newcomer(void)
{
	pthread_attr_t attr;
	pthread_t t;
	if (pthread_attr_init(&attr))
		return -1;
	int rc = pthread_attr_setstack(&attr, newcomer_mem, sizeof(newcomer_mem) / 2) ||
		 pthread_create(&t, &attr, newcomer, NULL);
	pthread_attr_destroy(&attr);
	if (rc)
		return -1;
	while (!atomic_load(&newcomer_tid))
		;
	printf("newcomer %d\n", atomic_load(&newcomer_tid));
	fflush(stdout);
	return 0;
}

static void *alternate(void *arg)
{
	(void)arg;
	pthread_setname_np(pthread_self(), "alternator");
	atomic_store(&running, 1);
	while (!atomic_load(&to_c)) {
		phase_a(now_ns() + TURN_NS);
		phase_b(now_ns() + TURN_NS);
	}
	phase_c();
	return NULL;
}

int main(void)
{
	pthread_t t;
	if (pthread_create(&t, NULL, alternate, NULL))
		return 3;
	while (!atomic_load(&running))
		;
	printf("ready\n");
	fflush(stdout);
	char line[64];
	while (fgets(line, sizeof(line), stdin) && strcmp(line, "q\n") != 0) {
		if (strcmp(line, "c\n") == 0)
			atomic_store(&to_c, 1);
		else if (strcmp(line, "n\n") == 0 && !atomic_load(&newcomer_tid) &&
			 start_newcomer() < 0)
			return 3;
	}
	return 0;
}
