/* Children of a traced process: each one checks its own TracerPid.
 *
 *   forker MODE N     MODE: fork, vfork, spawn (posix_spawn) or clone (a
 *                     process made by clone(2) whose exit signal is not
 *                     SIGCHLD)
 *   forker check      exits 0 when it is not traced, 1 when it is, 2 when it
 *                     cannot tell (what the vfork and spawn children exec)
 *
 * First forks a long-lived child that waits on a pipe. Prints "ready PID
 * CHILD", waits for a line on stdin, makes N children one after another and
 * reaps each, then prints "done N untraced=N traced=N unknown=N" and waits for
 * "q" (or EOF) to end the long-lived child and exit 0. */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static int tracer_status(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	int rc = 2;
	if (!f)
		return 2;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "TracerPid:", 10) == 0)
			rc = atol(line + 10) != 0;
	fclose(f);
	return rc;
}

static int clone_child(void *arg)
{
	(void)arg;
	return tracer_status();
}

static pid_t make_child(const char *mode)
{
	static char self[] = "/proc/self/exe";
	char *check_argv[] = {self, "check", NULL};
	pid_t pid = -1;
	if (strcmp(mode, "fork") == 0) {
		pid = fork();
		if (pid == 0)
			_exit(tracer_status());
	} else if (strcmp(mode, "vfork") == 0) {
		pid = vfork();
		if (pid == 0) {
			execve(self, check_argv, environ);
			_exit(2);
		}
	} else if (strcmp(mode, "spawn") == 0) {
		if (posix_spawn(&pid, self, NULL, NULL, check_argv, environ) != 0)
			pid = -1;
	} else if (strcmp(mode, "clone") == 0) {
		static char stack[256 * 1024];
		pid = clone(clone_child, stack + sizeof(stack), 0, NULL);
	}
	return pid;
}

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "check") == 0)
		return tracer_status();
	if (argc != 3) {
		fprintf(stderr, "usage: forker fork|vfork|spawn|clone N\n");
		return 2;
	}
	long n = atol(argv[2]);
	int hold[2];
	if (pipe(hold) < 0)
		return 1;
	pid_t longlived = fork();
	if (longlived == 0) {
		char c;
		close(hold[1]);
		while (read(hold[0], &c, 1) < 0 && errno == EINTR)
			;
		_exit(0);
	}
	close(hold[0]);
	printf("ready %d %d\n", (int)getpid(), (int)longlived);
	fflush(stdout);
	char line[16];
	if (!fgets(line, sizeof(line), stdin))
		return 2;
	long counts[3] = {0, 0, 0};
	for (long k = 0; k < n; k++) {
		pid_t pid = make_child(argv[1]);
		int status;
		if (pid < 0 || waitpid(pid, &status, __WALL) != pid ||
		    !WIFEXITED(status) || WEXITSTATUS(status) > 1)
			counts[2]++;
		else
			counts[WEXITSTATUS(status)]++;
	}
	printf("done %ld untraced=%ld traced=%ld unknown=%ld\n", n, counts[0], counts[1],
	       counts[2]);
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin) && strcmp(line, "q\n") != 0)
		;
	close(hold[1]);
	waitpid(longlived, NULL, 0);
	return 0;
}
