/* Unit tests for the output sinks (lib/output.c): plain and gzip files read
 * back, a flushed gzip prefix that decompresses, and sticky write errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "output.h"

static char dir[] = "/tmp/fgtrace-output-XXXXXX";

static int setup(void **state)
{
	(void)state;
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static size_t read_back(const char *path, char *buf, size_t cap)
{
	gzFile f = gzopen(path, "rb"); /* reads plain files as they are, too */
	assert_non_null(f);
	int n = gzread(f, buf, (unsigned)cap);
	gzclose(f);
	assert_true(n >= 0);
	return (size_t)n;
}

static void test_plain_round_trip(void **state)
{
	(void)state;
	char path[128], buf[256];
	snprintf(path, sizeof(path), "%s/plain.json", dir);
	struct fgt_output *o;
	assert_int_equal(fgt_output_open(path, FGT_COMPRESS_AUTO, &o), 0);
	assert_int_equal(fgt_output_write(o, "[\n{}", 4), 0);
	assert_int_equal(fgt_output_flush(o), 0);
	assert_int_equal(fgt_output_bytes(o), 4);
	assert_int_equal(fgt_output_write(o, "\n]\n", 3), 0);
	assert_int_equal(fgt_output_close(o), 0);
	assert_int_equal(read_back(path, buf, sizeof(buf)), 7);
	assert_memory_equal(buf, "[\n{}\n]\n", 7);
}

static void test_gzip_round_trip_and_flushed_prefix(void **state)
{
	(void)state;
	char path[128], buf[300000];
	static char big[200000];
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)('a' + i % 23);
	snprintf(path, sizeof(path), "%s/t.json.gz", dir);
	struct fgt_output *o;
	assert_int_equal(fgt_output_open(path, FGT_COMPRESS_AUTO, &o), 0);
	assert_int_equal(fgt_output_write(o, big, sizeof(big)), 0);
	assert_int_equal(fgt_output_flush(o), 0);
	/* A capture killed now still leaves everything so far readable. */
	assert_int_equal(read_back(path, buf, sizeof(buf)), sizeof(big));
	assert_memory_equal(buf, big, sizeof(big));
	assert_true(fgt_output_bytes(o) > 0 && fgt_output_bytes(o) < sizeof(big));
	assert_int_equal(fgt_output_write(o, "end", 3), 0);
	assert_int_equal(fgt_output_close(o), 0);
	assert_int_equal(read_back(path, buf, sizeof(buf)), sizeof(big) + 3);
}

static void test_forced_gzip(void **state)
{
	(void)state;
	char path[128];
	snprintf(path, sizeof(path), "%s/profile.pprof", dir);
	struct fgt_output *o;
	assert_int_equal(fgt_output_open(path, FGT_COMPRESS_GZIP, &o), 0);
	assert_int_equal(fgt_output_write(o, "x", 1), 0);
	assert_int_equal(fgt_output_close(o), 0);
	FILE *f = fopen(path, "rb");
	unsigned char magic[2];
	assert_int_equal(fread(magic, 1, 2, f), 2);
	fclose(f);
	assert_int_equal(magic[0], 0x1f);
	assert_int_equal(magic[1], 0x8b);
}

static void test_write_error_sticks(void **state)
{
	(void)state;
	static char block[200000];
	struct fgt_output *o;
	assert_int_equal(fgt_output_open("/dev/full", FGT_COMPRESS_NONE, &o), 0);
	int rc = fgt_output_write(o, block, sizeof(block));
	if (rc == 0)
		rc = fgt_output_flush(o);
	assert_int_equal(rc, -ENOSPC);
	assert_int_equal(fgt_output_write(o, "x", 1), -ENOSPC);
	assert_int_equal(fgt_output_error(o), -ENOSPC);
	assert_int_equal(fgt_output_close(o), -ENOSPC);
}

static void test_open_errors(void **state)
{
	(void)state;
	char path[160];
	struct fgt_output *o;
	snprintf(path, sizeof(path), "%s/missing/dir/x.json", dir);
	assert_int_equal(fgt_output_open(path, FGT_COMPRESS_AUTO, &o), -ENOENT);
	assert_int_equal(fgt_output_open(dir, FGT_COMPRESS_AUTO, &o), -EISDIR);
	assert_int_equal(fgt_output_close(NULL), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_plain_round_trip),
	    cmocka_unit_test(test_gzip_round_trip_and_flushed_prefix),
	    cmocka_unit_test(test_forced_gzip),
	    cmocka_unit_test(test_write_error_sticks),
	    cmocka_unit_test(test_open_errors),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
