/* A thread that never sleeps and changes its stack every 2 ms: "alternator"
 * spins in phase_a, then in phase_b, 2 ms of CLOCK_MONOTONIC each, in turn.
 * After a line "c" on stdin it spins in phase_c instead, for good. Prints
 * "ready" once it runs; exits 0 at EOF on stdin or on a line "q". */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define TURN_NS 2000000ull

static volatile uint64_t sink;
static atomic_int running, to_c;

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
	while (fgets(line, sizeof(line), stdin) && strcmp(line, "q\n") != 0)
		if (strcmp(line, "c\n") == 0)
			atomic_store(&to_c, 1);
	return 0;
}
