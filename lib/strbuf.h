/* fgtrace — a growable byte string.
 *
 * After any append, s is NUL-terminated (unless oom), so it can be passed to C
 * string functions. On allocation failure oom is set and every later append
 * is dropped: a writer builds a whole record and checks oom once at the end.
 * The bytes may hold NULs of their own; len is the truth.
 */
#ifndef FGT_STRBUF_H
#define FGT_STRBUF_H

#include <stdbool.h>
#include <stddef.h>

struct fgt_strbuf {
	char *s;    /* owned by the strbuf; NULL until the first append */
	size_t len; /* bytes, not counting the NUL */
	size_t cap; /* bytes allocated at s */
	bool oom;   /* an allocation failed; appends are being dropped */
};

/* Makes b empty, with nothing allocated. Cannot fail. */
void fgt_strbuf_init(struct fgt_strbuf *b);

/* Frees the bytes and leaves b as after init. Cannot fail. */
void fgt_strbuf_free(struct fgt_strbuf *b);

/* Empties b (len 0) and clears oom, keeping the memory for reuse. */
void fgt_strbuf_reset(struct fgt_strbuf *b);

/* Appends n bytes from p. On allocation failure sets oom and appends nothing. */
void fgt_strbuf_append(struct fgt_strbuf *b, const void *p, size_t n);

/* Appends the NUL-terminated s (without its NUL). Fails as append does. */
void fgt_strbuf_puts(struct fgt_strbuf *b, const char *s);

/* Appends one byte, which may be NUL. Fails as append does. */
void fgt_strbuf_putc(struct fgt_strbuf *b, char c);

/* Appends printf-style formatted text. On allocation failure sets oom and
 * appends nothing; an output error of vsnprintf appends nothing either. */
void fgt_strbuf_printf(struct fgt_strbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
