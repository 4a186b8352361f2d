/* fgtrace — output sinks with checked writes. */
#include "output.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#define BUF_SIZE (64 * 1024)

struct fgt_output {
	int fd;
	bool is_stdout;
	bool gzip;
	int err; /* sticky: the first -errno */
	uint64_t bytes;
	char *path;
	size_t len;	     /* bytes waiting in buf */
	unsigned char *buf;  /* what the caller wrote, not yet compressed */
	unsigned char *zbuf; /* deflate's output, for gzip only */
	z_stream z;
};

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && strcmp(s + n - m, suffix) == 0;
}

static void output_free(struct fgt_output *o)
{
	if (o->gzip)
		deflateEnd(&o->z);
	free(o->path);
	free(o->buf);
	free(o->zbuf);
	free(o);
}

static int open_fd(const char *path)
{
	int fd;
	do
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
	while (fd < 0 &&
	       errno == EINTR); /* a FIFO's open blocks, and may be interrupted */
	return fd < 0 ? -errno : fd;
}

/* windowBits 15 + 16: deflate data inside a gzip header and trailer. */
static int gzip_init(struct fgt_output *o)
{
	o->zbuf = malloc(BUF_SIZE);
	if (!o->zbuf)
		return -ENOMEM;
	if (deflateInit2(&o->z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return -ENOMEM;
	o->gzip = true;
	return 0;
}

int fgt_output_open(const char *path, enum fgt_compress c, struct fgt_output **out)
{
	*out = NULL;
	struct fgt_output *o = calloc(1, sizeof(*o));
	if (!o)
		return -ENOMEM;
	o->fd = -1;
	o->path = strdup(path);
	o->buf = malloc(BUF_SIZE);
	bool gz =
	    c == FGT_COMPRESS_GZIP || (c == FGT_COMPRESS_AUTO && ends_with(path, ".gz"));
	int rc = o->path && o->buf ? 0 : -ENOMEM;
	if (!rc && gz)
		rc = gzip_init(o);
	if (!rc && strcmp(path, "-") == 0) {
		o->is_stdout = true;
		o->fd = STDOUT_FILENO;
	} else if (!rc) {
		o->fd = rc = open_fd(path);
	}
	if (rc < 0) {
		output_free(o);
		return rc;
	}
	*out = o;
	return 0;
}

static int write_all(struct fgt_output *o, const unsigned char *p, size_t n)
{
	while (n > 0 && !o->err) {
		ssize_t w = write(o->fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			o->err = w < 0 ? -errno : -EIO;
			break;
		}
		p += w;
		n -= (size_t)w;
		o->bytes += (uint64_t)w;
	}
	return o->err;
}

/* Feeds n bytes (at most UINT_MAX) to deflate with the given flush mode and
 * writes what comes out. zlib asks to be called again while it fills the
 * whole output buffer. */
static int deflate_chunk(struct fgt_output *o, const unsigned char *p, size_t n,
			 int flush)
{
	o->z.next_in = (unsigned char *)p; /* zlib's API is not const */
	o->z.avail_in = (unsigned)n;
	for (;;) {
		o->z.next_out = o->zbuf;
		o->z.avail_out = BUF_SIZE;
		int rc = deflate(&o->z, flush);
		if (rc == Z_STREAM_ERROR) {
			o->err = -EIO;
			break;
		}
		if (write_all(o, o->zbuf, BUF_SIZE - o->z.avail_out) < 0)
			break;
		if (flush == Z_FINISH ? rc == Z_STREAM_END
				      : o->z.avail_in == 0 && o->z.avail_out > 0)
			break;
	}
	return o->err;
}

static int deflate_all(struct fgt_output *o, const unsigned char *p, size_t n, int flush)
{
	const size_t most = 1u << 30;
	for (; n > most && !o->err; p += most, n -= most)
		deflate_chunk(o, p, most, Z_NO_FLUSH);
	if (!o->err && (n > 0 || flush != Z_NO_FLUSH))
		deflate_chunk(o, p, n, flush);
	return o->err;
}

/* Sends p (the buffer or a large write) on towards the file. */
static int send_bytes(struct fgt_output *o, const unsigned char *p, size_t n, int flush)
{
	return o->gzip ? deflate_all(o, p, n, flush) : write_all(o, p, n);
}

static int drain(struct fgt_output *o, int flush)
{
	size_t n = o->len;
	o->len = 0;
	return send_bytes(o, o->buf, n, flush);
}

int fgt_output_write(struct fgt_output *o, const void *p, size_t n)
{
	if (o->err)
		return o->err;
	if (n > BUF_SIZE - o->len && drain(o, Z_NO_FLUSH) < 0)
		return o->err;
	if (n >= BUF_SIZE)
		return send_bytes(o, p, n, Z_NO_FLUSH); /* no point copying it */
	memcpy(o->buf + o->len, p, n);
	o->len += n;
	return 0;
}

int fgt_output_flush(struct fgt_output *o)
{
	if (o->err)
		return o->err;
	return drain(o, Z_SYNC_FLUSH);
}

uint64_t fgt_output_bytes(const struct fgt_output *o)
{
	return o->bytes;
}

int fgt_output_error(const struct fgt_output *o)
{
	return o->err;
}

const char *fgt_output_path(const struct fgt_output *o)
{
	return o->path;
}

int fgt_output_close(struct fgt_output *o)
{
	if (!o)
		return 0;
	if (!o->err)
		drain(o, Z_FINISH);
	int rc = o->err;
	/* close(2) reports delayed write errors (NFS, quotas); EINTR still closed it. */
	if (!o->is_stdout && close(o->fd) < 0 && !rc && errno != EINTR)
		rc = -errno;
	output_free(o);
	return rc;
}
