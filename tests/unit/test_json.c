/* Unit tests for JSON string writing (lib/json.c) and the string buffer under
 * it (lib/strbuf.c). Names from the target are hostile bytes and must always
 * give valid JSON that Perfetto accepts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

#define FFFD "\xef\xbf\xbd"

static struct fgt_strbuf out;

static int setup(void **state)
{
	(void)state;
	fgt_strbuf_init(&out);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	fgt_strbuf_free(&out);
	return 0;
}

static const char *esc(const char *s, size_t n)
{
	fgt_strbuf_reset(&out);
	fgt_json_string(&out, s, n);
	assert_false(out.oom);
	assert_int_equal(strlen(out.s), out.len); /* escaped output never holds a NUL */
	return out.s;
}

#define ESC(lit) esc(lit, sizeof(lit) - 1)

/* ---- the string buffer ---- */

static void test_strbuf_append_and_grow(void **state)
{
	(void)state;
	struct fgt_strbuf b;
	fgt_strbuf_init(&b);
	assert_null(b.s);
	for (int i = 0; i < 1000; i++)
		fgt_strbuf_putc(&b, (char)('a' + i % 26));
	assert_int_equal(b.len, 1000);
	assert_true(b.cap > b.len);
	assert_int_equal(b.s[1000], '\0');
	assert_int_equal(b.s[999], 'a' + 999 % 26);
	fgt_strbuf_append(&b, "x\0y", 3); /* NULs are data */
	assert_int_equal(b.len, 1003);
	assert_memory_equal(b.s + 1000, "x\0y", 4);
	fgt_strbuf_append(&b, NULL, 0);
	assert_int_equal(b.len, 1003);
	fgt_strbuf_free(&b);
	assert_null(b.s);
	assert_int_equal(b.len, 0);
}

static void test_strbuf_reset_keeps_memory(void **state)
{
	(void)state;
	struct fgt_strbuf b;
	fgt_strbuf_init(&b);
	fgt_strbuf_puts(&b, "hello");
	char *s = b.s;
	size_t cap = b.cap;
	fgt_strbuf_reset(&b);
	assert_int_equal(b.len, 0);
	assert_ptr_equal(b.s, s);
	assert_int_equal(b.cap, cap);
	assert_string_equal(b.s, "");
	fgt_strbuf_puts(&b, "again");
	assert_string_equal(b.s, "again");
	fgt_strbuf_free(&b);
}

