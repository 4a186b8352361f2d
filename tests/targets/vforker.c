/* Threads in uninterruptible sleep: N threads (argv[1], default 8) named
 * "vfork-K" each vfork a child that sleeps HOLD ms (argv[2], default 200) and
 * exits, over and over; with HOLD 0, a child that waits for the "q" below.
 * A vfork parent waits for its child in state D, where no signal or ptrace
 * request reaches it. One more thread, "busy", spins. Prints "ready" once
 * all have started (with HOLD 0, once every child waits). On a line "q" or
 * EOF on stdin it lets each thread finish its round, prints "rounds R
 * failures F" (F counts vforks that failed and children that did not exit
 * 0) and exits 0 when F is 0, else 1. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static atomic_bool done;
static atomic_long rounds, failures;
static long hold_ms;
static volatile unsigned long sink;
static pthread_barrier_t started;
static int release_fds[2];  /* HOLD 0: children wait for EOF on [0] */
static atomic_long waiting; /* ... and count themselves in */

__attribute__((noinline)) static void spin(void)
{
	while (!atomic_load(&done))
		for (int i = 0; i < 1000; i++)
			sink += (unsigned long)i;
}

static void *busy(void *arg)
{
	(void)arg;
	pthread_setname_np(pthread_self(), "busy");
	pthread_barrier_wait(&started);
	spin();
	return NULL;
}

/* One round: the thread sleeps in vfork while its child sleeps. */
__attribute__((noinline)) static void vfork_round(void)
{
	pid_t pid = vfork();
	if (pid == 0) {
		/* The child shares the parent's memory: system calls only. */
		if (hold_ms == 0) {
			char c;
			syscall(SYS_close, release_fds[1]);
			atomic_fetch_add(&waiting, 1);
			syscall(SYS_read, release_fds[0], &c, 1);
		} else {
			struct timespec ts = {hold_ms / 1000, hold_ms % 1000 * 1000000L};
			syscall(SYS_nanosleep, &ts, NULL);
		}
		syscall(SYS_exit_group, 0);
	}
	int status;
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0)
		atomic_fetch_add(&failures, 1);
	atomic_fetch_add(&rounds, 1);
}

static void *vforker(void *arg)
{
	char name[16];
	snprintf(name, sizeof(name), "vfork-%ld", (long)arg);
	pthread_setname_np(pthread_self(), name);
	pthread_barrier_wait(&started);
	while (!atomic_load(&done))
		vfork_round();
	return NULL;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 8;
	hold_ms = argc > 2 ? atol(argv[2]) : 200;
	if (n < 1 || n > 256 || hold_ms < 0 || pipe(release_fds) < 0)
		return 2;
	pthread_t th[257];
	pthread_barrier_init(&started, NULL, (unsigned)n + 2);
	for (long k = 0; k <= n; k++)
		if (pthread_create(&th[k], NULL, k < n ? vforker : busy, (void *)k) != 0)
			return 2;
	pthread_barrier_wait(&started);
	while (hold_ms == 0 && atomic_load(&waiting) < n) {
		struct timespec ts = {0, 1000000L};
		nanosleep(&ts, NULL); /* polls for the children's count */
	}
	printf("ready\n");
	fflush(stdout);
	char line[64];
	while (fgets(line, sizeof(line), stdin))
		if (strcmp(line, "q\n") == 0)
			break;
	atomic_store(&done, true);
	close(release_fds[1]);
	for (long k = 0; k <= n; k++)
		pthread_join(th[k], NULL);
	long f = atomic_load(&failures);
	printf("rounds %ld failures %ld\n", atomic_load(&rounds), f);
	return f == 0 ? 0 : 1;
}
