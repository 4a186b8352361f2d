/* The sample program traced by `make demo`: two named threads that mix CPU
 * work, sleeping, pipe I/O and a contended lock for about three seconds. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static int requests[2];
static volatile uint64_t checksum;

static void pause_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

__attribute__((noinline)) static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	return x ^ (x >> 33);
}

__attribute__((noinline)) static void compute_checksums(long ms)
{
	uint64_t end = now_ms() + (uint64_t)ms;
	while (now_ms() < end)
		for (int i = 0; i < 10000; i++)
			checksum += mix((uint64_t)i + checksum);
}

__attribute__((noinline)) static void update_shared_table(long ms)
{
	pthread_mutex_lock(&table_lock);
	compute_checksums(ms);
	pthread_mutex_unlock(&table_lock);
}

__attribute__((noinline)) static char wait_for_input(void)
{
	char c = 0;
	if (read(requests[0], &c, 1) != 1)
		return 0;
	return c;
}

__attribute__((noinline)) static void handle_request(void)
{
	compute_checksums(60);
	pause_ms(40);
	update_shared_table(30);
}

static void *io_waiter(void *arg)
{
	(void)arg;
	pthread_setname_np(pthread_self(), "io-waiter");
	while (wait_for_input() == 'r')
		handle_request();
	return NULL;
}

static void *cruncher(void *arg)
{
	(void)arg;
	pthread_setname_np(pthread_self(), "cruncher");
	for (int round = 0; round < 12; round++) {
		compute_checksums(80);
		if (write(requests[1], "r", 1) != 1)
			break;
		pause_ms(50);
		update_shared_table(60);
		pause_ms(50);
	}
	if (write(requests[1], "q", 1) != 1)
		return NULL;
	return NULL;
}

int main(void)
{
	if (pipe(requests))
		return 1;
	pthread_t a, b;
	pthread_create(&a, NULL, io_waiter, NULL);
	pthread_create(&b, NULL, cruncher, NULL);
	pthread_join(b, NULL);
	pthread_join(a, NULL);
	printf("demo: checksum %llx\n", (unsigned long long)checksum);
	return 0;
}
