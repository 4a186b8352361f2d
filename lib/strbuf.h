/* fgtrace — a growable byte string.
 *
 * Always NUL-terminated after an append (unless out of memory). On allocation
 * failure oom is set and further appends are dropped: callers check oom once
 * at the end instead of after every append.
 */
#ifndef FGT_STRBUF_H
#define FGT_STRBUF_H

#include <stdbool.h>
#include <stddef.h>

struct fgt_strbuf {
	char *s;    /* owned; NULL until the first append */
	size_t len; /* bytes, not counting the NUL */
	size_t cap;
	bool oom;
};

void fgt_strbuf_init(struct fgt_strbuf *b);
/* Frees the bytes; b can be used again after init. */
void fgt_strbuf_free(struct fgt_strbuf *b);
/* Empties b, keeping its memory (and clearing oom). */
void fgt_strbuf_reset(struct fgt_strbuf *b);
void fgt_strbuf_append(struct fgt_strbuf *b, const void *p, size_t n);
void fgt_strbuf_puts(struct fgt_strbuf *b, const char *s);
void fgt_strbuf_putc(struct fgt_strbuf *b, char c);
void fgt_strbuf_printf(struct fgt_strbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
