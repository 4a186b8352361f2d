/* fgtrace — command-line parsing into a struct fgt_config. */
#ifndef FGT_OPTIONS_H
#define FGT_OPTIONS_H

#include "config.h"
#include <stdio.h>

enum fgt_options_result {
	FGT_OPTIONS_RUN,     /* a capture to run */
	FGT_OPTIONS_HELP,    /* --help was given */
	FGT_OPTIONS_VERSION, /* --version was given */
	FGT_OPTIONS_USAGE,   /* invalid usage; err holds a one-line message */
};

/* Parses argv into *cfg (defaults first). argv is borrowed by cfg. On
 * FGT_OPTIONS_USAGE, err (errlen bytes) holds the reason, without the
 * "fgtrace: " prefix. Never prints. */
enum fgt_options_result fgt_options_parse(int argc, char **argv, struct fgt_config *cfg,
					  char *err, size_t errlen);

/* Writes the --help text to f. */
void fgt_options_help(FILE *f);

/* Picks an output format from a file name; *guessed is set when the name had
 * no known ending (the caller notes that on stderr). */
enum fgt_format fgt_format_from_name(const char *path, int *guessed);

#endif
