/* Calls plt_callee (in a shared library) through the PLT in a tight loop for
 * argv[1] milliseconds. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int plt_callee(int x);

static volatile int sink;

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

__attribute__((noinline)) static int spin(long ms)
{
	int acc = 0;
	for (long end = now_ms() + ms; now_ms() < end;)
		for (int i = 0; i < 100000; i++)
			acc = plt_callee(acc);
	return acc;
}

int main(int argc, char **argv)
{
	long ms = argc > 1 ? atol(argv[1]) : 0;
	printf("ready\n");
	fflush(stdout);
	sink = spin(ms);
	return 0;
}
