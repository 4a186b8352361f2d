/* Signals the process ignores, arriving while its main thread sleeps in
 * epoll_wait.
 *
 * Without a tracer the kernel drops a signal that the process ignores when
 * it is sent: nothing wakes. A traced thread gets it anyway, so that its
 * tracer can see it, and a call that fails rather than restarts after a
 * signal (epoll_wait) returns EINTR. This program ignores SIGUSR2 (SIG_IGN)
 * and leaves SIGCHLD, SIGWINCH and SIGURG at their default, which ignores
 * them. Its main thread, to which the kernel hands a signal sent to the
 * process first, sleeps in epoll_wait with no timeout on a pipe nobody
 * writes, and counts the calls that fail with EINTR. Another thread,
 * "ign-cmd", takes the commands. No thread blocks a signal: the kernel does
 * not drop a signal that the thread it is sent to blocks.
 *
 * Prints "ready PID" when in place. Commands, one a line on stdin:
 *   report   "report eintr=N calls=N"
 *   q        exits 0 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

static atomic_long eintr, calls;
static int epfd;

static void *commands(void *arg)
{
	char line[64];
	(void)arg;
	printf("ready %d\n", (int)getpid());
	while (fgets(line, sizeof(line), stdin)) {
		if (strcmp(line, "report\n") == 0)
			printf("report eintr=%ld calls=%ld\n", atomic_load(&eintr),
			       atomic_load(&calls));
		else if (strcmp(line, "q\n") == 0)
			break;
	}
	exit(0);
}

__attribute__((noinline)) static void ign_epoll(void)
{
	struct epoll_event ev;
	for (;;) {
		int n = epoll_wait(epfd, &ev, 1, -1);
		atomic_fetch_add(&calls, 1);
		if (n < 0 && errno == EINTR)
			atomic_fetch_add(&eintr, 1);
		else if (n != 0)
			return; /* nothing else ever wakes it */
	}
}

int main(void)
{
	int quiet[2];
	struct epoll_event ev = {.events = EPOLLIN};
	pthread_t t;

	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGUSR2, SIG_IGN);
	epfd = epoll_create1(0);
	if (epfd < 0 || pipe(quiet) < 0 ||
	    epoll_ctl(epfd, EPOLL_CTL_ADD, quiet[0], &ev) < 0) {
		perror("ignsig");
		return 1;
	}
	if (pthread_create(&t, NULL, commands, NULL) != 0) {
		perror("ignsig: pthread_create");
		return 1;
	}
	pthread_setname_np(t, "ign-cmd");
	ign_epoll();
	return 1;
}
