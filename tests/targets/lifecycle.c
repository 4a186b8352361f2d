/* Thread lifecycle: prints "ready", waits for a line on stdin, then starts a
 * thread that names itself "born" and prints "born"; it spins until the next
 * line on stdin (or its end), renames itself "renamed", spins 150 ms more and
 * exits. Then the program either exits 0, or with "exec" as argv[1], spins in
 * before_exec and execs argv[2] with the rest of the arguments. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

static volatile unsigned long sink;
static atomic_int go_on;

static void spin_ms(long ms)
{
	struct timespec s, n;
	clock_gettime(CLOCK_MONOTONIC, &s);
	do {
		for (int i = 0; i < 1000; i++)
			sink += (unsigned long)i;
		clock_gettime(CLOCK_MONOTONIC, &n);
	} while ((n.tv_sec - s.tv_sec) * 1000 + (n.tv_nsec - s.tv_nsec) / 1000000 < ms);
}

__attribute__((noinline)) static void short_life(void)
{
	prctl(PR_SET_NAME, "born");
	printf("born\n");
	fflush(stdout);
	while (!atomic_load(&go_on))
		spin_ms(1);
	prctl(PR_SET_NAME, "renamed");
	spin_ms(150);
	__asm__ volatile("" ::: "memory");
}

static void *run(void *arg)
{
	(void)arg;
	short_life();
	return NULL;
}

__attribute__((noinline)) static void before_exec(void)
{
	spin_ms(200);
	__asm__ volatile("" ::: "memory");
}

int main(int argc, char **argv)
{
	printf("ready\n");
	fflush(stdout);
	char line[16];
	if (!fgets(line, sizeof(line), stdin))
		return 2;
	pthread_t t;
	pthread_create(&t, NULL, run, NULL);
	(void)!fgets(line, sizeof(line), stdin);
	atomic_store(&go_on, 1);
	pthread_join(t, NULL);
	spin_ms(100);
	if (argc > 2 && strcmp(argv[1], "exec") == 0) {
		before_exec();
		execv(argv[2], &argv[2]);
		return 127;
	}
	return 0;
}
