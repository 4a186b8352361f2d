/* fgtrace — remembered unwinds. */
#include "unwmemo.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void fgt_memo_log_reset(struct fgt_memo_log *log)
{
	log->n = 0;
	log->lost = false;
	memset(log->regs, 0, sizeof(log->regs));
	memset(log->failed, 0, sizeof(log->failed));
}

/* Makes room for n reads in *buf of *cap. */
static bool reserve(struct fgt_memo_read **buf, size_t *cap, size_t n)
{
	if (n <= *cap)
		return true;
	size_t c = *cap ? *cap : 256;
	while (c < n)
		c *= 2;
	struct fgt_memo_read *r = realloc(*buf, c * sizeof(*r));
	if (!r)
		return false;
	*buf = r;
	*cap = c;
	return true;
}

void fgt_memo_log_read(struct fgt_memo_log *log, uint32_t frame, uint64_t addr,
		       uint64_t val, bool ok)
{
	if (frame >= FGT_MEMO_LOG_FRAMES) {
		log->lost = true;
		return;
	}
	if (!ok) {
		log->failed[frame] = true;
		return;
	}
	if (!reserve(&log->reads, &log->cap, log->n + 1)) {
		log->lost = true;
		return;
	}
	log->reads[log->n++] = (struct fgt_memo_read){addr, val, frame};
}

void fgt_memo_log_reg(struct fgt_memo_log *log, uint32_t frame, int regnum)
{
	if (frame >= FGT_MEMO_LOG_FRAMES || regnum < 0 || regnum >= FGT_MEMO_NSNAP) {
		log->lost = true;
		return;
	}
	log->regs[frame] |= 1u << regnum;
}

void fgt_memo_log_free(struct fgt_memo_log *log)
{
	free(log->reads);
	log->reads = NULL;
	log->n = log->cap = 0;
}

struct fgt_memo *fgt_memo_find(struct fgt_memo_table *t, pid_t tid)
{
	for (size_t i = 0; i < FGT_MEMO_SLOTS; i++)
		if (t->slot[i].tid == tid && tid != 0)
			return &t->slot[i];
	return NULL;
}

