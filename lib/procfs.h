/* fgtrace — readers for /proc.
 *
 * Pure parsers take a buffer and its length (not necessarily NUL-terminated)
 * and never read past it, so they can be unit-tested and fuzzed; readers open
 * the file and call them. Every function returns 0 or a negative errno. A
 * process or thread that is gone gives -ENOENT or -ESRCH, which callers treat
 * as a normal race, not as a failure. Nothing here allocates except
 * fgt_procfs_list_tasks (and the stdio buffer of fgt_procfs_socket_peer).
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
	char state;    /* R, S, D, T, t, Z, X, I, ... */
	pid_t ppid;
	pid_t pgrp;
	unsigned long flags; /* PF_* */
	long num_threads;
	unsigned long long starttime; /* clock ticks after boot */
};

/* Parses the contents of /proc/PID/stat. The name may hold spaces, '(' , ')'
 * and any other byte, so it runs from the first '(' to the LAST ')'; it is
 * copied raw and cut to 63 bytes. Returns 0, or -EINVAL when buf is not a
 * stat line with at least 22 fields. */
int fgt_procfs_parse_stat(const char *buf, size_t len, struct fgt_proc_stat *st);

/* Reads /proc/PID/stat (tid 0) or /proc/PID/task/TID/stat. Returns 0,
 * -ENOENT/-ESRCH when it is gone, another -errno, or -EINVAL. */
int fgt_procfs_read_stat(pid_t pid, pid_t tid, struct fgt_proc_stat *st);

/* True for kernel threads (PF_KTHREAD in flags). */
bool fgt_procfs_is_kernel_thread(const struct fgt_proc_stat *st);

struct fgt_proc_status {
	pid_t tgid;
	pid_t tracer_pid; /* 0 when not traced */
	uid_t ruid, euid;
	pid_t ns_pid;	     /* last NSpid value: the pid as its own namespace sees it */
	uint64_t sig_caught; /* SigCgt: bit N-1 set when signal N has a handler */
	uint64_t sig_ignored; /* SigIgn: ... when signal N is set to SIG_IGN */
};

/* Parses the contents of /proc/PID/status. Missing TracerPid and Uid lines
 * leave 0; a missing NSpid line gives the Pid line's value (or tgid).
 * Returns 0, or -EINVAL when there is no Tgid line or a line it reads is not
 * made of numbers. */
int fgt_procfs_parse_status(const char *buf, size_t len, struct fgt_proc_status *st);

/* Reads /proc/PID/status (tid 0) or /proc/PID/task/TID/status. Returns 0 or
 * -errno as fgt_procfs_read_stat. */
int fgt_procfs_read_status(pid_t pid, pid_t tid, struct fgt_proc_status *st);

/* Parses the three fields of /proc/PID/task/TID/schedstat: time on CPU (ns),
 * time waiting to run (ns), and how many times the thread was scheduled in.
 * Returns 0 or -EINVAL. */
int fgt_procfs_parse_schedstat(const char *buf, size_t len, uint64_t *run_ns,
			       uint64_t *wait_ns, uint64_t *timeslices);

/* Opens /proc/PID/task/TID/schedstat (tid 0: /proc/PID/schedstat) for
 * repeated reads. Returns an O_RDONLY|O_CLOEXEC fd, which the caller closes,
 * or -errno. */
int fgt_procfs_open_schedstat(pid_t pid, pid_t tid);

/* Field 3 of a schedstat fd from fgt_procfs_open_schedstat. Called many times
 * a second on the sampling path: one pread, no allocation. Returns 0, -errno
 * (-ESRCH once the thread is gone), or -EINVAL. */
int fgt_procfs_read_timeslices(int fd, uint64_t *timeslices);

/* What /proc/PID/task/TID/syscall says about a thread that is off a CPU. */
struct fgt_proc_syscall {
	bool running;	  /* on a CPU or runnable: nothing else below is set */
	long nr;	  /* the syscall it is blocked in, or -1 outside one */
	uint64_t args[6]; /* its arguments, when nr >= 0 */
	uint64_t sp, pc;  /* its user stack pointer and pc */
};

/* Parses the contents of a syscall file: "running", "NR 0xSP 0xPC" (nr -1) or
 * "NR 0xA1 ... 0xA6 0xSP 0xPC". Returns 0 or -EINVAL. */
int fgt_procfs_parse_syscall(const char *buf, size_t len, struct fgt_proc_syscall *sc);

/* Opens /proc/PID/task/TID/syscall for fgt_procfs_pread_syscall. Returns the
 * fd (the caller closes it) or -errno. */
int fgt_procfs_open_syscall(pid_t pid, pid_t tid);

/* One pread of an fd from fgt_procfs_open_syscall, no allocation. Returns 0,
 * -EINVAL, or -errno (-ESRCH once the thread is gone). */
int fgt_procfs_pread_syscall(int fd, struct fgt_proc_syscall *sc);

/* Thread ids of pid from /proc/PID/task, ascending. On success *tids is
 * malloc'd and the caller frees it. Returns 0, -ENOENT/-ESRCH when the
 * process is gone (or has no threads left), -ENOMEM, or -errno. */
int fgt_procfs_list_tasks(pid_t pid, pid_t **tids, size_t *n);

/* /proc/PID/task/TID/comm (tid 0: /proc/PID/comm) into buf (cap bytes, NUL-
 * terminated, cut to fit), raw bytes without the trailing newline. Returns 0,
 * -EINVAL when cap is 0, or -errno. */
int fgt_procfs_read_comm(pid_t pid, pid_t tid, char *buf, size_t cap);

/* /proc/PID/cmdline into buf (cap bytes, NUL-terminated, cut to fit), with
 * its NUL separators as spaces and trailing ones dropped. Empty for kernel
 * threads and zombies. Returns 0, -EINVAL when cap is 0, or -errno. */
int fgt_procfs_read_cmdline(pid_t pid, char *buf, size_t cap);

struct fgt_map {
	uint64_t start, end, offset, inode;
	char perms[5];	  /* "r-xp" */
	const char *path; /* points into the parsed line; "" when none */
};

/* Parses one line of /proc/PID/maps. A trailing newline, if any, is cut (line
 * is modified only there). The path is kept as written: it may hold spaces
 * and end in " (deleted)". Returns 0 or -EINVAL. */
int fgt_procfs_parse_maps_line(char *line, struct fgt_map *m);

/* The target of the symlink /proc/PID/fd/FD ("socket:[123]", a path, ...)
 * into buf (cap bytes, NUL-terminated, cut to fit). Returns 0, -EINVAL when
 * cap is 0, or -errno. */
int fgt_procfs_fd_target(pid_t pid, int fd, char *buf, size_t cap);

/* Parses one data line (NUL-terminated) of /proc/net/tcp or tcp6: the socket
 * inode, and the local and remote ends as "127.0.0.1:5000" or "[::1]:5000".
 * Returns 0, -EINVAL for the header and malformed lines, or -ERANGE when an
 * address does not fit its buffer. */
int fgt_procfs_parse_tcp_line(const char *line, unsigned long *inode, char *local,
			      size_t local_cap, char *remote, size_t remote_cap);

/* The remote end ("addr:port") of the TCP socket with this inode, looked up
 * in /proc/PID/net/tcp and tcp6 (pid's network namespace). Returns 0,
 * -ENOENT when it is not a TCP socket there (or pid is gone), -ERANGE when
 * the address does not fit buf, or -errno. */
int fgt_procfs_socket_peer(pid_t pid, unsigned long inode, char *buf, size_t cap);

#endif
