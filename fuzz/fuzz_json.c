// fuzz-sources: lib/json.c lib/strbuf.c
/* libFuzzer target: any bytes through the JSON string writer must give one
 * valid JSON string (RFC 8259) in valid UTF-8, with no raw control bytes and
 * no surrogate escapes; and decoding it must give back the input with each
 * maximal invalid UTF-8 subpart replaced by U+FFFD. Aborts on a violation. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

#define FFFD "\xef\xbf\xbd"

struct bytes {
	unsigned char *p;
	size_t len, cap;
};

static void put(struct bytes *d, const void *p, size_t n)
{
	if (n > d->cap - d->len)
		abort(); /* more text than the input can explain */
	memcpy(d->p + d->len, p, n);
	d->len += n;
}

/* Decodes one UTF-8 sequence by computing its code point and checking the
 * range for its length (no overlong forms, no surrogates, at most U+10FFFF).
 * Returns its length, or 0 if s does not start with a valid one. */
static size_t utf8_decode(const unsigned char *s, size_t n)
{
	static const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
	unsigned char c = s[0];
	size_t len;
	uint32_t cp;
	if (c < 0x80)
		return 1;
	if ((c & 0xe0) == 0xc0)
		len = 2, cp = c & 0x1f;
	else if ((c & 0xf0) == 0xe0)
		len = 3, cp = c & 0x0f;
	else if ((c & 0xf8) == 0xf0)
		len = 4, cp = c & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if (cp < min[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

static int hex_digit(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
		return (c | 0x20) - 'a' + 10;
	abort();
}

/* Parses the escape at s[0] == '\\' into d; returns the bytes it took. */
static size_t parse_escape(const unsigned char *s, size_t n, struct bytes *d)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	if (n < 2)
		abort();
	const char *k = s[1] ? strchr(from, s[1]) : NULL;
	if (k) {
		put(d, &to[k - from], 1);
		return 2;
	}
	if (s[1] != 'u' || n < 6)
		abort();
	uint32_t v = 0;
	for (int i = 2; i < 6; i++)
		v = v << 4 | (uint32_t)hex_digit(s[i]);
	if (v >= 0xd800 && v <= 0xdfff)
		abort(); /* Perfetto rejects the whole file for one */
	if (v >= 0x80)
		abort(); /* the writer escapes only ASCII; anything else is raw */
	unsigned char c = (unsigned char)v;
	put(d, &c, 1);
	return 6;
}

/* Parses s as exactly one JSON string, decoding it into d. */
static void parse_string(const unsigned char *s, size_t n, struct bytes *d)
{
	if (n < 2 || s[0] != '"')
		abort();
	size_t i = 1;
	while (i < n && s[i] != '"') {
		if (s[i] == '\\') {
			i += parse_escape(s + i, n - i, d);
			continue;
		}
		if (s[i] < 0x20 || s[i] == 0x7f)
			abort(); /* raw control byte */
		size_t len = utf8_decode(s + i, n - i);
		if (!len)
			abort();
		put(d, s + i, len);
		i += len;
	}
	if (i != n - 1)
		abort(); /* no closing quote, or text after it */
}

/* Whether a sequence of total bytes whose first k bytes are s can still be
 * completed into a valid code point. */
static bool completable(const unsigned char *s, size_t k, size_t total, uint32_t lead)
{
	static const uint32_t lo[] = {0, 0, 0x80, 0x800, 0x10000};
	static const uint32_t hi[] = {0, 0, 0x7ff, 0xffff, 0x10ffff};
	uint32_t cp = lead;
	for (size_t i = 1; i < k; i++)
		cp = cp << 6 | (s[i] & 0x3f);
	unsigned shift = 6 * (unsigned)(total - k);
	uint32_t first = cp << shift, last = first | ((1u << shift) - 1);
	if (last < lo[total] || first > hi[total])
		return false;
	return !(first >= 0xd800 && last <= 0xdfff);
}

/* The expected decoded text: s with each maximal invalid subpart as U+FFFD. */
static void reference(const unsigned char *s, size_t n, struct bytes *d)
{
	for (size_t i = 0; i < n;) {
		size_t len = utf8_decode(s + i, n - i);
		if (len) {
			put(d, s + i, len);
			i += len;
			continue;
		}
		size_t total = (s[i] & 0xe0) == 0xc0 ? 2 : (s[i] & 0xf0) == 0xe0 ? 3 : 4;
		uint32_t lead = s[i] & (0x7f >> total);
		size_t k = 1;
		if ((s[i] & 0xc0) == 0xc0 && s[i] < 0xf8 &&
		    completable(s + i, 1, total, lead))
			while (k < total && i + k < n && (s[i + k] & 0xc0) == 0x80 &&
			       completable(s + i, k + 1, total, lead))
				k++;
		put(d, FFFD, 3);
		i += k;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fgt_strbuf b;
	fgt_strbuf_init(&b);
	fgt_strbuf_putc(&b, '['); /* the writer appends after existing text */
	fgt_json_string(&b, (const char *)data, size);
	if (b.oom || b.s[0] != '[' || strlen(b.s) != b.len)
		abort();

	/* Each input byte decodes to at most 3 bytes (a U+FFFD). */
	size_t cap = 3 * size + 1;
	struct bytes got = {malloc(cap), 0, cap}, want = {malloc(cap), 0, cap};
	if (!got.p || !want.p)
		abort();
	parse_string((const unsigned char *)b.s + 1, b.len - 1, &got);
	reference(data, size, &want);
	if (got.len != want.len || memcmp(got.p, want.p, got.len) != 0)
		abort();
	free(got.p);
	free(want.p);
	fgt_strbuf_free(&b);
	return 0;
}
