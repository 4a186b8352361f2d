/* fgtrace — turning a thread's successive stacks into spans.
 *
 * Each frame is a span that stays open for as long as the frame stays on the
 * stack. A new stack is compared with the previous one from the root: frames
 * past the first difference are closed (leaf first) and the new ones opened
 * (root first). Frames are the same when they are the same function (and, when
 * lines are compared, the same line). Knows nothing of output formats.
 */
#ifndef FGT_TIMELINE_H
#define FGT_TIMELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "frame.h"

/* One frame of a stack, root to leaf order in arrays. */
struct fgt_tl_frame {
	const struct fgt_func *func;
	int line; /* sampled line, compared only when compare_lines */
};

struct fgt_timeline_sink {
	void (*begin)(void *ctx, const struct fgt_tl_frame *f, uint64_t ts_ns);
	void (*end)(void *ctx, const struct fgt_tl_frame *f, uint64_t ts_ns);
	void *ctx;
};

struct fgt_timeline {
	struct fgt_tl_frame frames[FGT_MAX_FRAMES + 64 + 3]; /* open spans, root first */
	size_t n;
	uint64_t last_ts; /* timestamp of the last update */
	bool compare_lines;
};

#define FGT_TL_MAX_DEPTH (FGT_MAX_FRAMES + 64 + 3)

void fgt_timeline_init(struct fgt_timeline *t, bool compare_lines);

/* Moves the timeline to stack[0..n) (root first) at ts_ns, reporting closed
 * and opened spans to sink. n is capped at FGT_TL_MAX_DEPTH. A ts_ns below
 * the last one is raised to it, so spans never go back in time. */
void fgt_timeline_update(struct fgt_timeline *t, const struct fgt_tl_frame *stack,
			 size_t n, uint64_t ts_ns, const struct fgt_timeline_sink *sink);

/* Closes every open span at ts_ns (or at the last update, if later). */
void fgt_timeline_close(struct fgt_timeline *t, uint64_t ts_ns,
			const struct fgt_timeline_sink *sink);

#endif
