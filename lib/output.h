/* fgtrace — output sinks: a file, stdout, or gzip, with every write checked.
 *
 * Writes are buffered (64 KiB) and go out with write(2), retried on EINTR and
 * short writes. The first error sticks: later writes do nothing and return it,
 * so a writer may check once, at a flush or at the close. Not thread-safe: one
 * writer per output.
 */
#ifndef FGT_OUTPUT_H
#define FGT_OUTPUT_H

#include <stddef.h>
#include <stdint.h>

enum fgt_compress {
	FGT_COMPRESS_AUTO, /* gzip when the path ends in ".gz" */
	FGT_COMPRESS_NONE,
	FGT_COMPRESS_GZIP,
};

struct fgt_output;

/* Creates or truncates path (mode 0666 less the umask); "-" is stdout, which
 * is written to but never closed. Returns 0 and sets *out, which the caller
 * owns and frees with fgt_output_close; or returns -errno and sets *out to
 * NULL: -ENOENT for a missing directory, -EACCES, -EISDIR, -ENOMEM, ... */
int fgt_output_open(const char *path, enum fgt_compress c, struct fgt_output **out);

/* Buffers n bytes, writing through when the buffer fills. Returns 0 or the
 * sticky -errno (-ENOSPC, -EIO, -EPIPE, ...); after an error it writes nothing. */
int fgt_output_write(struct fgt_output *o, const void *p, size_t n);

/* Writes out what is buffered; for gzip, a sync flush, so that everything
 * written so far decompresses even if the process dies next. Returns 0 or the
 * sticky -errno. */
int fgt_output_flush(struct fgt_output *o);

/* Bytes that reached the file so far (compressed bytes for gzip). */
uint64_t fgt_output_bytes(const struct fgt_output *o);

/* The sticky -errno, or 0. */
int fgt_output_error(const struct fgt_output *o);

/* The path given to fgt_output_open; owned by o, valid until the close. */
const char *fgt_output_path(const struct fgt_output *o);

/* Finishes the gzip stream, writes out the buffer and closes the file (checking
 * close(2)). Returns 0 or the first error of o's life. Frees o in every case;
 * NULL is a no-op that returns 0. */
int fgt_output_close(struct fgt_output *o);

#endif
