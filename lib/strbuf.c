/* fgtrace — a growable byte string. */
#include "strbuf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIN_CAP 256

void fgt_strbuf_init(struct fgt_strbuf *b)
{
	memset(b, 0, sizeof(*b));
}

void fgt_strbuf_free(struct fgt_strbuf *b)
{
	free(b->s);
	fgt_strbuf_init(b);
}

void fgt_strbuf_reset(struct fgt_strbuf *b)
{
	b->len = 0;
	b->oom = false;
	if (b->s)
		b->s[0] = '\0';
}

/* Makes room for extra more bytes plus the NUL; false (and oom) if it cannot. */
static bool reserve(struct fgt_strbuf *b, size_t extra)
{
	if (b->oom)
		return false;
	if (extra < b->cap - b->len)
		return true;
	if (extra > SIZE_MAX / 2 - b->len - 1) {
		b->oom = true;
		return false;
	}
	size_t need = b->len + extra + 1;
	size_t cap = b->cap ? b->cap : MIN_CAP;
	while (cap < need)
		cap *= 2;
	char *s = realloc(b->s, cap);
	if (!s) {
		b->oom = true;
		return false;
	}
	b->s = s;
	b->cap = cap;
	return true;
}

void fgt_strbuf_append(struct fgt_strbuf *b, const void *p, size_t n)
{
	if (!reserve(b, n))
		return;
	if (n)
		memcpy(b->s + b->len, p, n);
	b->len += n;
	b->s[b->len] = '\0';
}

void fgt_strbuf_puts(struct fgt_strbuf *b, const char *s)
{
	fgt_strbuf_append(b, s, strlen(s));
}

void fgt_strbuf_putc(struct fgt_strbuf *b, char c)
{
	if (!reserve(b, 1))
		return;
	b->s[b->len++] = c;
	b->s[b->len] = '\0';
}

void fgt_strbuf_printf(struct fgt_strbuf *b, const char *fmt, ...)
{
	va_list ap;
	/* Try the room there is first: most records fit, so one pass suffices. */
	if (!reserve(b, 64))
		return;
	size_t room = b->cap - b->len;
	va_start(ap, fmt);
	int n = vsnprintf(b->s + b->len, room, fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n >= room && reserve(b, (size_t)n)) {
		va_start(ap, fmt);
		n = vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
	}
	if (n < 0 || b->oom || (size_t)n >= b->cap - b->len) {
		b->s[b->len] = '\0'; /* drop whatever part was written */
		return;
	}
	b->len += (size_t)n;
}
