#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static volatile double sink;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Called with a constant scale only: GCC clones it as clone_me.constprop.0. */
__attribute__((noinline)) static double clone_me(long n, double scale)
{
	double x = 0;
	for (long i = 0; i < n; i++)
		x += (double)(i % 7) * scale;
	return x;
}

/* Cold to the compiler, called at run time all the same: its caller's
 * return address lies in split_me.cold. */
__attribute__((cold, noinline)) static double complain(const char *what, long n)
{
	double x = 0;
	for (long i = 0; i < n; i++)
		x += (double)(i % 11) * 0.25;
	if (x < 0)
		fprintf(stderr, "clones: %s\n", what);
	return x;
}

/* Its unlikely branch goes to split_me.cold; at run time it is the hot one. */
__attribute__((noinline)) double split_me(long n, const char *flag)
{
	double x = 0;
	for (long i = 0; i < n; i++) {
		if (__builtin_expect(flag[0] == 'c', 0)) {
			x += complain("negative", 200);
		} else {
			x += 1;
		}
	}
	return x;
}

int main(int argc, char **argv)
{
	double ms = argc > 1 ? atof(argv[1]) : 500;
	const char *flag = argc > 2 ? argv[2] : "c";
	double end = now_s() + ms / 1000;
	while (now_s() < end) {
		sink = clone_me(200000, 2.5);
		sink = split_me(20000, flag);
	}
	return 0;
}
