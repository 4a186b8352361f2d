/* fgtrace bench — the reference sampler: the design most ptrace profilers use.
 *
 *   refsampler -p PID -d SECONDS -F HZ
 *
 * It seizes every thread, and at each tick stops each thread in turn
 * (PTRACE_INTERRUPT, waitpid), unwinds it with libunwind's _UPT accessors
 * while it stays stopped, and resumes it. It only counts samples and frames:
 * it symbolizes and writes nothing, which flatters it. It gets libunwind's
 * global cache, as fgtrace does. At the end it detaches from every thread and
 * prints one JSON line of statistics on stdout. */
#include <errno.h>
#include <inttypes.h>
#include <libunwind-ptrace.h>
#include <dirent.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "probe.h"

#define MAX_THREADS  8192
#define MAX_FRAMES   1024
#define HELD_BUCKETS 24

struct stats {
	uint64_t rounds;	/* ticks whose round ran */
	uint64_t on_time;	/* rounds finished before the next deadline */
	uint64_t missed;	/* deadlines skipped because a round overran */
	uint64_t samples;	/* threads stopped and unwound */
	uint64_t frames;	/* frames unwound, over all samples */
	uint64_t failed;	/* stops or unwinds that failed */
	uint64_t held_total_ns; /* interrupt to resume, summed */
	uint64_t held_max_ns;
	uint64_t held_hist[HELD_BUCKETS]; /* log2 buckets of microseconds */
	uint64_t round_max_ns;
	uint64_t duration_ns;
};

static pid_t tids[MAX_THREADS];
static int n_tids;
static struct stats st;
static unw_addr_space_t addr_space;
static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static bool seized(pid_t tid)
{
	for (int i = 0; i < n_tids; i++)
		if (tids[i] == tid)
			return true;
	return false;
}

/* Seizes every thread, rescanning until a pass finds no new one. */
static int seize_all(pid_t pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	for (bool found = true; found;) {
		found = false;
		DIR *d = opendir(path);
		if (!d)
			return -errno;
		struct dirent *e;
		while ((e = readdir(d)) && n_tids < MAX_THREADS) {
			pid_t tid = (pid_t)atoi(e->d_name);
			if (tid <= 0 || seized(tid))
				continue;
			if (ptrace(PTRACE_SEIZE, tid, 0, 0) < 0)
				continue; /* exited meanwhile */
			tids[n_tids++] = tid;
			found = true;
		}
		closedir(d);
	}
	return n_tids ? 0 : -ESRCH;
}

/* Waits for the interrupt's stop. A signal that arrives first is passed on,
 * and the wait goes on. Returns 0, or -1 when the thread is gone. */
