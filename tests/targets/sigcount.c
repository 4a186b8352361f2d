/* Signal delivery and syscall restarts, seen from inside the target.
 *
 * Handlers (SA_RESTART) count SIGRTMIN+1, SIGUSR1, SIGCHLD and SIGPIPE; they
 * run on the main thread only, which waits for commands in read(). The other
 * threads block every catchable signal and sit in blocking calls, counting
 * each EINTR they get: read() on a silent pipe, nanosleep, a raw FUTEX_WAIT,
 * epoll_wait (never restarted after a handler), io_getevents and
 * io_uring_enter waiting for a completion (both fail with EINTR whenever a
 * signal or trap is pending), recv and read on a socket with a receive
 * timeout (SO_RCVTIMEO: they fail with EINTR after a stop) and
 * pthread_cond_wait (counts wake-ups without a signal).
 *
 * Prints "ready PID" when in place. Commands, one a line on stdin:
 *   report   "report rt=N usr1=N ..." (every counter as key=value)
 *   fork N   forks N children one at a time, each exiting with K & 127;
 *            waits for each one's SIGCHLD (2 s at most), then reaps it;
 *            answers "forked N"
 *   pipe N   writes N times to a pipe whose reader is closed; answers
 *            "piped N"
 *   q        joins the threads and exits 0
 * The SIGUSR1 handler acknowledges each signal with "usr1 N" on stdout. */
#include <errno.h>
#include <linux/aio_abi.h>
#include <linux/futex.h>
#include <linux/io_uring.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static atomic_long n_rt, n_usr1, n_chld, n_pipe;
static atomic_long eintr_main, eintr_read, eintr_sleep, eintr_futex, eintr_epoll;
static atomic_long eintr_aio, eintr_uring, eintr_sock;
static atomic_long spurious_cond, epipe, reaped, lost, bad_status;
static atomic_long loops_sleep, loops_futex, loops_epoll, loops_aio, loops_uring;
static atomic_long loops_sock;
static atomic_int stop;
static atomic_int futex_word;
static int quiet_pipe[2];
static pthread_mutex_t cond_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int cond_go;

static void put(const char *s)
{
	size_t n = strlen(s);
	while (n) {
		ssize_t w = write(STDOUT_FILENO, s, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

/* snprintf is not async-signal-safe: the handler formats by hand. */
static void put_count(const char *word, long n)
{
	char buf[40], digits[24];
	size_t len = strlen(word), d = 0;
	memcpy(buf, word, len);
	do {
		digits[d++] = (char)('0' + n % 10);
		n /= 10;
	} while (n);
	while (d)
		buf[len++] = digits[--d];
	buf[len++] = '\n';
	buf[len] = '\0';
	put(buf);
}

static void on_signal(int sig)
{
	int saved = errno;
	if (sig == SIGRTMIN + 1) {
		atomic_fetch_add(&n_rt, 1);
	} else if (sig == SIGUSR1) {
		put_count("usr1 ", atomic_fetch_add(&n_usr1, 1) + 1);
	} else if (sig == SIGCHLD) {
		atomic_fetch_add(&n_chld, 1);
	} else if (sig == SIGPIPE) {
		atomic_fetch_add(&n_pipe, 1);
	}
	errno = saved;
}

static void install(int sig)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART | (sig == SIGCHLD ? SA_NOCLDSTOP : 0);
	sigemptyset(&sa.sa_mask);
	sigaction(sig, &sa, NULL);
}

__attribute__((noinline)) static void *blocked_read(void *arg)
{
	(void)arg;
	char c;
	for (;;) {
		ssize_t r = read(quiet_pipe[0], &c, 1);
		if (r < 0 && errno == EINTR)
			atomic_fetch_add(&eintr_read, 1);
		else if (r <= 0)
			return NULL;
	}
}

__attribute__((noinline)) static void *blocked_sleep(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop)) {
		struct timespec ts = {0, 50 * 1000000L};
		if (nanosleep(&ts, NULL) < 0 && errno == EINTR)
			atomic_fetch_add(&eintr_sleep, 1);
		atomic_fetch_add(&loops_sleep, 1);
	}
	return NULL;
}

__attribute__((noinline)) static void *blocked_futex(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop)) {
		struct timespec ts = {0, 50 * 1000000L};
		if (syscall(SYS_futex, &futex_word, FUTEX_WAIT_PRIVATE, 0, &ts, NULL, 0) <
			0 &&
		    errno == EINTR)
			atomic_fetch_add(&eintr_futex, 1);
		atomic_fetch_add(&loops_futex, 1);
	}
	return NULL;
}

