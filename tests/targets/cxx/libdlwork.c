/* The library that tests/targets/dlopener.c loads during a capture; built by
 * tests/e2e/test_symbols.py as libdlwork.so. Its time goes to the noinline
 * dlwork_spin, which the trace must name with this library as module. */
#include <stdint.h>
#include <time.h>

unsigned long dlwork_run(unsigned ms);

static volatile uint64_t sink;

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

__attribute__((noinline)) static unsigned long dlwork_spin(uint64_t until_ms)
{
	unsigned long rounds = 0;
	for (; now_ms() < until_ms; rounds++)
		for (int k = 0; k < 10000; k++)
			sink += (uint64_t)k ^ rounds;
	return rounds;
}

unsigned long dlwork_run(unsigned ms)
{
	return dlwork_spin(now_ms() + ms);
}
