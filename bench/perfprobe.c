/* fgtrace bench — the kernel's own sampler: what it costs a busy thread to be
 * sampled by perf_event's CPU-clock timer, with no ptrace stop at all.
 *
 *   perfprobe -d SECONDS -F HZ [-s STACK_BYTES] TID...
 *
 * For each given thread it opens a software CPU-clock event with a period of
 * 1/HZ of the thread's CPU time, which samples the user-space instruction
 * pointer from the timer interrupt on the thread's own CPU, and reads the
 * samples from the event's ring buffer on its own thread. With -s it also
 * asks for the user registers and STACK_BYTES of the user stack, copied by
 * the kernel in that interrupt: what `perf record --call-graph dwarf` does.
 *
 * No design that samples a running thread can do less to it than a timer
 * interrupt that records one address, so the target's stall per sample under
 * this probe (without -s) is a floor for every sampler on the machine at
 * hand, the kernel's included. bench/ipiprobe measures a bare interrupt from
 * another CPU; bench/stopprobe a bare ptrace stop.
 *
 * Protocol: prints "ready" once every event is open; at the end (the
 * duration, or SIGTERM or SIGINT) closes them and prints one JSON line of
 * statistics. Exits 1 when the kernel refuses an event (perf_event_paranoid,
 * or no perf_event support). */
#include <errno.h>
#include <inttypes.h>
#include <linux/perf_event.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#if defined(__x86_64__)
#include <asm/perf_regs.h>
#endif

#include "probe.h"

#define MAX_TIDS   256
#define RING_PAGES 256 /* data pages per event: a power of two */

struct ring {
	int fd;
	struct perf_event_mmap_page *page;
	unsigned char *data;
	uint64_t size;
};

static volatile sig_atomic_t stop_requested;
static struct ring rings[MAX_TIDS];
static int n_tids;
static uint64_t samples, lost;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

/* Copies n bytes at ring offset off, which may wrap around the end. */
static void ring_copy(const struct ring *r, uint64_t off, void *dst, size_t n)
{
	size_t at = off & (r->size - 1), first = r->size - at;
	if (first > n)
		first = n;
	memcpy(dst, r->data + at, first);
	memcpy((unsigned char *)dst + first, r->data, n - first);
}

/* Counts the records written since the last call, and frees their space. */
static void drain(struct ring *r)
{
	uint64_t head = __atomic_load_n(&r->page->data_head, __ATOMIC_ACQUIRE);
	uint64_t tail = r->page->data_tail;
	while (tail < head) {
		struct perf_event_header h;
		ring_copy(r, tail, &h, sizeof h);
		if (h.size < sizeof h)
			break;
		if (h.type == PERF_RECORD_SAMPLE) {
			samples++;
		} else if (h.type == PERF_RECORD_LOST) {
			uint64_t rec[2]; /* id, lost */
			ring_copy(r, tail + sizeof h, rec, sizeof rec);
			lost += rec[1];
		}
		tail += h.size;
	}
	__atomic_store_n(&r->page->data_tail, head, __ATOMIC_RELEASE);
}

static int open_event(struct ring *r, pid_t tid, double hz, unsigned stack)
{
	struct perf_event_attr a = {
	    .size = sizeof a,
	    .type = PERF_TYPE_SOFTWARE,
	    .config = PERF_COUNT_SW_CPU_CLOCK,
	    .sample_period = (uint64_t)(1e9 / hz), /* ns of the thread's CPU time */
	    .sample_type = PERF_SAMPLE_IP | PERF_SAMPLE_TID,
	    .exclude_kernel = 1,
	    .exclude_hv = 1,
	    .watermark = 1,
	};
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
	r->size = RING_PAGES * page;
	a.wakeup_watermark = (uint32_t)(r->size / 2);
	if (stack) {
		a.sample_type |= PERF_SAMPLE_REGS_USER | PERF_SAMPLE_STACK_USER;
		a.sample_stack_user = stack;
#if defined(__x86_64__)
		a.sample_regs_user = 1ull << PERF_REG_X86_IP | 1ull << PERF_REG_X86_SP |
				     1ull << PERF_REG_X86_BP;
#endif
	}
	r->fd = (int)syscall(SYS_perf_event_open, &a, tid, -1, -1, PERF_FLAG_FD_CLOEXEC);
	if (r->fd < 0)
		return -1;
	void *m = mmap(NULL, (RING_PAGES + 1) * page, PROT_READ | PROT_WRITE, MAP_SHARED,
		       r->fd, 0);
	if (m == MAP_FAILED)
		return -1;
	r->page = m;
	r->data = (unsigned char *)m + page;
	return 0;
}

int main(int argc, char **argv)
{
	const char *usage = "perfprobe -d SECONDS -F HZ [-s STACK_BYTES] TID...";
	double secs = 0, hz = 0;
	unsigned stack = 0;
	int opt;
	while ((opt = getopt(argc, argv, "d:F:s:")) != -1) {
		if (opt == 'd') {
			secs = parse_num("perfprobe", "-d", optarg, 0.001, 86400);
		} else if (opt == 'F') {
			hz = parse_num("perfprobe", "-F", optarg, 1, 100000);
		} else if (opt == 's') {
			/* A multiple of 8 that fits the record's 16-bit size. */
			stack = (unsigned)parse_num("perfprobe", "-s", optarg, 8, 65528) &
				~7u;
		} else {
			fprintf(stderr, "usage: %s\n", usage);
			return 2;
		}
	}
	if (secs <= 0 || hz <= 0 || optind == argc || argc - optind > MAX_TIDS) {
		fprintf(stderr, "usage: %s\n", usage);
		return 2;
	}
	for (int i = optind; i < argc; i++) {
		pid_t tid = (pid_t)parse_num("perfprobe", "TID", argv[i], 1, 1 << 30);
		if (open_event(&rings[n_tids], tid, hz, stack) < 0) {
			fprintf(stderr, "perfprobe: cannot sample %d: %s\n", tid,
				strerror(errno));
			return 1;
		}
		n_tids++;
	}
	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	printf("ready\n");
	fflush(stdout);

	uint64_t start = now_ns(), end = start + (uint64_t)(secs * 1e9);
	struct pollfd pfd[MAX_TIDS];
	for (int i = 0; i < n_tids; i++)
		pfd[i] = (struct pollfd){.fd = rings[i].fd, .events = POLLIN};
	while (!stop_requested) {
		uint64_t now = now_ns();
		if (now >= end)
			break;
		uint64_t left_ms = (end - now) / 1000000 + 1;
		poll(pfd, (nfds_t)n_tids, left_ms < 100 ? (int)left_ms : 100);
		for (int i = 0; i < n_tids; i++)
			drain(&rings[i]);
	}
	uint64_t duration = now_ns() - start;
	for (int i = 0; i < n_tids; i++) {
		ioctl(rings[i].fd, PERF_EVENT_IOC_DISABLE, 0);
		drain(&rings[i]);
		close(rings[i].fd);
	}
	printf("{\"threads\":%d,\"rounds\":%" PRIu64 ",\"samples\":%" PRIu64
	       ",\"lost\":%" PRIu64 ",\"stack_bytes\":%u,\"duration_ns\":%" PRIu64 "}\n",
	       n_tids, samples / (uint64_t)n_tids, samples, lost, stack, duration);
	return 0;
}
