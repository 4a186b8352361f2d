/* fgtrace — the worker thread: unwind, symbolize, diff, write. */
#include "worker.h"
#include "output.h"
#include "priority.h"
#include "procfs.h"
#include "profile.h"
#include "state.h"
#include "symbolize.h"
#include "tef.h"
#include "tidmap.h"
#include "timeline.h"
#include "unwind.h"
#include "waiton.h"
#include "json.h"
#include "strbuf.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NAME_CHECK_NS (100 * 1000000ull) /* re-read a thread's name this often */
#define FLUSH_NS      (250 * 1000000ull) /* push output to the file this often */

struct wthread {
	pid_t tid;
	char name[64];
	uint64_t name_checked_ns;
	struct fgt_timeline tl;
	struct fgt_stack stack; /* last stack, for samples that reuse it */
	bool has_stack;
	long syscall; /* last syscall number seen (for restart_syscall) */
	const struct fgt_func *last_state;
	bool unshown; /* last_state and stack come from the warm-up round */
	bool gapped;  /* spans ended by lost samples; the next sample reopens them */
	long wait_nr; /* syscall and first argument of wait_state */
	uint64_t wait_arg;
	const struct fgt_func *wait_state; /* cached: describing it reads /proc */
	size_t stack_need; /* decaying max of the stack bytes unwinds needed */
	uint64_t last_ts;  /* last sample */
	long sort_index;
};

