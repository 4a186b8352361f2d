/* Unit tests for the /proc readers (lib/procfs.c): crafted contents, and the
 * live files of this test process, its threads and its children. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "procfs.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Fields 3..25 of a stat line; ppid 1, pgrp 100, flags 0x400100, 3 threads,
 * starttime 12345. */
#define STAT_TAIL                                                                        \
	" S 1 100 100 0 -1 4194560 10 0 0 0 5 6 0 0 20 0 3 0 12345 1000 100 "            \
	"18446744073709551615"

/* An exact-size heap copy without a NUL, so that a sanitizer build sees any
 * read past len. */
static char *exact_copy(const char *s, size_t len)
{
	char *p = malloc(len ? len : 1);
	assert_non_null(p);
	memcpy(p, s, len);
	return p;
}

static int parse_stat_exact(const char *s, size_t len, struct fgt_proc_stat *st)
{
	char *copy = exact_copy(s, len);
	int rc = fgt_procfs_parse_stat(copy, len, st);
	free(copy);
	return rc;
}

static int parse_status_exact(const char *s, size_t len, struct fgt_proc_status *st)
{
	char *copy = exact_copy(s, len);
	int rc = fgt_procfs_parse_status(copy, len, st);
	free(copy);
	return rc;
}

static bool little_endian(void)
{
	const uint16_t one = 1;
	return *(const unsigned char *)&one == 1;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* ---- stat ----------------------------------------------------------------- */

static void test_syscall_file(void **state)
{
	(void)state;
	struct fgt_proc_syscall sc;
	const char *in_call =
	    "232 0x3 0x7ffd1000 0x1 0x32 0x0 0x0 0x7ffd0ff0 0x7f0012345678\n";
	assert_int_equal(fgt_procfs_parse_syscall(in_call, strlen(in_call), &sc), 0);
	assert_false(sc.running);
	assert_int_equal(sc.nr, 232);
	assert_int_equal(sc.args[0], 3);
	assert_int_equal(sc.args[3], 0x32);
	assert_int_equal(sc.sp, 0x7ffd0ff0);
	assert_int_equal(sc.pc, 0x7f0012345678ull);
	const char *fault = "-1 0x7ffd0ff0 0x401000\n";
	assert_int_equal(fgt_procfs_parse_syscall(fault, strlen(fault), &sc), 0);
	assert_int_equal(sc.nr, -1);
	assert_int_equal(sc.sp, 0x7ffd0ff0);
	assert_int_equal(sc.pc, 0x401000);
	assert_int_equal(fgt_procfs_parse_syscall("running\n", 8, &sc), 0);
	assert_true(sc.running);
	const char *bad[] = {"",
			     "running now",
			     "232 0x3",
			     "-2 0x1 0x2",
			     "232 3 0x1 0x1 0x1 0x1 0x1 0x1 0x1",
			     "-1 0x1 0x2 0x3",
			     "232 0x1 0x1 0x1 0x1 0x1 0x1 0x1 0x1 junk",
			     "x 0x1 0x2",
			     "-1 0x 0x2"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (fgt_procfs_parse_syscall(bad[i], strlen(bad[i]), &sc) != -EINVAL)
			fail_msg("accepted %s", bad[i]);
}

/* A thread blocked in read() on a pipe, seen from /proc. */
static void *blocked_reader(void *arg)
{
	char c;
	return (void *)(long)read(*(int *)arg, &c, 1);
}

static void test_live_syscall(void **state)
{
	(void)state;
	int p[2];
	pthread_t t;
	assert_int_equal(pipe(p), 0);
	assert_int_equal(pthread_create(&t, NULL, blocked_reader, &p[0]), 0);
	pid_t tid = 0;
	struct fgt_proc_syscall sc = {.running = true};
	/* Find the reader's tid, then wait for it to block in read (0). */
	for (int i = 0; i < 100000 && (sc.running || sc.nr != 0); i++) {
		pid_t *tids;
		size_t n;
		assert_int_equal(fgt_procfs_list_tasks(getpid(), &tids, &n), 0);
		tid = n > 1 ? tids[n - 1] : 0;
		free(tids);
		if (!tid || tid == getpid())
			continue;
		int fd = fgt_procfs_open_syscall(getpid(), tid);
		assert_true(fd >= 0);
		assert_int_equal(fgt_procfs_pread_syscall(fd, &sc), 0);
		close(fd);
		sched_yield();
	}
	assert_false(sc.running);
	assert_int_equal(sc.nr, 0); /* read */
	assert_int_equal(sc.args[0], (uint64_t)p[0]);
	assert_true(sc.sp != 0 && sc.pc != 0);
	assert_int_equal(write(p[1], "x", 1), 1);
	pthread_join(t, NULL);
	close(p[0]);
	close(p[1]);
}

static void test_stat_names(void **state)
{
	(void)state;
	const char *names[] = {
	    "bash",
	    "my prog",
	    "a)b",
	    "x) (y",
	    "((",
	    "))",
	    ")",
	    "(",
	    "",
	    "tab\tnl\n",
	    "\xff\xfe\x01\x7f",
	    "x) R 9 9 9 9",
	    "a\nb) S 1 2 3 (c",
	};
	for (size_t i = 0; i < ARRAY_LEN(names); i++) {
		char buf[256];
		int n = snprintf(buf, sizeof(buf), "4321 (%s)" STAT_TAIL "\n", names[i]);
		struct fgt_proc_stat st;
		if (parse_stat_exact(buf, (size_t)n, &st) != 0)
			fail_msg("stat with name '%s' was rejected", names[i]);
		assert_int_equal(st.pid, 4321);
		assert_string_equal(st.comm, names[i]);
		assert_int_equal(st.state, 'S');
		assert_int_equal(st.ppid, 1);
		assert_int_equal(st.pgrp, 100);
		assert_int_equal(st.flags, 4194560);
		assert_int_equal(st.num_threads, 3);
		assert_int_equal(st.starttime, 12345);
		assert_false(fgt_procfs_is_kernel_thread(&st));
	}
}

static void test_stat_long_name_is_cut(void **state)
{
	(void)state;
	/* Kernel threads can show names longer than TASK_COMM_LEN. */
	char name[101], buf[512];
	memset(name, 'k', 100);
	name[99] = ')';
	name[100] = '\0';
	int n = snprintf(buf, sizeof(buf), "7 (%s)" STAT_TAIL, name);
	struct fgt_proc_stat st;
	assert_int_equal(parse_stat_exact(buf, (size_t)n, &st), 0);
	assert_int_equal(strlen(st.comm), 63);
	assert_memory_equal(st.comm, name, 63);
	assert_int_equal(st.starttime, 12345);
}

static void test_stat_states_and_signed_fields(void **state)
{
	(void)state;
	/* tpgid -1, priority -51 and nice -20 are negative; rt threads do that. */
	const char *s = "99 (rt) D 98 97 96 0 -1 64 0 0 0 0 0 0 0 0 -51 -20 1 0 7 0 0";
	struct fgt_proc_stat st;
	assert_int_equal(parse_stat_exact(s, strlen(s), &st), 0);
	assert_int_equal(st.state, 'D');
	assert_int_equal(st.ppid, 98);
	assert_int_equal(st.pgrp, 97);
	assert_int_equal(st.flags, 64);
	assert_int_equal(st.num_threads, 1);
	assert_int_equal(st.starttime, 7);
	const char *big =
	    "1 (x) R 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 1 0 18446744073709551615";
	assert_int_equal(parse_stat_exact(big, strlen(big), &st), 0);
	assert_true(st.starttime == 18446744073709551615ull);
}

static void test_stat_malformed(void **state)
{
	(void)state;
	const char *bad[] = {
	    "",
	    "4321",
	    "4321 (x",
	    "4321 x) S 1",
	    "(x)" STAT_TAIL,
	    " 4321 (x)" STAT_TAIL,
	    "4321(x)" STAT_TAIL,
	    "4321  (x)" STAT_TAIL,
	    "-4321 (x)" STAT_TAIL,
	    "0 (x)" STAT_TAIL,
	    "99999999999 (x)" STAT_TAIL,
	    "abc (x)" STAT_TAIL,
	    "4321 (x)",
	    "4321 (x) S",
	    "4321 (x) S ",
	    "4321 (x) S 1 2",
	    "4321 (x)S 1 100 100 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5",
	    "4321 (x) SS 1 100 100 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5",
	    "4321 (x) 5 1 100 100 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5",
	    "4321 (x) S 1 100 100 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0",
	    "4321 (x) S 1  100 100 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5",
	    "4321 (x) S 1 100 100 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5x",
	    "4321 (x) S -1 100 100 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5",
	    "4321 (x) S 1 100 100 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 18446744073709551616",
	    "4321 (x) S 1 100 100 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 -",
	    "4321 (x) S 1 100 100 0 -1 0 0 0 0 0 0 0 0 0 20 0 9223372036854775808 0 5",
	};
	struct fgt_proc_stat st;
	for (size_t i = 0; i < ARRAY_LEN(bad); i++)
		if (parse_stat_exact(bad[i], strlen(bad[i]), &st) != -EINVAL)
			fail_msg("stat '%s' was accepted", bad[i]);
}

static void test_stat_truncated(void **state)
{
	(void)state;
	const char *s = "4321 (a (b) c)" STAT_TAIL "\n";
	const char *start = strstr(s, " 12345 ");
	assert_non_null(start);
	/* Every cut before the starttime field loses a field. */
	struct fgt_proc_stat st;
	for (size_t len = 0; len <= (size_t)(start - s); len++)
		if (parse_stat_exact(s, len, &st) != -EINVAL)
			fail_msg("stat cut to %zu bytes was accepted", len);
	assert_int_equal(parse_stat_exact(s, strlen(s), &st), 0);
	assert_string_equal(st.comm, "a (b) c");
}

static void test_kernel_thread_flag(void **state)
{
	(void)state;
	const char *s =
	    "2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0 0 0 0 0 20 0 1 0 1 0 0 "
	    "18446744073709551615";
	struct fgt_proc_stat st;
	assert_int_equal(parse_stat_exact(s, strlen(s), &st), 0);
	assert_true(fgt_procfs_is_kernel_thread(&st));
	st.flags = 0x00200000;
	assert_true(fgt_procfs_is_kernel_thread(&st));
	st.flags = ~0x00200000ul;
	assert_false(fgt_procfs_is_kernel_thread(&st));
}

/* ---- status --------------------------------------------------------------- */

static const char status_text[] = "Name:\tweird\\nTgid:\\t1\n"
				  "Umask:\t0022\n"
				  "State:\tS (sleeping)\n"
				  "Tgid:\t100\n"
				  "Ngid:\t0\n"
				  "Pid:\t101\n"
				  "PPid:\t1\n"
				  "TracerPid:\t77\n"
				  "Uid:\t1000\t1001\t1000\t1000\n"
				  "Gid:\t1000\t1000\t1000\t1000\n"
				  "FDSize:\t64\n"
				  "NStgid:\t100\t4\n"
				  "NSpid:\t101\t5\n"
				  "NSpgid:\t100\t4\n"
				  "VmPeak:\t    2432 kB\n"
				  "SigBlk:\t0000000000010000\n"
				  "SigIgn:\t0000000000001800\n"
				  "SigCgt:\t0000000180014a03\n";

static void test_status(void **state)
{
	(void)state;
	struct fgt_proc_status st;
	assert_int_equal(parse_status_exact(status_text, strlen(status_text), &st), 0);
	assert_int_equal(st.tgid, 100);
	assert_int_equal(st.tracer_pid, 77);
	assert_int_equal(st.ruid, 1000);
	assert_int_equal(st.euid, 1001);
	assert_int_equal(st.ns_pid, 5);
	assert_true(st.sig_ignored == 0x1800); /* SIGUSR2 (12), SIGPIPE (13) */
	assert_true(st.sig_caught == 0x180014a03ull);

	const char *nested = "Tgid:\t9\nNSpid:\t9\t8\t7\t6\t5\t4\t3\t2\t1\n";
	assert_int_equal(parse_status_exact(nested, strlen(nested), &st), 0);
	assert_int_equal(st.ns_pid, 1);
	assert_int_equal(st.tracer_pid, 0);
	assert_int_equal(st.ruid, 0);

	/* Kernels before 4.1 have no NSpid: fall back to Pid, then Tgid. */
	const char *old = "Tgid:\t100\nPid:\t101\nPPid:\t1\nTracerPid:\t0\n";
	assert_int_equal(parse_status_exact(old, strlen(old), &st), 0);
	assert_int_equal(st.ns_pid, 101);
	const char *bare = "Tgid:\t100";
	assert_int_equal(parse_status_exact(bare, strlen(bare), &st), 0);
	assert_int_equal(st.tgid, 100);
	assert_int_equal(st.ns_pid, 100);
}

static void test_status_malformed(void **state)
{
	(void)state;
	const char *bad[] = {
	    "",
	    "Name:\tx\n",
	    "Name:\tTgid:\t5\n",
	    " Tgid:\t5\n",
	    "Tgid:\n",
	    "Tgid:\tabc\n",
	    "Tgid:\t-1\n",
	    "Tgid:\t5x\n",
	    "Tgid:\t99999999999\n",
	    "Tgid:\t5\nTracerPid:\tx\n",
	    "Tgid:\t5\nUid:\t1000\n",
	    "Tgid:\t5\nUid:\t1000\t99999999999\t0\t0\n",
	    "Tgid:\t5\nNSpid:\t5\t-\n",
	    "Tgid:\t5\nSigIgn:\t00x1\n",
	    "Tgid:\t5\nSigCgt:\t\n",
	};
	struct fgt_proc_status st;
	for (size_t i = 0; i < ARRAY_LEN(bad); i++)
		if (parse_status_exact(bad[i], strlen(bad[i]), &st) != -EINVAL)
			fail_msg("status '%s' was accepted", bad[i]);
	/* Only len bytes count: cut before the Tgid line. */
	const char *tgid = strstr(status_text, "Tgid:\t100");
	assert_int_equal(
	    parse_status_exact(status_text, (size_t)(tgid - status_text), &st), -EINVAL);
}

/* ---- schedstat ------------------------------------------------------------ */

static void test_schedstat(void **state)
{
	(void)state;
	uint64_t a, b, c;
	const char *s = "123456 7890 42\n";
	assert_int_equal(fgt_procfs_parse_schedstat(s, strlen(s), &a, &b, &c), 0);
	assert_int_equal(a, 123456);
	assert_int_equal(b, 7890);
	assert_int_equal(c, 42);
	/* Not NUL-terminated, no newline. */
	char *raw = exact_copy("1 2 3", 5);
	assert_int_equal(fgt_procfs_parse_schedstat(raw, 5, &a, &b, &c), 0);
	assert_int_equal(c, 3);
	free(raw);
	const char *max = "18446744073709551615 0 18446744073709551615\n";
	assert_int_equal(fgt_procfs_parse_schedstat(max, strlen(max), &a, &b, &c), 0);
	assert_true(a == UINT64_MAX && b == 0 && c == UINT64_MAX);

	const char *bad[] = {"",
			     "1",
			     "1 2",
			     "1 2 ",
			     "1 2 x",
			     "1 2 3x",
			     " 1 2 3",
			     "1  2 3",
			     "1 2 -3",
			     "1\n2\n3",
			     "18446744073709551616 0 0"};
	for (size_t i = 0; i < ARRAY_LEN(bad); i++)
		if (fgt_procfs_parse_schedstat(bad[i], strlen(bad[i]), &a, &b, &c) !=
		    -EINVAL)
			fail_msg("schedstat '%s' was accepted", bad[i]);
	assert_int_equal(fgt_procfs_parse_schedstat(s, 6, &a, &b, &c), -EINVAL);
}

/* ---- maps ----------------------------------------------------------------- */

static void expect_map(const char *text, uint64_t start, uint64_t end, const char *perms,
		       uint64_t offset, uint64_t inode, const char *path)
{
	char line[256];
	snprintf(line, sizeof(line), "%s", text);
	struct fgt_map m;
	if (fgt_procfs_parse_maps_line(line, &m) != 0)
		fail_msg("maps line '%s' was rejected", text);
	assert_true(m.start == start && m.end == end);
	assert_string_equal(m.perms, perms);
	assert_true(m.offset == offset && m.inode == inode);
	assert_string_equal(m.path, path);
	if (*path)
		assert_true(m.path >= line && m.path < line + sizeof(line));
}

static void test_maps_lines(void **state)
{
	(void)state;
	expect_map(
	    "7f00aa000000-7f00aa021000 r-xp 00002000 08:01 1234567                   "
	    " /usr/lib/x86_64-linux-gnu/libc.so.6",
	    0x7f00aa000000ull, 0x7f00aa021000ull, "r-xp", 0x2000, 1234567,
	    "/usr/lib/x86_64-linux-gnu/libc.so.6");
	expect_map("55d0c0000000-55d0c0021000 rw-p 00000000 00:00 0 ", 0x55d0c0000000ull,
		   0x55d0c0021000ull, "rw-p", 0, 0, "");
	expect_map("55d0c0000000-55d0c0021000 rw-p 00000000 00:00 0", 0x55d0c0000000ull,
		   0x55d0c0021000ull, "rw-p", 0, 0, "");
	expect_map("1000-2000 r-xp 00000000 08:01 42 /tmp/my app (deleted)", 0x1000,
		   0x2000, "r-xp", 0, 42, "/tmp/my app (deleted)");
	expect_map("1000-2000 rwxs 00000000 00:01 7    /memfd:jit code (deleted)\n",
		   0x1000, 0x2000, "rwxs", 0, 7, "/memfd:jit code (deleted)");
	expect_map("5555d000-5557e000 rw-p 00000000 00:00 0          [heap]", 0x5555d000,
		   0x5557e000, "rw-p", 0, 0, "[heap]");
	expect_map("ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0  [vsyscall]",
		   0xffffffffff600000ull, 0xffffffffff601000ull, "--xp", 0, 0,
		   "[vsyscall]");
	expect_map("1000-1000 ---p ffffffffffff0000 103:0a 18446744073709551615 /a  b ",
		   0x1000, 0x1000, "---p", 0xffffffffffff0000ull, UINT64_MAX, "/a  b ");
}

static void test_maps_malformed(void **state)
{
	(void)state;
	const char *bad[] = {
	    "",
	    "zzzz",
	    "1000-2000",
	    "1000-2000 r-xp",
	    "1000-2000 r-xp 00000000 08:01",
	    "1000-2000 r-xp 00000000 08:01 ",
	    "2000-1000 r-xp 00000000 08:01 1 /x",
	    "1000 2000 r-xp 00000000 08:01 1 /x",
	    "-2000 r-xp 00000000 08:01 1 /x",
	    "1000-2000 rwzp 00000000 08:01 1 /x",
	    "1000-2000 r-x 00000000 08:01 1 /x",
	    "1000-2000 r-xpp 00000000 08:01 1 /x",
	    "1000-2000 r-xp 00000000 0801 1 /x",
	    "1000-2000 r-xp 00000000 08:01 4a /x",
	    "1000-2000 r-xp 00000000 08:01 42/x",
	    "1000-2000 r-xp 0x000000 08:01 1 /x",
	    "10000000000000000-10000000000000001 r-xp 00000000 08:01 1 /x",
	    " 1000-2000 r-xp 00000000 08:01 1 /x",
	};
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		char line[128];
		snprintf(line, sizeof(line), "%s", bad[i]);
		struct fgt_map m;
		if (fgt_procfs_parse_maps_line(line, &m) != -EINVAL)
			fail_msg("maps line '%s' was accepted", bad[i]);
	}
}

/* ---- tcp ------------------------------------------------------------------ */

static int parse_tcp(const char *line, unsigned long *ino, char *l, char *r)
{
	return fgt_procfs_parse_tcp_line(line, ino, l, 64, r, 64);
}

static void test_tcp_lines(void **state)
{
	(void)state;
	if (!little_endian())
		skip(); /* the crafted addresses are in little-endian words */
	unsigned long ino;
	char l[64], r[64];
	const char *v4 =
	    "   1: 0100007F:1F90 0100007F:D431 01 00000000:00000000 00:00000000 "
	    "00000000  1000        0 98765 1 0000000000000000 20 4 30 10 -1\n";
	assert_int_equal(parse_tcp(v4, &ino, l, r), 0);
	assert_int_equal(ino, 98765);
	assert_string_equal(l, "127.0.0.1:8080");
	assert_string_equal(r, "127.0.0.1:54321");
	const char *listen = "  12: 00000000:0016 00000000:0000 0A 00000000:00000000 "
			     "00:00000000 00000000     0        0 555 1 0 100 0 0 10 0";
	assert_int_equal(parse_tcp(listen, &ino, l, r), 0);
	assert_string_equal(l, "0.0.0.0:22");
	assert_string_equal(r, "0.0.0.0:0");
	const char *v6 = "   0: 00000000000000000000000001000000:1F90 "
			 "00000000000000000000000001000000:C350 01 00000000:00000000 "
			 "00:00000000 00000000     0        0 4242 1";
	assert_int_equal(parse_tcp(v6, &ino, l, r), 0);
	assert_int_equal(ino, 4242);
	assert_string_equal(l, "[::1]:8080");
	assert_string_equal(r, "[::1]:50000");
	const char *mapped = "   3: 0000000000000000FFFF00000100007F:0050 "
			     "B80D0120000000000000000001000000:FFFF 01 00000000:00000000 "
			     "00:00000000 00000000  1000        0 7 1";
	assert_int_equal(parse_tcp(mapped, &ino, l, r), 0);
	assert_string_equal(l, "[::ffff:127.0.0.1]:80");
	assert_string_equal(r, "[2001:db8::1]:65535");
}

static void test_tcp_malformed(void **state)
{
	(void)state;
	unsigned long ino = 1;
	char l[64], r[64];
	const char *bad[] = {
	    "",
	    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt "
	    "  "
	    "uid  timeout inode",
	    "   1: 0100007F:1F90 0100007F:D431 01 00000000:00000000 00:00000000 00000000",
	    "   1: 0100007F:1F90 0100007F:D431 01 00000000:00000000 00:00000000 00000000 "
	    " "
	    "1000        0 12x",
	    "   1: 0100007F:1F90 0100007F:D431 01 00000000:00000000 00:00000000 00000000 "
	    " "
	    "1000        0 -5",
	    "   x: 0100007F:1F90 0100007F:D431 01 0:0 0:0 0 0 0 1",
	    "   1 0100007F:1F90 0100007F:D431 01 0:0 0:0 0 0 0 1",
	    "   1: 0100007:1F90 0100007F:D431 01 0:0 0:0 0 0 0 1",
	    "   1: 0100007F1:1F90 0100007F:D431 01 0:0 0:0 0 0 0 1",
	    "   1: 0100007G:1F90 0100007F:D431 01 0:0 0:0 0 0 0 1",
	    "   1: 0100007F 0100007F:D431 01 0:0 0:0 0 0 0 1",
	    "   1: 0100007F:10000 0100007F:D431 01 0:0 0:0 0 0 0 1",
	    "   1: 0100007F: 0100007F:D431 01 0:0 0:0 0 0 0 1",
	    "   1: 0100007F:1F90 0100007F:D4:31 01 0:0 0:0 0 0 0 1",
	    "   1: 0000000000000000000000000100000:1F90 0100007F:D431 01 0:0 0:0 0 0 0 1",
	};
	for (size_t i = 0; i < ARRAY_LEN(bad); i++)
		if (parse_tcp(bad[i], &ino, l, r) != -EINVAL)
			fail_msg("tcp line '%s' was accepted", bad[i]);
	assert_int_equal(ino, 1);

	/* An address that does not fit its buffer is an error, not a cut. */
	const char *v4 = "   1: 0100007F:1F90 0100007F:D431 01 0:0 0:0 0 0 0 9";
	assert_int_equal(fgt_procfs_parse_tcp_line(v4, &ino, l, sizeof(l), r, 15),
			 -ERANGE);
	assert_int_equal(fgt_procfs_parse_tcp_line(v4, &ino, l, 14, r, sizeof(r)),
			 -ERANGE);
	assert_int_equal(fgt_procfs_parse_tcp_line(v4, &ino, l, 15, r, 16), 0);
	assert_string_equal(r, "127.0.0.1:54321");
}

/* ---- live: this process and a thread of it -------------------------------- */

#define PROBE_NAME "probe) (x"

/* A thread that names itself, says so, and blocks in read() until told to
 * go; it does that twice, then exits. */
struct probe {
	int ready[2], go[2];
	pid_t tid;
	pthread_t thread;
};

static void *probe_main(void *arg)
{
	struct probe *p = arg;
	char c = 0;
	pthread_setname_np(pthread_self(), PROBE_NAME);
	p->tid = (pid_t)syscall(SYS_gettid);
	for (int round = 0; round < 2; round++) {
		if (write(p->ready[1], &c, 1) != 1 || read(p->go[0], &c, 1) != 1)
			break;
	}
	return NULL;
}

static void probe_wait_ready(struct probe *p)
{
	char c;
	assert_int_equal(read(p->ready[0], &c, 1), 1);
}

static void probe_go(struct probe *p)
{
	char c = 0;
	assert_int_equal(write(p->go[1], &c, 1), 1);
}

static void probe_start(struct probe *p)
{
	assert_int_equal(pipe2(p->ready, O_CLOEXEC), 0);
	assert_int_equal(pipe2(p->go, O_CLOEXEC), 0);
	assert_int_equal(pthread_create(&p->thread, NULL, probe_main, p), 0);
	probe_wait_ready(p);
}

static void probe_stop(struct probe *p)
{
	close(p->go[1]);
	pthread_join(p->thread, NULL);
	close(p->go[0]);
	close(p->ready[0]);
	close(p->ready[1]);
}

/* Waits (up to 5 s) until the probe sleeps in read(): it said it was ready
 * just before the call. */
static void probe_wait_blocked(const struct probe *p)
{
	for (int i = 0; i < 5000; i++) {
		struct fgt_proc_stat st;
		struct fgt_proc_syscall sc = {.nr = -2};
		int fd = fgt_procfs_open_syscall(getpid(), p->tid);
		assert_true(fd >= 0);
		int rc = fgt_procfs_pread_syscall(fd, &sc);
		close(fd);
		if (fgt_procfs_read_stat(getpid(), p->tid, &st) == 0 && st.state == 'S' &&
		    rc == 0 && !sc.running && sc.nr == SYS_read)
			return;
		sleep_ms(1);
	}
	fail_msg("thread %d never blocked in read()", p->tid);
}

static void test_live_self(void **state)
{
	(void)state;
	pid_t me = getpid();
	struct fgt_proc_stat st;
	assert_int_equal(fgt_procfs_read_stat(me, 0, &st), 0);
	assert_int_equal(st.pid, me);
	assert_int_equal(st.state, 'R');
	assert_int_equal(st.ppid, getppid());
	assert_int_equal(st.pgrp, getpgrp());
	assert_int_equal(st.num_threads, 1);
	assert_true(st.starttime > 0);
	assert_false(fgt_procfs_is_kernel_thread(&st));
	char comm[64];
	assert_int_equal(fgt_procfs_read_comm(me, 0, comm, sizeof(comm)), 0);
	assert_string_equal(comm, st.comm);
	/* Cut to fit: the first 3 bytes of the name (or all of a short one). */
	size_t cut = strlen(st.comm) < 3 ? strlen(st.comm) : 3;
	assert_int_equal(fgt_procfs_read_comm(me, me, comm, 4), 0);
	assert_int_equal(strlen(comm), cut);
	assert_memory_equal(comm, st.comm, cut);
	assert_int_equal(fgt_procfs_read_comm(me, 0, comm, 0), -EINVAL);

	struct fgt_proc_status ps;
	assert_int_equal(fgt_procfs_read_status(me, 0, &ps), 0);
	assert_int_equal(ps.tgid, me);
	assert_int_equal(ps.ns_pid, me);
	assert_int_equal(ps.ruid, getuid());
	assert_int_equal(ps.euid, geteuid());
}

static void test_live_thread(void **state)
{
	(void)state;
	pid_t me = getpid();
	struct probe p;
	probe_start(&p);

	pid_t *tids = NULL;
	size_t n = 0;
	assert_int_equal(fgt_procfs_list_tasks(me, &tids, &n), 0);
	assert_int_equal(n, 2);
	assert_true(tids[0] < tids[1]);
	assert_true((tids[0] == me && tids[1] == p.tid) ||
		    (tids[0] == p.tid && tids[1] == me));
	free(tids);

	char name[64];
	assert_int_equal(fgt_procfs_read_comm(me, p.tid, name, sizeof(name)), 0);
	assert_string_equal(name, PROBE_NAME);
	struct fgt_proc_stat st;
	assert_int_equal(fgt_procfs_read_stat(me, p.tid, &st), 0);
	assert_int_equal(st.pid, p.tid);
	assert_string_equal(st.comm, PROBE_NAME);
	assert_int_equal(st.num_threads, 2);
	assert_false(fgt_procfs_is_kernel_thread(&st));
	struct fgt_proc_status ps;
	assert_int_equal(fgt_procfs_read_status(me, p.tid, &ps), 0);
	assert_int_equal(ps.tgid, me);
	assert_int_equal(ps.ns_pid, p.tid);
	probe_stop(&p);
}

/* The sampler's skip rule rests on this: a blocked thread's schedstat run
 * count stands still, and moves once the thread runs. */
static void test_live_timeslices(void **state)
{
	(void)state;
	struct probe p;
	probe_start(&p);
	int fd = fgt_procfs_open_schedstat(getpid(), p.tid);
	assert_true(fd >= 0);
	probe_wait_blocked(&p);
	uint64_t before, idle, after;
	assert_int_equal(fgt_procfs_read_timeslices(fd, &before), 0);
	sleep_ms(20);
	assert_int_equal(fgt_procfs_read_timeslices(fd, &idle), 0);
	probe_go(&p);
	probe_wait_ready(&p);
	assert_int_equal(fgt_procfs_read_timeslices(fd, &after), 0);
	if (before == 0 && after == 0) {
		close(fd);
		probe_stop(&p);
		skip(); /* sched_info is off in this kernel: all zeros */
	}
	assert_true(idle == before);
	assert_true(after > idle);

	/* A thread that is gone: the open fd reports it. pthread_join returns
	 * when the thread clears its tid, a moment before the kernel reaps it. */
	probe_stop(&p);
	int rc = 0;
	for (int i = 0; i < 5000 && rc == 0; i++) {
		rc = fgt_procfs_read_timeslices(fd, &after);
		if (rc == 0)
			sleep_ms(1);
	}
	assert_true(rc == -ESRCH || rc == -ENOENT);
	close(fd);
	assert_int_equal(fgt_procfs_open_schedstat(getpid(), p.tid), -ENOENT);
	assert_int_equal(fgt_procfs_open_schedstat(getpid(), 0) >= 0, 1);
}

static void test_live_maps(void **state)
{
	(void)state;
	char exe[512];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	assert_true(n > 0);
	exe[n] = '\0';
	FILE *f = fopen("/proc/self/maps", "re");
	assert_non_null(f);
	uintptr_t code = (uintptr_t)&test_live_maps;
	char line[1024];
	int lines = 0, found = 0;
	while (fgets(line, sizeof(line), f)) {
		struct fgt_map m;
		if (fgt_procfs_parse_maps_line(line, &m) != 0)
			fail_msg("live maps line rejected: %s", line);
		lines++;
		if (code >= m.start && code < m.end) {
			assert_int_equal(m.perms[2], 'x');
			assert_true(strncmp(m.path, exe, (size_t)n) == 0);
			found++;
		}
	}
	fclose(f);
	assert_true(lines > 5);
	assert_int_equal(found, 1);
}

static void test_live_cmdline(void **state)
{
	(void)state;
	/* A child that execs a known argv and then blocks on its stdin; the
	 * CLOEXEC pipe reads EOF once the exec is done. */
	int in[2], exec_done[2];
	assert_int_equal(pipe(in), 0);
	assert_int_equal(pipe2(exec_done, O_CLOEXEC), 0);
	pid_t child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		dup2(in[0], 0);
		close(in[0]);
		close(in[1]);
		execl("/bin/sh", "sh", "-c", "read x", "name", "a  b", (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(exec_done[1]);
	char c;
	assert_int_equal(read(exec_done[0], &c, 1), 0);
	close(exec_done[0]);

	char buf[64];
	assert_int_equal(fgt_procfs_read_cmdline(child, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "sh -c read x name a  b");
	assert_int_equal(fgt_procfs_read_cmdline(child, buf, 6), 0);
	assert_string_equal(buf, "sh -c");
	assert_int_equal(fgt_procfs_read_cmdline(child, buf, 1), 0);
	assert_string_equal(buf, "");
	assert_int_equal(fgt_procfs_read_cmdline(child, buf, 0), -EINVAL);
	close(in[1]);
	int status;
	assert_int_equal(waitpid(child, &status, 0), child);
}

static void test_live_zombie_and_gone(void **state)
{
	(void)state;
	pid_t child = fork();
	assert_true(child >= 0);
	if (child == 0)
		_exit(0);
	siginfo_t info;
	assert_int_equal(waitid(P_PID, (id_t)child, &info, WEXITED | WNOWAIT), 0);
	struct fgt_proc_stat st;
	assert_int_equal(fgt_procfs_read_stat(child, 0, &st), 0);
	assert_int_equal(st.state, 'Z');
	char buf[64] = "x";
	assert_int_equal(fgt_procfs_read_cmdline(child, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");

	int status;
	assert_int_equal(waitpid(child, &status, 0), child);
	struct fgt_proc_status ps;
	pid_t *tids;
	size_t n;
	assert_int_equal(fgt_procfs_read_stat(child, 0, &st), -ENOENT);
	assert_int_equal(fgt_procfs_read_status(child, 0, &ps), -ENOENT);
	assert_int_equal(fgt_procfs_list_tasks(child, &tids, &n), -ENOENT);
	assert_int_equal(fgt_procfs_read_comm(child, 0, buf, sizeof(buf)), -ENOENT);
	assert_int_equal(fgt_procfs_read_cmdline(child, buf, sizeof(buf)), -ENOENT);
	assert_int_equal(fgt_procfs_read_stat(getpid(), child, &st), -ENOENT);
}

static void test_live_tracer(void **state)
{
	(void)state;
	pid_t child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		if (ptrace(PTRACE_TRACEME, 0, NULL, NULL) < 0)
			_exit(77);
		raise(SIGSTOP);
		_exit(0);
	}
	int status;
	assert_int_equal(waitpid(child, &status, 0), child);
	if (WIFEXITED(status))
		skip(); /* ptrace is not allowed here */
	assert_true(WIFSTOPPED(status));
	struct fgt_proc_status ps;
	int rc = fgt_procfs_read_status(child, 0, &ps);
	kill(child, SIGKILL);
	waitpid(child, &status, 0);
	assert_int_equal(rc, 0);
	assert_int_equal(ps.tracer_pid, getpid());
	assert_int_equal(ps.tgid, child);
}

static void test_kernel_thread_live(void **state)
{
	(void)state;
	struct fgt_proc_stat st;
	if (fgt_procfs_read_stat(2, 0, &st) < 0 || strcmp(st.comm, "kthreadd") != 0)
		skip(); /* no kthreadd as pid 2 in this pid namespace */
	assert_true(fgt_procfs_is_kernel_thread(&st));
	char buf[64] = "x";
	assert_int_equal(fgt_procfs_read_cmdline(2, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");
}

/* ---- live: file descriptors and sockets ----------------------------------- */

static unsigned long fd_inode(int fd)
{
	char target[64];
	unsigned long ino = 0;
	assert_int_equal(fgt_procfs_fd_target(getpid(), fd, target, sizeof(target)), 0);
	if (sscanf(target, "socket:[%lu]", &ino) != 1)
		fail_msg("fd %d is '%s', not a socket", fd, target);
	struct stat st;
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(ino, st.st_ino);
	return ino;
}

static void test_fd_target(void **state)
{
	(void)state;
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	char buf[64];
	assert_int_equal(fgt_procfs_fd_target(getpid(), fd, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/dev/null");
	assert_int_equal(fgt_procfs_fd_target(getpid(), fd, buf, 5), 0);
	assert_string_equal(buf, "/dev");
	assert_int_equal(fgt_procfs_fd_target(getpid(), fd, buf, 0), -EINVAL);
	close(fd);
	assert_int_equal(fgt_procfs_fd_target(getpid(), fd, buf, sizeof(buf)), -ENOENT);
}

static int port_of(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)ss)->sin_port);
	return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
}

/* Connects a client to a listener on the loopback address of family af;
 * returns false when that family is not available here. */
static bool tcp_pair(int af, int *srv, int *cli, int *acc, int *srv_port, int *cli_port)
{
	struct sockaddr_storage ss = {0};
	socklen_t len;
	if (af == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		a->sin_family = AF_INET;
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(*a);
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		a->sin6_family = AF_INET6;
		a->sin6_addr = in6addr_loopback;
		len = sizeof(*a);
	}
	*srv = socket(af, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (*srv < 0 || bind(*srv, (struct sockaddr *)&ss, len) < 0) {
		if (*srv >= 0)
			close(*srv);
		return false;
	}
	assert_int_equal(listen(*srv, 1), 0);
	assert_int_equal(getsockname(*srv, (struct sockaddr *)&ss, &len), 0);
	*cli = socket(af, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(*cli >= 0);
	assert_int_equal(connect(*cli, (struct sockaddr *)&ss, len), 0);
	*acc = accept4(*srv, NULL, NULL, SOCK_CLOEXEC);
	assert_true(*acc >= 0);
	*srv_port = port_of(&ss);
	assert_int_equal(getsockname(*cli, (struct sockaddr *)&ss, &len), 0);
	*cli_port = port_of(&ss);
	return true;
}

static void expect_peer(int fd, const char *want)
{
	char peer[64];
	int rc = fgt_procfs_socket_peer(getpid(), fd_inode(fd), peer, sizeof(peer));
	if (rc != 0)
		fail_msg("no peer for fd %d (want %s): %s", fd, want, strerror(-rc));
	assert_string_equal(peer, want);
}

static void test_socket_peer(void **state)
{
	(void)state;
	int srv, cli, acc, srv_port, cli_port;
	assert_true(tcp_pair(AF_INET, &srv, &cli, &acc, &srv_port, &cli_port));
	char want[64];
	snprintf(want, sizeof(want), "127.0.0.1:%d", srv_port);
	expect_peer(cli, want);
	snprintf(want, sizeof(want), "127.0.0.1:%d", cli_port);
	expect_peer(acc, want);
	expect_peer(srv, "0.0.0.0:0");

	char small[8];
	assert_int_equal(
	    fgt_procfs_socket_peer(getpid(), fd_inode(cli), small, sizeof(small)),
	    -ERANGE);
	char peer[64];
	assert_int_equal(fgt_procfs_socket_peer(getpid(), 1, peer, sizeof(peer)),
			 -ENOENT);
	int pipefd[2];
	assert_int_equal(pipe(pipefd), 0);
	struct stat pst;
	assert_int_equal(fstat(pipefd[0], &pst), 0);
	assert_int_equal(fgt_procfs_socket_peer(getpid(), (unsigned long)pst.st_ino, peer,
						sizeof(peer)),
			 -ENOENT);
	close(pipefd[0]);
	close(pipefd[1]);
	close(acc);
	close(cli);
	close(srv);
}

static void test_socket_peer_v6(void **state)
{
	(void)state;
	int srv, cli, acc, srv_port, cli_port;
	if (!tcp_pair(AF_INET6, &srv, &cli, &acc, &srv_port, &cli_port))
		skip(); /* no IPv6 loopback here */
	char want[64];
	snprintf(want, sizeof(want), "[::1]:%d", srv_port);
	expect_peer(cli, want);
	snprintf(want, sizeof(want), "[::1]:%d", cli_port);
	expect_peer(acc, want);
	close(acc);
	close(cli);
	close(srv);
}

static void test_live_tcp_table(void **state)
{
	(void)state;
	int srv, cli, acc, srv_port, cli_port;
	assert_true(tcp_pair(AF_INET, &srv, &cli, &acc, &srv_port, &cli_port));
	FILE *f = fopen("/proc/self/net/tcp", "re");
	assert_non_null(f);
	char line[512], l[64], r[64];
	unsigned long ino;
	int lineno = 0;
	while (fgets(line, sizeof(line), f)) {
		int rc =
		    fgt_procfs_parse_tcp_line(line, &ino, l, sizeof(l), r, sizeof(r));
		if (lineno++ == 0)
			assert_int_equal(rc, -EINVAL);
		else if (rc != 0)
			fail_msg("live tcp line rejected: %s", line);
	}
	fclose(f);
	assert_true(lineno >= 4);
	close(acc);
	close(cli);
	close(srv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_stat_names),
	    cmocka_unit_test(test_stat_long_name_is_cut),
	    cmocka_unit_test(test_stat_states_and_signed_fields),
	    cmocka_unit_test(test_stat_malformed),
	    cmocka_unit_test(test_stat_truncated),
	    cmocka_unit_test(test_kernel_thread_flag),
	    cmocka_unit_test(test_status),
	    cmocka_unit_test(test_status_malformed),
	    cmocka_unit_test(test_schedstat),
	    cmocka_unit_test(test_syscall_file),
	    cmocka_unit_test(test_live_syscall),
	    cmocka_unit_test(test_maps_lines),
	    cmocka_unit_test(test_maps_malformed),
	    cmocka_unit_test(test_tcp_lines),
	    cmocka_unit_test(test_tcp_malformed),
	    cmocka_unit_test(test_live_self),
	    cmocka_unit_test(test_live_thread),
	    cmocka_unit_test(test_live_timeslices),
	    cmocka_unit_test(test_live_maps),
	    cmocka_unit_test(test_live_cmdline),
	    cmocka_unit_test(test_live_zombie_and_gone),
	    cmocka_unit_test(test_live_tracer),
	    cmocka_unit_test(test_kernel_thread_live),
	    cmocka_unit_test(test_fd_target),
	    cmocka_unit_test(test_socket_peer),
	    cmocka_unit_test(test_socket_peer_v6),
	    cmocka_unit_test(test_live_tcp_table),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
