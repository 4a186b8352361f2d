/* A thread whose deep stack changes at one level at a time, for the tests of
 * remembered unwinds.
 *
 * Thread "mixer" walks down DEPTH levels, each through step_a or step_b as
 * one of NPAT patterns says, spins at the bottom for about SPIN_US, returns
 * all the way, and takes the next pattern. The patterns differ from the first
 * at one level each, near the root for some and near the leaf for others, and
 * step_a and step_b have frames of one size: below the level where two
 * patterns differ, their stacks hold the same pcs at the same addresses, and
 * only a return address higher up tells them apart.
 *
 * Prints "ready" and the patterns (a and b from the root down) on one line;
 * ends when stdin closes or a line arrives.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#define DEPTH	40
#define NPAT	6
#define SPIN_US 150

static char patterns[NPAT][DEPTH + 1];
/* The pattern walked now: read from memory at each level, so that no
 * register holds a pointer that tells the patterns apart. */
static const char *volatile cur;
static volatile uint64_t sink;

static uint64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

__attribute__((noinline)) static int spin(void)
{
	uint64_t until = now_us() + SPIN_US;
	while (now_us() < until)
		for (int k = 0; k < 100; k++)
			sink += (uint64_t)k * 2654435761u;
	return 1;
}

static int walk(int d);

/* One frame each, of the same size; the result is used, so no call becomes
 * a jump. */
__attribute__((noinline)) static int step_a(int d)
{
	volatile int pad[4];
	pad[0] = d;
	return walk(d + 1) + pad[0];
}

__attribute__((noinline)) static int step_b(int d)
{
	volatile int pad[4];
	pad[0] = d;
	return walk(d + 1) + pad[0];
}

__attribute__((noinline)) static int walk(int d)
{
	char c = cur[d];
	if (!c)
		return spin();
	return (c == 'a' ? step_a(d) : step_b(d)) + 1;
}

static void *mixer(void *arg)
{
	(void)arg;
	prctl(PR_SET_NAME, "mixer");
	for (unsigned i = 0;; i++) {
		cur = patterns[i % NPAT];
		sink += (uint64_t)walk(0);
	}
	return NULL;
}

int main(void)
{
	static const int flip[NPAT] = {-1, 1, 8, 19, 30, 37};
	for (int p = 0; p < NPAT; p++) {
		for (int d = 0; d < DEPTH; d++)
			patterns[p][d] = (d * 7 + d / 3) % 5 < 2 ? 'a' : 'b';
		if (flip[p] >= 0)
			patterns[p][flip[p]] ^= 'a' ^ 'b';
	}
	pthread_t t;
	if (pthread_create(&t, NULL, mixer, NULL) != 0)
		return 1;
	printf("ready");
	for (int p = 0; p < NPAT; p++)
		printf(" %s", patterns[p]);
	printf("\n");
	fflush(stdout);
	char buf[16];
	(void)!read(0, buf, sizeof(buf));
	return 0;
}
