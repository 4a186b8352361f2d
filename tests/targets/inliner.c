/* A program that spends its time in an always-inline helper, inlined into a
 * noinline caller, for the inline-frame tests. Runs for MS milliseconds
 * (argv[1], default 500). */
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

static volatile uint64_t sink;

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static inline __attribute__((always_inline)) void hot_inline_step(uint64_t i)
{
	for (int k = 0; k < 2000; k++)
		sink += (i * 2654435761u) ^ (uint64_t)k;
}

__attribute__((noinline)) static void outer_caller(uint64_t until)
{
	for (uint64_t i = 0; now_ms() < until; i++)
		hot_inline_step(i);
	__asm__ volatile("" ::: "memory");
}

int main(int argc, char **argv)
{
	long ms = argc > 1 ? atol(argv[1]) : 500;
	outer_caller(now_ms() + (uint64_t)ms);
	return 0;
}