/* The last frame of m, from 1 on, whose sp is at or below addr; 0 if none. */
static size_t last_below(const struct fgt_memo *m, uint64_t addr)
{
	size_t lo = 1, hi = m->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (m->f[mid].sp <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo - 1;
}

/* A word the memo's unwind read, at frame f, matters to the frames from 1 to
 * f whose sp is at or below it. Where the copy now holds another value there,
 * or nothing, none of those can be taken over. */
static void compare_reads(const struct fgt_memo *m, const uint8_t *stack,
			  uint64_t stack_addr, size_t stack_len, struct fgt_memo_cmp *cmp)
{
	cmp->done = true;
	cmp->first = 1;
	for (size_t i = 0; i < m->nreads; i++) {
		const struct fgt_memo_read *r = &m->reads[i];
		uint64_t v;
		if (r->addr >= stack_addr && r->addr - stack_addr <= stack_len &&
		    stack_len - (r->addr - stack_addr) >= sizeof(v)) {
			memcpy(&v, stack + (r->addr - stack_addr), sizeof(v));
			if (v == r->val)
				continue;
		}
		size_t bound = last_below(m, r->addr);
		if (r->frame < bound)
			bound = r->frame;
		if (bound + 1 > cmp->first)
			cmp->first = bound + 1;
	}
}

long fgt_memo_match(const struct fgt_memo *m, const struct fgt_memo_frame *cur,
		    const uint64_t snap[FGT_MEMO_NSNAP], const uint8_t *stack,
		    uint64_t stack_addr, size_t stack_len, struct fgt_memo_cmp *cmp)
{
	if (!m || m->n < 2)
		return -1;
	/* Frames go up the stack: their sps never decrease. */
	for (size_t j = cur->sp ? last_below(m, cur->sp - 1) + 1 : 1;
	     j < m->n && m->f[j].sp == cur->sp; j++) {
		const struct fgt_memo_frame *f = &m->f[j];
		if (!f->ok || f->pc != cur->pc || f->exact != cur->exact ||
		    f->unsaved != cur->unsaved)
			continue;
		bool same = true;
		for (int r = 0; r < FGT_MEMO_NREGS; r++)
			if ((f->need >> r & 1) &&
			    (f->val[r] != cur->val[r] || f->loc[r] != cur->loc[r]))
				same = false;
		for (int r = 0; r < FGT_MEMO_NSNAP; r++)
			if ((f->regs >> r & 1) && snap[r] != m->snap[r])
				same = false;
		if (!same)
			continue;
		if (!cmp->done)
			compare_reads(m, stack, stack_addr, stack_len, cmp);
		if (j >= cmp->first)
			return (long)j;
	}
	return -1;
}

/* Accounts, in the frames among f[1..top] whose sp lies above addr, for a
 * read at addr by a step out of frame top or a caller: a frame where addr is
 * where a callee-saved register was saved needs that register to match; for
 * any other frame, the read is of a word that a match does not compare. */
static void mark_below(struct fgt_memo_frame *f, size_t top, uint64_t addr)
{
	for (size_t k = top; k >= 1 && f[k].sp > addr; k--) {
		uint8_t regs = 0;
		for (int r = 0; r < FGT_MEMO_NREGS; r++)
			if (f[k].loc[r] == addr && !(addr & FGT_MEMO_LOC_REG))
				regs |= (uint8_t)(1u << r);
		f[k].need |= regs;
		if (!regs)
			f[k].ok = false;
	}
}

static struct fgt_memo *take_slot(struct fgt_memo_table *t, pid_t tid)
{
	struct fgt_memo *m = fgt_memo_find(t, tid);
	if (m)
		return m;
	m = &t->slot[0];
	for (size_t i = 0; i < FGT_MEMO_SLOTS; i++) {
		if (!t->slot[i].tid) {
			m = &t->slot[i];
			break;
		}
		if (t->slot[i].stamp < m->stamp)
			m = &t->slot[i];
	}
	m->tid = tid;
	m->n = m->nreads = 0;
	return m;
}

int fgt_memo_store(struct fgt_memo_table *t, pid_t tid,
		   const struct fgt_memo_frame *fresh, size_t nfresh,
		   const struct fgt_memo_log *log, const struct fgt_memo *from, size_t at,
		   bool truncated, bool limit, const uint64_t snap[FGT_MEMO_NSNAP])
{
	struct fgt_memo *m = take_slot(t, tid);
	if (from != m || !nfresh || at >= m->n)
		from = NULL;
	size_t last = nfresh ? nfresh - 1 : 0;
	size_t tail = from ? m->n - at - 1 : 0;
	size_t n = nfresh + tail;

	/* The reads: this unwind's, then those of the steps it took over,
	 * renumbered: the step out of from->f[at] is the one out of fresh[last]. */
	size_t first_taken = 0;
	if (from)
		while (first_taken < m->nreads && m->reads[first_taken].frame < at)
			first_taken++;
	size_t ntaken = from ? m->nreads - first_taken : 0;
	if (!reserve(&t->spare, &t->spare_cap, log->n + ntaken))
		goto nomem;
	if (log->n)
		memcpy(t->spare, log->reads, log->n * sizeof(*log->reads));
	for (size_t i = 0; i < ntaken; i++) {
		struct fgt_memo_read r = m->reads[first_taken + i];
		r.frame = (uint32_t)(r.frame - at + last);
		t->spare[log->n + i] = r;
	}
	struct fgt_memo_read *old = m->reads;
	size_t old_cap = m->reads_cap;
	m->reads = t->spare;
	m->reads_cap = t->spare_cap;
	m->nreads = log->n + ntaken;
	t->spare = old;
	t->spare_cap = old_cap;

	if (n > m->cap) {
		struct fgt_memo_frame *f = realloc(m->f, n * sizeof(*f));
		if (!f)
			goto nomem;
		m->f = f;
		m->cap = n;
	}
	/* What the steps after the fresh frames did: the taken-over ones'. */
	struct fgt_memo_frame after = {.ok = true};
	if (from) {
		after = m->f[at];
		memmove(&m->f[nfresh], &m->f[at + 1], tail * sizeof(*m->f));
	}
	if (nfresh)
		memcpy(m->f, fresh, nfresh * sizeof(*fresh));
	m->n = n;
	m->stamp = ++t->clock;
	m->truncated = truncated;
	memcpy(m->snap, snap, sizeof(m->snap));
	if (!nfresh)
		return 0;

	/* The last fresh frame: the matched one has its memo entry's
	 * properties (the registers they need are saved in the same places);
	 * an unwind that ended there has only its own last step. */
	struct fgt_memo_frame *f = m->f;
	f[last].ok = after.ok && !limit && !log->lost;
	f[last].hi = after.hi;
	f[last].regs = after.regs;
	f[last].need = after.need;
	if (!from) {
		bool logged = last < FGT_MEMO_LOG_FRAMES;
		f[last].regs |= logged ? log->regs[last] : 0;
		f[last].ok = f[last].ok && logged && !log->failed[last];
	}
	/* What a frame's steps read includes what its callers' steps read. */
	for (size_t k = last; k-- > 0;) {
		bool logged = k < FGT_MEMO_LOG_FRAMES;
		f[k].ok = f[k + 1].ok && logged && !log->failed[k];
		f[k].hi = f[k + 1].hi;
		f[k].regs = f[k + 1].regs | (logged ? log->regs[k] : 0);
		f[k].need = 0;
	}
	/* This unwind's reads, and those taken over below the matched frame's
	 * sp (where registers were saved), for the fresh frames. */
	for (size_t i = 0; i < m->nreads; i++) {
		const struct fgt_memo_read *r = &m->reads[i];
		size_t top = r->frame;
		if (i >= log->n) {
			if (!last || r->addr >= f[last].sp)
				continue;
			top = last - 1;
		}
		if (top > last)
			top = last;
		/* hi never decreases towards the leaf: stop where it is enough. */
		for (size_t k = top + 1; k-- > 0 && f[k].hi < r->addr + 8;)
			f[k].hi = r->addr + 8;
		if (top >= 1)
			mark_below(f, top, r->addr);
	}
	f[0].ok = false; /* the leaf's state is the snapshot's, never the same */
	return 0;
nomem:
	m->tid = 0;
	m->n = m->nreads = 0;
	return -ENOMEM;
}

void fgt_memo_clear(struct fgt_memo_table *t)
{
	for (size_t i = 0; i < FGT_MEMO_SLOTS; i++)
		t->slot[i].tid = 0;
}

void fgt_memo_free(struct fgt_memo_table *t)
{
	for (size_t i = 0; i < FGT_MEMO_SLOTS; i++) {
		free(t->slot[i].f);
		free(t->slot[i].reads);
		memset(&t->slot[i], 0, sizeof(t->slot[i]));
	}
	free(t->spare);
	t->spare = NULL;
	t->spare_cap = 0;
}
