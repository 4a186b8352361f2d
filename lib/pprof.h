/* fgtrace — a streaming encoder of pprof's profile.proto (internal to
 * lib/profile.c).
 *
 * Samples are encoded and written as they come; mappings, locations,
 * functions and the string table follow in fgt_pprof_finish(), because they
 * are only known once every sample has been seen. Strings and symbolizer
 * objects are borrowed: they must stay valid until fgt_pprof_free().
 * The bytes are the raw protobuf: the caller opens the output with gzip.
 */
#ifndef FGT_PPROF_H
#define FGT_PPROF_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "frame.h"

struct fgt_output;
struct fgt_pprof;

/* A frame of a sample: a symbolized location, or a pseudo frame (state,
 * thread, [truncated]) identified by its kind and name. */
struct fgt_pprof_frame {
	const struct fgt_location *loc; /* NULL for a pseudo frame */
	enum fgt_func_kind kind;	/* pseudo frames only */
	const char *name;		/* pseudo frames only */
};

struct fgt_pprof_sample {
	const struct fgt_pprof_frame *frames; /* leaf first */
	size_t n_frames;
	const char *thread; /* "thread" label */
	pid_t tid;	    /* "tid" label */
	const char *state;  /* "state" label, or NULL for none */
	uint64_t count;	    /* values are count and count * period */
};

/* Starts a profile in out with sample types samples/count and
 * wall/nanoseconds. Returns 0 and sets *pp (free with fgt_pprof_free), or
 * -ENOMEM. */
int fgt_pprof_new(struct fgt_output *out, uint64_t period_ns, uint64_t time_nanos,
		  uint64_t duration_nanos, struct fgt_pprof **pp);

/* Encodes one Sample. Returns 0, -ENOMEM, or the output's -errno. */
int fgt_pprof_add(struct fgt_pprof *pp, const struct fgt_pprof_sample *s);

/* Writes the tables and flushes what is buffered. Returns 0, -ENOMEM, or the
 * output's -errno (also any error an earlier call returned). */
int fgt_pprof_finish(struct fgt_pprof *pp);

/* Frees pp; NULL is allowed. Does not close the output. */
void fgt_pprof_free(struct fgt_pprof *pp);

#endif
