/* fgtrace — readers for /proc.
 *
 * Pure parsers take a buffer (not necessarily NUL-terminated) so they can be
 * unit-tested and fuzzed; readers open the file and call them. Every function
 * returns 0 or -errno; a process or thread that is gone gives -ENOENT or
 * -ESRCH, which callers treat as a normal race. No function allocates except
 * fgt_procfs_list_tasks.
 */
#ifndef FGT_PROCFS_H
#define FGT_PROCFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct fgt_proc_stat {
	pid_t pid;
	char comm[64]; /* raw bytes between the first '(' and the last ')' */
	char state;    /* R, S, D, T, t, Z, X, I */
	pid_t ppid;
	pid_t pgrp;
	unsigned long flags; /* PF_* */
	long num_threads;
	unsigned long long starttime;
};

/* Parses /proc/PID/stat. The name may hold spaces, parentheses and any byte:
 * it runs to the LAST ')'. Returns 0 or -EINVAL. */
int fgt_procfs_parse_stat(const char *buf, size_t len, struct fgt_proc_stat *st);
/* Reads /proc/PID/stat (tid 0) or /proc/PID/task/TID/stat. */
int fgt_procfs_read_stat(pid_t pid, pid_t tid, struct fgt_proc_stat *st);
/* True for kernel threads (PF_KTHREAD). */
bool fgt_procfs_is_kernel_thread(const struct fgt_proc_stat *st);

struct fgt_proc_status {
	pid_t tgid;
	pid_t tracer_pid;
	uid_t ruid, euid;
	pid_t ns_pid; /* last NSpid value: the pid its own namespace sees */
};

/* Parses /proc/PID/status. Returns 0 or -EINVAL (no Tgid line). */
int fgt_procfs_parse_status(const char *buf, size_t len, struct fgt_proc_status *st);
/* Reads /proc/PID/status (tid 0) or /proc/PID/task/TID/status. */
int fgt_procfs_read_status(pid_t pid, pid_t tid, struct fgt_proc_status *st);

/* Parses the three fields of /proc/PID/task/TID/schedstat: time on CPU (ns),
 * time waiting to run (ns), and how many times the thread was scheduled in. */
int fgt_procfs_parse_schedstat(const char *buf, size_t len, uint64_t *run_ns,
			       uint64_t *wait_ns, uint64_t *timeslices);
/* Opens a thread's schedstat for repeated reads. Returns an fd or -errno. */
int fgt_procfs_open_schedstat(pid_t pid, pid_t tid);
/* One pread of an fd from fgt_procfs_open_schedstat: field 3. Called many
 * times a second on the sampling path: one syscall, no allocation. */
int fgt_procfs_read_timeslices(int fd, uint64_t *timeslices);

/* The syscall number a thread is blocked in, from /proc/PID/task/TID/syscall:
 * >= 0, or -1 when it is not in a syscall. -EAGAIN when the thread is running. */
int fgt_procfs_read_syscall(pid_t pid, pid_t tid, long *nr);

/* Thread ids of pid, ascending. *tids is malloc'd; the caller frees it. */
int fgt_procfs_list_tasks(pid_t pid, pid_t **tids, size_t *n);
/* /proc/PID/comm (tid 0) or /proc/PID/task/TID/comm without its newline. */
int fgt_procfs_read_comm(pid_t pid, pid_t tid, char *buf, size_t cap);
/* /proc/PID/cmdline with NUL separators as spaces, truncated to fit. */
int fgt_procfs_read_cmdline(pid_t pid, char *buf, size_t cap);

struct fgt_map {
	uint64_t start, end, offset, inode;
	char perms[5];
	const char *path; /* points into the parsed line; "" when none */
};

/* Parses one line of /proc/PID/maps (without its newline; paths may hold
 * spaces and end in " (deleted)"). Returns 0 or -EINVAL. */
int fgt_procfs_parse_maps_line(char *line, struct fgt_map *m);

/* The target of /proc/PID/fd/FD, NUL-terminated. */
int fgt_procfs_fd_target(pid_t pid, int fd, char *buf, size_t cap);

/* Parses a data line of /proc/net/tcp or tcp6: the socket inode and the
 * local and remote ends as "127.0.0.1:5000" or "[::1]:5000". -EINVAL for the
 * header and malformed lines. */
int fgt_procfs_parse_tcp_line(const char *line, unsigned long *inode, char *local,
			      size_t local_cap, char *remote, size_t remote_cap);
/* The remote end of TCP socket inode, from pid's network namespace. -ENOENT
 * when it is not a TCP socket there. */
int fgt_procfs_socket_peer(pid_t pid, unsigned long inode, char *buf, size_t cap);

#endif
