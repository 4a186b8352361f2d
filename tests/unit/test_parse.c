/* Unit tests for value parsing (lib/parse.c) and the command line
 * (cmd/options.c): every kind of good and bad value. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>

#include "options.h"
#include "parse.h"

static void test_duration_units(void **state)
{
	(void)state;
	struct {
		const char *in;
		uint64_t ns;
	} ok[] = {
	    {"1", 1000000000ull},    {"30s", 30000000000ull},
	    {"500ms", 500000000ull}, {"1.5s", 1500000000ull},
	    {"2m", 120000000000ull}, {"1h", 3600000000000ull},
	    {"250us", 250000ull},    {"10ns", 10ull},
	    {"0.5", 500000000ull},   {"720h", 720ull * 3600 * 1000000000ull},
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		uint64_t ns = 0;
		assert_int_equal(fgt_parse_duration(ok[i].in, &ns), 0);
		assert_int_equal(ns, ok[i].ns);
	}
}

static void test_duration_bad(void **state)
{
	(void)state;
	const char *malformed[] = {"",	  "s",	 "ms",	"1x",	 "1 s",	  " 1s",
				   "1s ", "1.",	 ".5",	"1..2s", "1.2.3", "0x10",
				   "inf", "nan", "1e3", "1sec",	 "1S",	  "5d"};
	const char *range[] = {"0", "0s", "0.0", "-1", "-1s", "+1s", "721h", "0.1ns"};
	uint64_t ns;
	for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++) {
		if (fgt_parse_duration(malformed[i], &ns) != -EINVAL)
			fail_msg("duration '%s' was not rejected as malformed",
				 malformed[i]);
	}
	for (size_t i = 0; i < sizeof(range) / sizeof(range[0]); i++) {
		if (fgt_parse_duration(range[i], &ns) != -ERANGE)
			fail_msg("duration '%s' was not rejected as out of range",
				 range[i]);
	}
	assert_int_equal(fgt_parse_duration(NULL, &ns), -EINVAL);
}

static void test_uint(void **state)
{
	(void)state;
	uint64_t v;
	assert_int_equal(fgt_parse_uint("99", 1, 10000, &v), 0);
	assert_int_equal(v, 99);
	assert_int_equal(fgt_parse_uint("10000", 1, 10000, &v), 0);
	assert_int_equal(fgt_parse_uint("0", 1, 10000, &v), -ERANGE);
	assert_int_equal(fgt_parse_uint("10001", 1, 10000, &v), -ERANGE);
	assert_int_equal(fgt_parse_uint("-5", 1, 10000, &v), -ERANGE);
	assert_int_equal(fgt_parse_uint("99999999999999999999999", 1, 10000, &v),
			 -ERANGE);
	const char *bad[] = {"", "abc", "1x", " 1", "1 ", "+1", "0x10", "1.0", "-"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (fgt_parse_uint(bad[i], 1, 10000, &v) != -EINVAL)
			fail_msg("'%s' was not rejected as malformed", bad[i]);
}

static void test_size(void **state)
{
	(void)state;
	uint64_t v;
	assert_int_equal(fgt_parse_size("64K", 4096, 1 << 20, &v), 0);
	assert_int_equal(v, 65536);
	assert_int_equal(fgt_parse_size("1M", 4096, 1 << 20, &v), 0);
	assert_int_equal(v, 1 << 20);
	assert_int_equal(fgt_parse_size("8192", 4096, 1 << 20, &v), 0);
	assert_int_equal(fgt_parse_size("16kb", 4096, 1 << 20, &v), 0);
	assert_int_equal(v, 16384);
	assert_int_equal(fgt_parse_size("1", 4096, 1 << 20, &v), -ERANGE);
	assert_int_equal(fgt_parse_size("2M", 4096, 1 << 20, &v), -ERANGE);
	assert_int_equal(fgt_parse_size("-4K", 4096, 1 << 20, &v), -ERANGE);
	assert_int_equal(fgt_parse_size("4G", 4096, 1 << 20, &v), -EINVAL);
	assert_int_equal(fgt_parse_size("", 4096, 1 << 20, &v), -EINVAL);
	assert_int_equal(fgt_parse_size("K", 4096, 1 << 20, &v), -EINVAL);
}

static enum fgt_options_result parse(struct fgt_config *cfg, char *err, ...)
{
	char *argv[32] = {"fgtrace"};
	int argc = 1;
	va_list ap;
	va_start(ap, err);
	for (char *a; (a = va_arg(ap, char *));)
		argv[argc++] = a;
	va_end(ap);
	argv[argc] = NULL;
	err[0] = '\0';
	return fgt_options_parse(argc, argv, cfg, err, 256);
}

static void test_options_defaults(void **state)
{
	(void)state;
	struct fgt_config c;
	char err[256];
	assert_int_equal(parse(&c, err, "-p", "42", NULL), FGT_OPTIONS_RUN);
	assert_int_equal(c.pid, 42);
	assert_int_equal(c.hz, 99);
	assert_int_equal(c.duration_ns, 0);
	assert_int_equal(c.stack_bytes, 64 * 1024);
	assert_int_equal(c.n_outputs, 1);
	assert_string_equal(c.outputs[0].path, "fgtrace.json");
	assert_int_equal(c.outputs[0].format, FGT_FORMAT_TRACE);
	assert_int_equal(c.state_frames, FGT_STATE_ROOT);
	assert_int_equal(c.demangle, FGT_DEMANGLE_SHORT);
	assert_false(c.quiet || c.per_thread || c.source_line);
	assert_null(c.command);
}

static void test_options_all(void **state)
{
	(void)state;
	struct fgt_config c;
	char err[256];
	assert_int_equal(
	    parse(&c, err, "-d", "2m", "-F", "999", "-q", "--stack-bytes=16K", "-o",
		  "a.json.gz", "--format", "folded", "-o", "b.out", "-o", "c.pb.gz",
		  "--state-frames=leaf", "--per-thread", "--debuginfo-path=/x:/y",
		  "--demangle=full", "--source-line", "--", "app", "-p", "--flag", NULL),
	    FGT_OPTIONS_RUN);
	assert_int_equal(c.duration_ns, 120000000000ull);
	assert_int_equal(c.hz, 999);
	assert_true(c.quiet && c.per_thread && c.source_line);
	assert_int_equal(c.stack_bytes, 16384);
	assert_int_equal(c.n_outputs, 3);
	assert_int_equal(c.outputs[0].format, FGT_FORMAT_TRACE);
	assert_int_equal(c.outputs[1].format, FGT_FORMAT_FOLDED);
	assert_int_equal(c.outputs[2].format, FGT_FORMAT_PPROF);
	assert_int_equal(c.state_frames, FGT_STATE_LEAF);
	assert_string_equal(c.debuginfo_path, "/x:/y");
	assert_int_equal(c.demangle, FGT_DEMANGLE_FULL);
	/* The command keeps its own options. */
	assert_string_equal(c.command[0], "app");
	assert_string_equal(c.command[1], "-p");
	assert_string_equal(c.command[2], "--flag");
	assert_int_equal(c.pid, 0);
}

