/* fgtrace — what a thread inside a syscall waits on: the file descriptor and
 * what it is (a path, a pipe, a socket and its TCP peer), or a futex address.
 * Worker thread only; reads /proc, never ptrace.
 */
#ifndef FGT_WAITON_H
#define FGT_WAITON_H

#include <stddef.h>
#include <sys/types.h>
#include <sys/user.h>

#include "strbuf.h"

enum fgt_wait_kind {
	FGT_WAIT_NONE,	/* nothing cheap to say */
	FGT_WAIT_FD,	/* first argument is a file descriptor */
	FGT_WAIT_FUTEX, /* first argument is a futex address */
	FGT_WAIT_POLL1, /* poll/ppoll: the fd when exactly one is polled */
};

/* How syscall nr's arguments name what it waits on. */
enum fgt_wait_kind fgt_waiton_kind(long nr);

/* Appends JSON members (no braces; e.g. "fd":3,"target":"pipe:[123]") that
 * describe what a thread stopped in syscall nr with registers regs waits on,
 * reading the files and memory of its process through task pid (any of its
 * threads that is alive). Appends nothing when there is nothing to say. Target names are
 * hostile data and are escaped. */
void fgt_waiton_describe(pid_t pid, long nr, const struct user_regs_struct *regs,
			 struct fgt_strbuf *out);

#endif
