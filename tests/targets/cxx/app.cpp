// A C++ program for the symbol tests, built by tests/e2e/test_symbols.py in
// several variants (unstripped, stripped with separate debug information).
// Its time goes to an always-inline helper inlined into a method of a class
// template in a namespace, so that the trace must show the demangled method,
// the helper as an inline frame under it, and the source file.
//
// Usage: app MS   spin for MS milliseconds, then exit 0;
//        app      spin until a line "q" or EOF on stdin, then exit 0.
// Prints "ready" once it spins.
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

namespace app
{

static volatile uint64_t sink;
static volatile bool stop_requested;

static uint64_t now_ms()
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

// Not static: it keeps a linkage name, so each --demangle style shows.
inline __attribute__((always_inline)) void mix_step(uint64_t i)
{
	for (int k = 0; k < 20000; k++)
		sink += (i * 2654435761u) ^ (uint64_t)k;
}

template <typename T> class Worker
{
      public:
	explicit Worker(T seed) : seed_(seed)
	{
	}
	__attribute__((noinline)) uint64_t run(uint64_t until_ms);

      private:
	T seed_;
};

template <typename T> uint64_t Worker<T>::run(uint64_t until_ms)
{
	uint64_t i = (uint64_t)seed_;
	while (!stop_requested && (until_ms == 0 || now_ms() < until_ms))
		mix_step(i++);
	return i;
}

template class Worker<int>;

static void *watch_stdin(void *)
{
	char line[64];
	while (fgets(line, sizeof(line), stdin))
		if (strcmp(line, "q\n") == 0)
			break;
	stop_requested = true;
	return nullptr;
}

} // namespace app

int main(int argc, char **argv)
{
	long ms = argc > 1 ? atol(argv[1]) : 0;
	if (ms == 0) {
		pthread_t t;
		pthread_create(&t, nullptr, app::watch_stdin, nullptr);
	}
	printf("ready\n");
	fflush(stdout);
	app::Worker<int> w(7);
	uint64_t until = ms ? app::now_ms() + (uint64_t)ms : 0;
	return w.run(until) == 0 ? 1 : 0;
}
