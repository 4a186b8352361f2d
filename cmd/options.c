/* fgtrace — command-line parsing. */
#include "options.h"
#include "parse.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <string.h>

static const char help_text[] =
    "Usage: fgtrace [OPTIONS] -p PID\n"
    "       fgtrace [OPTIONS] -- COMMAND [ARG...]\n"
    "Wall-clock profiler: samples every thread of a process, on and off CPU, and\n"
    "writes a per-thread timeline (Trace Event Format JSON, for ui.perfetto.dev).\n"
    "\n"
    "Target:\n"
    "  -p, --pid=PID            process to attach to, with all its threads\n"
    "  -- COMMAND [ARG...]      start COMMAND under the profiler\n"
    "\n"
    "Capture:\n"
    "  -d, --duration=DUR       stop after DUR: 500ms, 30s, 1.5s, 2m, 1h; a bare\n"
    "                           number is seconds (default: until the target exits,\n"
    "                           or SIGINT/SIGTERM/SIGHUP)\n"
    "  -F, --hz=HZ              samples per second per thread, 1..10000 (default 99)\n"
    "      --stack-bytes=SIZE   most stack bytes copied per sample, 4K..1M\n"
    "                           (default 64K)\n"
    "      --priority=MODE      fgtrace's threads: realtime (the tracer at the\n"
    "                           lowest real-time priority where allowed, within a\n"
    "                           CPU budget), high (the tracer at nice -10 with a\n"
    "                           short slice); with both the worker at nice -5; or\n"
    "                           inherit (default realtime)\n"
    "\n"
    "Output:\n"
    "  -o, --output=PATH        output file (default fgtrace.json); '-' is stdout;\n"
    "                           a name ending in .gz is gzip-compressed; %p becomes\n"
    "                           the pid, %t the start time (YYYYmmdd-HHMMSS). May be\n"
    "                           given more than once\n"
    "      --format=FMT         format of the next -o: trace, pprof or folded\n"
    "                           (default: from its name; .json trace, .pb.gz and\n"
    "                           .pprof pprof, .folded and .txt folded)\n"
    "      --state-frames=WHERE thread state frames (running, sys_read, ...) at the\n"
    "                           root, at the leaf, or none (default root)\n"
    "      --per-thread         thread name as the root frame of pprof and folded\n"
    "\n"
    "Symbols:\n"
    "      --debuginfo-path=DIRS  more directories to search for separate debug\n"
    "                           information, ':'-separated\n"
    "      --demangle=STYLE     short (names without parameters), full, or none\n"
    "                           (default short)\n"
    "      --source-line        add the sampled source line to each frame's args\n"
    "\n"
    "Other:\n"
    "  -q, --quiet              no progress line and no summary\n"
    "  -h, --help               show this help and exit\n"
    "  -V, --version            show the version and exit\n"
    "\n"
    "Exit status: 0 on success; 1 when fgtrace fails (cannot attach, cannot write\n"
    "the output); 2 for invalid usage. With -- COMMAND, the command's own status\n"
    "(128+N when signal N killed it, 127 if not found, 126 if not executable).\n"
    "See fgtrace(1).\n";

void fgt_options_help(FILE *f)
{
	fputs(help_text, f);
}

enum {
	OPT_STACK_BYTES = 256,
	OPT_FORMAT,
	OPT_STATE_FRAMES,
	OPT_PER_THREAD,
	OPT_DEBUGINFO_PATH,
	OPT_DEMANGLE,
	OPT_SOURCE_LINE,
	OPT_PRIORITY,
};

static const struct option long_options[] = {
    {"pid", required_argument, NULL, 'p'},
    {"duration", required_argument, NULL, 'd'},
    {"hz", required_argument, NULL, 'F'},
    {"output", required_argument, NULL, 'o'},
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {"stack-bytes", required_argument, NULL, OPT_STACK_BYTES},
    {"format", required_argument, NULL, OPT_FORMAT},
    {"state-frames", required_argument, NULL, OPT_STATE_FRAMES},
    {"per-thread", no_argument, NULL, OPT_PER_THREAD},
    {"debuginfo-path", required_argument, NULL, OPT_DEBUGINFO_PATH},
    {"demangle", required_argument, NULL, OPT_DEMANGLE},
    {"source-line", no_argument, NULL, OPT_SOURCE_LINE},
    {"priority", required_argument, NULL, OPT_PRIORITY},
    {NULL, 0, NULL, 0},
};

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && strcmp(s + n - m, suffix) == 0;
}