static int wait_stop(pid_t tid)
{
	for (;;) {
		int status;
		if (waitpid(tid, &status, __WALL) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		int rc = stop_status(tid, status);
		if (rc <= 0)
			return rc;
	}
}

static unsigned unwind(pid_t tid)
{
	void *upt = _UPT_create(tid);
	unw_cursor_t cursor;
	unsigned n = 0;
	if (!upt)
		return 0;
	if (unw_init_remote(&cursor, addr_space, upt) == 0) {
		do {
			unw_word_t ip;
			if (unw_get_reg(&cursor, UNW_REG_IP, &ip) < 0 || ip == 0)
				break;
			n++;
		} while (n < MAX_FRAMES && unw_step(&cursor) > 0);
	}
	_UPT_destroy(upt);
	return n;
}

static void record_held(uint64_t ns)
{
	uint64_t us = ns / 1000;
	int b = 0;
	while (us && b < HELD_BUCKETS - 1) {
		us >>= 1;
		b++;
	}
	st.held_hist[b]++;
	st.held_total_ns += ns;
	if (ns > st.held_max_ns)
		st.held_max_ns = ns;
}

/* Interrupt, wait, unwind while stopped, resume. */
static void sample(pid_t tid)
{
	uint64_t t0 = now_ns();
	if (ptrace(PTRACE_INTERRUPT, tid, 0, 0) < 0 || wait_stop(tid) < 0) {
		st.failed++;
		return;
	}
	unsigned frames = unwind(tid);
	ptrace(PTRACE_CONT, tid, 0, 0);
	record_held(now_ns() - t0);
	st.samples++;
	st.frames += frames;
	if (!frames)
		st.failed++;
}

static void ns_to_ts(uint64_t ns, struct timespec *ts)
{
	ts->tv_sec = (time_t)(ns / 1000000000u);
	ts->tv_nsec = (long)(ns % 1000000000u);
}

static void run(uint64_t duration_ns, unsigned hz)
{
	uint64_t period = 1000000000u / hz, start = now_ns();
	uint64_t end = start + duration_ns, deadline = start;
	while (!stop_requested && deadline < end) {
		struct timespec ts;
		ns_to_ts(deadline, &ts);
		if (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
			continue;
		for (int i = 0; i < n_tids; i++)
			sample(tids[i]);
		uint64_t done = now_ns();
		st.rounds++;
		if (done - deadline > st.round_max_ns)
			st.round_max_ns = done - deadline;
		deadline += period;
		if (done <= deadline) {
			st.on_time++;
			continue;
		}
		/* Overran: the deadlines that passed are missed, not replayed. */
		uint64_t behind = (done - deadline) / period + 1;
		st.missed += behind;
		deadline += behind * period;
	}
	st.duration_ns = now_ns() - start;
}

static void detach_all(void)
{
	for (int i = 0; i < n_tids; i++) {
		if (ptrace(PTRACE_INTERRUPT, tids[i], 0, 0) < 0 || wait_stop(tids[i]) < 0)
			continue;
		ptrace(PTRACE_DETACH, tids[i], 0, 0);
	}
}

static void print_stats(void)
{
	printf("{\"threads\":%d,\"rounds\":%" PRIu64 ",\"on_time\":%" PRIu64
	       ",\"missed\":%" PRIu64 ",\"samples\":%" PRIu64 ",\"frames\":%" PRIu64
	       ",\"failed\":%" PRIu64 ",\"held_ns_total\":%" PRIu64
	       ",\"held_ns_max\":%" PRIu64 ",\"round_max_ns\":%" PRIu64
	       ",\"duration_ns\":%" PRIu64 ",\"held_us_histogram\":{",
	       n_tids, st.rounds, st.on_time, st.missed, st.samples, st.frames, st.failed,
	       st.held_total_ns, st.held_max_ns, st.round_max_ns, st.duration_ns);
	for (int b = 0; b < HELD_BUCKETS; b++) {
		if (b == 0)
			printf("\"<1\":%" PRIu64, st.held_hist[b]);
		else
			printf(",\"%u-%u\":%" PRIu64, 1u << (b - 1), 1u << b,
			       st.held_hist[b]);
	}
	printf("}}\n");
}

static void usage(void)
{
	fprintf(stderr, "usage: refsampler -p PID -d SECONDS -F HZ\n");
	exit(2);
}

int main(int argc, char **argv)
{
	pid_t pid = 0;
	double seconds = 0;
	long hz = 0;
	int c;
	while ((c = getopt(argc, argv, "p:d:F:")) != -1) {
		if (c == 'p')
			pid = (pid_t)atoi(optarg);
		else if (c == 'd')
			seconds = atof(optarg);
		else if (c == 'F')
			hz = atol(optarg);
		else
			usage();
	}
	if (pid <= 0 || seconds <= 0 || hz <= 0 || hz > 100000)
		usage();
	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);

	addr_space = unw_create_addr_space(&_UPT_accessors, 0);
	if (!addr_space) {
		fprintf(stderr, "refsampler: unw_create_addr_space failed\n");
		return 1;
	}
	unw_set_caching_policy(addr_space, UNW_CACHE_GLOBAL);
	int rc = seize_all(pid);
	if (rc < 0) {
		fprintf(stderr, "refsampler: cannot seize %d: %s\n", pid, strerror(-rc));
		return 1;
	}
	run((uint64_t)(seconds * 1e9), (unsigned)hz);
	detach_all();
	print_stats();
	unw_destroy_addr_space(addr_space);
	return 0;
}
