/* fgtrace — readers for /proc. */
#include "procfs.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PF_KTHREAD 0x00200000

static void proc_path(char *buf, size_t cap, pid_t pid, pid_t tid, const char *file)
{
	if (tid)
		snprintf(buf, cap, "/proc/%d/task/%d/%s", pid, tid, file);
	else
		snprintf(buf, cap, "/proc/%d/%s", pid, file);
}

/* Reads a whole small /proc file into buf (NUL-terminated). Returns its length
 * or -errno. */
static ssize_t read_file(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	size_t len = 0;
	while (len < cap - 1) {
		ssize_t n = read(fd, buf + len, cap - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			close(fd);
			return -e;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	return (ssize_t)len;
}

/* Parses an unsigned decimal field at *p (bounded by end), then skips one
 * space. */
static int field_u64(const char **p, const char *end, unsigned long long *v)
{
	const char *s = *p;
	bool neg = s < end && *s == '-';
	if (neg)
		s++;
	if (s >= end || !isdigit((unsigned char)*s))
		return -EINVAL;
	unsigned long long x = 0;
	while (s < end && isdigit((unsigned char)*s))
		x = x * 10 + (unsigned long long)(*s++ - '0');
	if (s < end && *s != ' ' && *s != '\n')
		return -EINVAL;
	if (s < end)
		s++;
	*v = neg ? (unsigned long long)-(long long)x : x;
	*p = s;
	return 0;
}

int fgt_procfs_parse_stat(const char *buf, size_t len, struct fgt_proc_stat *st)
{
	const char *end = buf + len;
	const char *open = memchr(buf, '(', len);
	const char *close = NULL;
	for (const char *p = end; p > buf; p--)
		if (p[-1] == ')') {
			close = p - 1;
			break;
		}
	if (!open || !close || close < open || close + 2 >= end || close[1] != ' ')
		return -EINVAL;
	memset(st, 0, sizeof(*st));
	unsigned long long v;
	const char *p = buf;
	if (field_u64(&p, open, &v) < 0)
		return -EINVAL;
	st->pid = (pid_t)v;
	size_t n = (size_t)(close - open - 1);
	if (n >= sizeof(st->comm))
		n = sizeof(st->comm) - 1;
	memcpy(st->comm, open + 1, n);
	st->comm[n] = '\0';
	p = close + 2;
	st->state = *p++;
	if (p >= end || *p++ != ' ')
		return -EINVAL;
	/* Fields 4..: ppid pgrp session tty_nr tpgid flags ... num_threads(20)
	 * itrealvalue(21) starttime(22). */
	unsigned long long f[19];
	for (int i = 0; i < 19; i++)
		if (field_u64(&p, end, &f[i]) < 0)
			return -EINVAL;
	st->ppid = (pid_t)f[0];
	st->pgrp = (pid_t)f[1];
	st->flags = (unsigned long)f[5];
	st->num_threads = (long)f[16];
	st->starttime = f[18];
	return 0;
}

int fgt_procfs_read_stat(pid_t pid, pid_t tid, struct fgt_proc_stat *st)
{
	char path[64], buf[1024];
	proc_path(path, sizeof(path), pid, tid, "stat");
	ssize_t n = read_file(path, buf, sizeof(buf));
	if (n < 0)
		return (int)n;
	return fgt_procfs_parse_stat(buf, (size_t)n, st);
}

bool fgt_procfs_is_kernel_thread(const struct fgt_proc_stat *st)
{
	return (st->flags & PF_KTHREAD) != 0;
}

/* Finds "Key:\t" at the start of a line; returns what follows, or NULL. */
static const char *status_field(const char *buf, size_t len, const char *key)
{
	size_t k = strlen(key);
	const char *end = buf + len;
	for (const char *line = buf; line < end;) {
		const char *nl = memchr(line, '\n', (size_t)(end - line));
		const char *stop = nl ? nl : end;
		if ((size_t)(stop - line) > k && memcmp(line, key, k) == 0 &&
		    line[k] == ':')
			return line + k + 1;
		line = nl ? nl + 1 : end;
	}
	return NULL;
}

/* Reads the integers of a status field's line into v[0..max); returns how
 * many. */
static int status_ints(const char *p, const char *end, long long *v, int max)
{
	int n = 0;
	while (p && p < end && *p != '\n' && n < max) {
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if (p >= end || !(isdigit((unsigned char)*p) || *p == '-'))
			break;
		char tmp[32];
		size_t k = 0;
		while (p < end && k < sizeof(tmp) - 1 &&
		       (isdigit((unsigned char)*p) || *p == '-'))
			tmp[k++] = *p++;
		tmp[k] = '\0';
		v[n++] = strtoll(tmp, NULL, 10);
	}
	return n;
}

int fgt_procfs_parse_status(const char *buf, size_t len, struct fgt_proc_status *st)
{
	const char *end = buf + len;
	long long v[8];
	memset(st, 0, sizeof(*st));
	if (status_ints(status_field(buf, len, "Tgid"), end, v, 1) != 1)
		return -EINVAL;
	st->tgid = (pid_t)v[0];
	if (status_ints(status_field(buf, len, "TracerPid"), end, v, 1) == 1)
		st->tracer_pid = (pid_t)v[0];
	if (status_ints(status_field(buf, len, "Uid"), end, v, 2) == 2) {
		st->ruid = (uid_t)v[0];
		st->euid = (uid_t)v[1];
	}
	int n = status_ints(status_field(buf, len, "NSpid"), end, v, 8);
	st->ns_pid = n > 0 ? (pid_t)v[n - 1] : st->tgid;
	return 0;
}

int fgt_procfs_read_status(pid_t pid, pid_t tid, struct fgt_proc_status *st)
{
	char path[64], buf[4096];
	proc_path(path, sizeof(path), pid, tid, "status");
	ssize_t n = read_file(path, buf, sizeof(buf));
	if (n < 0)
		return (int)n;
	return fgt_procfs_parse_status(buf, (size_t)n, st);
}

int fgt_procfs_parse_schedstat(const char *buf, size_t len, uint64_t *run_ns,
			       uint64_t *wait_ns, uint64_t *timeslices)
{
	const char *p = buf, *end = buf + len;
	unsigned long long a, b, c;
	if (field_u64(&p, end, &a) < 0 || field_u64(&p, end, &b) < 0 ||
	    field_u64(&p, end, &c) < 0)
		return -EINVAL;
	*run_ns = a;
	*wait_ns = b;
	*timeslices = c;
	return 0;
}

int fgt_procfs_open_schedstat(pid_t pid, pid_t tid)
{
	char path[64];
	proc_path(path, sizeof(path), pid, tid, "schedstat");
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int fgt_procfs_read_timeslices(int fd, uint64_t *timeslices)
{
	char buf[96];
	ssize_t n = pread(fd, buf, sizeof(buf), 0);
	if (n < 0)
		return -errno;
	uint64_t run, wait;
	return fgt_procfs_parse_schedstat(buf, (size_t)n, &run, &wait, timeslices);
}

int fgt_procfs_read_syscall(pid_t pid, pid_t tid, long *nr)
{
	char path[64], buf[256];
	proc_path(path, sizeof(path), pid, tid, "syscall");
	ssize_t n = read_file(path, buf, sizeof(buf));
	if (n < 0)
		return (int)n;
	if (strncmp(buf, "running", 7) == 0)
		return -EAGAIN;
	char *end;
	long v = strtol(buf, &end, 10);
	if (end == buf)
		return -EINVAL;
	*nr = v;
	return 0;
}

static int cmp_pid(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;
	return x < y ? -1 : x > y;
}

int fgt_procfs_list_tasks(pid_t pid, pid_t **tids, size_t *n)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	DIR *d = opendir(path);
	if (!d)
		return -errno;
	size_t len = 0, cap = 16;
	pid_t *v = malloc(cap * sizeof(*v));
	struct dirent *e;
	while (v && (e = readdir(d))) {
		char *end;
		long t = strtol(e->d_name, &end, 10);
		if (*end || t <= 0)
			continue;
		if (len == cap) {
			pid_t *nv = realloc(v, (cap *= 2) * sizeof(*v));
			if (!nv) {
				free(v);
				v = NULL;
				break;
			}
			v = nv;
		}
		v[len++] = (pid_t)t;
	}
	closedir(d);
	if (!v)
		return -ENOMEM;
	qsort(v, len, sizeof(*v), cmp_pid);
	*tids = v;
	*n = len;
	return 0;
}

int fgt_procfs_read_comm(pid_t pid, pid_t tid, char *buf, size_t cap)
{
	char path[64];
	proc_path(path, sizeof(path), pid, tid, "comm");
	ssize_t n = read_file(path, buf, cap);
	if (n < 0)
		return (int)n;
	if (n > 0 && buf[n - 1] == '\n')
		buf[n - 1] = '\0';
	return 0;
}

int fgt_procfs_read_cmdline(pid_t pid, char *buf, size_t cap)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
	ssize_t n = read_file(path, buf, cap);
	if (n < 0)
		return (int)n;
	while (n > 0 && buf[n - 1] == '\0')
		n--;
	for (ssize_t i = 0; i < n; i++)
		if (buf[i] == '\0')
			buf[i] = ' ';
	buf[n] = '\0';
	return 0;
}

int fgt_procfs_parse_maps_line(char *line, struct fgt_map *m)
{
	unsigned long long start, end, offset, inode;
	char perms[5];
	int path_at = -1;
	memset(m, 0, sizeof(*m));
	if (sscanf(line, "%llx-%llx %4s %llx %*x:%*x %llu %n", &start, &end, perms,
		   &offset, &inode, &path_at) < 5)
		return -EINVAL;
	if (start > end || strlen(perms) != 4)
		return -EINVAL;
	m->start = start;
	m->end = end;
	m->offset = offset;
	m->inode = inode;
	memcpy(m->perms, perms, sizeof(m->perms));
	m->path = path_at >= 0 ? line + path_at : "";
	return 0;
}

int fgt_procfs_fd_target(pid_t pid, int fd, char *buf, size_t cap)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, fd);
	ssize_t n = readlink(path, buf, cap - 1);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return 0;
}

