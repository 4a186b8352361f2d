/* Many threads that never run: N threads (argv[1], default 100) named
 * "idle-K", each blocked in read() on a pipe nobody writes; with a second
 * argument "busy", one more thread, "busy", that spins in busy_spin. Prints
 * "ready" once all are created; exits 0 at EOF on stdin or on a line "q". */
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int pipe_fds[2];
static pthread_barrier_t started;
static volatile unsigned long sink;

__attribute__((noinline)) static void idle_read(void)
{
	char c;
	while (read(pipe_fds[0], &c, 1) != 0)
		;
}

__attribute__((noinline)) static void busy_spin(void)
{
	for (;;)
		sink++;
}

static void *busy(void *arg)
{
	(void)arg;
	pthread_setname_np(pthread_self(), "busy");
	busy_spin();
	return NULL;
}

static void *run(void *arg)
{
	char name[16];
	snprintf(name, sizeof(name), "idle-%ld", (long)arg);
	pthread_setname_np(pthread_self(), name);
	pthread_barrier_wait(&started);
	idle_read();
	return NULL;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 100;
	if (n < 1 || pipe(pipe_fds) < 0)
		return 2;
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, PTHREAD_STACK_MIN + 64 * 1024);
	pthread_barrier_init(&started, NULL, (unsigned)n + 1);
	for (long k = 0; k < n; k++) {
		pthread_t t;
		if (pthread_create(&t, &attr, run, (void *)k) != 0)
			return 2;
	}
	pthread_barrier_wait(&started);
	pthread_t b;
	if (argc > 2 && strcmp(argv[2], "busy") == 0 &&
	    pthread_create(&b, &attr, busy, NULL) != 0)
		return 2;
	printf("ready\n");
	fflush(stdout);
	char line[64];
	while (fgets(line, sizeof(line), stdin))
		if (strcmp(line, "q\n") == 0)
			break;
	return 0;
}
