/* Unit tests for recognising a return address by the call before it
 * (lib/x86call.c). The encodings are GNU as output for the instructions in
 * the comments. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "x86call.h"

struct insn {
	const char *text;
	uint8_t b[12];
	size_t n;
};

static void test_calls(void **state)
{
	(void)state;
	static const struct insn calls[] = {
	    {"call rel32", {0xe8, 0x10, 0x20, 0x00, 0x00}, 5},
	    {"call *%rax", {0xff, 0xd0}, 2},
	    {"call *%r11", {0x41, 0xff, 0xd3}, 3},
	    {"call *(%rdx)", {0xff, 0x12}, 2},
	    {"call *0x8(%rax)", {0xff, 0x50, 0x08}, 3},
	    {"call *0x8(%rsp)", {0xff, 0x54, 0x24, 0x08}, 4},
	    {"call *(%rax,%rbx,8)", {0xff, 0x14, 0xd8}, 3},
	    {"call *0x1000(%r12)", {0x41, 0xff, 0x94, 0x24, 0x00, 0x10, 0x00, 0x00}, 8},
	    {"call *0x200(%rbx)", {0xff, 0x93, 0x00, 0x02, 0x00, 0x00}, 6},
	    {"call *0x3fe0(%rip)", {0xff, 0x15, 0xe0, 0x3f, 0x00, 0x00}, 6},
	    {"call *0x4000(,%rax,8)", {0xff, 0x14, 0xc5, 0x00, 0x40, 0x00, 0x00}, 7},
	    {"notrack call *%rax", {0x3e, 0xff, 0xd0}, 3},
	    {"notrack call *0x10(%r13,%rax,8)", {0x3e, 0x41, 0xff, 0x54, 0xc5, 0x10}, 6},
	    {"notrack call *0x1000(%r13,%rax,8)",
	     {0x3e, 0x41, 0xff, 0x94, 0xc5, 0x00, 0x10, 0x00, 0x00},
	     9},
	};
	for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
		/* After other code, as on a real stack. */
		uint8_t buf[32];
		for (size_t k = 0; k < sizeof(buf); k++)
			buf[k] = 0x90; /* nop */
		size_t at = sizeof(buf) - calls[i].n;
		for (size_t k = 0; k < calls[i].n; k++)
			buf[at + k] = calls[i].b[k];
		if (!fgt_x86_ends_with_call(buf, sizeof(buf)))
			fail_msg("%s not recognised", calls[i].text);
		if (!fgt_x86_ends_with_call(calls[i].b, calls[i].n))
			fail_msg("%s alone not recognised", calls[i].text);
	}
}

static void test_other_instructions(void **state)
{
	(void)state;
	static const struct insn others[] = {
	    {"jmp *%rax", {0x90, 0x90, 0xff, 0xe0}, 4},
	    {"push 0x8(%rax)", {0x90, 0x90, 0xff, 0x70, 0x08}, 5},
	    {"inc (%rax)", {0x90, 0x90, 0xff, 0x00}, 4},
	    {"ret", {0x90, 0x90, 0xc3}, 3},
	    {"syscall", {0x90, 0x90, 0x0f, 0x05}, 4},
	    {"nops", {0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90}, 9},
	    /* A call with one more byte after it: the address is not its end. */
	    {"call *%rax; nop", {0xff, 0xd0, 0x90}, 3},
	    {"call rel32; nop", {0xe8, 0x10, 0x20, 0x00, 0x00, 0x90}, 6},
	    /* Too short for the displacement its ModRM asks for. */
	    {"ff 15 + 3 bytes", {0xff, 0x15, 0x00, 0x00, 0x00}, 5},
	    {"ff /2 cut", {0xff}, 1},
	};
	for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++)
		if (fgt_x86_ends_with_call(others[i].b, others[i].n))
			fail_msg("%s taken for a call", others[i].text);
	assert_false(fgt_x86_ends_with_call(NULL, 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_calls),
	    cmocka_unit_test(test_other_instructions),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
