/* A thread that moves on without being woken. "waiter" takes turns at two
 * waits, wait_short and wait_long, each a FUTEX_WAIT on a word with the value
 * it read. "mover" changes the word once the waiter sleeps, without
 * FUTEX_WAKE, so the waiter only notices when its futex_wait is made again:
 * when a stop by a tracer restarts the call. In wait_short that is what moves
 * it on: its one switch-in after the resume takes it on to wait_long, where
 * it sleeps again. A tracer that takes "switched in once more and asleep" to
 * mean "back in the same call" shows wait_short for the whole of wait_long.
 * wait_long ends LONG_MS after it began, by a real wake; wait_short ends
 * that way too if no stop comes for SHORT_MS. (fgtrace samples a thread
 * asleep in a call from /proc, without a stop: under it, wait_short always
 * lasts SHORT_MS.)
 *
 * Usage: quietwake [MS]: runs MS ms (default 1000), then, with FGTRACE_TRUTH
 * set, writes "WAIT TID START_NS END_NS" lines (CLOCK_MONOTONIC) and exits. */
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define LONG_MS	   60
#define SHORT_MS   30
#define MAX_ROUNDS 4096

static _Atomic uint32_t word;
static _Atomic long waiter_tid;
static _Atomic uint32_t rounds; /* rounds begun */
static uint64_t round_start[MAX_ROUNDS];

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void sleep_us(long us)
{
	struct timespec ts = {us / 1000000, (us % 1000000) * 1000L};
	while (nanosleep(&ts, &ts) != 0)
		;
}

__attribute__((noinline)) static void futex_sleep(uint32_t seen)
{
	/* Returns at once (EAGAIN) when the word no longer holds seen. */
	syscall(SYS_futex, &word, FUTEX_WAIT_PRIVATE, seen, NULL, NULL, 0);
	__asm__ volatile("" ::: "memory");
}

/* The two waits differ only in name: the same frame, the same call. */
__attribute__((noinline)) static void wait_short(uint32_t seen)
{
	futex_sleep(seen);
	__asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) static void wait_long(uint32_t seen)
{
	futex_sleep(seen);
	__asm__ volatile("" ::: "memory");
}

static void *waiter(void *arg)
{
	(void)arg;
	pthread_setname_np(pthread_self(), "waiter");
	atomic_store(&waiter_tid, (long)syscall(SYS_gettid));
	for (uint32_t r = 0;; r++) {
		uint32_t seen = atomic_load(&word);
		if (r < MAX_ROUNDS)
			round_start[r] = now_ns();
		atomic_store(&rounds, r + 1);
		/* Keep waiting while the round is still this one. */
		while (atomic_load(&word) == seen) {
			if (r % 2)
				wait_long(seen);
			else
				wait_short(seen);
		}
	}
	return NULL;
}

/* True when the waiter sleeps ('S' in its stat) in round r. */
static bool asleep_in(uint32_t r)
{
	char path[64], buf[512];
	snprintf(path, sizeof(path), "/proc/self/task/%ld/stat",
		 atomic_load(&waiter_tid));
	FILE *f = fopen(path, "r");
	if (!f)
		return false;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	const char *p = strrchr(buf, ')');
	return p && p[1] == ' ' && p[2] == 'S' && atomic_load(&rounds) == r + 1;
}

static void *mover(void *arg)
{
	(void)arg;
	pthread_setname_np(pthread_self(), "mover");
	while (!atomic_load(&rounds))
		sleep_us(100);
	for (;;) {
		uint32_t r = atomic_load(&rounds) - 1;
		while (!asleep_in(r))
			sleep_us(100);
		uint64_t began = now_ns();
		long wait_ms = r % 2 ? LONG_MS : SHORT_MS;
		if (r % 2 == 0)
			atomic_fetch_add(&word, 1); /* no wake: a restart sees it */
		while (atomic_load(&rounds) == r + 1 &&
		       now_ns() - began < wait_ms * 1000000ull)
			sleep_us(1000);
		if (atomic_load(&rounds) == r + 1) {
			if (r % 2)
				atomic_fetch_add(&word, 1);
			syscall(SYS_futex, &word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
			while (atomic_load(&rounds) == r + 1)
				sleep_us(100);
		}
	}
	return NULL;
}

int main(int argc, char **argv)
{
	long ms = argc > 1 ? atol(argv[1]) : 1000;
	pthread_t w, m;
	if (pthread_create(&w, NULL, waiter, NULL) ||
	    pthread_create(&m, NULL, mover, NULL))
		return 3;
	sleep_us(ms * 1000);
	uint64_t end = now_ns();
	const char *path = getenv("FGTRACE_TRUTH");
	if (path) {
		FILE *f = fopen(path, "w");
		if (!f)
			return 3;
		uint32_t n = atomic_load(&rounds);
		if (n > MAX_ROUNDS)
			n = MAX_ROUNDS;
		for (uint32_t r = 0; r < n; r++)
			fprintf(
			    f, "%s %ld %llu %llu\n", r % 2 ? "wait_long" : "wait_short",
			    atomic_load(&waiter_tid), (unsigned long long)round_start[r],
			    (unsigned long long)(r + 1 < n ? round_start[r + 1] : end));
		if (fclose(f))
			return 3;
	}
	return 0;
}