static void test_format_from_name(void **state)
{
	(void)state;
	int g;
	assert_int_equal(fgt_format_from_name("x.json", &g), FGT_FORMAT_TRACE);
	assert_int_equal(g, 0);
	assert_int_equal(fgt_format_from_name("x.json.gz", &g), FGT_FORMAT_TRACE);
	assert_int_equal(fgt_format_from_name("x.pb.gz", &g), FGT_FORMAT_PPROF);
	assert_int_equal(fgt_format_from_name("x.pprof", &g), FGT_FORMAT_PPROF);
	assert_int_equal(fgt_format_from_name("x.folded", &g), FGT_FORMAT_FOLDED);
	assert_int_equal(fgt_format_from_name("x.txt", &g), FGT_FORMAT_FOLDED);
	assert_int_equal(fgt_format_from_name("-", &g), FGT_FORMAT_TRACE);
	assert_int_equal(g, 0);
	assert_int_equal(fgt_format_from_name("x.dat", &g), FGT_FORMAT_TRACE);
	assert_int_equal(g, 1);
}

static void expect_usage(const char *needle, ...)
{
	char *argv[32] = {"fgtrace"};
	int argc = 1;
	va_list ap;
	va_start(ap, needle);
	for (char *a; (a = va_arg(ap, char *));)
		argv[argc++] = a;
	va_end(ap);
	argv[argc] = NULL;
	struct fgt_config c;
	char err[256] = "";
	if (fgt_options_parse(argc, argv, &c, err, sizeof(err)) != FGT_OPTIONS_USAGE)
		fail_msg("'%s ...' was accepted", argv[1]);
	if (!strstr(err, needle))
		fail_msg("message for '%s ...' does not name '%s': %s", argv[1], needle,
			 err);
}

