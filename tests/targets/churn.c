/* Thread churn: creates and joins TOTAL short threads, BATCH at a time.
 *
 *   churn TOTAL [BATCH]     (BATCH defaults to 8)
 *
 * Prints "ready PID", then "n K" after every 500 threads joined, then
 * "done TOTAL" and exits 0. Exits 1 if a thread cannot be created. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

__attribute__((noinline)) static void *churn_short_life(void *arg)
{
	volatile unsigned long sink = (unsigned long)arg;
	for (int i = 0; i < 20000; i++)
		sink += (unsigned long)i;
	return NULL;
}

int main(int argc, char **argv)
{
	long total = argc > 1 ? atol(argv[1]) : 1000;
	long batch = argc > 2 ? atol(argv[2]) : 8;
	pthread_t t[64];
	if (batch < 1 || batch > 64)
		batch = 8;
	printf("ready %d\n", (int)getpid());
	fflush(stdout);
	for (long done = 0; done < total;) {
		long n = total - done < batch ? total - done : batch;
		for (long k = 0; k < n; k++) {
			if (pthread_create(&t[k], NULL, churn_short_life, (void *)k)) {
				fprintf(stderr, "churn: pthread_create failed at %ld\n",
					done + k);
				return 1;
			}
		}
		for (long k = 0; k < n; k++)
			pthread_join(t[k], NULL);
		long before = done;
		done += n;
		if (done / 500 != before / 500) {
			printf("n %ld\n", done);
			fflush(stdout);
		}
	}
	printf("done %ld\n", total);
	return 0;
}
