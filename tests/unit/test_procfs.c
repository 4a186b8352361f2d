/* Unit tests for the /proc readers (lib/procfs.c): crafted contents, and the
 * live files of this test process. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "procfs.h"

#define STAT_TAIL                                                                        \
	" S 1 100 100 0 -1 4194560 10 0 0 0 5 6 0 0 20 0 3 0 12345 1000 100 "            \
	"18446744073709551615"

static void test_stat_names_with_parens(void **state)
{
	(void)state;
	const char *names[] = {"bash", "my prog", "a)b", "x) (y",
			       "((",   ")",	  "",	 "tab\tnl\n"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char buf[256];
		int n = snprintf(buf, sizeof(buf), "4321 (%s)" STAT_TAIL "\n", names[i]);
		struct fgt_proc_stat st;
		assert_int_equal(fgt_procfs_parse_stat(buf, (size_t)n, &st), 0);
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

static void test_stat_malformed(void **state)
{
	(void)state;
	const char *bad[] = {
	    "",		"4321",	      "4321 (x",	"4321 x) S 1",	    "(x) S",
	    "4321 (x)", "4321 (x) S", "4321 (x) S 1 2", "abc (x)" STAT_TAIL};
	struct fgt_proc_stat st;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (fgt_procfs_parse_stat(bad[i], strlen(bad[i]), &st) != -EINVAL)
			fail_msg("'%s' was accepted", bad[i]);
	/* Not NUL-terminated: parse only len bytes. */
	char buf[] = "1 (a)" STAT_TAIL;
	assert_int_equal(fgt_procfs_parse_stat(buf, 5, &st), -EINVAL);
}

static void test_kernel_thread_flag(void **state)
{
	(void)state;
	const char *s =
	    "2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0 0 0 0 0 20 0 1 0 1 0 0 "
	    "18446744073709551615";
	struct fgt_proc_stat st;
	assert_int_equal(fgt_procfs_parse_stat(s, strlen(s), &st), 0);
	assert_true(fgt_procfs_is_kernel_thread(&st));
}

static void test_status(void **state)
{
	(void)state;
	const char *s =
	    "Name:\tx\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t100\nNgid:\t0\n"
	    "Pid:\t101\nPPid:\t1\nTracerPid:\t77\nUid:\t1000\t1001\t1000\t1000\n"
	    "NSpid:\t101\t5\n";
	struct fgt_proc_status st;
	assert_int_equal(fgt_procfs_parse_status(s, strlen(s), &st), 0);
	assert_int_equal(st.tgid, 100);
	assert_int_equal(st.tracer_pid, 77);
	assert_int_equal(st.ruid, 1000);
	assert_int_equal(st.euid, 1001);
	assert_int_equal(st.ns_pid, 5);
	assert_int_equal(fgt_procfs_parse_status("Name:\tx\n", 8, &st), -EINVAL);
}

static void test_schedstat(void **state)
{
	(void)state;
	uint64_t a, b, c;
	const char *s = "123456 7890 42\n";
	assert_int_equal(fgt_procfs_parse_schedstat(s, strlen(s), &a, &b, &c), 0);
	assert_int_equal(a, 123456);
	assert_int_equal(b, 7890);
	assert_int_equal(c, 42);
	assert_int_equal(fgt_procfs_parse_schedstat("1 2", 3, &a, &b, &c), -EINVAL);
	assert_int_equal(fgt_procfs_parse_schedstat("1 2 x", 5, &a, &b, &c), -EINVAL);
}

static void test_maps_lines(void **state)
{
	(void)state;
	struct fgt_map m;
	char l1[] = "7f00aa000000-7f00aa021000 r-xp 00002000 08:01 1234567    "
		    "/usr/lib/x86_64-linux-gnu/libc.so.6";
	assert_int_equal(fgt_procfs_parse_maps_line(l1, &m), 0);
	assert_int_equal(m.start, 0x7f00aa000000ull);
	assert_int_equal(m.end, 0x7f00aa021000ull);
	assert_int_equal(m.offset, 0x2000);
	assert_int_equal(m.inode, 1234567);
	assert_string_equal(m.perms, "r-xp");
	assert_string_equal(m.path, "/usr/lib/x86_64-linux-gnu/libc.so.6");
	char l2[] = "55d0c0000000-55d0c0021000 rw-p 00000000 00:00 0 ";
	assert_int_equal(fgt_procfs_parse_maps_line(l2, &m), 0);
	assert_string_equal(m.path, "");
	char l3[] = "1000-2000 r-xp 00000000 08:01 42 /tmp/my app (deleted)";
	assert_int_equal(fgt_procfs_parse_maps_line(l3, &m), 0);
	assert_string_equal(m.path, "/tmp/my app (deleted)");
	char bad[] = "zzzz";
	assert_int_equal(fgt_procfs_parse_maps_line(bad, &m), -EINVAL);
}

