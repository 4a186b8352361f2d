/* An attach target: N threads (argv[1], default 4) named "spin-K"; even ones
 * spin on the CPU, odd ones sleep in a loop. Prints "ready" once all run;
 * exits 0 at EOF on stdin or on a line "q". */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static volatile unsigned long sink;
static pthread_barrier_t started;

__attribute__((noinline)) static void spin_loop(void)
{
	for (;;)
		for (int i = 0; i < 1000; i++)
			sink += (unsigned long)i;
}

__attribute__((noinline)) static void idle_wait(void)
{
	for (;;) {
		struct timespec ts = {0, 20 * 1000000L};
		nanosleep(&ts, NULL);
		__asm__ volatile("" ::: "memory");
	}
}

static void *run(void *arg)
{
	long k = (long)arg;
	char name[16];
	snprintf(name, sizeof(name), "spin-%ld", k);
	pthread_setname_np(pthread_self(), name);
	pthread_barrier_wait(&started);
	if (k % 2 == 0)
		spin_loop();
	else
		idle_wait();
	return NULL;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 4;
	pthread_barrier_init(&started, NULL, (unsigned)n + 1);
	for (long k = 0; k < n; k++) {
		pthread_t t;
		pthread_create(&t, NULL, run, (void *)k);
	}
	pthread_barrier_wait(&started);
	printf("ready\n");
	fflush(stdout);
	char line[64];
	while (fgets(line, sizeof(line), stdin))
		if (strcmp(line, "q\n") == 0)
			break;
	return 0;
}
