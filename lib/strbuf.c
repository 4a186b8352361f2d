/* fgtrace — a growable byte string. */
#include "strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static bool reserve(struct fgt_strbuf *b, size_t extra)
{
	if (b->oom)
		return false;
	if (b->len + extra + 1 <= b->cap)
		return true;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < b->len + extra + 1)
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
	size_t room = b->cap > b->len ? b->cap - b->len : 0;
	va_start(ap, fmt);
	int n = b->oom ? -1 : vsnprintf(b->s ? b->s + b->len : NULL, room, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= room) {
		if (!reserve(b, (size_t)n))
			return;
		va_start(ap, fmt);
		vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
	}
	b->len += (size_t)n;
}
