/* Unit tests for PLT stub naming (lib/plt.c), on this test program itself:
 * like every program built here it has a .plt (calls into cmocka and the C
 * library) and a .plt.got (__cxa_finalize). Each stub found must jump through
 * a GOT slot that the dynamic loader bound to the function it is named
 * after, or, for a lazy slot not yet bound, back into this program. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <gelf.h>
#include <link.h>
#include <string.h>
#include <unistd.h>

#include "plt.h"

struct self {
	uint64_t bias, start, end;
};

static int find_self(struct dl_phdr_info *info, size_t size, void *data)
{
	(void)size;
	struct self *me = data;
	me->bias = info->dlpi_addr;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD)
			continue;
		uint64_t lo = info->dlpi_addr + ph->p_vaddr, hi = lo + ph->p_memsz;
		me->start = me->start && me->start < lo ? me->start : lo;
		me->end = me->end > hi ? me->end : hi;
	}
	return 1; /* the program comes first */
}

static void test_stubs_of_this_program(void **state)
{
	(void)state;
	struct self me = {0};
	dl_iterate_phdr(find_self, &me);
	assert_true(me.end > me.start);
	assert_int_not_equal(elf_version(EV_CURRENT), EV_NONE);
	int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	Elf *elf = elf_begin(fd, ELF_C_READ, NULL);
	assert_non_null(elf);
	struct fgt_plt *p = NULL;
	assert_int_equal(fgt_plt_read(elf, &p), 0);
	elf_end(elf); /* the table keeps nothing of it */
	close(fd);

	size_t n = fgt_plt_size(p);
	assert_true(n >= 2);
	bool saw_finalize = false, saw_cmocka = false;
	uint64_t prev_end = 0;
	for (uint64_t addr = me.start - me.bias; addr < me.end - me.bias; addr++) {
		const struct fgt_plt_stub *st = fgt_plt_find(p, addr);
		if (!st || st->start != addr)
			continue;
		assert_true(st->start >= prev_end); /* sorted, no overlap */
		prev_end = st->start + st->size;
		assert_non_null(st->name); /* no IFUNC of its own */
		assert_ptr_equal(fgt_plt_find(p, st->start + st->size - 1), st);
		uint64_t bound = *(const uint64_t *)(uintptr_t)(st->slot + me.bias);
		void *want = dlsym(RTLD_DEFAULT, st->name);
		bool lazy = bound >= me.start && bound < me.end;
		if (!lazy)
			assert_int_equal(bound, (uint64_t)(uintptr_t)want);
		saw_finalize |= strcmp(st->name, "__cxa_finalize") == 0;
		saw_cmocka |= strncmp(st->name, "_cmocka_", 8) == 0 && !lazy;
		n--;
	}
	assert_int_equal(n, 0);	   /* every stub lies in the program */
	assert_true(saw_finalize); /* .plt.got, a GLOB_DAT slot */
	assert_true(saw_cmocka);   /* .plt, bound by the calls that ran */
	assert_null(fgt_plt_find(p, 0));
	fgt_plt_free(p);
}

static void test_no_elf_is_an_empty_table(void **state)
{
	(void)state;
	struct fgt_plt *p = NULL;
	assert_int_equal(fgt_plt_read(NULL, &p), 0);
	assert_int_equal(fgt_plt_size(p), 0);
	assert_null(fgt_plt_find(p, 0x1000));
	fgt_plt_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_stubs_of_this_program),
	    cmocka_unit_test(test_no_elf_is_an_empty_table),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
