/* fgtrace — the system call a stop interrupts. A restartable one is made
 * again by the kernel on resume; one the kernel fails with EINTR instead
 * (epoll_wait and a few others) is made again by us, unless that could
 * stretch its timeout, and a signal handler that would have seen the EINTR
 * still does.
 */
#include "tracee_impl.h"

#include "state.h"

#include <errno.h>
#include <linux/io_uring.h>
#include <signal.h>
#include <sys/syscall.h>

/* io_uring_enter flags under which argument 4 may carry a timeout:
 * IORING_ENTER_EXT_ARG, and IORING_ENTER_EXT_ARG_REG (Linux 6.13), which
 * older headers lack. */
#define URING_ENTER_EXT_ARG (IORING_ENTER_EXT_ARG | (1u << 6))

/* True when the stop interrupted a thread asleep in a syscall that the kernel
 * restarts on resume (rax holds -ERESTART*): the resume puts it straight back
 * to sleep. Only such a stop adds exactly 2 to a thread that then stays
 * asleep. A thread stopped in user code runs on after the resume. */
bool tracee_interrupted_blocking_call(const struct user_regs_struct *r)
{
	long rax = (long)r->rax;
	return (long)r->orig_rax >= 0 &&
	       (rax == -512 || rax == -513 || rax == -514 || rax == -516);
}

/* The call a thread stopped in a restartable one is back in after the resume,
 * as /proc/PID/task/TID/syscall will show it: the same call, or
 * restart_syscall for one the kernel resumes from where it stopped
 * (-ERESTART_RESTARTBLOCK), made from the same pc and sp with the same
 * argument registers. */
void tracee_call_to_restart(const struct user_regs_struct *r, struct fgt_proc_syscall *c)
{
	c->running = false;
	c->nr = (long)r->rax == -516 ? SYS_restart_syscall : (long)r->orig_rax;
	c->args[0] = r->rdi;
	c->args[1] = r->rsi;
	c->args[2] = r->rdx;
	c->args[3] = r->r10;
	c->args[4] = r->r8;
	c->args[5] = r->r9;
	c->sp = r->rsp;
	c->pc = r->rip;
}

/* x86-64 syscall argument i (0-based) in r. */
static unsigned long long *syscall_arg(struct user_regs_struct *r, int i)
{
	switch (i) {
	case 0:
		return &r->rdi;
	case 1:
		return &r->rsi;
	case 2:
		return &r->rdx;
	case 3:
		return &r->r10;
	case 4:
		return &r->r8;
	default:
		return &r->r9;
	}
}

/* True when making the call in r again, as it was, cannot stretch its wait
 * by more than a sampling period. A call begun after we looked at the thread
 * has waited only since then; one without a timeout cannot be stretched; an
 * epoll_wait timeout in milliseconds is cut by the time the thread has been
 * seen asleep. */
static bool can_remake(const struct thread *th, struct user_regs_struct *r)
{
	long nr = (long)r->orig_rax;
	int arg = -1;
	if (!th->asleep_in_call)
		return true;
	switch (fgt_syscall_timeout(nr, &arg)) {
	case FGT_TIMEOUT_NONE:
		return true;
	case FGT_TIMEOUT_PTR:
		return arg >= 0 && *syscall_arg(r, arg) == 0;
	case FGT_TIMEOUT_URING:
		/* Without the extended argument, argument 4 is a signal mask. */
		return !(*syscall_arg(r, 3) & URING_ENTER_EXT_ARG) ||
		       *syscall_arg(r, arg) == 0;
	case FGT_TIMEOUT_SOCKET:
		/* Its timeout starts again in full: only for a call begun since
		 * the previous decision, about a sampling period ago. */
		return th->ran;
	case FGT_TIMEOUT_MS: {
		int ms = (int)*syscall_arg(r, arg);
		if (ms < 0)
			return true;
		if (!th->asleep_seen_ns)
			return false;
		uint64_t gone = (now_ns() - th->asleep_seen_ns) / 1000000u;
		*syscall_arg(r, arg) =
		    (unsigned)(gone < (uint64_t)ms ? ms - (int)gone : 0);
		return true;
	}
	}
	return false;
}