/* Formats a /proc/net/tcp{,6} "HEXADDR:HEXPORT" as an address. The address
 * is stored as 32-bit words in host order. */
static int format_endpoint(const char *hex, size_t hexlen, const char *port, char *out,
			   size_t cap)
{
	unsigned char addr[16];
	if (hexlen != 8 && hexlen != 32)
		return -EINVAL;
	for (size_t w = 0; w < hexlen / 8; w++) {
		char word[9];
		memcpy(word, hex + 8 * w, 8);
		word[8] = '\0';
		char *end;
		unsigned long v = strtoul(word, &end, 16);
		if (*end)
			return -EINVAL;
		uint32_t u = (uint32_t)v;
		memcpy(addr + 4 * w, &u, 4);
	}
	char *end;
	unsigned long p = strtoul(port, &end, 16);
	if (end == port || p > 65535)
		return -EINVAL;
	char text[INET6_ADDRSTRLEN];
	if (hexlen == 8) {
		inet_ntop(AF_INET, addr, text, sizeof(text));
		snprintf(out, cap, "%s:%lu", text, p);
	} else {
		inet_ntop(AF_INET6, addr, text, sizeof(text));
		snprintf(out, cap, "[%s]:%lu", text, p);
	}
	return 0;
}

int fgt_procfs_parse_tcp_line(const char *line, unsigned long *inode, char *local,
			      size_t local_cap, char *remote, size_t remote_cap)
{
	char l[64], lp[8], r[64], rp[8];
	unsigned long ino;
	/* sl local rem st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode */
	if (sscanf(line,
		   " %*u: %33[0-9A-Fa-f]:%5[0-9A-Fa-f] %33[0-9A-Fa-f]:%5[0-9A-Fa-f] %*x "
		   "%*x:%*x "
		   "%*x:%*x %*x %*u %*u %lu",
		   l, lp, r, rp, &ino) != 5)
		return -EINVAL;
	if (format_endpoint(l, strlen(l), lp, local, local_cap) < 0 ||
	    format_endpoint(r, strlen(r), rp, remote, remote_cap) < 0)
		return -EINVAL;
	*inode = ino;
	return 0;
}

int fgt_procfs_socket_peer(pid_t pid, unsigned long inode, char *buf, size_t cap)
{
	static const char *const files[] = {"tcp", "tcp6"};
	for (size_t i = 0; i < 2; i++) {
		char path[64], line[512];
		snprintf(path, sizeof(path), "/proc/%d/net/%s", pid, files[i]);
		FILE *f = fopen(path, "re");
		if (!f)
			continue;
		while (fgets(line, sizeof(line), f)) {
			unsigned long ino;
			char local[64];
			if (fgt_procfs_parse_tcp_line(line, &ino, local, sizeof(local),
						      buf, cap) == 0 &&
			    ino == inode) {
				fclose(f);
				return 0;
			}
		}
		fclose(f);
	}
	return -ENOENT;
}
