/* Threads that sleep until told, then run: "sleeper" blocks in read() on a
 * pipe; after a line "w" on stdin it wakes, prints "woken", and spins in
 * woken_spin for good. "ping" and "pong" block on another pipe; after a line
 * "p" they wake, print "pingpong", and hand a futex word to each other for
 * good: each sleeps and is switched in tens of thousands of times a second.
 * Prints "ready TID_SLEEPER TID_PING TID_PONG" once the three have started;
 * exits 0 at EOF on stdin or on a line "q". */
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static int wake_pipe[2], pair_pipe[2];
static atomic_int turn;
static pthread_barrier_t started;
static pid_t tids[3];
static volatile uint64_t sink;

__attribute__((noinline)) static void woken_spin(void)
{
	for (;;)
		sink++;
}

static void *sleeper(void *arg)
{
	(void)arg;
	char c;
	pthread_setname_np(pthread_self(), "sleeper");
	tids[0] = (pid_t)syscall(SYS_gettid);
	pthread_barrier_wait(&started);
	if (read(wake_pipe[0], &c, 1) == 1) {
		printf("woken\n");
		fflush(stdout);
		woken_spin();
	}
	return NULL;
}

static void await_turn(int me)
{
	int v;
	while ((v = atomic_load(&turn)) != me)
		syscall(SYS_futex, &turn, FUTEX_WAIT_PRIVATE, v, NULL, NULL, 0);
}

static void give_turn(int to)
{
	atomic_store(&turn, to);
	syscall(SYS_futex, &turn, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

static void *player(void *arg)
{
	int me = (int)(intptr_t)arg;
	char c;
	pthread_setname_np(pthread_self(), me ? "pong" : "ping");
	tids[1 + me] = (pid_t)syscall(SYS_gettid);
	pthread_barrier_wait(&started);
	if (read(pair_pipe[0], &c, 1) != 1)
		return NULL;
	if (me == 0) {
		printf("pingpong\n");
		fflush(stdout);
	}
	for (;;) {
		await_turn(me);
		give_turn(!me);
	}
	return NULL;
}

int main(void)
{
	if (pipe(wake_pipe) < 0 || pipe(pair_pipe) < 0)
		return 2;
	pthread_barrier_init(&started, NULL, 4);
	pthread_t t;
	if (pthread_create(&t, NULL, sleeper, NULL) != 0 ||
	    pthread_create(&t, NULL, player, (void *)0) != 0 ||
	    pthread_create(&t, NULL, player, (void *)1) != 0)
		return 2;
	pthread_barrier_wait(&started);
	printf("ready %d %d %d\n", tids[0], tids[1], tids[2]);
	fflush(stdout);
	char line[64];
	while (fgets(line, sizeof(line), stdin)) {
		if (strcmp(line, "q\n") == 0)
			break;
		if (strcmp(line, "w\n") == 0 && write(wake_pipe[1], "w", 1) != 1)
			return 2;
		if (strcmp(line, "p\n") == 0 && write(pair_pipe[1], "pp", 2) != 2)
			return 2;
	}
	return 0;
}
