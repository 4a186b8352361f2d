/* fgtrace — Trace Event Format writer (the JSON timeline).
 *
 * Writes a bare JSON array, one event per line, streamed: a file cut short
 * still opens in Perfetto, which accepts a missing ']'. Every string from the
 * target goes through fgt_json_string. Errors are the output's: each call
 * returns 0 or the output's sticky -errno.
 */
#ifndef FGT_TEF_H
#define FGT_TEF_H

#include <stdint.h>
#include <sys/types.h>

#include "frame.h"

struct fgt_output;
struct fgt_tef;

/* Starts the array in out (borrowed; the caller closes it after
 * fgt_tef_finish). Returns 0, -ENOMEM, or the output's error. */
int fgt_tef_new(struct fgt_output *out, bool source_line, struct fgt_tef **tef);
/* Frees the writer (not the output). */
void fgt_tef_free(struct fgt_tef *t);

int fgt_tef_process_name(struct fgt_tef *t, pid_t pid, const char *name);
int fgt_tef_thread_name(struct fgt_tef *t, pid_t pid, pid_t tid, const char *name);
int fgt_tef_thread_sort_index(struct fgt_tef *t, pid_t pid, pid_t tid, long index);

/* A span's begin and end. line is the sampled line (written only with
 * source_line). The end repeats the begin's name and cat. */
int fgt_tef_begin(struct fgt_tef *t, pid_t pid, pid_t tid, uint64_t ts_ns,
		  const struct fgt_func *f, int line);
int fgt_tef_end(struct fgt_tef *t, pid_t pid, pid_t tid, uint64_t ts_ns,
		const struct fgt_func *f);

/* A thread-scoped instant event; args_json is a JSON object or NULL. */
int fgt_tef_instant(struct fgt_tef *t, pid_t pid, pid_t tid, uint64_t ts_ns,
		    const char *name, const char *args_json);
/* A counter track value. */
int fgt_tef_counter(struct fgt_tef *t, pid_t pid, uint64_t ts_ns, const char *name,
		    const char *series, double value);
/* The "fgtrace" metadata event; args_json is a JSON object. */
int fgt_tef_metadata(struct fgt_tef *t, pid_t pid, const char *args_json);

/* Terminates the array. Returns 0 or the output's error. */
int fgt_tef_finish(struct fgt_tef *t);

#endif