/* How the call that r shows returning EINTR takes a stop (state.h), or
 * FGT_STOP_RESTARTS when r shows no call failed with EINTR. Only the calls
 * known to fail so after a stop count: another call's EINTR has another
 * cause, and making it again could repeat its effects (close()). */
static enum fgt_stop_effect failed_by_stop(const struct user_regs_struct *r)
{
	if ((long)r->orig_rax < 0 || (long)r->rax != -EINTR)
		return FGT_STOP_RESTARTS;
	return fgt_syscall_stop_effect((long)r->orig_rax);
}

/* A stop of ours made the thread's syscall fail with EINTR, which the kernel
 * does to epoll_wait and a few others instead of restarting them. Undo it as
 * the kernel undoes a restartable call: back to the syscall instruction (2
 * bytes) with the call's number, when can_remake allows. A signal that then
 * reaches a handler gets its EINTR back (see tracee_undo_remake). */
void tracee_remake_call(struct fgt_tracee *t, struct thread *th,
			const struct user_regs_struct *at_stop)
{
	th->rewound = false;
	enum fgt_stop_effect effect = failed_by_stop(at_stop);
	if (effect == FGT_STOP_RESTARTS)
		return;
	if (effect == FGT_STOP_SOCKET)
		th->timeo_fd = (long)at_stop->rdi; /* its socket has a timeout */
	struct user_regs_struct r = *at_stop;
	if (!can_remake(th, &r)) {
		t->stats.eintr++;
		return;
	}
	r.rax = r.orig_rax;
	r.rip -= 2;
	if (ptrace(PTRACE_SETREGS, th->tid, 0, &r) < 0)
		return;
	th->rewound = true;
	th->rewound_rip = r.rip;
	t->stats.restarted++;
}

/* A signal arrives for a thread whose failed call we made again, before it
 * ran it. A handler would have seen that EINTR without us: give it back. */
void tracee_undo_remake(struct fgt_tracee *t, struct thread *th, int sig)
{
	struct user_regs_struct r;
	struct fgt_proc_status st;
	if (!th->rewound)
		return;
	th->rewound = false;
	if (sig < 1 || sig > 64 || fgt_procfs_read_status(t->pid, th->tid, &st) < 0 ||
	    !(st.sig_caught & (1ull << (sig - 1))))
		return;
	if (ptrace(PTRACE_GETREGS, th->tid, 0, &r) < 0 || r.rip != th->rewound_rip ||
	    r.rax != r.orig_rax)
		return;
	r.rax = (unsigned long)-EINTR;
	r.rip += 2;
	if (ptrace(PTRACE_SETREGS, th->tid, 0, &r) == 0)
		t->stats.restarted--;
}

/* Whether the kernel drops sig when the thread is resumed with it: the
 * process ignores it, with SIG_IGN, or with SIG_DFL where the default is to
 * ignore (SIGCHLD, SIGURG, SIGWINCH). SIGCONT is left out: it mostly ends a
 * job-control stop, and the stop fails these calls untraced too. */
static bool will_ignore(const struct fgt_tracee *t, const struct thread *th, int sig)
{
	struct fgt_proc_status st;
	if (sig < 1 || sig > 64 || sig == SIGCONT ||
	    fgt_procfs_read_status(t->pid, th->tid, &st) < 0)
		return false;
	uint64_t bit = 1ull << (sig - 1);
	bool by_default = sig == SIGCHLD || sig == SIGURG || sig == SIGWINCH;
	return (st.sig_ignored & bit) || (by_default && !(st.sig_caught & bit));
}

void tracee_remake_for_ignored(struct fgt_tracee *t, struct thread *th, int sig,
			       const struct user_regs_struct *at_stop)
{
	struct user_regs_struct r;
	if (!at_stop) {
		if (ptrace(PTRACE_GETREGS, th->tid, 0, &r) < 0)
			return;
		at_stop = &r;
	}
	if (failed_by_stop(at_stop) != FGT_STOP_RESTARTS && will_ignore(t, th, sig))
		tracee_remake_call(t, th, at_stop);
}
