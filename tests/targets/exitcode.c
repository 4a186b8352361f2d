/* Exits as told: "exitcode N" exits N, "exitcode -s SIG" kills itself with
 * SIG, "exitcode -e" copies stdin to stdout, then exits 0. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc > 2 && strcmp(argv[1], "-s") == 0) {
		int sig = atoi(argv[2]);
		signal(sig, SIG_DFL);
		kill(getpid(), sig);
		pause();
		return 99;
	}
	if (argc > 1 && strcmp(argv[1], "-e") == 0) {
		int c;
		while ((c = getchar()) != EOF)
			putchar(c);
		return fflush(stdout) ? 1 : 0;
	}
	return argc > 1 ? atoi(argv[1]) : 0;
}