__attribute__((noinline)) static void *blocked_epoll(void *arg)
{
	(void)arg;
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev;
	while (!atomic_load(&stop)) {
		if (epoll_wait(ep, &ev, 1, 50) < 0 && errno == EINTR)
			atomic_fetch_add(&eintr_epoll, 1);
		atomic_fetch_add(&loops_epoll, 1);
	}
	close(ep);
	return NULL;
}

/* io_getevents on a context with nothing submitted: each call times out. */
__attribute__((noinline)) static void *blocked_aio(void *arg)
{
	(void)arg;
	aio_context_t ctx = 0;
	if (syscall(SYS_io_setup, 1, &ctx) < 0)
		return NULL;
	while (!atomic_load(&stop)) {
		struct io_event ev;
		struct timespec ts = {0, 50 * 1000000L};
		if (syscall(SYS_io_getevents, ctx, 1, 1, &ev, &ts) < 0 && errno == EINTR)
			atomic_fetch_add(&eintr_aio, 1);
		atomic_fetch_add(&loops_aio, 1);
	}
	syscall(SYS_io_destroy, ctx);
	return NULL;
}

/* io_uring_enter waiting for one completion on an empty ring, with a timeout
 * in its extended argument: each call fails with ETIME. */
__attribute__((noinline)) static void *blocked_uring(void *arg)
{
	(void)arg;
	struct io_uring_params params;
	memset(&params, 0, sizeof(params));
	int ring = (int)syscall(SYS_io_uring_setup, 1, &params);
	if (ring < 0)
		return NULL;
	while (!atomic_load(&stop)) {
		struct __kernel_timespec ts = {0, 50 * 1000000L};
		struct io_uring_getevents_arg ext = {.ts = (unsigned long)&ts};
		if (syscall(SYS_io_uring_enter, ring, 0, 1,
			    IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG, &ext,
			    sizeof(ext)) < 0 &&
		    errno == EINTR)
			atomic_fetch_add(&eintr_uring, 1);
		atomic_fetch_add(&loops_uring, 1);
	}
	close(ring);
	return NULL;
}

/* recv and read, in turn, on a silent socket with a 50 ms receive timeout:
 * each call fails with EAGAIN. */
__attribute__((noinline)) static void *blocked_socket(void *arg)
{
	(void)arg;
	int sv[2];
	struct timeval tv = {0, 50 * 1000};
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0 ||
	    setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
		return NULL;
	for (long k = 0; !atomic_load(&stop); k++) {
		char c;
		ssize_t r = k % 2 ? recv(sv[0], &c, 1, 0) : read(sv[0], &c, 1);
		if (r < 0 && errno == EINTR)
			atomic_fetch_add(&eintr_sock, 1);
		atomic_fetch_add(&loops_sock, 1);
	}
	close(sv[0]);
	close(sv[1]);
	return NULL;
}

__attribute__((noinline)) static void *blocked_cond(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&cond_lock);
	while (!cond_go) {
		pthread_cond_wait(&cond, &cond_lock);
		if (!cond_go)
			atomic_fetch_add(&spurious_cond, 1);
	}
	pthread_mutex_unlock(&cond_lock);
	return NULL;
}

static void report(void)
{
	char buf[640];
	snprintf(buf, sizeof(buf),
		 "report rt=%ld usr1=%ld chld=%ld pipe=%ld epipe=%ld reaped=%ld lost=%ld "
		 "bad_status=%ld eintr_main=%ld eintr_read=%ld eintr_sleep=%ld "
		 "eintr_futex=%ld eintr_epoll=%ld eintr_aio=%ld eintr_uring=%ld "
		 "eintr_sock=%ld spurious_cond=%ld loops_sleep=%ld loops_futex=%ld "
		 "loops_epoll=%ld loops_aio=%ld loops_uring=%ld loops_sock=%ld\n",
		 atomic_load(&n_rt), atomic_load(&n_usr1), atomic_load(&n_chld),
		 atomic_load(&n_pipe), atomic_load(&epipe), atomic_load(&reaped),
		 atomic_load(&lost), atomic_load(&bad_status), atomic_load(&eintr_main),
		 atomic_load(&eintr_read), atomic_load(&eintr_sleep),
		 atomic_load(&eintr_futex), atomic_load(&eintr_epoll),
		 atomic_load(&eintr_aio), atomic_load(&eintr_uring),
		 atomic_load(&eintr_sock), atomic_load(&spurious_cond),
		 atomic_load(&loops_sleep), atomic_load(&loops_futex),
		 atomic_load(&loops_epoll), atomic_load(&loops_aio),
		 atomic_load(&loops_uring), atomic_load(&loops_sock));
	put(buf);
}

