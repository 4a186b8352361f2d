/* fgtrace — thread state frames: running, sys_NAME, blocked, stopped. */
#ifndef FGT_STATE_H
#define FGT_STATE_H

#include <stdbool.h>
#include <stddef.h>

#define FGT_SYSCALL_RESTART 219 /* x86-64 restart_syscall */

/* The kernel's name of syscall nr ("read"), or NULL when unknown. */
const char *fgt_syscall_name(long nr);

/* Writes the state frame name for a thread stopped with syscall number nr
 * (orig_rax: -1 outside a syscall) into buf: "running", "sys_read",
 * "sys_123" for a number without a name, or "stopped". */
void fgt_state_name(long nr, bool jobstop, char *buf, size_t cap);

/* The state of a thread in uninterruptible sleep: "sys_NAME" when it is in
 * syscall nr, else "blocked" (a page fault, for one). */
void fgt_state_blocked_name(long nr, char *buf, size_t cap);

/* How a ptrace stop treats a thread asleep in syscall nr. */
enum fgt_stop_effect {
	FGT_STOP_RESTARTS, /* the kernel restarts the call: the stop is unseen */
	FGT_STOP_EINTR,	   /* the call fails with EINTR (epoll_wait, semop,
			    * sigtimedwait: signal(7), "stop signals"; and
			    * io_getevents, io_uring_enter) */
	FGT_STOP_SOCKET,   /* it does on a socket with a timeout (SO_RCVTIMEO,
			    * SO_SNDTIMEO), which /proc does not show: read,
			    * recv, accept, connect, write, send and the like.
			    * A call that fails so has done nothing, and making
			    * it again restarts the socket's timeout. */
};

/* How a stop treats a thread asleep in syscall nr (as fgt_syscall_name). */
enum fgt_stop_effect fgt_syscall_stop_effect(long nr);

/* Whether a thread asleep in syscall nr may be in uninterruptible sleep
 * (state D), which no stop reaches until it wakes: false for the calls that
 * only ever sleep interruptibly (futex, the sleeps, the waits for a child,
 * poll and select), true for any other, and for a number without a name. */
bool fgt_syscall_may_block(long nr);

/* Where syscall nr, once it fails with EINTR, keeps its timeout. */
enum fgt_timeout_arg {
	FGT_TIMEOUT_NONE,   /* it has none: restarting it changes nothing */
	FGT_TIMEOUT_MS,	    /* int milliseconds in argument 4; -1 waits forever */
	FGT_TIMEOUT_PTR,    /* a struct timespec pointer argument; NULL waits forever */
	FGT_TIMEOUT_URING,  /* io_uring_enter: a timeout only in the extended
			     * argument (argument 4 when flags has
			     * IORING_ENTER_EXT_ARG) */
	FGT_TIMEOUT_SOCKET, /* the socket's, in full again at each call */
};

/* The timeout of syscall nr and the index (0-based) of its argument (for
 * FGT_TIMEOUT_SOCKET: of its file descriptor). */
enum fgt_timeout_arg fgt_syscall_timeout(long nr, int *arg);

#endif
