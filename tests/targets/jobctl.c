/* Job control and exits: a thread that spins ("jc-spin", counting its
 * rounds), one that sleeps in a loop ("jc-sleep"), and the main thread, which
 * reads commands. A SIGCONT handler (SA_RESTART) counts each SIGCONT.
 *
 *   jobctl [ignint]   with "ignint", SIGINT is ignored
 *
 * Prints "ready PID" when in place. Commands, one a line on stdin:
 *   report   "report cont=N spins=N"
 *   exit N   exits with status N at once, from the spinning thread
 *   q        exits 0 (also at EOF) */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static atomic_long conts, spins;
static atomic_int exit_code = -1;

static void on_cont(int sig)
{
	(void)sig;
	atomic_fetch_add(&conts, 1);
}

__attribute__((noinline)) static void jobctl_spin(void)
{
	volatile unsigned long sink = 0;
	for (;;) {
		for (int i = 0; i < 10000; i++)
			sink += (unsigned long)i;
		atomic_fetch_add(&spins, 1);
		int code = atomic_load(&exit_code);
		if (code >= 0)
			exit(code);
	}
}

static void *spin_main(void *arg)
{
	(void)arg;
	jobctl_spin();
	return NULL;
}

__attribute__((noinline)) static void jobctl_sleep(void)
{
	for (;;) {
		struct timespec ts = {0, 10 * 1000000L};
		nanosleep(&ts, NULL);
	}
}

static void *sleep_main(void *arg)
{
	(void)arg;
	jobctl_sleep();
	return NULL;
}

int main(int argc, char **argv)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_cont;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGCONT, &sa, NULL);
	if (argc > 1 && strcmp(argv[1], "ignint") == 0)
		signal(SIGINT, SIG_IGN);

	/* Only the main thread takes SIGCONT's handler: the others need no
	 * signal frame, and the count stays simple. */
	sigset_t cont, old;
	sigemptyset(&cont);
	sigaddset(&cont, SIGCONT);
	pthread_sigmask(SIG_BLOCK, &cont, &old);
	pthread_t t1, t2;
	pthread_create(&t1, NULL, spin_main, NULL);
	pthread_setname_np(t1, "jc-spin");
	pthread_create(&t2, NULL, sleep_main, NULL);
	pthread_setname_np(t2, "jc-sleep");
	pthread_sigmask(SIG_SETMASK, &old, NULL);

	printf("ready %d\n", (int)getpid());
	fflush(stdout);
	char line[64];
	for (;;) {
		if (!fgets(line, sizeof(line), stdin)) {
			if (ferror(stdin) && errno == EINTR) {
				clearerr(stdin);
				continue;
			}
			break;
		}
		int code;
		if (strcmp(line, "q\n") == 0) {
			break;
		} else if (strcmp(line, "report\n") == 0) {
			printf("report cont=%ld spins=%ld\n", atomic_load(&conts),
			       atomic_load(&spins));
			fflush(stdout);
		} else if (sscanf(line, "exit %d", &code) == 1) {
			atomic_store(&exit_code, code);
			pause();
		}
	}
	return 0;
}
