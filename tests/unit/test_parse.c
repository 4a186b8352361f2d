/* Unit tests for value parsing (lib/parse.c) and the command line
 * (cmd/options.c): every unit, every kind of bad value, every option. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "options.h"
#include "parse.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define NS_PER_S     1000000000ull
#define MAX_NS	     (30ull * 24 * 3600 * NS_PER_S)

/* ---- fgt_parse_duration --------------------------------------------------- */

static void test_duration_units(void **state)
{
	(void)state;
	struct {
		const char *in;
		uint64_t ns;
	} ok[] = {
	    {"1", NS_PER_S},
	    {"1.5", 1500000000ull},
	    {"0.5", 500000000ull},
	    {"0.000000001", 1},
	    {"007", 7 * NS_PER_S},
	    {"10ns", 10},
	    {"1ns", 1},
	    {"1.5ns", 2},
	    {"250us", 250000},
	    {"2.5us", 2500},
	    {"500ms", 500000000ull},
	    {"1.5ms", 1500000},
	    {"30s", 30 * NS_PER_S},
	    {"1.5s", 1500000000ull},
	    {"2m", 120 * NS_PER_S},
	    {"0.5m", 30 * NS_PER_S},
	    {"1h", 3600 * NS_PER_S},
	    {"0.25h", 900 * NS_PER_S},
	    /* The limit, 30 days, in every unit that reaches it. */
	    {"720h", MAX_NS},
	    {"43200m", MAX_NS},
	    {"2592000s", MAX_NS},
	    {"2592000", MAX_NS},
	};
	for (size_t i = 0; i < ARRAY_LEN(ok); i++) {
		uint64_t ns = 0;
		int rc = fgt_parse_duration(ok[i].in, &ns);
		if (rc != 0 || ns != ok[i].ns)
			fail_msg("duration '%s': rc %d, %llu ns, want %llu ns", ok[i].in,
				 rc, (unsigned long long)ns,
				 (unsigned long long)ok[i].ns);
	}
}

static void test_duration_malformed(void **state)
{
	(void)state;
	const char *bad[] = {
	    "",	     "s",   "ms",	".",   " 1s",  "1 s",	"1s ",	 "\t1",
	    "1\n",   "1x",  "1sec",	"1S",  "1Ms",  "5d",	"1s5",	 "1ss",
	    "1.",    "1.s", ".5",	".5s", "1..2", "1..2s", "1.2.3", "0x10",
	    "0x10s", "inf", "infinity", "nan", "1e3",  "1e3s",	"1E3",	 "1e-3",
	};
	uint64_t ns = 42;
	for (size_t i = 0; i < ARRAY_LEN(bad); i++)
		if (fgt_parse_duration(bad[i], &ns) != -EINVAL)
			fail_msg("duration '%s' was not rejected as malformed", bad[i]);
	assert_int_equal(fgt_parse_duration(NULL, &ns), -EINVAL);
	assert_int_equal(ns, 42);
}

static void test_duration_range(void **state)
{
	(void)state;
	const char *bad[] = {
	    "0",
	    "0s",
	    "0.0",
	    "0.0ms",
	    "0ns",
	    "0.1ns",
	    "0.4ns",
	    "-1",
	    "-1s",
	    "-0.5s",
	    "721h",
	    "43201m",
	    "2592001",
	    "2592000.001",
	    "99999999999999999999999999h",
	    /* Longer than any real duration needs. */
	    "100000000000000000000000000000000000000000000000000000000000000000000",
	};
	uint64_t ns = 42;
	for (size_t i = 0; i < ARRAY_LEN(bad); i++)
		if (fgt_parse_duration(bad[i], &ns) != -ERANGE)
			fail_msg("duration '%s' was not rejected as out of range",
				 bad[i]);
	assert_int_equal(ns, 42);
	/* A sign is never accepted, whatever it is reported as. */
	assert_int_not_equal(fgt_parse_duration("+1s", &ns), 0);
	assert_int_not_equal(fgt_parse_duration("-", &ns), 0);
}

