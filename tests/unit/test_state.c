/* Unit tests for how a stop treats a thread asleep in each syscall
 * (lib/state.c): which calls a stop fails with EINTR, where they keep their
 * timeout, and which may sleep uninterruptibly. The numbers are x86-64's, from the kernel
 * headers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sys/syscall.h>

#include "state.h"

static void test_restarting_calls(void **state)
{
	(void)state;
	const long nrs[] = {SYS_nanosleep, SYS_futex, SYS_poll,	 SYS_wait4, SYS_pread64,
			    SYS_msgrcv,	   SYS_flock, SYS_close, -1,	    100000};
	for (size_t i = 0; i < sizeof(nrs) / sizeof(nrs[0]); i++)
		assert_int_equal(fgt_syscall_stop_effect(nrs[i]), FGT_STOP_RESTARTS);
	int arg = 0;
	assert_int_equal(fgt_syscall_timeout(SYS_nanosleep, &arg), FGT_TIMEOUT_PTR);
	assert_int_equal(arg, -1); /* unknown: never made again */
}

static void test_calls_a_stop_fails(void **state)
{
	(void)state;
	const struct {
		long nr;
		enum fgt_timeout_arg timeout;
		int arg;
	} calls[] = {
	    {SYS_epoll_wait, FGT_TIMEOUT_MS, 3},
	    {SYS_epoll_pwait, FGT_TIMEOUT_MS, 3},
	    {SYS_semop, FGT_TIMEOUT_NONE, 0},
	    {SYS_semtimedop, FGT_TIMEOUT_PTR, 3},
	    {SYS_rt_sigtimedwait, FGT_TIMEOUT_PTR, 2},
	    {SYS_io_getevents, FGT_TIMEOUT_PTR, 4},
	    {SYS_io_pgetevents, FGT_TIMEOUT_PTR, 4},
	    {SYS_io_uring_enter, FGT_TIMEOUT_URING, 4},
	};
	for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
		int arg = -1;
		assert_int_equal(fgt_syscall_stop_effect(calls[i].nr), FGT_STOP_EINTR);
		assert_int_equal(fgt_syscall_timeout(calls[i].nr, &arg),
				 calls[i].timeout);
		assert_int_equal(arg, calls[i].arg);
	}
}

static void test_socket_calls(void **state)
{
	(void)state;
	const long nrs[] = {SYS_read,	  SYS_readv,  SYS_recvfrom, SYS_recvmsg,
			    SYS_recvmmsg, SYS_accept, SYS_accept4,  SYS_connect,
			    SYS_write,	  SYS_writev, SYS_sendto,   SYS_sendmsg,
			    SYS_sendmmsg};
	for (size_t i = 0; i < sizeof(nrs) / sizeof(nrs[0]); i++) {
		int arg = -1;
		assert_int_equal(fgt_syscall_stop_effect(nrs[i]), FGT_STOP_SOCKET);
		assert_int_equal(fgt_syscall_timeout(nrs[i], &arg), FGT_TIMEOUT_SOCKET);
		assert_int_equal(arg, 0); /* the file descriptor */
	}
}

static void test_calls_that_may_block(void **state)
{
	(void)state;
	/* Only interruptible sleeps: no state D to look for. */
	const long never[] = {SYS_futex, SYS_nanosleep,	    SYS_clock_nanosleep,
			      SYS_wait4, SYS_waitid,	    SYS_poll,
			      SYS_ppoll, SYS_select,	    SYS_pselect6,
			      SYS_pause, SYS_rt_sigsuspend, SYS_restart_syscall};
	for (size_t i = 0; i < sizeof(never) / sizeof(never[0]); i++)
		assert_false(fgt_syscall_may_block(never[i]));
	/* A disk read, vfork, an open on a slow file system; and a number
	 * without a name, which may be anything. */
	const long may[] = {SYS_read,	SYS_pread64, SYS_vfork,
			    SYS_openat, SYS_fsync,   100000};
	for (size_t i = 0; i < sizeof(may) / sizeof(may[0]); i++)
		assert_true(fgt_syscall_may_block(may[i]));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_restarting_calls),
	    cmocka_unit_test(test_calls_a_stop_fails),
	    cmocka_unit_test(test_socket_calls),
	    cmocka_unit_test(test_calls_that_may_block),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
