/* Unit tests for the output sinks (lib/output.c): plain and gzip files read
 * back, a flushed gzip prefix that decompresses, stdout left open, and open
 * and write errors that are reported and stick. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "output.h"

static char dir[] = "/tmp/fgtrace-output-XXXXXX";

static int setup(void **state)
{
	(void)state;
	return mkdtemp(dir) ? 0 : -1;
}

static int remove_entry(const char *path, const struct stat *st, int flag,
			struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int teardown(void **state)
{
	(void)state;
	return nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void path_in_dir(char *buf, size_t cap, const char *name)
{
	int n = snprintf(buf, cap, "%s/%s", dir, name);
	assert_true(n > 0 && (size_t)n < cap);
}

/* Reads a whole file into a malloc'd buffer; *n gets its size. */
static unsigned char *slurp(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	size_t cap = 1 << 16, len = 0;
	unsigned char *buf = malloc(cap);
	assert_non_null(buf);
	for (size_t k; (k = fread(buf + len, 1, cap - len, f)) > 0;) {
		len += k;
		if (len == cap) {
			buf = realloc(buf, cap *= 2);
			assert_non_null(buf);
		}
	}
	fclose(f);
	*n = len;
	return buf;
}

/* Inflates a gzip file into out (cap bytes). Returns the bytes produced;
 * *ended tells whether the stream had its end (trailer) or was cut short. */
static size_t gunzip(const char *path, unsigned char *out, size_t cap, int *ended)
{
	size_t n;
	unsigned char *in = slurp(path, &n);
	z_stream z;
	memset(&z, 0, sizeof(z));
	assert_int_equal(inflateInit2(&z, 15 + 16), Z_OK);
	z.next_in = in;
	z.avail_in = (unsigned)n;
	z.next_out = out;
	z.avail_out = (unsigned)cap;
	int rc = inflate(&z, Z_SYNC_FLUSH);
	assert_true(rc == Z_OK || rc == Z_STREAM_END || rc == Z_BUF_ERROR);
	*ended = rc == Z_STREAM_END;
	size_t got = cap - z.avail_out;
	inflateEnd(&z);
	free(in);
	return got;
}

static void fill_pattern(unsigned char *p, size_t n)
{
	uint32_t x = 12345;
	for (size_t i = 0; i < n; i++) {
		x = x * 1103515245 + 12345; /* some entropy, so gzip output is large */
		p[i] = (unsigned char)('a' + (x >> 16) % 7);
	}
}

static void test_plain_round_trip(void **state)
{
	(void)state;
	char path[128];
	path_in_dir(path, sizeof(path), "plain.json");
	struct fgt_output *o;
	assert_int_equal(fgt_output_open(path, FGT_COMPRESS_AUTO, &o), 0);
	assert_string_equal(fgt_output_path(o), path);
	assert_int_equal(fgt_output_write(o, "[\n{}", 4), 0);
	assert_int_equal(fgt_output_bytes(o), 0); /* still buffered */
	assert_int_equal(fgt_output_flush(o), 0);
	assert_int_equal(fgt_output_bytes(o), 4);
	assert_int_equal(fgt_output_write(o, "\n]\n", 3), 0);
	assert_int_equal(fgt_output_error(o), 0);
	assert_int_equal(fgt_output_close(o), 0);
	size_t n;
	unsigned char *got = slurp(path, &n);
	assert_int_equal(n, 7);
	assert_memory_equal(got, "[\n{}\n]\n", 7);
	free(got);
}

/* Small writes, writes that straddle the buffer, and writes larger than it
 * keep their order. */
static void mixed_writes(struct fgt_output *o, const unsigned char *data, size_t n)
{
	static const size_t sizes[] = {1, 7, 65535, 1, 65536, 3, 200000, 65537, 100};
	size_t off = 0;
	for (size_t i = 0; off < n; i = (i + 1) % (sizeof(sizes) / sizeof(sizes[0]))) {
		size_t k = sizes[i] < n - off ? sizes[i] : n - off;
		assert_int_equal(fgt_output_write(o, data + off, k), 0);
		off += k;
	}
}

static void test_plain_mixed_sizes_and_bytes_grow(void **state)
{
	(void)state;
	char path[128];
	path_in_dir(path, sizeof(path), "mixed.json");
	const size_t n = 1000000;
	unsigned char *data = malloc(n);
	assert_non_null(data);
	fill_pattern(data, n);
	struct fgt_output *o;
	assert_int_equal(fgt_output_open(path, FGT_COMPRESS_NONE, &o), 0);
	uint64_t last = fgt_output_bytes(o);
	for (size_t off = 0; off < n; off += n / 4) {
		mixed_writes(o, data + off, n / 4);
		assert_true(fgt_output_bytes(o) > last); /* the buffer filled */
		last = fgt_output_bytes(o);
	}
	assert_int_equal(fgt_output_flush(o), 0);
	assert_int_equal(fgt_output_bytes(o), n);
	assert_int_equal(fgt_output_close(o), 0);
	size_t got_n;
	unsigned char *got = slurp(path, &got_n);
	assert_int_equal(got_n, n);
	assert_memory_equal(got, data, n);
	free(got);
	free(data);
}

