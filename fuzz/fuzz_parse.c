// fuzz-sources: lib/parse.c cmd/options.c
/* libFuzzer target: the duration, number and size parsers, and the whole
 * command-line parser on an argv split from the input, never crash and never
 * accept a value outside their ranges. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"
#include "parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (!s)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';

	uint64_t v;
	if (fgt_parse_duration(s, &v) == 0 &&
	    (v == 0 || v > 30ull * 24 * 3600 * 1000000000ull))
		abort();
	if (fgt_parse_uint(s, 1, 10000, &v) == 0 && (v < 1 || v > 10000))
		abort();
	if (fgt_parse_size(s, 4096, 1 << 20, &v) == 0 && (v < 4096 || v > (1 << 20)))
		abort();

	/* argv: the input split at NUL and newline bytes. */
	char *argv[64] = {"fgtrace"};
	int argc = 1;
	char *copy = malloc(size + 1);
	memcpy(copy, data, size);
	copy[size] = '\0';
	for (char *p = copy, *end = copy + size; p <= end && argc < 63;) {
		argv[argc++] = p;
		p += strcspn(p, "\n");
		if (p >= end)
			break;
		*p++ = '\0';
	}
	argv[argc] = NULL;
	struct fgt_config cfg;
	char err[256];
	if (fgt_options_parse(argc, argv, &cfg, err, sizeof(err)) == FGT_OPTIONS_RUN) {
		if (cfg.hz < 1 || cfg.hz > 10000 || cfg.n_outputs < 1 ||
		    cfg.n_outputs > FGT_MAX_OUTPUTS || (!cfg.pid && !cfg.command))
			abort();
	}
	free(copy);
	free(s);
	return 0;
}