static void test_strbuf_printf(void **state)
{
	(void)state;
	struct fgt_strbuf b;
	fgt_strbuf_init(&b);
	fgt_strbuf_printf(&b, "%d:%s", 42, "x");
	assert_string_equal(b.s, "42:x");
	/* Longer than what is left, so the second formatting pass runs. */
	char big[5000];
	memset(big, 'q', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	fgt_strbuf_printf(&b, "<%s>", big);
	assert_int_equal(b.len, 4 + 2 + sizeof(big) - 1);
	assert_int_equal(b.s[4], '<');
	assert_int_equal(b.s[b.len - 1], '>');
	assert_int_equal(b.s[b.len], '\0');
	/* Exactly filling the room at each size. */
	for (int w = 1; w < 700; w++) {
		fgt_strbuf_reset(&b);
		fgt_strbuf_printf(&b, "%*d", w, 7);
		assert_int_equal(b.len, w);
		assert_int_equal(strlen(b.s), w);
		fgt_strbuf_printf(&b, "%s", "");
		assert_int_equal(b.len, w);
	}
	assert_false(b.oom);
	fgt_strbuf_free(&b);
}

static void test_strbuf_oom_drops_appends(void **state)
{
	(void)state;
	struct fgt_strbuf b;
	fgt_strbuf_init(&b);
	fgt_strbuf_puts(&b, "ok");
	/* A size no allocator grants. */
	fgt_strbuf_append(&b, "", SIZE_MAX - 8);
	assert_true(b.oom);
	fgt_strbuf_puts(&b, "more");
	fgt_strbuf_printf(&b, "%d", 1);
	assert_int_equal(b.len, 2);
	fgt_strbuf_reset(&b);
	assert_false(b.oom);
	fgt_strbuf_puts(&b, "fine");
	assert_string_equal(b.s, "fine");
	fgt_strbuf_free(&b);
}

/* ---- escaping ---- */

static void test_plain_and_quotes(void **state)
{
	(void)state;
	assert_string_equal(ESC("main"), "\"main\"");
	assert_string_equal(ESC(""), "\"\"");
	assert_string_equal(ESC("a\"b"), "\"a\\\"b\"");
	assert_string_equal(ESC("a\\b"), "\"a\\\\b\"");
	assert_string_equal(ESC("\"\\\"\\"), "\"\\\"\\\\\\\"\\\\\"");
	assert_string_equal(ESC("x)y (z"), "\"x)y (z\"");
	assert_string_equal(ESC("ns::Foo<int>::bar"), "\"ns::Foo<int>::bar\"");
	assert_string_equal(ESC("/usr/lib/libc.so.6"), "\"/usr/lib/libc.so.6\"");
	assert_string_equal(ESC("'~`{}[]"), "\"'~`{}[]\"");
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
	assert_string_equal(ESC("\x1b[31mred"), "\"\\u001b[31mred\"");
}

static void test_embedded_nul(void **state)
{
	(void)state;
	/* An embedded NUL is data, not the end. */
	assert_string_equal(esc("a\0b", 3), "\"a\\u0000b\"");
	assert_string_equal(esc("\0\0", 2), "\"\\u0000\\u0000\"");
}

static void test_valid_utf8_is_raw(void **state)
{
	(void)state;
	assert_string_equal(ESC("caf\xc3\xa9"), "\"caf\xc3\xa9\"");   /* 2 bytes */
	assert_string_equal(ESC("\xc2\x80"), "\"\xc2\x80\"");	      /* U+0080 */
	assert_string_equal(ESC("\xdf\xbf"), "\"\xdf\xbf\"");	      /* U+07FF */
	assert_string_equal(ESC("\xe0\xa0\x80"), "\"\xe0\xa0\x80\""); /* U+0800 */
	assert_string_equal(ESC("\xe2\x82\xac"), "\"\xe2\x82\xac\""); /* euro */
	assert_string_equal(ESC("\xed\x9f\xbf"), "\"\xed\x9f\xbf\""); /* U+D7FF */
	assert_string_equal(ESC("\xee\x80\x80"), "\"\xee\x80\x80\""); /* U+E000 */
	assert_string_equal(ESC("\xef\xbf\xbf"), "\"\xef\xbf\xbf\""); /* U+FFFF */
	assert_string_equal(ESC("\xe2\x80\xa8\xe2\x80\xa9"),
			    "\"\xe2\x80\xa8\xe2\x80\xa9\""); /* U+2028, U+2029 */
	assert_string_equal(ESC(FFFD), "\"" FFFD "\"");
	assert_string_equal(ESC("\xf0\x90\x80\x80"),
			    "\"\xf0\x90\x80\x80\""); /* U+10000 */
	assert_string_equal(ESC("\xf0\x9f\x98\x80"), "\"\xf0\x9f\x98\x80\""); /* emoji */
	assert_string_equal(ESC("\xf4\x8f\xbf\xbf"),
			    "\"\xf4\x8f\xbf\xbf\""); /* U+10FFFF */
	assert_string_equal(ESC("\xe6\x97\xa5\"\xe6\x9c\xac"),
			    "\"\xe6\x97\xa5\\\"\xe6\x9c\xac\"");
}

static void test_invalid_utf8_becomes_fffd(void **state)
{
	(void)state;
	/* Bytes that never start a sequence. */
	assert_string_equal(ESC("\xff"), "\"" FFFD "\"");
	assert_string_equal(ESC("\xfe\xff"), "\"" FFFD FFFD "\"");
	assert_string_equal(ESC("\xf5\x80"), "\"" FFFD FFFD "\"");
	assert_string_equal(ESC("\xf8\x88\x80\x80\x80"),
			    "\"" FFFD FFFD FFFD FFFD FFFD "\"");
	/* Stray continuation bytes. */
	assert_string_equal(ESC("a\x80z"), "\"a" FFFD "z\"");
	assert_string_equal(ESC("\xbf\xbf"), "\"" FFFD FFFD "\"");
	assert_string_equal(ESC("\xc3\xa9\xa9"), "\"\xc3\xa9" FFFD "\"");
	/* Truncated sequences: one U+FFFD for the whole maximal subpart. */
	assert_string_equal(ESC("\xc3"), "\"" FFFD "\"");
	assert_string_equal(ESC("\xc3z"), "\"" FFFD "z\"");
	assert_string_equal(ESC("\xe2\x82z"), "\"" FFFD "z\"");
	assert_string_equal(ESC("\xe2\x82"), "\"" FFFD "\"");
	assert_string_equal(ESC("\xf0\x9f\x98"), "\"" FFFD "\"");
	assert_string_equal(ESC("\xf0\x9f\x98\""), "\"" FFFD "\\\"\"");
	assert_string_equal(ESC("\xe2\x82\xc3\xa9"), "\"" FFFD "\xc3\xa9\"");
	assert_string_equal(ESC("\xf0\x9f\n"), "\"" FFFD "\\u000a\"");
	/* Overlong encodings. */
	assert_string_equal(ESC("\xc0\xaf"), "\"" FFFD FFFD "\"");
	assert_string_equal(ESC("\xc1\xbf"), "\"" FFFD FFFD "\"");
	assert_string_equal(ESC("\xe0\x80\xaf"), "\"" FFFD FFFD FFFD "\"");
	assert_string_equal(ESC("\xe0\x9f\xbf"), "\"" FFFD FFFD FFFD "\"");
	assert_string_equal(ESC("\xf0\x80\x80\xaf"), "\"" FFFD FFFD FFFD FFFD "\"");
	assert_string_equal(ESC("\xf0\x8f\xbf\xbf"), "\"" FFFD FFFD FFFD FFFD "\"");
	/* Surrogates encoded in UTF-8, alone and as a CESU-8 pair. */
	assert_string_equal(ESC("\xed\xa0\x80"), "\"" FFFD FFFD FFFD "\"");
	assert_string_equal(ESC("\xed\xbf\xbf"), "\"" FFFD FFFD FFFD "\"");
	assert_string_equal(ESC("\xed\xa0\xbd\xed\xb8\x80"),
			    "\"" FFFD FFFD FFFD FFFD FFFD FFFD "\"");
	/* Above U+10FFFF. */
	assert_string_equal(ESC("\xf4\x90\x80\x80"), "\"" FFFD FFFD FFFD FFFD "\"");
	assert_string_equal(ESC("\xf7\xbf\xbf\xbf"), "\"" FFFD FFFD FFFD FFFD "\"");
	/* Unicode's own example (Table 3-8): 61 F1 80 80 E1 80 C2 62 80 63 80 BF 64. */
	assert_string_equal(ESC("a\xf1\x80\x80\xe1\x80\xc2"
				"b\x80"
				"c\x80\xbf"
				"d"),
			    "\"a" FFFD FFFD FFFD "b" FFFD "c" FFFD FFFD "d\"");
}

static void test_never_surrogate_escapes(void **state)
{
	(void)state;
	/* Every ED xx yy: surrogates in UTF-8 and their neighbours. */
	for (int b1 = 0; b1 < 256; b1++) {
		for (int b2 = 0; b2 < 256; b2++) {
			char in[3] = {(char)0xed, (char)b1, (char)b2};
			const char *s = esc(in, 3);
			assert_null(strstr(s, "\\ud"));
			assert_null(strstr(s, "\\uD"));
		}
	}
}

static void test_cstring_and_null(void **state)
{
	(void)state;
	struct fgt_strbuf b;
	fgt_strbuf_init(&b);
	fgt_json_cstring(&b, NULL);
	fgt_strbuf_putc(&b, ',');
	fgt_json_cstring(&b, "x\"\xff");
	fgt_strbuf_putc(&b, ',');
	fgt_json_cstring(&b, "");
	assert_string_equal(b.s, "null,\"x\\\"" FFFD "\",\"\"");
	fgt_strbuf_free(&b);
}

static void test_appends_after_existing_text(void **state)
{
	(void)state;
	struct fgt_strbuf b;
	fgt_strbuf_init(&b);
	fgt_strbuf_puts(&b, "{\"name\":");
	fgt_json_string(&b, "a\tb", 3);
	fgt_strbuf_putc(&b, '}');
	assert_string_equal(b.s, "{\"name\":\"a\\u0009b\"}");
	fgt_strbuf_free(&b);
}

static void test_long_string(void **state)
{
	(void)state;
	static char in[100000];
	memset(in, 'a', sizeof(in));
	in[5000] = '"';
	in[99999] = '\x01';
	const char *s = esc(in, sizeof(in));
	assert_int_equal(strlen(s), sizeof(in) + 2 + 1 + 5);
	assert_memory_equal(s + 5001, "\\\"", 2);
	assert_string_equal(s + sizeof(in) + 1, "\\u0001\"");
}

/* ---- an independent reference, compared on every short input ----
 *
 * It decides validity by the code point range a prefix can still reach, not
 * by the table of second-byte ranges that lib/json.c uses. */

static bool reachable(uint32_t lead_bits, size_t k, size_t total, const unsigned char *s)
{
	static const uint32_t lo[] = {0, 0, 0x80, 0x800, 0x10000};
	static const uint32_t hi[] = {0, 0, 0x7ff, 0xffff, 0x10ffff};
	uint32_t cp = lead_bits;
	for (size_t i = 1; i < k; i++)
		cp = cp << 6 | (s[i] & 0x3f);
	unsigned shift = 6 * (unsigned)(total - k);
	uint32_t min = cp << shift, max = min | ((1u << shift) - 1);
	if (max < lo[total] || min > hi[total])
		return false;
	return !(min >= 0xd800 && max <= 0xdfff); /* only surrogates left */
}

/* Length of the maximal subpart at s: positive if it is a whole valid
 * sequence, negative if it is invalid. */
static long ref_subpart(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t total;
	uint32_t bits;
	if (c < 0x80)
		return 1;
	if ((c & 0xe0) == 0xc0)
		total = 2, bits = c & 0x1f;
	else if ((c & 0xf0) == 0xe0)
		total = 3, bits = c & 0x0f;
	else if ((c & 0xf8) == 0xf0)
		total = 4, bits = c & 0x07;
	else
		return -1;
	size_t k = 0;
	for (size_t j = 1; j <= total && j <= n; j++) {
		if (j > 1 && (s[j - 1] & 0xc0) != 0x80)
			break;
		if (!reachable(bits, j, total, s))
			break;
		k = j;
	}
	if (k == total)
		return (long)total;
	return k ? -(long)k : -1;
}

static void ref_escape(struct fgt_strbuf *b, const unsigned char *s, size_t n)
{
	fgt_strbuf_putc(b, '"');
	for (size_t i = 0; i < n;) {
		long k = ref_subpart(s + i, n - i);
		if (k < 0) {
			fgt_strbuf_puts(b, FFFD);
			i += (size_t)-k;
		} else if (s[i] == '"' || s[i] == '\\') {
			fgt_strbuf_printf(b, "\\%c", s[i++]);
		} else if (s[i] < 0x20 || s[i] == 0x7f) {
			fgt_strbuf_printf(b, "\\u%04x", s[i++]);
		} else {
			fgt_strbuf_append(b, s + i, (size_t)k);
			i += (size_t)k;
		}
	}
	fgt_strbuf_putc(b, '"');
}

static void compare_with_reference(const unsigned char *in, size_t n,
				   struct fgt_strbuf *ref)
{
	fgt_strbuf_reset(ref);
	ref_escape(ref, in, n);
	esc((const char *)in, n);
	if (out.len != ref->len || memcmp(out.s, ref->s, ref->len) != 0) {
		char hex[64] = "";
		for (size_t i = 0; i < n; i++)
			snprintf(hex + 3 * i, sizeof(hex) - 3 * i, "%02x ", in[i]);
		fail_msg("input %s: got %s, want %s", hex, out.s, ref->s);
	}
}

static void test_reference_every_two_bytes(void **state)
{
	(void)state;
	struct fgt_strbuf ref;
	fgt_strbuf_init(&ref);
	for (int a = 0; a < 256; a++) {
		unsigned char in1[1] = {(unsigned char)a};
		compare_with_reference(in1, 1, &ref);
		for (int b = 0; b < 256; b++) {
			unsigned char in[2] = {(unsigned char)a, (unsigned char)b};
			compare_with_reference(in, 2, &ref);
		}
	}
	fgt_strbuf_free(&ref);
}

static void test_reference_boundary_bytes(void **state)
{
	(void)state;
	/* Every 4-byte string over the bytes where the rules change. */
	static const unsigned char alphabet[] = {
	    0x00, 0x22, 0x41, 0x5c, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0,
	    0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xe1, 0xec, 0xed, 0xee,
	    0xef, 0xf0, 0xf1, 0xf3, 0xf4, 0xf5, 0xf8, 0xff,
	};
	const size_t na = sizeof(alphabet);
	struct fgt_strbuf ref;
	fgt_strbuf_init(&ref);
	for (size_t i = 0; i < na * na * na * na; i++) {
		unsigned char in[4] = {alphabet[i % na], alphabet[i / na % na],
				       alphabet[i / na / na % na],
				       alphabet[i / na / na / na]};
		compare_with_reference(in, 4, &ref);
		compare_with_reference(in, 3, &ref);
	}
	fgt_strbuf_free(&ref);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_strbuf_append_and_grow),
	    cmocka_unit_test(test_strbuf_reset_keeps_memory),
	    cmocka_unit_test(test_strbuf_printf),
	    cmocka_unit_test(test_strbuf_oom_drops_appends),
	    cmocka_unit_test(test_plain_and_quotes),
	    cmocka_unit_test(test_every_control_byte),
	    cmocka_unit_test(test_embedded_nul),
	    cmocka_unit_test(test_valid_utf8_is_raw),
	    cmocka_unit_test(test_invalid_utf8_becomes_fffd),
	    cmocka_unit_test(test_never_surrogate_escapes),
	    cmocka_unit_test(test_cstring_and_null),
	    cmocka_unit_test(test_appends_after_existing_text),
	    cmocka_unit_test(test_long_string),
	    cmocka_unit_test(test_reference_every_two_bytes),
	    cmocka_unit_test(test_reference_boundary_bytes),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
