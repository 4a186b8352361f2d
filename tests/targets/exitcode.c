/* Exits as told, for the exit-status and passthrough tests:
 *   exitcode N       exits with status N
 *   exitcode -s SIG  kills itself with signal SIG
 *   exitcode -e      copies stdin to stdout, then exits 0
 *   exitcode -E      copies stdin to stderr, then exits 0 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int copy(FILE *to)
{
	int c;
	while ((c = getchar()) != EOF)
		putc(c, to);
	return fflush(to) ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc > 2 && strcmp(argv[1], "-s") == 0) {
		int sig = atoi(argv[2]);
		signal(sig, SIG_DFL);
		kill(getpid(), sig);
		pause();
		return 99;
	}
	if (argc > 1 && strcmp(argv[1], "-e") == 0)
		return copy(stdout);
	if (argc > 1 && strcmp(argv[1], "-E") == 0)
		return copy(stderr);
	return argc > 1 ? atoi(argv[1]) : 0;
}
