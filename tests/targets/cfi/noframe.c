/* Spins for argv[1] milliseconds in a leaf that holds rbp as a plain
 * register, three calls below main. The tests build it with its call frame
 * information in .debug_frame only (-fno-asynchronous-unwind-tables -g),
 * compressed (-gz), and without frame pointers: only the .debug_frame can
 * tell where each frame's return address is. Prints "ready" first. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static volatile unsigned long sink;

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* rbp is zero through the loop: a walk of the frame-pointer chain from here
 * ends at once, as if this were the outermost frame. */
__attribute__((noinline)) static unsigned long clobber_rbp(unsigned long n)
{
	unsigned long acc = n;
	__asm__ volatile("xor %%ebp, %%ebp\n\t"
			 "1: add %%rbp, %0\n\t"
			 "imul $40503, %0, %0\n\t"
			 "inc %%rbp\n\t"
			 "cmp $200000, %%rbp\n\t"
			 "jb 1b"
			 : "+r"(acc)
			 :
			 : "rbp", "cc");
	return acc;
}

__attribute__((noinline)) static unsigned long middle(unsigned long n)
{
	unsigned long r = clobber_rbp(n);
	__asm__ volatile("" ::: "memory"); /* not a tail call */
	return r + 1;
}

__attribute__((noinline)) static unsigned long outer(long ms)
{
	unsigned long acc = 0;
	for (long end = now_ms() + ms; now_ms() < end;)
		acc += middle(acc);
	return acc;
}

int main(int argc, char **argv)
{
	long ms = argc > 1 ? atol(argv[1]) : 0;
	printf("ready\n");
	fflush(stdout);
	sink = outer(ms);
	return 0;
}
