/* fgtrace — thread state frames. The syscall table is generated at build time
 * from the kernel headers (scripts/gen-syscalls.sh). */
#include "state.h"
#include "syscalls.h"

#include <stdio.h>
#include <string.h>

const char *fgt_syscall_name(long nr)
{
	long n = (long)(sizeof(fgt_syscall_names) / sizeof(fgt_syscall_names[0]));
	return nr >= 0 && nr < n ? fgt_syscall_names[nr] : NULL;
}

void fgt_state_name(long nr, bool jobstop, char *buf, size_t cap)
{
	if (jobstop) {
		snprintf(buf, cap, "stopped");
		return;
	}
	if (nr < 0) {
		snprintf(buf, cap, "running");
		return;
	}
	const char *name = fgt_syscall_name(nr);
	if (name)
		snprintf(buf, cap, "sys_%s", name);
	else
		snprintf(buf, cap, "sys_%ld", nr);
}

void fgt_state_blocked_name(long nr, char *buf, size_t cap)
{
	if (nr < 0)
		snprintf(buf, cap, "blocked");
	else
		fgt_state_name(nr, false, buf, cap);
}

/* The calls that fail with EINTR after a stop even with no handler, with their
 * timeout argument: those that signal(7) lists, and the asynchronous I/O waits
 * (io_getevents, io_pgetevents, and io_uring_enter waiting for completions),
 * which return EINTR whenever a signal or trap is pending. */
static const struct {
	const char *name;
	enum fgt_timeout_arg timeout;
	int arg;
} eintr_calls[] = {
    {"epoll_wait", FGT_TIMEOUT_MS, 3},	      {"epoll_pwait", FGT_TIMEOUT_MS, 3},
    {"epoll_pwait2", FGT_TIMEOUT_PTR, 3},     {"semop", FGT_TIMEOUT_NONE, 0},
    {"semtimedop", FGT_TIMEOUT_PTR, 3},	      {"rt_sigtimedwait", FGT_TIMEOUT_PTR, 2},
    {"io_getevents", FGT_TIMEOUT_PTR, 4},     {"io_pgetevents", FGT_TIMEOUT_PTR, 4},
    {"io_uring_enter", FGT_TIMEOUT_URING, 4},
};

/* The calls that fail with EINTR after a stop only on a socket with a
 * timeout (signal(7)); argument 0 is the file descriptor. read and write, on
 * a socket, fail so too. */
static const char *const socket_calls[] = {
    "read",    "readv", "recvfrom", "recvmsg", "recvmmsg", "accept",   "accept4",
    "connect", "write", "writev",   "sendto",  "sendmsg",  "sendmmsg",
};

/* The calls that sleep interruptibly only: a thread asleep in one is never
 * in state D. restart_syscall resumes a sleep of these (nanosleep, poll, a
 * futex wait with a timeout). */
static const char *const interruptible_calls[] = {
    "futex", "nanosleep", "clock_nanosleep", "wait4", "waitid",	       "poll",
    "ppoll", "select",	  "pselect6",	     "pause", "rt_sigsuspend", "restart_syscall",
};

static bool named_in(long nr, const char *const *names, size_t n)
{
	const char *name = fgt_syscall_name(nr);
	if (!name)
		return false;
	for (size_t i = 0; i < n; i++)
		if (strcmp(name, names[i]) == 0)
			return true;
	return false;
}

static bool socket_call(long nr)
{
	return named_in(nr, socket_calls, sizeof(socket_calls) / sizeof(socket_calls[0]));
}

bool fgt_syscall_may_block(long nr)
{
	return !named_in(nr, interruptible_calls,
			 sizeof(interruptible_calls) / sizeof(interruptible_calls[0]));
}

static int eintr_call(long nr)
{
	const char *name = fgt_syscall_name(nr);
	if (!name)
		return -1;
	for (size_t i = 0; i < sizeof(eintr_calls) / sizeof(eintr_calls[0]); i++)
		if (strcmp(name, eintr_calls[i].name) == 0)
			return (int)i;
	return -1;
}

enum fgt_stop_effect fgt_syscall_stop_effect(long nr)
{
	if (eintr_call(nr) >= 0)
		return FGT_STOP_EINTR;
	return socket_call(nr) ? FGT_STOP_SOCKET : FGT_STOP_RESTARTS;
}

enum fgt_timeout_arg fgt_syscall_timeout(long nr, int *arg)
{
	int i = eintr_call(nr);
	if (i < 0 && socket_call(nr)) {
		*arg = 0;
		return FGT_TIMEOUT_SOCKET;
	}
	if (i < 0) {
		*arg = -1; /* unknown: assume a timeout that cannot be found */
		return FGT_TIMEOUT_PTR;
	}
	*arg = eintr_calls[i].arg;
	return eintr_calls[i].timeout;
}
