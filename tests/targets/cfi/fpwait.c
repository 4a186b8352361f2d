/* Threads that wait in epoll_wait under code built with frame pointers, as
 * some distributions build every package (the tests build this file with
 * -fno-omit-frame-pointer). Such a thread is sampled from /proc, without a
 * stop, which gives no rbp; each caller below finds its frame through rbp.
 *
 *   fp-libc  fp_outer_libc > fp_inner_libc > epoll_wait (the C library's)
 *   fp-wrap  fp_outer_wrap > fp_inner_wrap > fp_epoll_wait, a wrapper that
 *            keeps its own frame in rbp, as a C library built with frame
 *            pointers does
 *   fp-big   fp_outer_big > fp_inner_big > epoll_wait, where fp_inner_big
 *            has 6 KiB of locals that hold function pointers
 *
 * Each waits 2 ms at a time, so that it has run again at every sample.
 * Prints "ready" once all wait; exits 0 at EOF on stdin or on a line "q". */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>

#define WAIT_MS 2

static int ep;
static pthread_barrier_t started;

/* int fp_epoll_wait(int epfd, struct epoll_event *events, int max, int ms) */
int fp_epoll_wait(int epfd, struct epoll_event *events, int max, int ms);
__asm__(".text\n"
	".globl fp_epoll_wait\n"
	".type fp_epoll_wait, @function\n"
	"fp_epoll_wait:\n"
	".cfi_startproc\n"
	"push %rbp\n"
	".cfi_def_cfa_offset 16\n"
	".cfi_offset %rbp, -16\n"
	"mov %rsp, %rbp\n"
	".cfi_def_cfa_register %rbp\n"
	"sub $32, %rsp\n"
	"movslq %ecx, %r10\n"
	"mov $232, %eax\n" /* SYS_epoll_wait */
	"syscall\n"
	"leave\n"
	".cfi_def_cfa %rsp, 8\n"
	"ret\n"
	".cfi_endproc\n"
	".size fp_epoll_wait, .-fp_epoll_wait\n");

__attribute__((noinline)) static void fp_inner_libc(void)
{
	struct epoll_event ev;
	for (;;) {
		epoll_wait(ep, &ev, 1, WAIT_MS);
		__asm__ volatile("" ::: "memory");
	}
}

__attribute__((noinline)) static void fp_outer_libc(void)
{
	fp_inner_libc();
	__asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) static void fp_inner_wrap(void)
{
	struct epoll_event ev;
	for (;;) {
		fp_epoll_wait(ep, &ev, 1, WAIT_MS);
		__asm__ volatile("" ::: "memory");
	}
}

__attribute__((noinline)) static void fp_outer_wrap(void)
{
	fp_inner_wrap();
	__asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) static void fp_outer_big(void);

__attribute__((noinline)) static void fp_inner_big(void)
{
	/* Code addresses that no call precedes, between the sp and the
	 * frame's saved rbp. */
	void (*volatile locals[768])(void);
	for (size_t i = 0; i < sizeof(locals) / sizeof(locals[0]); i++)
		locals[i] = i % 2 ? fp_outer_big : fp_outer_libc;
	struct epoll_event ev;
	for (;;) {
		epoll_wait(ep, &ev, 1, WAIT_MS);
		__asm__ volatile("" ::: "memory");
	}
}

__attribute__((noinline)) static void fp_outer_big(void)
{
	fp_inner_big();
	__asm__ volatile("" ::: "memory");
}

static void *run(void *arg)
{
	static const char *const names[] = {"fp-libc", "fp-wrap", "fp-big"};
	static void (*const bodies[])(void) = {fp_outer_libc, fp_outer_wrap,
					       fp_outer_big};
	long k = (long)arg;
	pthread_setname_np(pthread_self(), names[k]);
	pthread_barrier_wait(&started);
	bodies[k]();
	return NULL;
}

int main(void)
{
	ep = epoll_create1(0);
	if (ep < 0)
		return 2;
	pthread_barrier_init(&started, NULL, 4);
	for (long k = 0; k < 3; k++) {
		pthread_t t;
		if (pthread_create(&t, NULL, run, (void *)k) != 0)
			return 2;
	}
	pthread_barrier_wait(&started);
	printf("ready\n");
	fflush(stdout);
	char line[64];
	while (fgets(line, sizeof(line), stdin))
		if (strcmp(line, "q\n") == 0)
			break;
	return 0;
}