static void test_gzip_round_trip_and_flushed_prefix(void **state)
{
	(void)state;
	char path[128];
	path_in_dir(path, sizeof(path), "t.json.gz");
	const size_t n = 600000, cap = 2 * n;
	unsigned char *data = malloc(n), *back = malloc(cap);
	assert_non_null(data);
	assert_non_null(back);
	fill_pattern(data, n);
	struct fgt_output *o;
	assert_int_equal(fgt_output_open(path, FGT_COMPRESS_AUTO, &o), 0);
	mixed_writes(o, data, n / 2);
	uint64_t before_flush = fgt_output_bytes(o);
	assert_int_equal(fgt_output_flush(o), 0);
	assert_true(fgt_output_bytes(o) > before_flush);
	assert_true(fgt_output_bytes(o) < n / 2); /* compressed */

	/* A capture killed now still leaves everything so far readable. */
	int ended;
	assert_int_equal(gunzip(path, back, cap, &ended), n / 2);
	assert_false(ended);
	assert_memory_equal(back, data, n / 2);

	/* A second flush with nothing new is harmless. */
	assert_int_equal(fgt_output_flush(o), 0);
	mixed_writes(o, data + n / 2, n - n / 2);
	assert_int_equal(fgt_output_close(o), 0);
	assert_int_equal(gunzip(path, back, cap, &ended), n);
	assert_true(ended);
	assert_memory_equal(back, data, n);

	/* zlib's own gz reader agrees. */
	gzFile f = gzopen(path, "rb");
	assert_non_null(f);
	assert_int_equal(gzread(f, back, (unsigned)cap), (int)n);
	assert_int_equal(gzclose(f), Z_OK);
	free(back);
	free(data);
}

static void test_forced_gzip_and_forced_plain(void **state)
{
	(void)state;
	char path[128];
	size_t n;
	unsigned char *got;
	struct fgt_output *o;

	path_in_dir(path, sizeof(path), "profile.pprof");
	assert_int_equal(fgt_output_open(path, FGT_COMPRESS_GZIP, &o), 0);
	assert_int_equal(fgt_output_write(o, "x", 1), 0);
	assert_int_equal(fgt_output_close(o), 0);
	got = slurp(path, &n);
	assert_true(n > 2);
	assert_int_equal(got[0], 0x1f); /* gzip magic */
	assert_int_equal(got[1], 0x8b);
	free(got);

	path_in_dir(path, sizeof(path), "not-compressed.gz");
	assert_int_equal(fgt_output_open(path, FGT_COMPRESS_NONE, &o), 0);
	assert_int_equal(fgt_output_write(o, "x", 1), 0);
	assert_int_equal(fgt_output_close(o), 0);
	got = slurp(path, &n);
	assert_int_equal(n, 1);
	assert_int_equal(got[0], 'x');
	free(got);
}

static void test_empty_gzip_is_valid(void **state)
{
	(void)state;
	char path[128];
	unsigned char back[16];
	int ended;
	path_in_dir(path, sizeof(path), "empty.json.gz");
	struct fgt_output *o;
	assert_int_equal(fgt_output_open(path, FGT_COMPRESS_AUTO, &o), 0);
	assert_int_equal(fgt_output_close(o), 0);
	assert_int_equal(gunzip(path, back, sizeof(back), &ended), 0);
	assert_true(ended);
}

static void test_truncates_and_honours_umask(void **state)
{
	(void)state;
	char path[128];
	path_in_dir(path, sizeof(path), "old.json");
	mode_t old = umask(027);
	struct fgt_output *o;
	assert_int_equal(fgt_output_open(path, FGT_COMPRESS_AUTO, &o), 0);
	umask(old);
	assert_int_equal(fgt_output_write(o, "new", 3), 0);
	assert_int_equal(fgt_output_close(o), 0);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640);
	assert_int_equal(st.st_size, 3);

	/* And an existing file is cut to what was written. */
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("a much longer old content", f);
	fclose(f);
	assert_int_equal(fgt_output_open(path, FGT_COMPRESS_AUTO, &o), 0);
	assert_int_equal(fgt_output_write(o, "z", 1), 0);
	assert_int_equal(fgt_output_close(o), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 1);
}

