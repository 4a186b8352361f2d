// fuzz-sources: lib/parse.c cmd/options.c
/* libFuzzer target: the duration, number and size parsers, and the whole
 * command-line parser on an argv split from the input, never crash, accept
 * only what their grammar allows, and never hand back a value outside its
 * range. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"
#include "parse.h"

#define MAX_DURATION_NS (30ull * 24 * 3600 * 1000000000ull)
#define MAX_ARGS	64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static const char *skip_digits(const char *s)
{
	while (is_digit(*s))
		s++;
	return s;
}

/* DIGITS [. DIGITS] [ns|us|ms|s|m|h] */
static bool duration_grammar(const char *s)
{
	static const char *const units[] = {"", "ns", "us", "ms", "s", "m", "h"};
	const char *p = skip_digits(s);
	if (p == s)
		return false;
	if (*p == '.') {
		const char *q = skip_digits(p + 1);
		if (q == p + 1)
			return false;
		p = q;
	}
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (strcmp(p, units[i]) == 0)
			return true;
	return false;
}

/* DIGITS [K|k|M|m] [B|b] */
static bool size_grammar(const char *s)
{
	const char *p = skip_digits(s);
	if (p == s)
		return false;
	if (*p && strchr("KkMm", *p))
		p++;
	if (*p && strchr("Bb", *p))
		p++;
	return *p == '\0';
}

static void check_values(const char *s)
{
	uint64_t v;
	if (fgt_parse_duration(s, &v) == 0 &&
	    (v == 0 || v > MAX_DURATION_NS || !duration_grammar(s)))
		abort();
	if (fgt_parse_uint(s, 1, 10000, &v) == 0 &&
	    (v < 1 || v > 10000 || *skip_digits(s) != '\0'))
		abort();
	if (fgt_parse_uint(s, 0, UINT64_MAX, &v) == 0 && *skip_digits(s) != '\0')
		abort();
	if (fgt_parse_size(s, 4096, 1 << 20, &v) == 0 &&
	    (v < 4096 || v > (1 << 20) || !size_grammar(s)))
		abort();
}

static void check_config(const struct fgt_config *cfg)
{
	if (!cfg->pid == !cfg->command || cfg->pid < 0 || cfg->pid > 4194304)
		abort();
	if (cfg->hz < 1 || cfg->hz > 10000 || cfg->duration_ns > MAX_DURATION_NS)
		abort();
	if (cfg->stack_bytes < FGT_MIN_STACK_BYTES ||
	    cfg->stack_bytes > FGT_MAX_STACK_BYTES)
		abort();
	if (cfg->n_outputs < 1 || cfg->n_outputs > FGT_MAX_OUTPUTS)
		abort();
	for (size_t i = 0; i < cfg->n_outputs; i++)
		if (!cfg->outputs[i].path || !*cfg->outputs[i].path ||
		    (unsigned)cfg->outputs[i].format > FGT_FORMAT_FOLDED)
			abort();
	if ((unsigned)cfg->state_frames > FGT_STATE_NONE ||
	    (unsigned)cfg->demangle > FGT_DEMANGLE_NONE)
		abort();
}

/* argv is "fgtrace" and the input split at NUL and newline bytes. */
static void check_options(const uint8_t *data, size_t size)
{
	char *copy = malloc(size + 1);
	if (!copy)
		abort();
	memcpy(copy, data, size);
	copy[size] = '\0';
	char *argv[MAX_ARGS + 1] = {"fgtrace"};
	int argc = 1;
	for (char *p = copy, *end = copy + size; argc < MAX_ARGS;) {
		argv[argc++] = p;
		p += strcspn(p, "\n");
		if (p >= end)
			break;
		*p++ = '\0';
	}
	argv[argc] = NULL;
	struct fgt_config cfg;
	char err[256];
	switch (fgt_options_parse(argc, argv, &cfg, err, sizeof(err))) {
	case FGT_OPTIONS_RUN:
		check_config(&cfg);
		break;
	case FGT_OPTIONS_USAGE:
		if (!err[0] || strnlen(err, sizeof(err)) == sizeof(err))
			abort();
		break;
	default:
		break;
	}
	free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (!s)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	check_values(s);
	free(s);
	check_options(data, size);
	return 0;
}