/* ---- fgt_parse_uint ------------------------------------------------------- */

static void test_uint(void **state)
{
	(void)state;
	uint64_t v;
	assert_int_equal(fgt_parse_uint("99", 1, 10000, &v), 0);
	assert_int_equal(v, 99);
	assert_int_equal(fgt_parse_uint("1", 1, 10000, &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(fgt_parse_uint("10000", 1, 10000, &v), 0);
	assert_int_equal(v, 10000);
	assert_int_equal(fgt_parse_uint("0010", 1, 10000, &v), 0);
	assert_int_equal(v, 10);
	assert_int_equal(fgt_parse_uint("0", 0, 5, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(fgt_parse_uint("18446744073709551615", 0, UINT64_MAX, &v), 0);
	assert_true(v == UINT64_MAX);
}

static void test_uint_bad(void **state)
{
	(void)state;
	const char *malformed[] = {
	    "",	   "abc", "1x", " 1",	"1 ",  "\t1", "+1",  "+",  "-",	 "0x10", "0X1",
	    "1.0", "1.",  ".5", "1..2", "1e3", "inf", "nan", "1K", "1s", "1,0",	 "- 1"};
	const char *range[] = {
	    "0", "10001", "-5", "-0", "99999999999999999999999", "18446744073709551616"};
	uint64_t v = 42;
	for (size_t i = 0; i < ARRAY_LEN(malformed); i++)
		if (fgt_parse_uint(malformed[i], 1, 10000, &v) != -EINVAL)
			fail_msg("uint '%s' was not rejected as malformed", malformed[i]);
	for (size_t i = 0; i < ARRAY_LEN(range); i++)
		if (fgt_parse_uint(range[i], 1, 10000, &v) != -ERANGE)
			fail_msg("uint '%s' was not rejected as out of range", range[i]);
	assert_int_equal(fgt_parse_uint(NULL, 1, 10000, &v), -EINVAL);
	assert_int_equal(v, 42);
}

/* ---- fgt_parse_size ------------------------------------------------------- */

static void test_size(void **state)
{
	(void)state;
	struct {
		const char *in;
		uint64_t bytes;
	} ok[] = {
	    {"4096", 4096},   {"8192B", 8192},	  {"8192b", 8192},  {"4K", 4096},
	    {"4k", 4096},     {"4KB", 4096},	  {"4kb", 4096},    {"4kB", 4096},
	    {"64K", 65536},   {"1024k", 1 << 20}, {"1M", 1 << 20},  {"1m", 1 << 20},
	    {"1MB", 1 << 20}, {"1mb", 1 << 20},	  {"0064K", 65536}, {"1048576", 1 << 20},
	};
	for (size_t i = 0; i < ARRAY_LEN(ok); i++) {
		uint64_t v = 0;
		int rc = fgt_parse_size(ok[i].in, 4096, 1 << 20, &v);
		if (rc != 0 || v != ok[i].bytes)
			fail_msg("size '%s': rc %d, %llu bytes, want %llu", ok[i].in, rc,
				 (unsigned long long)v, (unsigned long long)ok[i].bytes);
	}
}

static void test_size_bad(void **state)
{
	(void)state;
	const char *malformed[] = {
	    "",	     "K",    "KB",  "B",   "M",	   "+4K",    " 4K",  "4K ", "4 K",
	    "4KK",   "4KiB", "4G",  "4T",  "4BK",  "0x1000", "1.5K", ".5K", "1.K",
	    "1..2K", "inf",  "nan", "4e3", "4e3K", "4K\n",   "4,5K",
	};
	const char *range[] = {
	    "0",
	    "0K",
	    "1",
	    "4095",
	    "3K",
	    "1025K",
	    "2M",
	    "1048577",
	    "-4K",
	    "-4096",
	    "99999999999999999999",
	    "18014398509481984K",
	    "17592186044416M",
	    "17592186044417M",
	    "18446744073709551615",
	};
	uint64_t v = 42;
	for (size_t i = 0; i < ARRAY_LEN(malformed); i++)
		if (fgt_parse_size(malformed[i], 4096, 1 << 20, &v) != -EINVAL)
			fail_msg("size '%s' was not rejected as malformed", malformed[i]);
	for (size_t i = 0; i < ARRAY_LEN(range); i++)
		if (fgt_parse_size(range[i], 4096, 1 << 20, &v) != -ERANGE)
			fail_msg("size '%s' was not rejected as out of range", range[i]);
	assert_int_equal(fgt_parse_size(NULL, 4096, 1 << 20, &v), -EINVAL);
	assert_int_equal(v, 42);
}

/* ---- fgt_options_parse ---------------------------------------------------- */

#define MAX_ARGS 40

/* Parses "fgtrace" plus the NULL-terminated arguments; *argv_out, when
 * given, receives the argv used, to check what cfg borrows. */
static enum fgt_options_result parse_args(struct fgt_config *cfg, char *err,
					  size_t errlen, char ***argv_out, va_list ap)
{
	static char *argv[MAX_ARGS + 2];
	int argc = 0;
	argv[argc++] = "fgtrace";
	for (char *a; (a = va_arg(ap, char *));) {
		assert_true(argc <= MAX_ARGS);
		argv[argc++] = a;
	}
	argv[argc] = NULL;
	if (argv_out)
		*argv_out = argv;
	err[0] = '\0';
	return fgt_options_parse(argc, argv, cfg, err, errlen);
}

static enum fgt_options_result parse(struct fgt_config *cfg, ...)
{
	char err[256];
	va_list ap;
	va_start(ap, cfg);
	enum fgt_options_result r = parse_args(cfg, err, sizeof(err), NULL, ap);
	va_end(ap);
	return r;
}

/* Expects FGT_OPTIONS_RUN, and shows the message when it is not. */
static void expect_run(struct fgt_config *cfg, ...)
{
	char err[256];
	va_list ap;
	va_start(ap, cfg);
	enum fgt_options_result r = parse_args(cfg, err, sizeof(err), NULL, ap);
	va_end(ap);
	if (r != FGT_OPTIONS_RUN)
		fail_msg("result %d, want a capture to run: %s", r, err);
}

/* Expects FGT_OPTIONS_USAGE with a message that contains needle. */
static void expect_usage(const char *needle, ...)
{
	struct fgt_config c;
	char err[256], **argv;
	va_list ap;
	va_start(ap, needle);
	enum fgt_options_result r = parse_args(&c, err, sizeof(err), &argv, ap);
	va_end(ap);
	char line[512] = "";
	for (int i = 1; argv[i]; i++)
		snprintf(line + strlen(line), sizeof(line) - strlen(line), " '%s'",
			 argv[i]);
	if (r != FGT_OPTIONS_USAGE)
		fail_msg("fgtrace%s was accepted (result %d)", line, r);
	if (!strstr(err, needle))
		fail_msg("message for fgtrace%s does not name \"%s\": %s", line, needle,
			 err);
}

static void test_options_defaults(void **state)
{
	(void)state;
	struct fgt_config c;
	expect_run(&c, "-p", "42", NULL);
	assert_int_equal(c.pid, 42);
	assert_null(c.command);
	assert_int_equal(c.duration_ns, 0);
	assert_int_equal(c.hz, 99);
	assert_int_equal(c.stack_bytes, 64 * 1024);
	assert_int_equal(c.n_outputs, 1);
	assert_string_equal(c.outputs[0].path, "fgtrace.json");
	assert_int_equal(c.outputs[0].format, FGT_FORMAT_TRACE);
	assert_int_equal(c.state_frames, FGT_STATE_ROOT);
	assert_int_equal(c.demangle, FGT_DEMANGLE_SHORT);
	assert_null(c.debuginfo_path);
	assert_null(c.cmdline);
	assert_false(c.quiet);
	assert_false(c.per_thread);
	assert_false(c.source_line);
	assert_int_equal(c.priority, FGT_PRIORITY_REALTIME);
}

static void test_options_short(void **state)
{
	(void)state;
	struct fgt_config c;
	expect_run(&c, "-p", "4194304", "-d", "1.5s", "-F", "10000", "-o", "out.folded",
		   "-q", NULL);
	assert_int_equal(c.pid, 4194304);
	assert_int_equal(c.duration_ns, 1500000000ull);
	assert_int_equal(c.hz, 10000);
	assert_int_equal(c.n_outputs, 1);
	assert_string_equal(c.outputs[0].path, "out.folded");
	assert_int_equal(c.outputs[0].format, FGT_FORMAT_FOLDED);
	assert_true(c.quiet);
	/* Attached values and clusters. */
	expect_run(&c, "-p1", "-F1", "-d500ms", "-qo-", NULL);
	assert_int_equal(c.pid, 1);
	assert_int_equal(c.hz, 1);
	assert_int_equal(c.duration_ns, 500000000ull);
	assert_true(c.quiet);
	assert_string_equal(c.outputs[0].path, "-");
	assert_int_equal(c.outputs[0].format, FGT_FORMAT_TRACE);
}

static void test_options_long(void **state)
{
	(void)state;
	struct fgt_config c;
	expect_run(&c, "--pid=7", "--duration=2m", "--hz", "250", "--output", "a.pb.gz",
		   "--quiet", "--stack-bytes=16K", "--state-frames=leaf", "--per-thread",
		   "--debuginfo-path=/x:/y", "--demangle=full", "--source-line", NULL);
	assert_int_equal(c.pid, 7);
	assert_int_equal(c.duration_ns, 120 * NS_PER_S);
	assert_int_equal(c.hz, 250);
	assert_int_equal(c.n_outputs, 1);
	assert_string_equal(c.outputs[0].path, "a.pb.gz");
	assert_int_equal(c.outputs[0].format, FGT_FORMAT_PPROF);
	assert_true(c.quiet && c.per_thread && c.source_line);
	assert_int_equal(c.stack_bytes, 16384);
	assert_int_equal(c.state_frames, FGT_STATE_LEAF);
	assert_string_equal(c.debuginfo_path, "/x:/y");
	assert_int_equal(c.demangle, FGT_DEMANGLE_FULL);

	expect_run(&c, "--pid", "8", "--stack-bytes", "4K", "--state-frames", "none",
		   "--demangle", "none", NULL);
	assert_int_equal(c.pid, 8);
	assert_int_equal(c.stack_bytes, 4096);
	assert_int_equal(c.state_frames, FGT_STATE_NONE);
	assert_int_equal(c.demangle, FGT_DEMANGLE_NONE);
	expect_run(&c, "-p", "8", "--stack-bytes=1M", "--state-frames=root",
		   "--demangle=short", NULL);
	assert_int_equal(c.stack_bytes, 1 << 20);
	assert_int_equal(c.state_frames, FGT_STATE_ROOT);
	assert_int_equal(c.demangle, FGT_DEMANGLE_SHORT);
	expect_run(&c, "-p", "8", "--priority=high", NULL);
	assert_int_equal(c.priority, FGT_PRIORITY_HIGH);
	expect_run(&c, "-p", "8", "--priority", "inherit", NULL);
	assert_int_equal(c.priority, FGT_PRIORITY_INHERIT);
	expect_run(&c, "-p", "8", "--priority=realtime", NULL);
	assert_int_equal(c.priority, FGT_PRIORITY_REALTIME);
}

static void test_options_outputs_and_formats(void **state)
{
	(void)state;
	struct fgt_config c;
	expect_run(&c, "-p", "1", "-o", "a.json", "--format", "pprof", "-o", "b.json",
		   "--format=folded", "-o", "c.pb.gz", "-o", "d.txt", "--format=trace",
		   "-o", "e.folded", "-o", "f.dat", "-o", "g.pprof", "-o", "-", NULL);
	const struct {
		const char *path;
		enum fgt_format format;
	} want[] = {
	    {"a.json", FGT_FORMAT_TRACE},   {"b.json", FGT_FORMAT_PPROF},
	    {"c.pb.gz", FGT_FORMAT_FOLDED}, {"d.txt", FGT_FORMAT_FOLDED},
	    {"e.folded", FGT_FORMAT_TRACE}, {"f.dat", FGT_FORMAT_TRACE},
	    {"g.pprof", FGT_FORMAT_PPROF},  {"-", FGT_FORMAT_TRACE},
	};
	assert_int_equal(c.n_outputs, ARRAY_LEN(want));
	for (size_t i = 0; i < ARRAY_LEN(want); i++) {
		assert_string_equal(c.outputs[i].path, want[i].path);
		if (c.outputs[i].format != want[i].format)
			fail_msg("output %s: format %d, want %d", want[i].path,
				 c.outputs[i].format, want[i].format);
	}
	/* --format applies to the next -o only. */
	expect_run(&c, "-p", "1", "--format=pprof", "-o", "x", "-o", "y.dat", NULL);
	assert_int_equal(c.outputs[0].format, FGT_FORMAT_PPROF);
	assert_int_equal(c.outputs[1].format, FGT_FORMAT_TRACE);
}

static void test_format_from_name(void **state)
{
	(void)state;
	const struct {
		const char *name;
		enum fgt_format format;
		int guessed;
	} cases[] = {
	    {"x.json", FGT_FORMAT_TRACE, 0},
	    {"x.json.gz", FGT_FORMAT_TRACE, 0},
	    {".json", FGT_FORMAT_TRACE, 0},
	    {"-", FGT_FORMAT_TRACE, 0},
	    {"x.pb.gz", FGT_FORMAT_PPROF, 0},
	    {"x.pprof", FGT_FORMAT_PPROF, 0},
	    {"x.folded", FGT_FORMAT_FOLDED, 0},
	    {"x.txt", FGT_FORMAT_FOLDED, 0},
	    {"dir.pprof/x.txt", FGT_FORMAT_FOLDED, 0},
	    {"x.dat", FGT_FORMAT_TRACE, 1},
	    {"json", FGT_FORMAT_TRACE, 1},
	    {"x.gz", FGT_FORMAT_TRACE, 1},
	    {"", FGT_FORMAT_TRACE, 1},
	    {"x.json.bak", FGT_FORMAT_TRACE, 1},
	};
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		int guessed = -1;
		enum fgt_format f = fgt_format_from_name(cases[i].name, &guessed);
		if (f != cases[i].format || guessed != cases[i].guessed)
			fail_msg("'%s': format %d guessed %d, want %d guessed %d",
				 cases[i].name, f, guessed, cases[i].format,
				 cases[i].guessed);
	}
}

static void test_options_command(void **state)
{
	(void)state;
	struct fgt_config c;
	/* The command keeps its own options: parsing stops at "--". */
	expect_run(&c, "-d", "1s", "--", "app", "-p", "--flag", "--", NULL);
	assert_int_equal(c.pid, 0);
	assert_int_equal(c.duration_ns, NS_PER_S);
	assert_string_equal(c.command[0], "app");
	assert_string_equal(c.command[1], "-p");
	assert_string_equal(c.command[2], "--flag");
	assert_string_equal(c.command[3], "--");
	assert_null(c.command[4]);
	assert_int_equal(c.n_outputs, 1);
	assert_string_equal(c.outputs[0].path, "fgtrace.json");
}

static enum fgt_options_result parse_keep_argv(struct fgt_config *cfg, char ***argv, ...)
{
	char err[256];
	va_list ap;
	va_start(ap, argv);
	enum fgt_options_result r = parse_args(cfg, err, sizeof(err), argv, ap);
	va_end(ap);
	return r;
}

static void test_options_borrow_argv(void **state)
{
	(void)state;
	struct fgt_config c;
	char **argv;
	assert_int_equal(parse_keep_argv(&c, &argv, "-o", "x.json", "--", "app", NULL),
			 FGT_OPTIONS_RUN);
	assert_ptr_equal(c.outputs[0].path, argv[2]);
	assert_ptr_equal(c.command, &argv[4]);
}

static void test_options_bad_values(void **state)
{
	(void)state;
	const char *pids[] = {
	    "0",  "-1", "-3",	"abc", "",	  "1x",	      " 1",
	    "1 ", "+1", "0x10", "1.0", "4194305", "99999999", "99999999999999999999"};
	for (size_t i = 0; i < ARRAY_LEN(pids); i++) {
		expect_usage("--pid", "-p", pids[i], NULL);
		expect_usage(pids[i], "--pid", pids[i], NULL);
	}
	const char *durations[] = {"",	  "0",	  "0s",	  "-1s",  "+1s", "5x",
				   "1.",  ".5",	  "1..2", "0x10", "inf", "nan",
				   "1e3", "721h", " 1s",  "1 s"};
	for (size_t i = 0; i < ARRAY_LEN(durations); i++) {
		expect_usage("--duration", "-d", durations[i], "-p", "1", NULL);
		expect_usage(durations[i], "--duration", durations[i], "-p", "1", NULL);
	}
	const char *hzs[] = {"",    "0",   "10001", "-1",   "abc",
			     "1.5", "99 ", "1e2",   "0x10", "99999999999999999999"};
	for (size_t i = 0; i < ARRAY_LEN(hzs); i++) {
		expect_usage("--hz", "-F", hzs[i], "-p", "1", NULL);
		expect_usage("--hz", "--hz", hzs[i], "-p", "1", NULL);
	}
	const char *sizes[] = {"",   "1",   "4095", "3K",  "2M",   "1025K",
			       "4G", "abc", "-4K",  "4 K", "1.5K", "0x1000"};
	for (size_t i = 0; i < ARRAY_LEN(sizes); i++)
		expect_usage("--stack-bytes", "--stack-bytes", sizes[i], "-p", "1", NULL);
	const char *formats[] = {"", "xml", "TRACE", "json", "pprof ", "folded,trace"};
	for (size_t i = 0; i < ARRAY_LEN(formats); i++)
		expect_usage("--format", "--format", formats[i], "-o", "x", "-p", "1",
			     NULL);
	const char *wheres[] = {"", "top", "ROOT", "leaves", "root "};
	for (size_t i = 0; i < ARRAY_LEN(wheres); i++)
		expect_usage("--state-frames", "--state-frames", wheres[i], "-p", "1",
			     NULL);
	const char *styles[] = {"", "x", "SHORT", "yes", "no"};
	for (size_t i = 0; i < ARRAY_LEN(styles); i++)
		expect_usage("--demangle", "--demangle", styles[i], "-p", "1", NULL);
	const char *modes[] = {"", "rt", "REALTIME", "fifo", "high ", "normal"};
	for (size_t i = 0; i < ARRAY_LEN(modes); i++)
		expect_usage("--priority", "--priority", modes[i], "-p", "1", NULL);
	expect_usage("--output", "-o", "", "-p", "1", NULL);
	expect_usage("--output", "--output=", "-p", "1", NULL);
}

static void test_signs_and_long_numbers(void **state)
{
	(void)state;
	uint64_t v;
	/* A sign before a number is a range error; a sign alone is malformed. */
	assert_int_equal(fgt_parse_duration("-5s", &v), -ERANGE);
	assert_int_equal(fgt_parse_duration("+.5s", &v), -ERANGE);
	assert_int_equal(fgt_parse_duration("-", &v), -EINVAL);
	assert_int_equal(fgt_parse_duration("+", &v), -EINVAL);
	assert_int_equal(fgt_parse_duration("-x", &v), -EINVAL);
	assert_int_equal(fgt_parse_duration("-K", &v), -EINVAL);
	assert_int_equal(fgt_parse_size("-K", 1, 1 << 20, &v), -EINVAL);
	assert_int_equal(fgt_parse_size("-4K", 1, 1 << 20, &v), -ERANGE);
	/* Leading zeros do not make a number too long. */
	char longer[128];
	memset(longer, '0', 100);
	strcpy(longer + 100, "2s");
	assert_int_equal(fgt_parse_duration(longer, &v), 0);
	assert_int_equal(v, 2000000000ull);
	/* Any *.gz is compressed; the name before it picks the format. */
	int guessed;
	assert_int_equal(fgt_format_from_name("x.folded.gz", &guessed), FGT_FORMAT_FOLDED);
	assert_int_equal(fgt_format_from_name("x.txt.gz", &guessed), FGT_FORMAT_FOLDED);
	assert_int_equal(fgt_format_from_name("x.pb.gz", &guessed), FGT_FORMAT_PPROF);
	assert_int_equal(fgt_format_from_name("x.json.gz", &guessed), FGT_FORMAT_TRACE);
	assert_int_equal(guessed, 0);
}

static void test_options_usage_errors(void **state)
{
	(void)state;
	/* Unknown options. */
	expect_usage("'--bogus'", "--bogus", "-p", "1", NULL);
	expect_usage("--bogus", "--bogus=1", "-p", "1", NULL);
	expect_usage("'-Z'", "-Z", "-p", "1", NULL);
	expect_usage("'-Z'", "-qZ", "-p", "1", NULL);
	expect_usage("after --", "-", "-p", "1", NULL);
	expect_usage("'--quiet' takes no argument", "--quiet=1", "-p", "1", NULL);
	expect_usage("'--quiet' takes no argument", "--qui=1", "-p", "1", NULL);
	expect_usage("'--per-thread' takes no argument", "--per-thread=yes", "-p", "1",
		     NULL);
	/* "--" as the value of -o is a file name, not the end of the options. */
	expect_usage("unexpected argument 'ls'", "-o", "--", "ls", NULL);

	/* A missing argument names the option as it was written. */
	const char *needs_arg[] = {"-p",
				   "--pid",
				   "-d",
				   "--duration",
				   "-F",
				   "--hz",
				   "-o",
				   "--output",
				   "--stack-bytes",
				   "--format",
				   "--state-frames",
				   "--debuginfo-path",
				   "--demangle",
				   "--priority"};
	for (size_t i = 0; i < ARRAY_LEN(needs_arg); i++) {
		char want[64];
		snprintf(want, sizeof(want), "'%s' needs an argument", needs_arg[i]);
		expect_usage(want, needs_arg[i], NULL);
	}
	expect_usage("'-d' needs an argument", "-p", "1", "-d", NULL);

	/* The target. */
	expect_usage("no target", NULL);
	expect_usage("no target", "-q", "-d", "1s", NULL);
	expect_usage("no target", "--", NULL);
	expect_usage("not both", "-p", "1", "--", "true", NULL);
	expect_usage("after --", "true", NULL);
	expect_usage("'true'", "-q", "true", "arg", NULL);
	expect_usage("after --", "-p", "1", "extra", NULL);

	/* --format with no -o after it. */
	expect_usage("--format", "-p", "1", "--format=pprof", NULL);
	expect_usage("--format", "-o", "x", "--format", "pprof", "-p", "1", NULL);
	expect_usage("--format", "--format=pprof", "--", "app", NULL);

	expect_usage("too many outputs", "-p", "1", "-o", "1", "-o", "2", "-o", "3", "-o",
		     "4", "-o", "5", "-o", "6", "-o", "7", "-o", "8", "-o", "9", NULL);
}

static void test_options_small_err_buffer(void **state)
{
	(void)state;
	char *argv[] = {"fgtrace", "-F", "0", "-p", "1", NULL};
	struct fgt_config c;
	char err[8];
	memset(err, 'x', sizeof(err));
	assert_int_equal(fgt_options_parse(5, argv, &c, err, sizeof(err)),
			 FGT_OPTIONS_USAGE);
	assert_int_equal(strlen(err), sizeof(err) - 1);
}

/* getopt prints its own complaints unless told not to; cmd/ prints ours. */
static void test_options_never_print(void **state)
{
	(void)state;
	FILE *tmp = tmpfile();
	assert_non_null(tmp);
	fflush(stderr);
	int saved = dup(2);
	assert_true(saved >= 0);
	assert_int_equal(dup2(fileno(tmp), 2), 2);
	struct fgt_config c;
	enum fgt_options_result r1 = parse(&c, "--bogus", NULL);
	enum fgt_options_result r2 = parse(&c, "-Z", NULL);
	enum fgt_options_result r3 = parse(&c, "-p", NULL);
	enum fgt_options_result r4 = parse(&c, "--pid", NULL);
	enum fgt_options_result r5 = parse(&c, "--quiet=1", NULL);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	off_t size = lseek(fileno(tmp), 0, SEEK_END);
	fclose(tmp);
	assert_true(r1 == FGT_OPTIONS_USAGE && r2 == FGT_OPTIONS_USAGE &&
		    r3 == FGT_OPTIONS_USAGE && r4 == FGT_OPTIONS_USAGE &&
		    r5 == FGT_OPTIONS_USAGE);
	assert_int_equal(size, 0);
}

static void test_help_and_version(void **state)
{
	(void)state;
	struct fgt_config c;
	assert_int_equal(parse(&c, "-h", NULL), FGT_OPTIONS_HELP);
	assert_int_equal(parse(&c, "--help", NULL), FGT_OPTIONS_HELP);
	assert_int_equal(parse(&c, "-V", NULL), FGT_OPTIONS_VERSION);
	assert_int_equal(parse(&c, "--version", NULL), FGT_OPTIONS_VERSION);
	/* They need no target, and win over what follows them. */
	assert_int_equal(parse(&c, "-h", "-p", "x", "--bogus", NULL), FGT_OPTIONS_HELP);
	assert_int_equal(parse(&c, "-q", "-V", "-F", "0", NULL), FGT_OPTIONS_VERSION);
	assert_int_equal(parse(&c, "-p", "1", "--help", NULL), FGT_OPTIONS_HELP);
	/* After "--" they belong to the command. */
	expect_run(&c, "--", "app", "-h", NULL);
	assert_string_equal(c.command[1], "-h");
}

static void test_repeated_calls(void **state)
{
	(void)state;
	struct fgt_config c;
	/* Stop in the middle of a cluster, then start afresh: getopt is reset. */
	expect_usage("'-Z'", "-qZp", "1", NULL);
	expect_run(&c, "-p", "7", NULL);
	assert_int_equal(c.pid, 7);
	assert_false(c.quiet);
	expect_usage("needs an argument", "-p", NULL);
	expect_run(&c, "-F", "5", "--", "app", NULL);
	assert_int_equal(c.hz, 5);
	assert_int_equal(c.pid, 0);
	assert_int_equal(c.n_outputs, 1);
	/* Every call starts from the defaults. */
	expect_run(&c, "-p", "9", NULL);
	assert_int_equal(c.hz, 99);
	assert_null(c.command);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_duration_units),
	    cmocka_unit_test(test_duration_malformed),
	    cmocka_unit_test(test_duration_range),
	    cmocka_unit_test(test_uint),
	    cmocka_unit_test(test_uint_bad),
	    cmocka_unit_test(test_size),
	    cmocka_unit_test(test_size_bad),
	    cmocka_unit_test(test_options_defaults),
	    cmocka_unit_test(test_options_short),
	    cmocka_unit_test(test_options_long),
	    cmocka_unit_test(test_options_outputs_and_formats),
	    cmocka_unit_test(test_format_from_name),
	    cmocka_unit_test(test_options_command),
	    cmocka_unit_test(test_options_borrow_argv),
	    cmocka_unit_test(test_options_bad_values),
	    cmocka_unit_test(test_options_usage_errors),
	    cmocka_unit_test(test_signs_and_long_numbers),
	    cmocka_unit_test(test_options_small_err_buffer),
	    cmocka_unit_test(test_options_never_print),
	    cmocka_unit_test(test_help_and_version),
	    cmocka_unit_test(test_repeated_calls),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
