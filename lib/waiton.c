/* fgtrace — what a thread inside a syscall waits on. */
#include "waiton.h"
#include "json.h"
#include "procfs.h"
#include "state.h"

#include <inttypes.h>
#include <stdio.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

enum fgt_wait_kind fgt_waiton_kind(long nr)
{
	static const char *const fd_calls[] = {
	    "read",	   "write",	   "readv",	      "writev",
	    "pread64",	   "pwrite64",	   "preadv",	      "pwritev",
	    "preadv2",	   "pwritev2",	   "recvfrom",	      "sendto",
	    "recvmsg",	   "sendmsg",	   "recvmmsg",	      "sendmmsg",
	    "accept",	   "accept4",	   "connect",	      "fsync",
	    "fdatasync",   "ioctl",	   "flock",	      "epoll_wait",
	    "epoll_pwait", "epoll_pwait2", "sendfile",	      "splice",
	    "getdents64",  "fcntl",	   "sync_file_range", "fallocate",
	    "ftruncate",   "shutdown",
	};
	const char *name = fgt_syscall_name(nr);
	if (!name)
		return FGT_WAIT_NONE;
	if (strcmp(name, "futex") == 0 || strcmp(name, "futex_waitv") == 0)
		return FGT_WAIT_FUTEX;
	if (strcmp(name, "poll") == 0 || strcmp(name, "ppoll") == 0)
		return FGT_WAIT_POLL1;
	for (size_t i = 0; i < sizeof(fd_calls) / sizeof(fd_calls[0]); i++)
		if (strcmp(name, fd_calls[i]) == 0)
			return FGT_WAIT_FD;
	return FGT_WAIT_NONE;
}

static void describe_fd(pid_t pid, int fd, struct fgt_strbuf *out)
{
	char target[512];
	fgt_strbuf_printf(out, "\"fd\":%d", fd);
	if (fgt_procfs_fd_target(pid, fd, target, sizeof(target)) < 0)
		return;
	fgt_strbuf_puts(out, ",\"target\":");
	fgt_json_cstring(out, target);
	unsigned long inode;
	char peer[128];
	if (sscanf(target, "socket:[%lu]", &inode) == 1 &&
	    fgt_procfs_socket_peer(pid, inode, peer, sizeof(peer)) == 0) {
		fgt_strbuf_puts(out, ",\"peer\":");
		fgt_json_cstring(out, peer);
	}
}

void fgt_waiton_describe(pid_t pid, long nr, const struct user_regs_struct *regs,
			 struct fgt_strbuf *out)
{
	switch (fgt_waiton_kind(nr)) {
	case FGT_WAIT_FD:
		describe_fd(pid, (int)regs->rdi, out);
		break;
	case FGT_WAIT_FUTEX:
		fgt_strbuf_printf(out, "\"futex\":\"0x%" PRIx64 "\"",
				  (uint64_t)regs->rdi);
		break;
	case FGT_WAIT_POLL1: {
		/* One polled fd is cheap to name: read the pollfd from the target. */
		struct pollfd pfd;
		struct iovec l = {&pfd, sizeof(pfd)},
			     r = {(void *)regs->rdi, sizeof(pfd)};
		if (regs->rsi == 1 &&
		    process_vm_readv(pid, &l, 1, &r, 1, 0) == sizeof(pfd))
			describe_fd(pid, pfd.fd, out);
		break;
	}
	case FGT_WAIT_NONE:
		break;
	}
}
