/* fgtrace — readers for /proc. */
#include "procfs.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PF_KTHREAD 0x00200000

/* ---- bounded scanning ----------------------------------------------------- */

/* The parsers never use strtol and friends: those need a NUL terminator, skip
 * spaces, take signs and depend on the locale. */
static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int hex_value(char c)
{
	if (is_digit(c))
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool skip_char(const char **p, const char *end, char c)
{
	if (*p >= end || **p != c)
		return false;
	(*p)++;
	return true;
}

/* Decimal digits at *p, with a leading '-' when allow_minus (a negative value
 * comes back in two's complement). -EINVAL when there are no digits or the
 * value overflows. */
static int parse_dec(const char **p, const char *end, bool allow_minus,
		     unsigned long long *v)
{
	const char *s = *p;
	bool minus = allow_minus && skip_char(&s, end, '-');
	if (s >= end || !is_digit(*s))
		return -EINVAL;
	unsigned long long x = 0;
	for (; s < end && is_digit(*s); s++) {
		unsigned d = (unsigned)(*s - '0');
		if (x > (ULLONG_MAX - d) / 10)
			return -EINVAL;
		x = x * 10 + d;
	}
	*v = minus ? 0 - x : x;
	*p = s;
	return 0;
}

/* Hex digits at *p, at most 16. */
static int parse_hex(const char **p, const char *end, unsigned long long *v)
{
	const char *s = *p;
	unsigned long long x = 0;
	int n = 0;
	for (; s < end && hex_value(*s) >= 0; s++, n++) {
		if (n == 16)
			return -EINVAL;
		x = x << 4 | (unsigned)hex_value(*s);
	}
	if (n == 0)
		return -EINVAL;
	*v = x;
	*p = s;
	return 0;
}

/* n decimal fields separated by single spaces, as the kernel writes them; the
 * last one ends at end, a space or a newline. */
static int parse_fields(const char **p, const char *end, bool allow_minus,
			unsigned long long *f, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && !skip_char(p, end, ' '))
			return -EINVAL;
		if (parse_dec(p, end, allow_minus, &f[i]) < 0)
			return -EINVAL;
	}
	if (*p < end && **p != ' ' && **p != '\n')
		return -EINVAL;
	return 0;
}

static bool fits_pid(unsigned long long v)
{
	return v <= INT_MAX;
}

/* ---- files ---------------------------------------------------------------- */

static void proc_path(char *buf, size_t cap, pid_t pid, pid_t tid, const char *file)
{
	if (tid)
		snprintf(buf, cap, "/proc/%d/task/%d/%s", pid, tid, file);
	else
		snprintf(buf, cap, "/proc/%d/%s", pid, file);
}

/* Reads up to cap - 1 bytes of a /proc file into buf and NUL-terminates them.
 * Returns the length or -errno; cap must be at least 1. */
