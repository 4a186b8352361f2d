// fuzz-sources: lib/json.c lib/strbuf.c
/* libFuzzer target: any bytes through the JSON string writer must give a
 * valid JSON string: valid UTF-8, no raw control bytes, no surrogate escapes,
 * and every escape well formed. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t len = c < 0x80		      ? 1
		     : c >= 0xc2 && c <= 0xdf ? 2
		     : c >= 0xe0 && c <= 0xef ? 3
		     : c >= 0xf0 && c <= 0xf4 ? 4
					      : 0;
	if (!len || len > n)
		return 0;
	for (size_t i = 1; i < len; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	if (len == 3 && c == 0xe0 && s[1] < 0xa0)
		return 0;
	if (len == 3 && c == 0xed && s[1] > 0x9f)
		return 0; /* a surrogate encoded in UTF-8 */
	if (len == 4 && c == 0xf0 && s[1] < 0x90)
		return 0;
	if (len == 4 && c == 0xf4 && s[1] > 0x8f)
		return 0;
	return len;
}

static void check(const unsigned char *s, size_t n)
{
	if (n < 2 || s[0] != '"' || s[n - 1] != '"')
		abort();
	for (size_t i = 1; i < n - 1;) {
		unsigned char c = s[i];
		if (c < 0x20 || c == 0x7f || c == '"')
			abort();
		if (c == '\\') {
			unsigned char e = s[i + 1];
			if (e == 'u') {
				if (i + 6 > n - 1)
					abort();
				if ((s[i + 2] | 0x20) == 'd' &&
				    strchr("89abAB", s[i + 3]))
					abort(); /* surrogate escape */
				i += 6;
			} else if (strchr("\"\\/bfnrt", e) && e) {
				i += 2;
			} else {
				abort();
			}
			continue;
		}
		size_t len = utf8_len(s + i, n - 1 - i);
		if (!len)
			abort();
		i += len;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fgt_strbuf b;
	fgt_strbuf_init(&b);
	fgt_json_string(&b, (const char *)data, size);
	if (b.oom)
		abort();
	check((const unsigned char *)b.s, b.len);
	fgt_strbuf_free(&b);
	return 0;
}