/* One child at a time, so that no two SIGCHLDs can merge into one. */
static void fork_children(long n)
{
	sigset_t chld, old;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	pthread_sigmask(SIG_BLOCK, &chld, &old);
	for (long k = 0; k < n; k++) {
		long before = atomic_load(&n_chld);
		pid_t pid = fork();
		if (pid == 0)
			_exit((int)(k & 127));
		if (pid < 0) {
			atomic_fetch_add(&lost, 1);
			continue;
		}
		struct timespec t0, now;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		while (atomic_load(&n_chld) == before) {
			struct timespec left = {0, 100 * 1000000L};
			ppoll(NULL, 0, &left, &old); /* the handler runs in here */
			clock_gettime(CLOCK_MONOTONIC, &now);
			if (now.tv_sec - t0.tv_sec >= 2) {
				atomic_fetch_add(&lost, 1);
				break;
			}
		}
		int status;
		if (waitpid(pid, &status, 0) == pid) {
			atomic_fetch_add(&reaped, 1);
			if (!WIFEXITED(status) || WEXITSTATUS(status) != (int)(k & 127))
				atomic_fetch_add(&bad_status, 1);
		}
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

static void write_broken_pipe(long n)
{
	int p[2];
	if (pipe(p) < 0)
		return;
	close(p[0]);
	for (long k = 0; k < n; k++)
		if (write(p[1], "x", 1) < 0 && errno == EPIPE)
			atomic_fetch_add(&epipe, 1);
	close(p[1]);
}

static void command(const char *line)
{
	char buf[64];
	long n = 0;
	if (strcmp(line, "report") == 0) {
		report();
	} else if (sscanf(line, "fork %ld", &n) == 1) {
		fork_children(n);
		snprintf(buf, sizeof(buf), "forked %ld\n", n);
		put(buf);
	} else if (sscanf(line, "pipe %ld", &n) == 1) {
		write_broken_pipe(n);
		snprintf(buf, sizeof(buf), "piped %ld\n", n);
		put(buf);
	}
}

/* Commands are read with read(2) itself, so that an EINTR is seen here
 * rather than hidden in stdio. */
static void serve(void)
{
	char line[256];
	size_t len = 0;
	for (;;) {
		ssize_t r = read(STDIN_FILENO, line + len, 1);
		if (r < 0 && errno == EINTR) {
			atomic_fetch_add(&eintr_main, 1);
			continue;
		}
		if (r <= 0)
			return;
		if (line[len] != '\n') {
			if (len < sizeof(line) - 2)
				len++;
			continue;
		}
		line[len] = '\0';
		len = 0;
		if (strcmp(line, "q") == 0)
			return;
		command(line);
	}
}

int main(void)
{
	static void *(*const bodies[])(void *) = {
	    blocked_read, blocked_sleep, blocked_futex,	 blocked_epoll,
	    blocked_aio,  blocked_uring, blocked_socket, blocked_cond};
	static const char *const names[] = {"blk-read",	 "blk-sleep", "blk-futex",
					    "blk-epoll", "blk-aio",   "blk-uring",
					    "blk-sock",	 "blk-cond"};
	enum { N = sizeof(bodies) / sizeof(bodies[0]) };
	pthread_t threads[N];
	sigset_t all, old;

	if (pipe(quiet_pipe) < 0)
		return 1;
	install(SIGRTMIN + 1);
	install(SIGUSR1);
	install(SIGCHLD);
	install(SIGPIPE);
	/* The helper threads inherit a mask that blocks everything. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	for (int i = 0; i < N; i++) {
		pthread_create(&threads[i], NULL, bodies[i], NULL);
		pthread_setname_np(threads[i], names[i]);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);

	char buf[32];
	snprintf(buf, sizeof(buf), "ready %d\n", (int)getpid());
	put(buf);
	serve();

	atomic_store(&stop, 1);
	close(quiet_pipe[1]);
	pthread_mutex_lock(&cond_lock);
	cond_go = 1;
	pthread_cond_signal(&cond);
	pthread_mutex_unlock(&cond_lock);
	for (int i = 0; i < N; i++)
		pthread_join(threads[i], NULL);
	return 0;
}
