/* fgtrace — JSON strings from hostile bytes. */
#include "json.h"

#include <string.h>

#define FFFD "\xef\xbf\xbd"

enum byte_class {
	PLAIN,	 /* printable ASCII copied as it is */
	BACKSL,	 /* '"' or '\': a backslash before it */
	CONTROL, /* \u00XX */
	HIGH,	 /* 0x80-0xff: valid UTF-8 or not */
};

/* Built once by the compiler: the hot loop is one table lookup per byte. */
static const unsigned char byte_class[256] = {
    [0x00 ... 0x1f] = CONTROL, [0x20 ... 0x21] = PLAIN, ['"'] = BACKSL,
    [0x23 ... 0x5b] = PLAIN,   ['\\'] = BACKSL,		[0x5d ... 0x7e] = PLAIN,
    [0x7f] = CONTROL,	       [0x80 ... 0xff] = HIGH,
};

/* Length of the valid UTF-8 sequence at s (n > 0 bytes available), or, negated,
 * the length of the maximal invalid subpart there. The second byte's range
 * excludes overlong forms (E0, F0), surrogates (ED) and values above U+10FFFF
 * (F4); see Unicode's table of well-formed byte sequences. */
static long utf8_seq(const unsigned char *s, size_t n)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;
	size_t len;

	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4;
	else
		return -1;
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;

	size_t i = 1;
	if (i < n && s[i] >= lo && s[i] <= hi)
		for (i = 2; i < len && i < n && (s[i] & 0xc0) == 0x80; i++)
			;
	return i == len ? (long)len : -(long)i;
}

static void put_control(struct fgt_strbuf *b, unsigned char c)
{
	static const char hex[] = "0123456789abcdef";
	char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
	fgt_strbuf_append(b, esc, sizeof(esc));
}

void fgt_json_string(struct fgt_strbuf *b, const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, run = 0; /* s[run..i) is copied raw when the run ends */

	fgt_strbuf_putc(b, '"');
	while (i < len) {
		unsigned char c = s[i];
		enum byte_class k = byte_class[c];
		long n = 1;

		if (k == PLAIN) {
			i++;
			continue;
		}
		if (k == HIGH) {
			n = utf8_seq(s + i, len - i);
			if (n > 0) {
				i += (size_t)n;
				continue;
			}
		}
		fgt_strbuf_append(b, s + run, i - run);
		if (k == BACKSL) {
			char esc[2] = {'\\', (char)c};
			fgt_strbuf_append(b, esc, 2);
		} else if (k == CONTROL) {
			put_control(b, c);
		} else {
			fgt_strbuf_append(b, FFFD, 3);
			n = -n;
		}
		i += (size_t)n;
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