static void test_tcp_lines(void **state)
{
	(void)state;
	unsigned long ino;
	char l[64], r[64];
	const char *v4 =
	    "   1: 0100007F:1F90 0100007F:D431 01 00000000:00000000 00:00000000 "
	    "00000000  1000        0 98765 1 0000000000000000 20 4 30 10 -1";
	assert_int_equal(fgt_procfs_parse_tcp_line(v4, &ino, l, sizeof(l), r, sizeof(r)),
			 0);
	assert_int_equal(ino, 98765);
	assert_string_equal(l, "127.0.0.1:8080");
	assert_string_equal(r, "127.0.0.1:54321");
	const char *v6 = "   0: 00000000000000000000000001000000:1F90 "
			 "00000000000000000000000001000000:C350 01 00000000:00000000 "
			 "00:00000000 00000000     0        0 4242 1";
	assert_int_equal(fgt_procfs_parse_tcp_line(v6, &ino, l, sizeof(l), r, sizeof(r)),
			 0);
	assert_int_equal(ino, 4242);
	assert_string_equal(r, "[::1]:50000");
	const char *header =
	    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when";
	assert_int_equal(
	    fgt_procfs_parse_tcp_line(header, &ino, l, sizeof(l), r, sizeof(r)), -EINVAL);
}

static void *sleeper(void *arg)
{
	(void)arg;
	pthread_setname_np(pthread_self(), "probe)(x");
	pause();
	return NULL;
}

static void test_live_process(void **state)
{
	(void)state;
	pid_t me = getpid();
	struct fgt_proc_stat st;
	assert_int_equal(fgt_procfs_read_stat(me, 0, &st), 0);
	assert_int_equal(st.pid, me);
	assert_false(fgt_procfs_is_kernel_thread(&st));
	struct fgt_proc_status ps;
	assert_int_equal(fgt_procfs_read_status(me, 0, &ps), 0);
	assert_int_equal(ps.tgid, me);

	pthread_t t;
	pthread_create(&t, NULL, sleeper, NULL);
	pid_t *tids = NULL;
	size_t n = 0;
	/* The thread names itself right away; poll for it with a deadline. */
	char name[64] = "";
	pid_t other = 0;
	for (int i = 0; i < 100000 && strcmp(name, "probe)(x") != 0; i++) {
		free(tids);
		assert_int_equal(fgt_procfs_list_tasks(me, &tids, &n), 0);
		other = n > 1 ? tids[1] : 0;
		if (other)
			fgt_procfs_read_comm(me, other, name, sizeof(name));
	}
	assert_true(n >= 2);
	assert_int_equal(tids[0], me);
	assert_string_equal(name, "probe)(x");
	assert_int_equal(fgt_procfs_read_stat(me, other, &st), 0);
	assert_string_equal(st.comm, "probe)(x");
	free(tids);

	int fd = fgt_procfs_open_schedstat(me, other);
	assert_true(fd >= 0);
	uint64_t slices;
	assert_int_equal(fgt_procfs_read_timeslices(fd, &slices), 0);
	close(fd);

	char cmd[256];
	assert_int_equal(fgt_procfs_read_cmdline(me, cmd, sizeof(cmd)), 0);
	assert_non_null(strstr(cmd, "test_procfs"));
	assert_int_equal(fgt_procfs_read_stat(me, 999999999, &st), -ENOENT);
}

static void test_kernel_thread_live(void **state)
{
	(void)state;
	struct fgt_proc_stat st;
	if (fgt_procfs_read_stat(2, 0, &st) < 0 || strcmp(st.comm, "kthreadd") != 0)
		skip();
	assert_true(fgt_procfs_is_kernel_thread(&st));
}

static void test_socket_peer(void **state)
{
	(void)state;
	int srv = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	assert_int_equal(bind(srv, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(srv, 1), 0);
	getsockname(srv, (struct sockaddr *)&a, &len);
	int cli = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(connect(cli, (struct sockaddr *)&a, sizeof(a)), 0);
	struct stat st;
	fstat(cli, &st);
	char target[64], peer[64], want[64];
	assert_int_equal(fgt_procfs_fd_target(getpid(), cli, target, sizeof(target)), 0);
	assert_true(strncmp(target, "socket:[", 8) == 0);
	assert_int_equal(fgt_procfs_socket_peer(getpid(), (unsigned long)st.st_ino, peer,
						sizeof(peer)),
			 0);
	snprintf(want, sizeof(want), "127.0.0.1:%d", ntohs(a.sin_port));
	assert_string_equal(peer, want);
	assert_int_equal(fgt_procfs_socket_peer(getpid(), 1, peer, sizeof(peer)),
			 -ENOENT);
	close(cli);
	close(srv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_stat_names_with_parens),
	    cmocka_unit_test(test_stat_malformed),
	    cmocka_unit_test(test_kernel_thread_flag),
	    cmocka_unit_test(test_status),
	    cmocka_unit_test(test_schedstat),
	    cmocka_unit_test(test_maps_lines),
	    cmocka_unit_test(test_tcp_lines),
	    cmocka_unit_test(test_live_process),
	    cmocka_unit_test(test_kernel_thread_live),
	    cmocka_unit_test(test_socket_peer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