static void test_stdout_is_not_closed(void **state)
{
	(void)state;
	char path[128];
	path_in_dir(path, sizeof(path), "stdout.txt");
	fflush(stdout);
	int saved = dup(STDOUT_FILENO);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(saved >= 0 && fd >= 0);
	assert_int_equal(dup2(fd, STDOUT_FILENO), STDOUT_FILENO);
	close(fd);

	struct fgt_output *o;
	int rc_open = fgt_output_open("-", FGT_COMPRESS_AUTO, &o);
	int rc_write = rc_open ? rc_open : fgt_output_write(o, "to stdout\n", 10);
	int rc_close = rc_open ? rc_open : fgt_output_close(o);
	int still_open = fcntl(STDOUT_FILENO, F_GETFD);
	dup2(saved, STDOUT_FILENO);
	close(saved);

	assert_int_equal(rc_open, 0);
	assert_int_equal(rc_write, 0);
	assert_int_equal(rc_close, 0);
	assert_true(still_open >= 0);
	size_t n;
	unsigned char *got = slurp(path, &n);
	assert_int_equal(n, 10);
	assert_memory_equal(got, "to stdout\n", 10);
	free(got);
}

static void test_write_error_sticks(void **state)
{
	(void)state;
	static char block[200000];
	struct fgt_output *o;
	/* Larger than the buffer: the error comes from the write itself. */
	assert_int_equal(fgt_output_open("/dev/full", FGT_COMPRESS_NONE, &o), 0);
	assert_int_equal(fgt_output_write(o, block, sizeof(block)), -ENOSPC);
	assert_int_equal(fgt_output_write(o, "x", 1), -ENOSPC);
	assert_int_equal(fgt_output_flush(o), -ENOSPC);
	assert_int_equal(fgt_output_error(o), -ENOSPC);
	assert_int_equal(fgt_output_bytes(o), 0);
	assert_int_equal(fgt_output_close(o), -ENOSPC);
}

static void test_flush_error_sticks(void **state)
{
	(void)state;
	struct fgt_output *o;
	/* Small enough to be buffered: the error comes at the flush. */
	assert_int_equal(fgt_output_open("/dev/full", FGT_COMPRESS_NONE, &o), 0);
	assert_int_equal(fgt_output_write(o, "x", 1), 0);
	assert_int_equal(fgt_output_flush(o), -ENOSPC);
	assert_int_equal(fgt_output_write(o, "y", 1), -ENOSPC);
	assert_int_equal(fgt_output_error(o), -ENOSPC);
	assert_int_equal(fgt_output_close(o), -ENOSPC);

	/* Gzip sees the error too. */
	assert_int_equal(fgt_output_open("/dev/full", FGT_COMPRESS_GZIP, &o), 0);
	assert_int_equal(fgt_output_write(o, "x", 1), 0);
	assert_int_equal(fgt_output_flush(o), -ENOSPC);
	assert_int_equal(fgt_output_write(o, "y", 1), -ENOSPC);
	assert_int_equal(fgt_output_close(o), -ENOSPC);

	/* And an error found only by the close is returned by it. */
	assert_int_equal(fgt_output_open("/dev/full", FGT_COMPRESS_GZIP, &o), 0);
	assert_int_equal(fgt_output_close(o), -ENOSPC);
}

static void test_open_errors(void **state)
{
	(void)state;
	char path[160];
	struct fgt_output *o = (struct fgt_output *)1;
	path_in_dir(path, sizeof(path), "missing/dir/x.json");
	assert_int_equal(fgt_output_open(path, FGT_COMPRESS_AUTO, &o), -ENOENT);
	assert_null(o);
	path_in_dir(path, sizeof(path), "missing/x.json.gz");
	assert_int_equal(fgt_output_open(path, FGT_COMPRESS_AUTO, &o), -ENOENT);
	assert_int_equal(fgt_output_open(dir, FGT_COMPRESS_AUTO, &o), -EISDIR);
	assert_int_equal(fgt_output_open("", FGT_COMPRESS_AUTO, &o), -ENOENT);
	assert_int_equal(fgt_output_close(NULL), 0);
}

static void test_read_only_directory(void **state)
{
	(void)state;
	if (geteuid() == 0)
		skip(); /* root is not refused by permission bits */
	char ro[128], path[160];
	path_in_dir(ro, sizeof(ro), "read-only");
	assert_int_equal(mkdir(ro, 0555), 0);
	snprintf(path, sizeof(path), "%s/x.json", ro);
	struct fgt_output *o;
	assert_int_equal(fgt_output_open(path, FGT_COMPRESS_AUTO, &o), -EACCES);
	assert_null(o);
	assert_int_equal(rmdir(ro), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_plain_round_trip),
	    cmocka_unit_test(test_plain_mixed_sizes_and_bytes_grow),
	    cmocka_unit_test(test_gzip_round_trip_and_flushed_prefix),
	    cmocka_unit_test(test_forced_gzip_and_forced_plain),
	    cmocka_unit_test(test_empty_gzip_is_valid),
	    cmocka_unit_test(test_truncates_and_honours_umask),
	    cmocka_unit_test(test_stdout_is_not_closed),
	    cmocka_unit_test(test_write_error_sticks),
	    cmocka_unit_test(test_flush_error_sticks),
	    cmocka_unit_test(test_open_errors),
	    cmocka_unit_test(test_read_only_directory),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
