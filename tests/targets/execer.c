/* exec during a capture.
 *
 *   execer [-t] PROG [ARG...]
 *
 * Starts two helper threads ("ex-helper") that sleep in a loop, prints
 * "ready PID", waits for a line on stdin, spins in execer_before for 300 ms
 * and then execs PROG with ARG... (argv[0] is PROG). With -t the exec is
 * made by a helper thread rather than the main one: the kernel then gives the
 * execing thread the leader's id. Exits 127 if the exec fails. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char **exec_argv;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int go;

__attribute__((noinline)) static void execer_before(void)
{
	volatile unsigned long sink = 0;
	struct timespec s, n;
	clock_gettime(CLOCK_MONOTONIC, &s);
	do {
		for (int i = 0; i < 1000; i++)
			sink += (unsigned long)i;
		clock_gettime(CLOCK_MONOTONIC, &n);
	} while ((n.tv_sec - s.tv_sec) * 1000 + (n.tv_nsec - s.tv_nsec) / 1000000 < 300);
}

__attribute__((noinline)) static void execer_exec(void)
{
	execer_before();
	execv(exec_argv[0], exec_argv);
	perror("execer: execv");
	_exit(127);
}

__attribute__((noinline)) static void execer_helper_wait(long k)
{
	for (;;) {
		pthread_mutex_lock(&lock);
		int mine = go && k == 0;
		pthread_mutex_unlock(&lock);
		if (mine)
			execer_exec();
		struct timespec ts = {0, 5 * 1000000L};
		nanosleep(&ts, NULL);
	}
}

static void *helper(void *arg)
{
	execer_helper_wait((long)arg);
	return NULL;
}

int main(int argc, char **argv)
{
	int from_thread = argc > 1 && strcmp(argv[1], "-t") == 0;
	if (argc < 2 + from_thread) {
		fprintf(stderr, "usage: execer [-t] PROG [ARG...]\n");
		return 2;
	}
	exec_argv = argv + 1 + from_thread;
	pthread_t t[2];
	for (long k = 0; k < 2; k++) {
		/* Only helper 0 may exec, and only when told to with -t. */
		pthread_create(&t[k], NULL, helper, (void *)(k + !from_thread));
		pthread_setname_np(t[k], "ex-helper");
	}
	printf("ready %d\n", (int)getpid());
	fflush(stdout);
	char line[16];
	if (!fgets(line, sizeof(line), stdin))
		return 2;
	if (!from_thread)
		execer_exec();
	pthread_mutex_lock(&lock);
	go = 1;
	pthread_mutex_unlock(&lock);
	for (;;)
		pause();
}
