/* A command that ends soon, for the exit hold: it spins in short_work for MS
 * milliseconds, then ends as told:
 *   shortlived MS             main returns 0 (exit_group, from the leader)
 *   shortlived MS group       a second thread spins, then calls exit(3) while
 *                             the leader waits in pthread_join: the leader is
 *                             killed by the exit_group of another thread
 *   shortlived MS leaderexit  the leader calls pthread_exit at once; a second
 *                             thread spins, and the process ends with it
 *                             (status 0)
 *   shortlived MS attach      as leaderexit, but the leader says "ready" first,
 *                             and the thread waits for a line on stdin before
 *                             it spins: a process to attach to whose leader is
 *                             a zombie */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static volatile unsigned long sink;
static long spin_for_ms;

__attribute__((noinline)) static void short_work(long ms)
{
	struct timespec s, n;
	clock_gettime(CLOCK_MONOTONIC, &s);
	do {
		for (int i = 0; i < 1000; i++)
			sink += (unsigned long)i;
		clock_gettime(CLOCK_MONOTONIC, &n);
	} while ((n.tv_sec - s.tv_sec) * 1000 + (n.tv_nsec - s.tv_nsec) / 1000000 < ms);
	__asm__ volatile("" ::: "memory");
}

static void *group_exit(void *arg)
{
	(void)arg;
	short_work(spin_for_ms);
	exit(3);
}

static void *last_thread(void *arg)
{
	char line[64];
	if (arg && !fgets(line, sizeof(line), stdin))
		return NULL;
	short_work(spin_for_ms);
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: shortlived MS [group|leaderexit]\n");
		return 2;
	}
	spin_for_ms = atol(argv[1]);
	const char *how = argc > 2 ? argv[2] : "";
	pthread_t t;
	if (strcmp(how, "group") == 0) {
		pthread_create(&t, NULL, group_exit, NULL);
		pthread_join(t, NULL);
		return 99; /* not reached: the thread ends the process */
	}
	if (strcmp(how, "leaderexit") == 0 || strcmp(how, "attach") == 0) {
		bool wait = strcmp(how, "attach") == 0;
		pthread_create(&t, NULL, last_thread, wait ? &t : NULL);
		if (wait) {
			printf("ready\n");
			fflush(stdout);
		}
		pthread_exit(NULL);
	}
	short_work(spin_for_ms);
	return 0;
}
