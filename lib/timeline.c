/* fgtrace — stack diffs to span begin/end. */
#include "timeline.h"

void fgt_timeline_init(struct fgt_timeline *t, bool compare_lines)
{
	t->n = 0;
	t->last_ts = 0;
	t->compare_lines = compare_lines;
}

static bool same(const struct fgt_timeline *t, const struct fgt_tl_frame *a,
		 const struct fgt_tl_frame *b)
{
	return a->func == b->func && (!t->compare_lines || a->line == b->line);
}

void fgt_timeline_update(struct fgt_timeline *t, const struct fgt_tl_frame *stack,
			 size_t n, uint64_t ts_ns, const struct fgt_timeline_sink *sink)
{
	if (n > FGT_TL_MAX_DEPTH)
		n = FGT_TL_MAX_DEPTH;
	if (ts_ns < t->last_ts)
		ts_ns = t->last_ts;
	size_t common = 0;
	while (common < t->n && common < n && same(t, &t->frames[common], &stack[common]))
		common++;
	while (t->n > common) {
		t->n--;
		sink->end(sink->ctx, &t->frames[t->n], ts_ns);
	}
	for (size_t i = common; i < n; i++) {
		t->frames[i] = stack[i];
		sink->begin(sink->ctx, &t->frames[i], ts_ns);
	}
	t->n = n;
	t->last_ts = ts_ns;
}

void fgt_timeline_close(struct fgt_timeline *t, uint64_t ts_ns,
			const struct fgt_timeline_sink *sink)
{
	fgt_timeline_update(t, NULL, 0, ts_ns, sink);
}