struct fgt_worker {
	const struct fgt_config *cfg;
	pid_t pid;
	struct fgt_queue *queue;
	struct fgt_sinks *sinks;
	pthread_t thread;
	bool started;
	struct fgt_symbolizer *sym;
	struct fgt_unwinder *unw;
	struct fgt_tidmap threads;
	long next_sort_index;
	bool exec_seen;		 /* attach mode, or the launched command has exec'd */
	uint64_t sym_generation; /* module scans the unwinder has caught up with */
	uint64_t end_ns;
	uint64_t last_flush_ns;
	struct fgt_frame_pc frames[FGT_MAX_FRAMES];
	struct fgt_tl_frame tl_stack[FGT_TL_MAX_DEPTH];
	long running; /* threads whose last state is running */
	uint64_t running_ts; /* the counter's last timestamp: it never goes back */
	const struct fgt_func *running_state;
	struct fgt_strbuf scratch;
	atomic_int error;
	atomic_uint_fast64_t bytes;
	struct fgt_worker_stats stats;
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int fgt_worker_new(const struct fgt_config *cfg, pid_t pid, struct fgt_queue *q,
		   struct fgt_sinks *sinks, struct fgt_worker **out)
{
	struct fgt_worker *w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->cfg = cfg;
	w->pid = pid;
	w->queue = q;
	w->sinks = sinks;
	w->exec_seen = !cfg->command;
	fgt_strbuf_init(&w->scratch);
	fgt_tidmap_init(&w->threads);
	*out = w;
	return 0;
}

static void set_error(struct fgt_worker *w, int rc)
{
	int zero = 0;
	if (rc < 0)
		atomic_compare_exchange_strong(&w->error, &zero, rc);
}

/* ---- writing -------------------------------------------------------------- */

struct span_ctx {
	struct fgt_worker *w;
	pid_t tid;
};

static void span_begin(void *ctx, const struct fgt_tl_frame *f, uint64_t ts)
{
	struct span_ctx *c = ctx;
	for (size_t i = 0; i < c->w->sinks->n; i++)
		if (c->w->sinks->tef[i])
			set_error(c->w, fgt_tef_begin(c->w->sinks->tef[i], c->w->pid,
						      c->tid, ts, f->func, f->line));
}

static void span_end(void *ctx, const struct fgt_tl_frame *f, uint64_t ts)
{
	struct span_ctx *c = ctx;
	for (size_t i = 0; i < c->w->sinks->n; i++)
		if (c->w->sinks->tef[i])
			set_error(c->w, fgt_tef_end(c->w->sinks->tef[i], c->w->pid,
						    c->tid, ts, f->func));
}

static void timeline_to(struct fgt_worker *w, struct wthread *t, size_t n, uint64_t ts)
{
	struct span_ctx c = {w, t->tid};
	struct fgt_timeline_sink sink = {span_begin, span_end, &c};
	fgt_timeline_update(&t->tl, w->tl_stack, n, ts, &sink);
}

static void close_thread(struct fgt_worker *w, struct wthread *t, uint64_t ts)
{
	struct span_ctx c = {w, t->tid};
	struct fgt_timeline_sink sink = {span_begin, span_end, &c};
	fgt_timeline_close(&t->tl, ts, &sink);
}

static void each_tef_name(struct fgt_worker *w, pid_t tid, const char *name, bool process)
{
	for (size_t i = 0; i < w->sinks->n; i++) {
		struct fgt_tef *tef = w->sinks->tef[i];
		if (!tef)
			continue;
		set_error(w, process ? fgt_tef_process_name(tef, w->pid, name)
				     : fgt_tef_thread_name(tef, w->pid, tid, name));
	}
}

static void flush_outputs(struct fgt_worker *w)
{
	uint64_t bytes = 0;
	for (size_t i = 0; i < w->sinks->n; i++) {
		if (w->sinks->tef[i])
			set_error(w, fgt_output_flush(w->sinks->out[i]));
		bytes += fgt_output_bytes(w->sinks->out[i]);
	}
	atomic_store(&w->bytes, bytes);
	w->last_flush_ns = now_ns();
}

static void instant(struct fgt_worker *w, pid_t tid, uint64_t ts, const char *name,
		    const char *args_json)
{
	for (size_t i = 0; i < w->sinks->n; i++)
		if (w->sinks->tef[i])
			set_error(w, fgt_tef_instant(w->sinks->tef[i], w->pid, tid, ts,
						     name, args_json));
}

/* The "running threads" counter: how parallel the program really was. */
static void count_running(struct fgt_worker *w, const struct fgt_func *from,
			  const struct fgt_func *to, uint64_t ts)
{
	if (!w->running_state && w->sym)
		w->running_state =
		    fgt_symbolizer_pseudo(w->sym, FGT_FUNC_STATE, "running");
	long delta = (to && to == w->running_state) - (from && from == w->running_state);
	if (!delta)
		return;
	w->running += delta;
	/* A thread's exit is stamped with its last sample, which may be older
	 * than a change already written for another thread. */
	if (ts < w->running_ts)
		ts = w->running_ts;
	w->running_ts = ts;
	for (size_t i = 0; i < w->sinks->n; i++)
		if (w->sinks->tef[i])
			set_error(w, fgt_tef_counter(w->sinks->tef[i], w->pid, ts,
						     "running threads", "running",
						     (double)w->running));
}

/* ---- threads -------------------------------------------------------------- */

static void check_name(struct fgt_worker *w, struct wthread *t, uint64_t now)
{
	char name[64];
	t->name_checked_ns = now;
	if (fgt_procfs_read_comm(w->pid, t->tid, name, sizeof(name)) < 0 ||
	    strcmp(name, t->name) == 0)
		return;
	if (t->name[0]) {
		struct fgt_strbuf *b = &w->scratch;
		fgt_strbuf_reset(b);
		fgt_strbuf_puts(b, "{\"name\":");
		fgt_json_cstring(b, name);
		fgt_strbuf_puts(b, ",\"previous\":");
		fgt_json_cstring(b, t->name);
		fgt_strbuf_putc(b, '}');
		instant(w, t->tid, t->last_ts, "thread_rename", b->oom ? NULL : b->s);
	}
	snprintf(t->name, sizeof(t->name), "%s", name);
	each_tef_name(w, t->tid, t->name, false);
}

static struct wthread *get_thread(struct fgt_worker *w, pid_t tid)
{
	struct wthread *t = fgt_tidmap_get(&w->threads, tid);
	if (t)
		return t;
	t = calloc(1, sizeof(*t));
	if (!t || fgt_tidmap_put(&w->threads, tid, t) < 0) {
		free(t);
		return NULL;
	}
	t->tid = tid;
	t->syscall = -1;
	t->sort_index = tid == w->pid ? 0 : ++w->next_sort_index;
	fgt_timeline_init(&t->tl, w->cfg->source_line);
	if (!w->exec_seen)
		return t; /* still fgtrace's child: named at the command's exec */
	for (size_t i = 0; i < w->sinks->n; i++)
		if (w->sinks->tef[i])
			set_error(w, fgt_tef_thread_sort_index(w->sinks->tef[i], w->pid,
							       tid, t->sort_index));
	check_name(w, t, now_ns());
	t->name_checked_ns = 0; /* a new thread often names itself at once: look again */
	return t;
}

static void emit_sample(struct fgt_worker *w, struct wthread *t,
			const struct fgt_func *state, uint64_t ts, uint32_t count,
			bool changed);

/* A thread whose warm-up sample was never followed by another (the capture
 * or the thread ended first): that sample is all there is; show it. */
static void show_warmup(struct fgt_worker *w, struct wthread *t)
{
	if (t->unshown && t->has_stack)
		emit_sample(w, t, t->last_state, t->last_ts, 1, true);
}

static void drop_thread(struct fgt_worker *w, struct wthread *t)
{
	show_warmup(w, t);
	/* Its spans close at its last sample: after that nothing is known. */
	close_thread(w, t, t->last_ts);
	count_running(w, t->unshown || t->gapped ? NULL : t->last_state, NULL,
		      t->last_ts);
	fgt_tidmap_del(&w->threads, t->tid);
	free(t);
}

static int ensure_symbols(struct fgt_worker *w)
{
	if (w->sym)
		return 0;
	int rc = fgt_symbolizer_new(w->pid, w->cfg, &w->sym);
	if (rc < 0)
		return rc;
	rc = fgt_unwinder_new(w->pid, fgt_symbolizer_is_code, w->sym, &w->unw);
	if (rc < 0) {
		fgt_symbolizer_free(w->sym);
		w->sym = NULL;
		return rc;
	}
	fgt_symbolizer_set_func_start(w->sym, fgt_unwinder_func_start, w->unw);
	fgt_unwinder_set_debug_frame(w->unw, fgt_symbolizer_debug_frame, w->sym);
	return 0;
}

/* ---- samples -------------------------------------------------------------- */

static const struct fgt_func *state_of(struct fgt_worker *w, struct wthread *t,
				       const struct user_regs_struct *regs, bool jobstop,
				       bool blocked)
{
	char name[64];
	long nr = (long)regs->orig_rax;
	/* A syscall interrupted by a stop is often resumed as restart_syscall:
	 * keep showing the one the thread is really in. */
	if (nr == FGT_SYSCALL_RESTART && t->syscall >= 0)
		nr = t->syscall;
	else if (nr >= 0)
		t->syscall = nr;
	if (blocked)
		fgt_state_blocked_name(nr, name, sizeof(name));
	else
		fgt_state_name(nr, jobstop, name, sizeof(name));
	if (jobstop || nr < 0 || fgt_waiton_kind(nr) == FGT_WAIT_NONE)
		return fgt_symbolizer_pseudo(w->sym, FGT_FUNC_STATE, name);
	if (t->wait_state && t->wait_nr == nr && t->wait_arg == regs->rdi)
		return t->wait_state;
	fgt_strbuf_reset(&w->scratch);
	/* Through the task the unwinder reads the process by: the leader may
	 * have left, with its files. */
	fgt_waiton_describe(w->unw ? fgt_unwinder_via(w->unw) : w->pid, nr, regs,
			    &w->scratch);
	t->wait_nr = nr;
	t->wait_arg = regs->rdi;
	t->wait_state = fgt_symbolizer_state(
	    w->sym, name, w->scratch.len && !w->scratch.oom ? w->scratch.s : NULL);
	return t->wait_state;
}

/* Root-first frames for the timeline: state, [truncated], then each location's
 * real function before its inlined callees. */
static size_t build_tl_stack(struct fgt_worker *w, const struct fgt_stack *st,
			     const struct fgt_func *state)
{
	size_t n = 0;
	enum fgt_state_frames where = w->cfg->state_frames;
	if (state && where == FGT_STATE_ROOT)
		w->tl_stack[n++] = (struct fgt_tl_frame){state, 0};
	if (st->truncated)
		w->tl_stack[n++] = (struct fgt_tl_frame){
		    fgt_symbolizer_pseudo(w->sym, FGT_FUNC_TRUNCATED, "[truncated]"), 0};
	for (size_t i = st->n; i-- > 0 && n < FGT_TL_MAX_DEPTH - 1;) {
		const struct fgt_location *l = st->locs[i];
		for (size_t j = l->n_lines; j-- > 0 && n < FGT_TL_MAX_DEPTH - 1;)
			w->tl_stack[n++] =
			    (struct fgt_tl_frame){l->lines[j].func, l->lines[j].line};
	}
	if (state && where == FGT_STATE_LEAF)
		w->tl_stack[n++] = (struct fgt_tl_frame){state, 0};
	return n;
}

static void emit_sample(struct fgt_worker *w, struct wthread *t,
			const struct fgt_func *state, uint64_t ts, uint32_t count,
			bool changed)
{
	/* A sample is dated when its stop was asked for, which may come before
	 * an event of the thread seen meanwhile: keep each thread's time
	 * moving forward. */
	ts = ts > t->last_ts ? ts : t->last_ts;
	if (changed) {
		size_t n = build_tl_stack(w, &t->stack, state);
		timeline_to(w, t, n, ts);
	}
	struct fgt_sample_info si = {
	    .pid = w->pid,
	    .tid = t->tid,
	    .thread_name = t->name,
	    .ts_ns = ts,
	    .count = count ? count : 1,
	    .state = w->cfg->state_frames == FGT_STATE_NONE ? NULL : state,
	    .stack = &t->stack,
	};
	for (size_t i = 0; i < w->sinks->n; i++)
		if (w->sinks->prof[i])
			set_error(w, fgt_profile_add(w->sinks->prof[i], &si));
	count_running(w, t->unshown || t->gapped ? NULL : t->last_state, state, ts);
	t->unshown = false;
	t->gapped = false;
	t->last_ts = ts;
	t->last_state = state;
	w->stats.samples++;
}

/* The thread ran, then lost samples (see struct fgt_snapshot, gap): its
 * spans end where the loss began, and its next sample opens new ones.
 * Nothing is shown in between, as nothing is known. */
static void show_gap(struct fgt_worker *w, struct wthread *t,
		     const struct fgt_snapshot *s)
{
	if (!s->gap || s->warmup || t->unshown || t->gapped || t->tl.n == 0)
		return;
	uint64_t ts = s->gap_ns > t->last_ts ? s->gap_ns : t->last_ts;
	close_thread(w, t, ts);
	count_running(w, t->last_state, NULL, ts);
	t->gapped = true;
	t->last_ts = ts;
	w->stats.gaps++;
}

static void on_sample(struct fgt_worker *w, struct wthread *t,
		      const struct fgt_snapshot *s)
{
	if (ensure_symbols(w) < 0)
		return;
	uint64_t gen = fgt_symbolizer_generation(w->sym);
	if (gen != w->sym_generation) {
		fgt_unwinder_forget_failures(w->unw);
		w->sym_generation = gen;
	}
	uint64_t t0 = now_ns();
	bool truncated;
	size_t used;
	fgt_unwinder_set_thread(w->unw, s->tid);
	size_t n = fgt_unwind(w->unw, s, w->frames, FGT_MAX_FRAMES, &truncated, &used);
	pid_t via = fgt_unwinder_via(w->unw);
	if (fgt_symbolizer_set_via(w->sym, via)) {
		/* The leader has left: the modules were rescanned through this
		 * thread, and the unwind, which asked them, is done again. */
		fgt_unwinder_forget_failures(w->unw);
		w->sym_generation = fgt_symbolizer_generation(w->sym);
		n = fgt_unwind(w->unw, s, w->frames, FGT_MAX_FRAMES, &truncated, &used);
	}
	uint64_t t1 = now_ns();
	w->stats.unwind_ns += t1 - t0;
	w->stats.unwound++;
	w->stats.frames += n;
	/* Tell the tracer how much stack to copy next time: what recent
	 * unwinds needed, or everything when the copy was too short. Told
	 * before naming, which can take long the first time a library is met:
	 * meanwhile, the copies are no larger than they need to be. */
	size_t need = truncated && s->stack_cut ? w->cfg->stack_bytes : used;
	t->stack_need = need > t->stack_need ? need : t->stack_need - t->stack_need / 16;
	fgt_queue_set_hint(w->queue, t->tid, t->stack_need, truncated);
	t->stack.n = 0;
	for (size_t i = 0; i < n; i++) {
		const struct fgt_location *l =
		    fgt_symbolizer_lookup(w->sym, w->frames[i].pc, w->frames[i].exact);
		if (l)
			t->stack.locs[t->stack.n++] = l;
	}
	t->stack.truncated = truncated;
	if (truncated)
		w->stats.truncated++;
	t->has_stack = true;
	const struct fgt_func *state = state_of(w, t, &s->regs, s->jobstop, s->blocked);
	if (s->warmup) {
		/* Named and cached; its stack stands for the thread until it
		 * runs, but the timeline starts at the first tick. */
		t->last_state = state;
		t->unshown = true;
		t->last_ts = s->ts_ns;
		return;
	}
	show_gap(w, t, s);
	emit_sample(w, t, state, s->ts_ns, s->ticks, true);
	if (t1 - t->name_checked_ns > NAME_CHECK_NS)
		check_name(w, t, t1);
}

static void on_reuse(struct fgt_worker *w, struct wthread *t,
		     const struct fgt_snapshot *s)
{
	if (!t->has_stack || !w->sym)
		return;
	const struct fgt_func *state =
	    s->kind == FGT_SNAP_JOBSTOP
		? fgt_symbolizer_pseudo(w->sym, FGT_FUNC_STATE, "stopped")
		: t->last_state;
	if (s->warmup) {
		t->last_state = state;
		return;
	}
	show_gap(w, t, s);
	/* The stack is unchanged; only a change of state (stopped) moves spans. */
	emit_sample(w, t, state, s->ts_ns, s->ticks,
		    state != t->last_state || t->unshown || t->gapped);
}

static void on_exec(struct fgt_worker *w, const struct fgt_snapshot *s)
{
	struct wthread *t;
	bool first = !w->exec_seen;
	/* The old image's threads are gone; the execing thread starts afresh
	 * (and, at a launched command's first exec, gets its names). */
	for (size_t i = 0; (t = fgt_tidmap_next(&w->threads, &i));) {
		if (t->tid == s->tid && !first) {
			close_thread(w, t, s->ts_ns);
			continue;
		}
		t->last_ts = t->tid == s->tid ? s->ts_ns : t->last_ts;
		drop_thread(w, t);
	}
	w->exec_seen = true;
	t = get_thread(w, s->tid);
	if (t) {
		t->has_stack = false;
		t->syscall = -1;
		t->last_state = NULL;
		t->last_ts = s->ts_ns;
	}
	if (w->sym) {
		fgt_symbolizer_reset(w->sym);
		fgt_unwinder_flush(w->unw);
	}
	char name[64];
	if (s->comm[0])
		snprintf(name, sizeof(name), "%.*s", (int)sizeof(s->comm), s->comm);
	if (s->comm[0] || fgt_procfs_read_comm(w->pid, 0, name, sizeof(name)) == 0) {
		each_tef_name(w, w->pid, name, true);
		struct fgt_strbuf *b = &w->scratch;
		fgt_strbuf_reset(b);
		fgt_strbuf_puts(b, "{\"comm\":");
		fgt_json_cstring(b, name);
		fgt_strbuf_putc(b, '}');
		if (!first)
			instant(w, s->tid, s->ts_ns, "exec", b->oom ? NULL : b->s);
	}
}

static void process(struct fgt_worker *w, const struct fgt_snapshot *s)
{
	struct wthread *t;
	switch (s->kind) {
	case FGT_SNAP_THREAD_NEW:
		t = get_thread(w, s->tid);
		if (t)
			t->last_ts = s->ts_ns;
		if (t && s->exit_status == FGT_THREAD_BORN && w->exec_seen)
			instant(w, s->tid, s->ts_ns, "thread_start", NULL);
		break;
	case FGT_SNAP_THREAD_EXIT:
		if ((t = fgt_tidmap_get(&w->threads, s->tid))) {
			uint64_t last = t->last_ts;
			drop_thread(w, t);
			if (w->exec_seen)
				instant(w, s->tid, s->ts_ns > last ? s->ts_ns : last,
					"thread_exit", NULL);
		}
		break;
	case FGT_SNAP_EXEC:
		on_exec(w, s);
		break;
	case FGT_SNAP_SAMPLE:
		if ((t = get_thread(w, s->tid)))
			on_sample(w, t, s);
		break;
	case FGT_SNAP_REUSED:
	case FGT_SNAP_JOBSTOP:
	case FGT_SNAP_BLOCKED:
		if ((t = fgt_tidmap_get(&w->threads, s->tid)))
			on_reuse(w, t, s);
		break;
	case FGT_SNAP_GAP:
		if ((t = fgt_tidmap_get(&w->threads, s->tid)))
			show_gap(w, t, s);
		break;
	}
}

static void *worker_main(void *arg)
{
	struct fgt_worker *w = arg;
	struct fgt_snapshot *s;
	char name[64];
	/* At nice 0 the worker fell behind when the target's busy threads
	 * outnumbered the cores, and samples were dropped (bench target c,
	 * 999 Hz: up to 2994 dropped in 5 s); niced to 5 it starved. Raised,
	 * it keeps up, and it takes no more CPU than the samples need. */
	w->stats.worker_nice = fgt_prio_worker(w->cfg->priority);
	w->last_flush_ns = now_ns();
	/* A launched command is named at its exec, not as fgtrace's child. */
	if (!w->cfg->command && fgt_procfs_read_comm(w->pid, 0, name, sizeof(name)) == 0)
		each_tef_name(w, w->pid, name, true);
	/* A capture killed early still leaves a file that opens. */
	flush_outputs(w);
	while ((s = fgt_queue_pop(w->queue))) {
		process(w, s);
		fgt_queue_release(w->queue, s);
		if (now_ns() - w->last_flush_ns > FLUSH_NS)
			flush_outputs(w);
	}
	/* An orderly end closes every span at the end of the capture. */
	struct wthread *t;
	for (size_t i = 0; (t = fgt_tidmap_next(&w->threads, &i));) {
		show_warmup(w, t);
		close_thread(w, t, w->end_ns > t->last_ts ? w->end_ns : t->last_ts);
		fgt_tidmap_del(&w->threads, t->tid);
		free(t);
	}
	flush_outputs(w);
	return NULL;
}

int fgt_worker_start(struct fgt_worker *w)
{
	/* The worker takes no signals: the tracer's loop handles them all. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int rc = pthread_create(&w->thread, NULL, worker_main, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc)
		return -rc;
	/* Named before the capture starts, for top -H and ps -L. */
	pthread_setname_np(w->thread, "fgtrace-worker");
	w->started = true;
	return 0;
}

void fgt_worker_finish(struct fgt_worker *w, uint64_t end_ns)
{
	if (!w->started)
		return;
	w->end_ns = end_ns;
	fgt_queue_close(w->queue);
	pthread_join(w->thread, NULL);
	w->started = false;
}

void fgt_worker_free(struct fgt_worker *w)
{
	if (!w)
		return;
	struct wthread *t;
	for (size_t i = 0; (t = fgt_tidmap_next(&w->threads, &i));)
		free(t);
	fgt_tidmap_free(&w->threads);
	fgt_strbuf_free(&w->scratch);
	fgt_unwinder_free(w->unw);
	fgt_symbolizer_free(w->sym);
	free(w);
}

int fgt_worker_error(struct fgt_worker *w)
{
	return atomic_load(&w->error);
}

uint64_t fgt_worker_bytes(struct fgt_worker *w)
{
	return atomic_load(&w->bytes);
}

void fgt_worker_get_stats(struct fgt_worker *w, struct fgt_worker_stats *st)
{
	*st = w->stats;
	if (w->sym) {
		struct fgt_symbolizer_stats ss;
		fgt_symbolizer_get_stats(w->sym, &ss);
		st->symbol_lookups = ss.lookups;
		st->symbol_hits = ss.hits;
		st->symbol_ns = ss.lookup_ns;
		struct fgt_unwind_stats us;
		fgt_unwinder_get_stats(w->unw, &us);
		st->remote_reads = us.remote_reads;
		st->page_hits = us.page_hits;
		st->memo_hits = us.memo_hits;
		st->memo_frames = us.memo_frames;
		st->fp_found = us.fp_found;
		st->memo_checked = us.memo_checked;
		st->memo_mismatches = us.memo_mismatches;
	}
	st->bytes = atomic_load(&w->bytes);
}