static void test_options_bad_values(void **state)
{
	(void)state;
	expect_usage("--hz", "-F", "0", "-p", "1", NULL);
	expect_usage("--hz", "-F", "10001", "-p", "1", NULL);
	expect_usage("--hz", "-F", "abc", "-p", "1", NULL);
	expect_usage("--hz", "--hz=", "-p", "1", NULL);
	expect_usage("--duration", "-d", "0", "-p", "1", NULL);
	expect_usage("--duration", "-d", "-1s", "-p", "1", NULL);
	expect_usage("--duration", "-d", "5x", "-p", "1", NULL);
	expect_usage("--duration", "-d", "", "-p", "1", NULL);
	expect_usage("--pid", "-p", "0", NULL);
	expect_usage("--pid", "-p", "abc", NULL);
	expect_usage("--pid", "-p", "-3", NULL);
	expect_usage("--pid", "-p", "99999999", NULL);
	expect_usage("--stack-bytes", "--stack-bytes=1", "-p", "1", NULL);
	expect_usage("--stack-bytes", "--stack-bytes=2M", "-p", "1", NULL);
	expect_usage("--format", "--format=xml", "-o", "x", "-p", "1", NULL);
	expect_usage("--state-frames", "--state-frames=top", "-p", "1", NULL);
	expect_usage("--demangle", "--demangle=x", "-p", "1", NULL);
	expect_usage("--output", "-o", "", "-p", "1", NULL);
}

static void test_options_usage_errors(void **state)
{
	(void)state;
	expect_usage("unknown option", "--bogus", "-p", "1", NULL);
	expect_usage("unknown option", "-Z", "-p", "1", NULL);
	expect_usage("needs an argument", "-p", NULL);
	expect_usage("no target", NULL);
	expect_usage("no target", "-q", NULL);
	expect_usage("not both", "-p", "1", "--", "true", NULL);
	expect_usage("after --", "true", NULL);
	expect_usage("--format", "-p", "1", "--format=pprof", NULL);
	expect_usage("too many outputs", "-p", "1", "-o", "1", "-o", "2", "-o", "3", "-o",
		     "4", "-o", "5", "-o", "6", "-o", "7", "-o", "8", "-o", "9", NULL);
}

static void test_help_and_version(void **state)
{
	(void)state;
	struct fgt_config c;
	char err[256];
	assert_int_equal(parse(&c, err, "-h", NULL), FGT_OPTIONS_HELP);
	assert_int_equal(parse(&c, err, "--help", "-p", "x", NULL), FGT_OPTIONS_HELP);
	assert_int_equal(parse(&c, err, "-V", NULL), FGT_OPTIONS_VERSION);
	/* Repeated calls start afresh (getopt is reset). */
	assert_int_equal(parse(&c, err, "-p", "7", NULL), FGT_OPTIONS_RUN);
	assert_int_equal(c.pid, 7);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_duration_units),
	    cmocka_unit_test(test_duration_bad),
	    cmocka_unit_test(test_uint),
	    cmocka_unit_test(test_size),
	    cmocka_unit_test(test_options_defaults),
	    cmocka_unit_test(test_options_all),
	    cmocka_unit_test(test_format_from_name),
	    cmocka_unit_test(test_options_bad_values),
	    cmocka_unit_test(test_options_usage_errors),
	    cmocka_unit_test(test_help_and_version),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
