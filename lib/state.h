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

#endif
