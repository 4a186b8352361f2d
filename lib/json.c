/* fgtrace — JSON strings from hostile bytes. */
#include "json.h"

#include <stdint.h>
#include <string.h>

static const char replacement[] = "\xef\xbf\xbd"; /* U+FFFD */

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0 when the
 * bytes there are not one; *bad then gets the length of the maximal invalid
 * subpart to replace (Unicode's "substitution of maximal subparts"). */
static size_t utf8_seq(const unsigned char *s, size_t n, size_t *bad)
{
	unsigned char c = s[0];
	size_t len;
	unsigned char lo = 0x80, hi = 0xbf; /* allowed range of the second byte */
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		if (c == 0xe0)
			lo = 0xa0; /* no overlong forms */
		else if (c == 0xed)
			hi = 0x9f; /* no surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f; /* nothing above U+10FFFF */
	} else {
		*bad = 1;
		return 0;
	}
	size_t i = 1;
	for (; i < len && i < n; i++) {
		unsigned char lo_i = i == 1 ? lo : 0x80, hi_i = i == 1 ? hi : 0xbf;
		if (s[i] < lo_i || s[i] > hi_i)
			break;
	}
	if (i == len)
		return len;
	*bad = i;
	return 0;
}

void fgt_json_string(struct fgt_strbuf *b, const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, run = 0;
	fgt_strbuf_putc(b, '"');
	while (i < len) {
		unsigned char c = s[i];
		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
			i++;
			continue;
		}
		/* Copy the plain run before this byte in one append. */
		fgt_strbuf_append(b, s + run, i - run);
		if (c == '"' || c == '\\') {
			fgt_strbuf_putc(b, '\\');
			fgt_strbuf_putc(b, (char)c);
			i++;
		} else if (c < 0x20 || c == 0x7f) {
			static const char hex[] = "0123456789abcdef";
			char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
			fgt_strbuf_append(b, esc, sizeof(esc));
			i++;
		} else {
			size_t bad = 0, n = utf8_seq(s + i, len - i, &bad);
			if (n) {
				fgt_strbuf_append(b, s + i, n);
				i += n;
			} else {
				fgt_strbuf_append(b, replacement, 3);
				i += bad;
			}
		}
		run = i;
	}
	fgt_strbuf_append(b, s + run, i - run);
	fgt_strbuf_putc(b, '"');
}

void fgt_json_cstring(struct fgt_strbuf *b, const char *s)
{
	if (!s)
		fgt_strbuf_puts(b, "null");
	else
		fgt_json_string(b, s, strlen(s));
}
