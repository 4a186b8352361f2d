/* Unit tests for the small pure parts of naming: the JIT perf-map reader
 * (lib/perfmap.c), state frame names (lib/state.c) and the classification of
 * syscalls by what they wait on (lib/waiton.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "perfmap.h"
#include "state.h"
#include "waiton.h"

static void test_perfmap_line(void **state)
{
	(void)state;
	char ok[] = "7f0012340000 1a0 LazyCompile:~handler /app/server.js:12\n";
	uint64_t start, size;
	const char *name;
	assert_int_equal(fgt_perfmap_parse_line(ok, &start, &size, &name), 0);
	assert_int_equal(start, 0x7f0012340000ull);
	assert_int_equal(size, 0x1a0);
	assert_string_equal(name, "LazyCompile:~handler /app/server.js:12");

	char prefixed[] = "0x1000 0x10 f";
	assert_int_equal(fgt_perfmap_parse_line(prefixed, &start, &size, &name), 0);
	assert_int_equal(start, 0x1000);

	const char *bad[] = {"",	"zz 10 f",  "1000 f",
			     "1000 10", "1000 0 f", "ffffffffffffffff 10 wraps",
			     "1000  ",	"-1 10 f"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char buf[64];
		snprintf(buf, sizeof(buf), "%s", bad[i]);
		assert_int_equal(fgt_perfmap_parse_line(buf, &start, &size, &name),
				 -EINVAL);
	}
}

static void test_perfmap_lookup_and_growth(void **state)
{
	(void)state;
	char path[] = "/tmp/fgtrace-perfmap-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	FILE *f = fdopen(fd, "w");
	fprintf(f, "2000 100 second\n1000 100 first\nnot a line\n");
	fflush(f);

	struct fgt_perfmap *m;
	assert_int_equal(fgt_perfmap_new(path, &m), 0);
	uint64_t start;
	assert_null(fgt_perfmap_lookup(m, 0x1000, &start)); /* not read yet */
	assert_int_equal(fgt_perfmap_refresh(m), 0);
	assert_int_equal(fgt_perfmap_size(m), 2);
	assert_string_equal(fgt_perfmap_lookup(m, 0x1000, &start), "first");
	assert_int_equal(start, 0x1000);
	assert_string_equal(fgt_perfmap_lookup(m, 0x10ff, &start), "first");
	assert_null(fgt_perfmap_lookup(m, 0x1100, &start));
	assert_string_equal(fgt_perfmap_lookup(m, 0x2050, &start), "second");
	assert_null(fgt_perfmap_lookup(m, 0xfff, &start));

	/* The map grows while the program runs: a refresh picks it up. */
	fprintf(f, "3000 10 third\n");
	fclose(f);
	assert_int_equal(fgt_perfmap_refresh(m), 0);
	assert_int_equal(fgt_perfmap_size(m), 3);
	assert_string_equal(fgt_perfmap_lookup(m, 0x3005, &start), "third");
	fgt_perfmap_free(m);
	unlink(path);

	assert_int_equal(fgt_perfmap_new("/nonexistent/perf-1.map", &m), 0);
	assert_int_equal(fgt_perfmap_refresh(m), -ENOENT);
	fgt_perfmap_free(m);
}

static void test_state_names(void **state)
{
	(void)state;
	char buf[64];
	fgt_state_name(-1, false, buf, sizeof(buf));
	assert_string_equal(buf, "running");
	fgt_state_name(SYS_read, false, buf, sizeof(buf));
	assert_string_equal(buf, "sys_read");
	fgt_state_name(SYS_futex, false, buf, sizeof(buf));
	assert_string_equal(buf, "sys_futex");
	fgt_state_name(SYS_clock_nanosleep, false, buf, sizeof(buf));
	assert_string_equal(buf, "sys_clock_nanosleep");
	fgt_state_name(SYS_read, true, buf, sizeof(buf));
	assert_string_equal(buf, "stopped");
	fgt_state_name(100000, false, buf, sizeof(buf));
	assert_string_equal(buf, "sys_100000");
	assert_int_equal(FGT_SYSCALL_RESTART, SYS_restart_syscall);
	assert_string_equal(fgt_syscall_name(SYS_restart_syscall), "restart_syscall");
	assert_null(fgt_syscall_name(-5));
}

static void test_wait_kinds(void **state)
{
	(void)state;
	assert_int_equal(fgt_waiton_kind(SYS_read), FGT_WAIT_FD);
	assert_int_equal(fgt_waiton_kind(SYS_recvfrom), FGT_WAIT_FD);
	assert_int_equal(fgt_waiton_kind(SYS_accept4), FGT_WAIT_FD);
	assert_int_equal(fgt_waiton_kind(SYS_epoll_wait), FGT_WAIT_FD);
	assert_int_equal(fgt_waiton_kind(SYS_futex), FGT_WAIT_FUTEX);
	assert_int_equal(fgt_waiton_kind(SYS_poll), FGT_WAIT_POLL1);
	assert_int_equal(fgt_waiton_kind(SYS_nanosleep), FGT_WAIT_NONE);
	assert_int_equal(fgt_waiton_kind(-1), FGT_WAIT_NONE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_perfmap_line),
	    cmocka_unit_test(test_perfmap_lookup_and_growth),
	    cmocka_unit_test(test_state_names),
	    cmocka_unit_test(test_wait_kinds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
