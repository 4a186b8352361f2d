/* fgtrace — thread state frames. The syscall table is generated at build time
 * from the kernel headers (scripts/gen-syscalls.sh). */
#include "state.h"
#include "syscalls.h"

#include <stdio.h>

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