static ssize_t read_file(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	size_t len = 0;
	ssize_t rc = 0;
	while (len < cap - 1) {
		ssize_t n = read(fd, buf + len, cap - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			rc = -errno;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	return rc < 0 ? rc : (ssize_t)len;
}

/* ---- stat ----------------------------------------------------------------- */

static bool is_state_letter(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/* Fields 4..22 of stat: ppid pgrp session tty_nr tpgid flags minflt cminflt
 * majflt cmajflt utime stime cutime cstime priority nice num_threads
 * itrealvalue starttime. Some (tpgid, priority, nice) can be negative. */
enum { STAT_PPID, STAT_PGRP, STAT_FLAGS = 5, STAT_THREADS = 16, STAT_START = 18, STAT_N };

static int parse_stat_fields(const char *p, const char *end, struct fgt_proc_stat *st)
{
	unsigned long long f[STAT_N];
	if (parse_fields(&p, end, true, f, STAT_N) < 0)
		return -EINVAL;
	if (!fits_pid(f[STAT_PPID]) || !fits_pid(f[STAT_PGRP]) ||
	    f[STAT_FLAGS] > ULONG_MAX || f[STAT_THREADS] > LONG_MAX)
		return -EINVAL;
	st->ppid = (pid_t)f[STAT_PPID];
	st->pgrp = (pid_t)f[STAT_PGRP];
	st->flags = (unsigned long)f[STAT_FLAGS];
	st->num_threads = (long)f[STAT_THREADS];
	st->starttime = f[STAT_START];
	return 0;
}

int fgt_procfs_parse_stat(const char *buf, size_t len, struct fgt_proc_stat *st)
{
	memset(st, 0, sizeof(*st));
	if (len == 0)
		return -EINVAL;
	const char *p = buf, *end = buf + len;
	/* The name can hold ')' but nothing after it can: cut at the last one. */
	const char *close = memrchr(buf, ')', len);
	unsigned long long pid;
	if (parse_dec(&p, end, false, &pid) < 0 || pid == 0 || !fits_pid(pid) ||
	    !skip_char(&p, end, ' ') || !skip_char(&p, end, '(') || !close || close < p)
		return -EINVAL;
	st->pid = (pid_t)pid;
	size_t n = (size_t)(close - p);
	if (n >= sizeof(st->comm))
		n = sizeof(st->comm) - 1;
	memcpy(st->comm, p, n);
	p = close + 1;
	if (end - p < 3 || p[0] != ' ' || !is_state_letter(p[1]) || p[2] != ' ')
		return -EINVAL;
	st->state = p[1];
	return parse_stat_fields(p + 3, end, st);
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

/* ---- status --------------------------------------------------------------- */

/* The rest of the line "key:..." as [*val, *val_end). The Name line cannot
 * fake another line: the kernel escapes newlines in it. */
static bool status_line(const char *buf, size_t len, const char *key, const char **val,
			const char **val_end)
{
	size_t k = strlen(key);
	const char *end = buf + len;
	for (const char *line = buf; line < end;) {
		const char *nl = memchr(line, '\n', (size_t)(end - line));
		const char *stop = nl ? nl : end;
		if ((size_t)(stop - line) > k && memcmp(line, key, k) == 0 &&
		    line[k] == ':') {
			*val = line + k + 1;
			*val_end = stop;
			return true;
		}
		line = nl ? nl + 1 : end;
	}
	return false;
}

/* The numbers of a status line: the first max into v, the last into *last.
 * Returns how many, -ENOENT without the line, -EINVAL when it holds fewer
 * than want numbers or anything but numbers and blanks. */
static long status_numbers(const char *buf, size_t len, const char *key,
			   unsigned long long *v, size_t max, size_t want,
			   unsigned long long *last)
{
	const char *p, *end;
	if (!status_line(buf, len, key, &p, &end))
		return -ENOENT;
	size_t n = 0;
	for (;;) {
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if (p == end)
			break;
		unsigned long long x;
		if (parse_dec(&p, end, false, &x) < 0 ||
		    (p < end && *p != ' ' && *p != '\t'))
			return -EINVAL;
		if (n < max)
			v[n] = x;
		*last = x;
		n++;
	}
	return n < want ? -EINVAL : (long)n;
}

static int status_pid(const char *buf, size_t len, const char *key, pid_t *out)
{
	unsigned long long v, last;
	long rc = status_numbers(buf, len, key, &v, 1, 1, &last);
	if (rc < 0)
		return (int)rc;
	if (!fits_pid(last))
		return -EINVAL;
	*out = (pid_t)last;
	return 0;
}

static int status_uids(const char *buf, size_t len, struct fgt_proc_status *st)
{
	unsigned long long v[2], last;
	long rc = status_numbers(buf, len, "Uid", v, 2, 2, &last);
	if (rc == -ENOENT)
		return 0;
	if (rc < 0 || v[0] > UINT32_MAX || v[1] > UINT32_MAX)
		return -EINVAL;
	st->ruid = (uid_t)v[0];
	st->euid = (uid_t)v[1];
	return 0;
}

/* A status line holding one hex mask (SigCgt and the like); 0 without it. */
static int status_mask(const char *buf, size_t len, const char *key, uint64_t *out)
{
	const char *p, *end;
	unsigned long long v;
	*out = 0;
	if (!status_line(buf, len, key, &p, &end))
		return 0;
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (parse_hex(&p, end, &v) < 0 || p != end)
		return -EINVAL;
	*out = v;
	return 0;
}

int fgt_procfs_parse_status(const char *buf, size_t len, struct fgt_proc_status *st)
{
	memset(st, 0, sizeof(*st));
	if (status_pid(buf, len, "Tgid", &st->tgid) < 0)
		return -EINVAL;
	int rc = status_pid(buf, len, "TracerPid", &st->tracer_pid);
	if (rc == -EINVAL || status_uids(buf, len, st) < 0 ||
	    status_mask(buf, len, "SigCgt", &st->sig_caught) < 0 ||
	    status_mask(buf, len, "SigIgn", &st->sig_ignored) < 0)
		return -EINVAL;
	/* NSpid lists the pid in each namespace from the outermost in; kernels
	 * before 4.1 have no NSpid line. */
	rc = status_pid(buf, len, "NSpid", &st->ns_pid);
	if (rc == -ENOENT)
		rc = status_pid(buf, len, "Pid", &st->ns_pid);
	if (rc == -ENOENT)
		st->ns_pid = st->tgid;
	return rc == -EINVAL ? -EINVAL : 0;
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

/* ---- schedstat and syscall ------------------------------------------------ */

int fgt_procfs_parse_schedstat(const char *buf, size_t len, uint64_t *run_ns,
			       uint64_t *wait_ns, uint64_t *timeslices)
{
	const char *p = buf;
	unsigned long long f[3];
	if (parse_fields(&p, buf + len, false, f, 3) < 0)
		return -EINVAL;
	*run_ns = f[0];
	*wait_ns = f[1];
	*timeslices = f[2];
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
	/* Three 20-digit numbers and their separators take at most 63 bytes. */
	char buf[96];
	ssize_t n = pread(fd, buf, sizeof(buf), 0);
	if (n < 0)
		return -errno;
	uint64_t run, wait;
	return fgt_procfs_parse_schedstat(buf, (size_t)n, &run, &wait, timeslices);
}

/* "0x" and hex digits at *p. */
static int parse_0x(const char **p, const char *end, unsigned long long *v)
{
	const char *s = *p;
	if (end - s < 2 || s[0] != '0' || s[1] != 'x')
		return -EINVAL;
	s += 2;
	if (parse_hex(&s, end, v) < 0)
		return -EINVAL;
	*p = s;
	return 0;
}

int fgt_procfs_parse_syscall(const char *buf, size_t len, struct fgt_proc_syscall *sc)
{
	const char *p = buf, *end = buf + len;
	unsigned long long v[8], nr;
	memset(sc, 0, sizeof(*sc));
	while (end > p && (end[-1] == '\n' || end[-1] == '\0'))
		end--;
	if (end - p == 7 && memcmp(p, "running", 7) == 0) {
		sc->running = true;
		return 0;
	}
	if (parse_dec(&p, end, true, &nr) < 0)
		return -EINVAL;
	sc->nr = (long)nr;
	if (sc->nr < -1)
		return -EINVAL;
	size_t want = sc->nr < 0 ? 2 : 8;
	for (size_t i = 0; i < want; i++)
		if (!skip_char(&p, end, ' ') || parse_0x(&p, end, &v[i]) < 0)
			return -EINVAL;
	if (p != end)
		return -EINVAL;
	for (size_t i = 0; i + 2 < want; i++)
		sc->args[i] = v[i];
	sc->sp = v[want - 2];
	sc->pc = v[want - 1];
	return 0;
}

int fgt_procfs_open_syscall(pid_t pid, pid_t tid)
{
	char path[64];
	proc_path(path, sizeof(path), pid, tid, "syscall");
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int fgt_procfs_pread_syscall(int fd, struct fgt_proc_syscall *sc)
{
	/* Eight 18-byte hex fields, a number and separators: under 180 bytes. */
	char buf[256];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	if (n < 0)
		return -errno;
	return fgt_procfs_parse_syscall(buf, (size_t)n, sc);
}

/* ---- tasks, comm, cmdline, fds -------------------------------------------- */

static int cmp_pid(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;
	return x < y ? -1 : x > y;
}

/* A task directory name as a tid, or 0 for ".", ".." and anything else. */
static pid_t task_id(const char *name)
{
	const char *p = name, *end = name + strlen(name);
	unsigned long long v;
	if (parse_dec(&p, end, false, &v) < 0 || p != end || v == 0 || !fits_pid(v))
		return 0;
	return (pid_t)v;
}

static int collect_tasks(DIR *d, pid_t **tids, size_t *n)
{
	size_t len = 0, cap = 16;
	pid_t *v = malloc(cap * sizeof(*v));
	if (!v)
		return -ENOMEM;
	struct dirent *e;
	for (errno = 0; (e = readdir(d)); errno = 0) {
		pid_t tid = task_id(e->d_name);
		if (!tid)
			continue;
		if (len == cap) {
			pid_t *nv = realloc(v, 2 * cap * sizeof(*v));
			if (!nv) {
				free(v);
				return -ENOMEM;
			}
			v = nv;
			cap *= 2;
		}
		v[len++] = tid;
	}
	/* An exiting process can empty its task directory under us. */
	int rc = errno ? -errno : len == 0 ? -ESRCH : 0;
	if (rc < 0) {
		free(v);
		return rc;
	}
	qsort(v, len, sizeof(*v), cmp_pid);
	*tids = v;
	*n = len;
	return 0;
}

int fgt_procfs_list_tasks(pid_t pid, pid_t **tids, size_t *n)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	DIR *d = opendir(path);
	if (!d)
		return -errno;
	int rc = collect_tasks(d, tids, n);
	closedir(d);
	return rc;
}

int fgt_procfs_read_comm(pid_t pid, pid_t tid, char *buf, size_t cap)
{
	if (cap == 0)
		return -EINVAL;
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
	if (cap == 0)
		return -EINVAL;
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

int fgt_procfs_fd_target(pid_t pid, int fd, char *buf, size_t cap)
{
	if (cap == 0)
		return -EINVAL;
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, fd);
	ssize_t n = readlink(path, buf, cap - 1);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return 0;
}

/* ---- maps ----------------------------------------------------------------- */

static bool parse_perms(const char **p, const char *end, char perms[5])
{
	static const char *const allowed[4] = {"r-", "w-", "x-", "ps"};
	if (end - *p < 4)
		return false;
	for (int i = 0; i < 4; i++) {
		char c = (*p)[i];
		if (!c || !strchr(allowed[i], c))
			return false;
		perms[i] = c;
	}
	perms[4] = '\0';
	*p += 4;
	return true;
}

/* "START-END PERMS OFFSET MAJOR:MINOR INODE", all hex but the inode. */
static int parse_map_header(const char **p, const char *end, struct fgt_map *m)
{
	unsigned long long start, stop, offset, major, minor, inode;
	if (parse_hex(p, end, &start) < 0 || !skip_char(p, end, '-') ||
	    parse_hex(p, end, &stop) < 0 || !skip_char(p, end, ' ') ||
	    !parse_perms(p, end, m->perms) || !skip_char(p, end, ' ') ||
	    parse_hex(p, end, &offset) < 0 || !skip_char(p, end, ' ') ||
	    parse_hex(p, end, &major) < 0 || !skip_char(p, end, ':') ||
	    parse_hex(p, end, &minor) < 0 || !skip_char(p, end, ' ') ||
	    parse_dec(p, end, false, &inode) < 0 || start > stop)
		return -EINVAL;
	m->start = start;
	m->end = stop;
	m->offset = offset;
	m->inode = inode;
	return 0;
}

int fgt_procfs_parse_maps_line(char *line, struct fgt_map *m)
{
	size_t len = strlen(line);
	if (len > 0 && line[len - 1] == '\n')
		line[--len] = '\0';
	const char *p = line, *end = line + len;
	memset(m, 0, sizeof(*m));
	m->path = "";
	if (parse_map_header(&p, end, m) < 0)
		return -EINVAL;
	if (p == end)
		return 0;
	if (*p != ' ')
		return -EINVAL;
	/* The kernel pads to a column before the path; a path never starts with
	 * a blank ("/..." or a "[name]"). */
	while (p < end && *p == ' ')
		p++;
	m->path = p;
	return 0;
}

/* ---- TCP sockets ---------------------------------------------------------- */

struct token {
	const char *s;
	size_t len;
};

/* Splits line at blanks into up to max tokens; returns how many. */
static size_t split_tokens(const char *line, struct token *t, size_t max)
{
	size_t n = 0;
	const char *p = line;
	while (n < max) {
		p += strspn(p, " \t\n");
		if (!*p)
			break;
		t[n].s = p;
		t[n].len = strcspn(p, " \t\n");
		p += t[n].len;
		n++;
	}
	return n;
}

/* The address bytes of "0100007F" or a 32-digit IPv6 address: each 32-bit
 * word is printed as a host-order integer, so its bytes come back with a
 * host-order store. */
static int parse_tcp_addr(const char *hex, size_t len, unsigned char addr[16])
{
	if (len != 8 && len != 32)
		return -EINVAL;
	for (size_t w = 0; w < len / 8; w++) {
		const char *p = hex + 8 * w;
		unsigned long long v;
		if (parse_hex(&p, p + 8, &v) < 0 || p != hex + 8 * (w + 1))
			return -EINVAL;
		uint32_t word = (uint32_t)v;
		memcpy(addr + 4 * w, &word, sizeof(word));
	}
	return 0;
}

/* "HEXADDR:HEXPORT" as "a.b.c.d:port" or "[v6]:port". */
static int format_endpoint(const struct token *t, char *out, size_t cap)
{
	const char *colon = memchr(t->s, ':', t->len);
	if (!colon)
		return -EINVAL;
	unsigned char addr[16];
	size_t addr_len = (size_t)(colon - t->s);
	const char *p = colon + 1, *end = t->s + t->len;
	unsigned long long port;
	if (parse_tcp_addr(t->s, addr_len, addr) < 0 || parse_hex(&p, end, &port) < 0 ||
	    p != end || port > 65535)
		return -EINVAL;
	char text[INET6_ADDRSTRLEN];
	bool v4 = addr_len == 8;
	if (!inet_ntop(v4 ? AF_INET : AF_INET6, addr, text, sizeof(text)))
		return -EINVAL;
	int n = v4 ? snprintf(out, cap, "%s:%llu", text, port)
		   : snprintf(out, cap, "[%s]:%llu", text, port);
	return n < 0 || (size_t)n >= cap ? -ERANGE : 0;
}

/* Fields: sl local_address rem_address st tx_queue:rx_queue tr:tm->when
 * retrnsmt uid timeout inode ... */
enum { TCP_SL, TCP_LOCAL, TCP_REMOTE, TCP_INODE = 9, TCP_N };

int fgt_procfs_parse_tcp_line(const char *line, unsigned long *inode, char *local,
			      size_t local_cap, char *remote, size_t remote_cap)
{
	struct token t[TCP_N];
	if (split_tokens(line, t, TCP_N) != TCP_N)
		return -EINVAL;
	const char *p = t[TCP_SL].s, *end = p + t[TCP_SL].len;
	unsigned long long sl, ino;
	if (parse_dec(&p, end, false, &sl) < 0 || !skip_char(&p, end, ':') || p != end)
		return -EINVAL;
	p = t[TCP_INODE].s;
	end = p + t[TCP_INODE].len;
	if (parse_dec(&p, end, false, &ino) < 0 || p != end || ino > ULONG_MAX)
		return -EINVAL;
	int rc = format_endpoint(&t[TCP_LOCAL], local, local_cap);
	if (rc == 0)
		rc = format_endpoint(&t[TCP_REMOTE], remote, remote_cap);
	if (rc == 0)
		*inode = (unsigned long)ino;
	return rc;
}

/* Scans one /proc/PID/net/tcp{,6} file for inode. Returns 0, -ENOENT or
 * -errno. */
static int find_tcp_peer(const char *path, unsigned long inode, char *buf, size_t cap)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return -errno;
	/* Room for "[" INET6_ADDRSTRLEN "]:65535". */
	char line[512], local[64], remote[64];
	int rc = -ENOENT;
	while (rc == -ENOENT && fgets(line, sizeof(line), f)) {
		unsigned long ino;
		if (fgt_procfs_parse_tcp_line(line, &ino, local, sizeof(local), remote,
					      sizeof(remote)) < 0 ||
		    ino != inode)
			continue;
		int n = snprintf(buf, cap, "%s", remote);
		rc = n < 0 || (size_t)n >= cap ? -ERANGE : 0;
	}
	fclose(f);
	return rc;
}

int fgt_procfs_socket_peer(pid_t pid, unsigned long inode, char *buf, size_t cap)
{
	static const char *const files[] = {"tcp", "tcp6"};
	int rc = -ENOENT;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		char path[64];
		snprintf(path, sizeof(path), "/proc/%d/net/%s", pid, files[i]);
		rc = find_tcp_peer(path, inode, buf, cap);
		if (rc != -ENOENT)
			break;
	}
	return rc;
}
