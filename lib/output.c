/* fgtrace — output sinks with checked writes. */
#include "output.h"

#include <errno.h>
#include <fcntl.h>
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
	int err;
	uint64_t bytes;
	char *path;
	z_stream z;
	size_t len;		     /* bytes waiting in buf */
	unsigned char buf[BUF_SIZE]; /* plain data, or compressed data for gzip */
	unsigned char zout[BUF_SIZE];
};

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && strcmp(s + n - m, suffix) == 0;
}

int fgt_output_open(const char *path, enum fgt_compress c, struct fgt_output **out)
{
	struct fgt_output *o = calloc(1, sizeof(*o));
	if (!o || !(o->path = strdup(path))) {
		free(o);
		return -ENOMEM;
	}
	o->is_stdout = strcmp(path, "-") == 0;
	o->gzip =
	    c == FGT_COMPRESS_GZIP || (c == FGT_COMPRESS_AUTO && ends_with(path, ".gz"));
	if (o->is_stdout) {
		o->fd = STDOUT_FILENO;
	} else {
		o->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
		if (o->fd < 0) {
			int e = errno;
			free(o->path);
			free(o);
			return -e;
		}
	}
	/* windowBits 15 + 16: a gzip header and trailer around deflate data. */
	if (o->gzip &&
	    deflateInit2(&o->z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
		if (!o->is_stdout)
			close(o->fd);
		free(o->path);
		free(o);
		return -ENOMEM;
	}
	*out = o;
	return 0;
}

static int write_all(struct fgt_output *o, const unsigned char *p, size_t n)
{
	while (n > 0 && !o->err) {
		ssize_t w = write(o->fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			o->err = -errno;
			break;
		}
		if (w == 0) {
			o->err = -EIO;
			break;
		}
		p += w;
		n -= (size_t)w;
		o->bytes += (uint64_t)w;
	}
	return o->err;
}

/* Runs deflate over the input with the given flush mode, writing what it
 * produces. */
static int deflate_out(struct fgt_output *o, const void *p, size_t n, int flush)
{
	o->z.next_in = (unsigned char *)(uintptr_t)p;
	o->z.avail_in = (unsigned)n;
	do {
		o->z.next_out = o->zout;
		o->z.avail_out = sizeof(o->zout);
		int rc = deflate(&o->z, flush);
		if (rc == Z_STREAM_ERROR) {
			o->err = -EIO;
			return o->err;
		}
		if (write_all(o, o->zout, sizeof(o->zout) - o->z.avail_out) < 0)
			return o->err;
		if (flush == Z_FINISH && rc == Z_STREAM_END)
			break;
	} while (o->z.avail_out == 0 || o->z.avail_in > 0 || (flush == Z_FINISH));
	return o->err;
}

static int drain(struct fgt_output *o, int flush)
{
	int rc;
	if (o->gzip)
		rc = deflate_out(o, o->buf, o->len, flush);
	else
		rc = write_all(o, o->buf, o->len);
	o->len = 0;
	return rc;
}

int fgt_output_write(struct fgt_output *o, const void *p, size_t n)
{
	const unsigned char *s = p;
	while (n > 0 && !o->err) {
		size_t room = sizeof(o->buf) - o->len;
		size_t k = n < room ? n : room;
		memcpy(o->buf + o->len, s, k);
		o->len += k;
		s += k;
		n -= k;
		if (o->len == sizeof(o->buf))
			drain(o, Z_NO_FLUSH);
	}
	return o->err;
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
	if (o->gzip)
		deflateEnd(&o->z);
	int rc = o->err;
	if (!o->is_stdout) {
		if (close(o->fd) < 0 && !rc)
			rc = -errno;
	}
	free(o->path);
	free(o);
	return rc;
}
