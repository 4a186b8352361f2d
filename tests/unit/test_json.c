/* Unit tests for JSON string writing (lib/json.c): names from the target are
 * hostile bytes, and must always give valid JSON that Perfetto accepts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "json.h"

static const char *esc(const char *s, size_t n)
{
	static struct fgt_strbuf b;
	fgt_strbuf_reset(&b);
	fgt_json_string(&b, s, n);
	assert_false(b.oom);
	return b.s;
}

#define ESC(lit) esc(lit, sizeof(lit) - 1)

static void test_plain_and_quotes(void **state)
{
	(void)state;
	assert_string_equal(ESC("main"), "\"main\"");
	assert_string_equal(ESC(""), "\"\"");
	assert_string_equal(ESC("a\"b"), "\"a\\\"b\"");
	assert_string_equal(ESC("a\\b"), "\"a\\\\b\"");
	assert_string_equal(ESC("x)y (z"), "\"x)y (z\"");
	assert_string_equal(ESC("ns::Foo<int>::bar"), "\"ns::Foo<int>::bar\"");
}

static void test_every_control_byte(void **state)
{
	(void)state;
	for (int c = 0; c < 0x20; c++) {
		char in[1] = {(char)c}, want[16];
		snprintf(want, sizeof(want), "\"\\u%04x\"", c);
		assert_string_equal(esc(in, 1), want);
	}
	assert_string_equal(ESC("\x7f"), "\"\\u007f\"");
	assert_string_equal(ESC("tab\there\nnl"), "\"tab\\u0009here\\u000anl\"");
	/* An embedded NUL is data, not the end. */
	assert_string_equal(esc("a\0b", 3), "\"a\\u0000b\"");
}

static void test_valid_utf8_is_raw(void **state)
{
	(void)state;
	assert_string_equal(ESC("caf\xc3\xa9"), "\"caf\xc3\xa9\"");   /* 2 bytes */
	assert_string_equal(ESC("\xe2\x82\xac"), "\"\xe2\x82\xac\""); /* 3 bytes: euro */
	assert_string_equal(ESC("\xf0\x9f\x98\x80"),
			    "\"\xf0\x9f\x98\x80\"");		      /* 4 bytes */
	assert_string_equal(ESC("\xe2\x80\xa8"), "\"\xe2\x80\xa8\""); /* U+2028 */
	assert_string_equal(ESC("\xef\xbf\xbd"), "\"\xef\xbf\xbd\""); /* U+FFFD */
}

#define FFFD "\xef\xbf\xbd"

static void test_invalid_utf8_becomes_fffd(void **state)
{
	(void)state;
	assert_string_equal(ESC("\xff"), "\"" FFFD "\"");
	assert_string_equal(ESC("\xfe\xff"), "\"" FFFD FFFD "\"");
	assert_string_equal(ESC("a\x80z"), "\"a" FFFD "z\""); /* stray continuation */
	assert_string_equal(ESC("\xc3"), "\"" FFFD "\"");     /* truncated at the end */
	assert_string_equal(ESC("\xc3z"), "\"" FFFD "z\""); /* truncated in the middle */
	assert_string_equal(ESC("\xe2\x82z"), "\"" FFFD "z\""); /* one maximal subpart */
	assert_string_equal(ESC("\xc0\xaf"), "\"" FFFD FFFD "\""); /* overlong */
	assert_string_equal(ESC("\xe0\x80\xaf"), "\"" FFFD FFFD FFFD "\"");
	assert_string_equal(ESC("\xed\xa0\x80"),
			    "\"" FFFD FFFD FFFD "\""); /* surrogate */
	assert_string_equal(ESC("\xf4\x90\x80\x80"), "\"" FFFD FFFD FFFD FFFD "\"");
	assert_string_equal(ESC("\xf5\x80"), "\"" FFFD FFFD "\"");
}

static void test_never_surrogate_escapes(void **state)
{
	(void)state;
	/* Every 3-byte sequence starting with ED (surrogates in UTF-8). */
	for (int b1 = 0x80; b1 <= 0xbf; b1++) {
		char in[3] = {(char)0xed, (char)b1, (char)0x80};
		const char *out = esc(in, 3);
		assert_null(strstr(out, "\\ud"));
		assert_null(strstr(out, "\\uD"));
	}
}

static void test_cstring_and_null(void **state)
{
	(void)state;
	struct fgt_strbuf b;
	fgt_strbuf_init(&b);
	fgt_json_cstring(&b, NULL);
	fgt_strbuf_putc(&b, ',');
	fgt_json_cstring(&b, "x");
	assert_string_equal(b.s, "null,\"x\"");
	fgt_strbuf_free(&b);
}

static void test_long_string(void **state)
{
	(void)state;
	static char in[100000];
	memset(in, 'a', sizeof(in));
	in[5000] = '"';
	const char *out = esc(in, sizeof(in));
	assert_int_equal(strlen(out), sizeof(in) + 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_plain_and_quotes),
	    cmocka_unit_test(test_every_control_byte),
	    cmocka_unit_test(test_valid_utf8_is_raw),
	    cmocka_unit_test(test_invalid_utf8_becomes_fffd),
	    cmocka_unit_test(test_never_surrogate_escapes),
	    cmocka_unit_test(test_cstring_and_null),
	    cmocka_unit_test(test_long_string),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
