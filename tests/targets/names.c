/* Hostile thread and process names: quotes, backslashes, newlines, tabs,
 * control bytes, invalid UTF-8 (stray bytes, a cut sequence, an encoded
 * surrogate, an overlong form), parentheses, text that looks like a JSON
 * escape, and valid non-ASCII.
 *
 * Each thread names itself (PR_SET_NAME, 15 bytes at most) and sleeps in a
 * loop; the main thread renames itself too, which is the process's comm.
 * Prints "ready PID N", then N lines "name TID HEX" (the bytes set, in hex;
 * the first line is the main thread). Commands on stdin:
 *   rename   every thread renames itself to "R" plus its name (cut to 15
 *            bytes); the answer is N lines "renamed TID HEX"
 *   q        exits 0 (also at EOF) */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static const char *const hostile[] = {
    "q\"uo\"te",
    "back\\sl\\",
    "nl\nline\n",
    "tab\there",
    "ctl\x01\x1b\x7f",
    "bad\xff\xfeutf8",
    "x) (y) z",
    "cut\xe2\x82",
    "sur\xed\xa0\x80",
    "ovl\xc0\xaf",
    "h\xc3\xa9llo\xe2\x82\xac",
    "\\u0000x",
    "\\ud800\\\"",
};
static const char process_comm[] = "p)(\n\"\xff";

enum { N_THREADS = sizeof(hostile) / sizeof(hostile[0]) };

static pthread_barrier_t named;
static atomic_int rename_gen;
static pid_t tids[N_THREADS + 1];
static char current[N_THREADS + 1][16];

static void set_name(int k, const char *name)
{
	snprintf(current[k], sizeof(current[k]), "%s", name);
	prctl(PR_SET_NAME, current[k]);
}

static void rename_self(int k)
{
	char next[16];
	snprintf(next, sizeof(next), "R%s", current[k]);
	set_name(k, next);
}

static void print_name(const char *word, int k)
{
	printf("%s %d ", word, (int)tids[k]);
	for (const unsigned char *p = (const unsigned char *)current[k]; *p; p++)
		printf("%02x", *p);
	printf("\n");
}

__attribute__((noinline)) static void names_idle(int k)
{
	int seen = 0;
	for (;;) {
		struct timespec ts = {0, 20 * 1000000L};
		nanosleep(&ts, NULL);
		if (atomic_load(&rename_gen) != seen) {
			seen = atomic_load(&rename_gen);
			rename_self(k);
			pthread_barrier_wait(&named);
		}
	}
}

static void *run(void *arg)
{
	int k = (int)(long)arg;
	tids[k] = (pid_t)syscall(SYS_gettid);
	set_name(k, hostile[k - 1]);
	pthread_barrier_wait(&named);
	names_idle(k);
	return NULL;
}

static void print_all(const char *word)
{
	for (int k = 0; k <= N_THREADS; k++)
		print_name(word, k);
	fflush(stdout);
}

int main(void)
{
	pthread_barrier_init(&named, NULL, N_THREADS + 1);
	tids[0] = getpid();
	set_name(0, process_comm);
	for (long k = 1; k <= N_THREADS; k++) {
		pthread_t t;
		pthread_create(&t, NULL, run, (void *)k);
	}
	pthread_barrier_wait(&named);
	printf("ready %d %d\n", (int)getpid(), N_THREADS + 1);
	print_all("name");
	char line[64];
	while (fgets(line, sizeof(line), stdin)) {
		if (strcmp(line, "q\n") == 0)
			break;
		if (strcmp(line, "rename\n") == 0) {
			rename_self(0);
			atomic_fetch_add(&rename_gen, 1);
			pthread_barrier_wait(&named);
			print_all("renamed");
		}
	}
	return 0;
}
