/* Unit tests for the symbolizer's module check (lib/symbolize.c), on this
 * test process itself: what the unwinder may read as code-module memory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <unistd.h>

#include "config.h"
#include "symbolize.h"

static void test_stack_and_heap_are_not_code(void **state)
{
	(void)state;
	struct fgt_config cfg = {.pid = getpid()};
	struct fgt_symbolizer *s = NULL;
	assert_int_equal(fgt_symbolizer_new(getpid(), &cfg, &s), 0);
	int local = 0;
	void *heap = malloc(64);
	assert_non_null(heap);
	/* Code of this program and of the C library is. */
	assert_true(fgt_symbolizer_is_code(
	    s, (uint64_t)(uintptr_t)&test_stack_and_heap_are_not_code, false));
	assert_true(fgt_symbolizer_is_code(s, (uint64_t)(uintptr_t)&malloc, false));
	/* The stack lies above every module: libdw 0.188 answers for it with
	 * the highest one, which must not make it code. */
	assert_false(fgt_symbolizer_is_code(s, (uint64_t)(uintptr_t)&local, false));
	assert_false(fgt_symbolizer_is_code(s, (uint64_t)(uintptr_t)&local, true));
	assert_false(fgt_symbolizer_is_code(s, (uint64_t)(uintptr_t)heap, false));
	assert_false(fgt_symbolizer_is_code(s, 0x7ffffffff000ull, false));
	free(heap);
	fgt_symbolizer_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_stack_and_heap_are_not_code),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