enum fgt_format fgt_format_from_name(const char *path, int *guessed)
{
	*guessed = 0;
	if (ends_with(path, ".pb.gz") || ends_with(path, ".pprof"))
		return FGT_FORMAT_PPROF;
	/* Any output named *.gz is compressed: x.folded.gz is folded. */
	if (ends_with(path, ".folded") || ends_with(path, ".txt") ||
	    ends_with(path, ".folded.gz") || ends_with(path, ".txt.gz"))
		return FGT_FORMAT_FOLDED;
	if (ends_with(path, ".json") || ends_with(path, ".json.gz") ||
	    strcmp(path, "-") == 0)
		return FGT_FORMAT_TRACE;
	*guessed = 1;
	return FGT_FORMAT_TRACE;
}

static enum fgt_options_result usage(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static enum fgt_options_result usage(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return FGT_OPTIONS_USAGE;
}

/* "--quiet=1": getopt only says the option is unknown. The long option the
 * word names, when it takes no argument, or NULL. */
static const char *flag_given_value(const char *word)
{
	const char *eq = word ? strchr(word, '=') : NULL;
	if (!eq || strncmp(word, "--", 2) != 0 || eq == word + 2)
		return NULL;
	size_t n = (size_t)(eq - word - 2);
	const char *found = NULL;
	for (const struct option *o = long_options; o->name; o++) {
		if (strncmp(o->name, word + 2, n) != 0)
			continue;
		if (strlen(o->name) == n)
			return o->has_arg == no_argument ? o->name : NULL;
		if (found)
			return NULL; /* an ambiguous abbreviation */
		found = o->has_arg == no_argument ? o->name : "";
	}
	return found && *found ? found : NULL;
}

static enum fgt_options_result bad_value(char *err, size_t errlen, const char *opt,
					 const char *arg, int rc, const char *range)
{
	return usage(err, errlen, "invalid --%s argument '%s': %s%s", opt, arg,
		     rc == -ERANGE ? "out of range" : "not a valid value",
		     range ? range : "");
}

static int pick(const char *arg, const char *const *names, int n)
{
	for (int i = 0; i < n; i++)
		if (strcmp(arg, names[i]) == 0)
			return i;
	return -1;
}

static void set_defaults(struct fgt_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->hz = FGT_DEFAULT_HZ;
	cfg->stack_bytes = FGT_DEFAULT_STACK_BYTES;
	cfg->state_frames = FGT_STATE_ROOT;
	cfg->demangle = FGT_DEMANGLE_SHORT;
}

enum fgt_options_result fgt_options_parse(int argc, char **argv, struct fgt_config *cfg,
					  char *err, size_t errlen)
{
	static const char *const formats[] = {"trace", "pprof", "folded"};
	static const char *const wheres[] = {"root", "leaf", "none"};
	static const char *const styles[] = {"short", "full", "none"};
	static const char *const priorities[] = {"realtime", "high", "inherit"};
	int next_format = -1;
	uint64_t v;
	int rc, c, i;
	const char *flag;
	const char *last_optarg = NULL;

	set_defaults(cfg);
	optind = 0; /* reset getopt, also for repeated calls in tests */
	opterr = 0;
	/* '+': stop at the first non-option, so the command keeps its own options. */
	while ((c = getopt_long(argc, argv, "+:p:d:F:o:qhV", long_options, NULL)) != -1) {
		last_optarg = optarg;
		switch (c) {
		case 'p':
			rc = fgt_parse_uint(optarg, 1, 4194304, &v);
			if (rc < 0)
				return bad_value(err, errlen, "pid", optarg, rc,
						 " (1..4194304)");
			cfg->pid = (pid_t)v;
			break;
		case 'd':
			rc = fgt_parse_duration(optarg, &cfg->duration_ns);
			if (rc < 0)
				return bad_value(err, errlen, "duration", optarg, rc,
						 " (e.g. 500ms, 30s, 2m, 1h)");
			break;
		case 'F':
			rc = fgt_parse_uint(optarg, 1, 10000, &v);
			if (rc < 0)
				return bad_value(err, errlen, "hz", optarg, rc,
						 " (1..10000)");
			cfg->hz = (unsigned)v;
			break;
		case 'o':
			if (!*optarg)
				return usage(err, errlen,
					     "invalid --output argument: empty path");
			if (cfg->n_outputs == FGT_MAX_OUTPUTS)
				return usage(err, errlen, "too many outputs (at most %d)",
					     FGT_MAX_OUTPUTS);
			cfg->outputs[cfg->n_outputs].path = optarg;
			if (next_format >= 0) {
				cfg->outputs[cfg->n_outputs].format =
				    (enum fgt_format)next_format;
			} else {
				int guessed;
				cfg->outputs[cfg->n_outputs].format =
				    fgt_format_from_name(optarg, &guessed);
			}
			cfg->n_outputs++;
			next_format = -1;
			break;
		case 'q':
			cfg->quiet = true;
			break;
		case 'h':
			return FGT_OPTIONS_HELP;
		case 'V':
			return FGT_OPTIONS_VERSION;
		case OPT_STACK_BYTES:
			rc = fgt_parse_size(optarg, FGT_MIN_STACK_BYTES,
					    FGT_MAX_STACK_BYTES, &v);
			if (rc < 0)
				return bad_value(err, errlen, "stack-bytes", optarg, rc,
						 " (4K..1M)");
			cfg->stack_bytes = (size_t)v;
			break;
		case OPT_FORMAT:
			if ((i = pick(optarg, formats, 3)) < 0)
				return bad_value(err, errlen, "format", optarg, -EINVAL,
						 " (trace, pprof or folded)");
			next_format = i;
			break;
		case OPT_STATE_FRAMES:
			if ((i = pick(optarg, wheres, 3)) < 0)
				return bad_value(err, errlen, "state-frames", optarg,
						 -EINVAL, " (root, leaf or none)");
			cfg->state_frames = (enum fgt_state_frames)i;
			break;
		case OPT_PER_THREAD:
			cfg->per_thread = true;
			break;
		case OPT_DEBUGINFO_PATH:
			cfg->debuginfo_path = optarg;
			break;
		case OPT_DEMANGLE:
			if ((i = pick(optarg, styles, 3)) < 0)
				return bad_value(err, errlen, "demangle", optarg, -EINVAL,
						 " (short, full or none)");
			cfg->demangle = (enum fgt_demangle)i;
			break;
		case OPT_SOURCE_LINE:
			cfg->source_line = true;
			break;
		case OPT_PRIORITY:
			if ((i = pick(optarg, priorities, 3)) < 0)
				return bad_value(err, errlen, "priority", optarg, -EINVAL,
						 " (realtime, high or inherit)");
			cfg->priority = (enum fgt_priority)i;
			break;
		case ':':
			return usage(err, errlen, "option '%s' needs an argument",
				     argv[optind - 1]);
		default:
			if ((flag = flag_given_value(argv[optind - 1])))
				return usage(err, errlen, "option '--%s' takes no argument",
					     flag);
			if (optopt && optopt < 256)
				return usage(err, errlen, "unknown option '-%c'", optopt);
			return usage(err, errlen, "unknown option '%s'",
				     argv[optind - 1]);
		}
	}
	if (next_format >= 0)
		return usage(err, errlen,
			     "--format must come before the -o it applies to");
	if (optind < argc) {
		/* "--" ends the options, unless it was the last option's
		 * value (-o --). */
		if (optind == 0 || strcmp(argv[optind - 1], "--") != 0 ||
		    argv[optind - 1] == last_optarg)
			return usage(
			    err, errlen,
			    "unexpected argument '%s' (put the command after --)",
			    argv[optind]);
		cfg->command = &argv[optind];
	}
	if (cfg->pid && cfg->command)
		return usage(err, errlen, "give either -p PID or -- COMMAND, not both");
	if (!cfg->pid && !cfg->command)
		return usage(err, errlen, "no target: give -p PID or -- COMMAND");
	if (cfg->n_outputs == 0) {
		cfg->outputs[0].path = "fgtrace.json";
		cfg->outputs[0].format = FGT_FORMAT_TRACE;
		cfg->n_outputs = 1;
	}
	return FGT_OPTIONS_RUN;
}
