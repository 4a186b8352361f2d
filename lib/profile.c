/* fgtrace — aggregate profiles: counts per distinct key, folded and pprof.
 *
 * The hot path (fgt_profile_add) hashes the stack's location ids with the
 * thread and the state, probes one table and bumps a counter. Everything
 * else happens once, in fgt_profile_write.
 */
#include "profile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "output.h"
#include "pprof.h"

#define TRUNCATED_NAME "[truncated]"
#define UNKNOWN_NAME   "[unknown]"
/* A key's frames: the program's, plus state, [truncated] and thread. */
#define MAX_KEY_FRAMES (FGT_MAX_FRAMES + 4)
#define WRITE_BYTES    (64 * 1024)

/* A thread as the labels see it: a rename makes a new one. */
struct thread {
	pid_t tid;
	uint32_t hash;
	char *name;
};

/* One distinct (stack, thread, state): what memory grows with. */
struct key {
	uint64_t count;
	size_t first; /* index of locs[0] in the pool */
	uint32_t n;
	uint32_t hash;
	uint32_t thread;
	bool truncated;
	const struct fgt_func *state;
};

/* Slots hold an entry index + 1, 0 when empty, and the entry's hash. */
struct slot {
	uint32_t hash, ent;
};

struct table {
	struct slot *slots;
	size_t cap, len;
};

struct fgt_profile {
	struct fgt_profile_opts opts;
	uint64_t period, samples;

	struct key *keys;
	size_t n_keys, cap_keys;
	struct table key_tab;

	const struct fgt_location **pool; /* the keys' stacks, leaf first */
	size_t n_pool, cap_pool;

	struct thread *threads;
	size_t n_threads, cap_threads;
	struct table thread_tab;
};

/* --- hashing and tables --- */

static uint32_t mix64(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return (uint32_t)h;
}

static uint32_t hash_thread(pid_t tid, const char *name)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ (uint32_t)tid;
	for (; *name; name++)
		h = (h ^ (unsigned char)*name) * 0x100000001b3ULL;
	return mix64(h);
}

static uint32_t hash_key(const struct fgt_sample_info *s, uint32_t thread)
{
	const struct fgt_stack *st = s->stack;
	uint64_t h = (uint64_t)thread << 1 | st->truncated;
	h = (h ^ (uintptr_t)s->state) * 0x9e3779b97f4a7c15ULL;
	for (size_t i = 0; i < st->n; i++)
		h = ((h << 5 | h >> 59) ^ st->locs[i]->id) * 0x9e3779b97f4a7c15ULL;
	return mix64(h ^ st->n);
}

static int table_init(struct table *t)
{
	t->cap = 256;
	t->len = 0;
	t->slots = calloc(t->cap, sizeof(*t->slots));
	return t->slots ? 0 : -ENOMEM;
}

/* Makes room for one more entry; slots found before are then stale. */
static int table_reserve(struct table *t)
{
	if ((t->len + 1) * 4 <= t->cap * 3)
		return 0;
	size_t cap = t->cap * 2;
	struct slot *s = calloc(cap, sizeof(*s));
	if (!s)
		return -ENOMEM;
	for (size_t i = 0; i < t->cap; i++) {
		if (!t->slots[i].ent)
			continue;
		size_t j = t->slots[i].hash & (cap - 1);
		while (s[j].ent)
			j = (j + 1) & (cap - 1);
		s[j] = t->slots[i];
	}
	free(t->slots);
	t->slots = s;
	t->cap = cap;
	return 0;
}

static int grow_array(void **arr, size_t *cap, size_t need, size_t size)
{
	if (need <= *cap)
		return 0;
	size_t ncap = *cap ? *cap : 64;
	while (ncap < need)
		ncap *= 2;
	void *n = realloc(*arr, ncap * size);
	if (!n)
		return -ENOMEM;
	*arr = n;
	*cap = ncap;
	return 0;
}

/* --- threads --- */

static struct slot *find_thread(struct fgt_profile *p, uint32_t hash, pid_t tid,
				const char *name)
{
	size_t mask = p->thread_tab.cap - 1;
	for (size_t i = hash & mask;; i = (i + 1) & mask) {
		struct slot *sl = &p->thread_tab.slots[i];
		if (!sl->ent)
			return sl;
		const struct thread *t = &p->threads[sl->ent - 1];
		if (sl->hash == hash && t->tid == tid && !strcmp(t->name, name))
			return sl;
	}
}

static int intern_thread(struct fgt_profile *p, pid_t tid, const char *name,
			 uint32_t *idx)
{
	if (!name)
		name = "";
	uint32_t hash = hash_thread(tid, name);
	struct slot *sl = find_thread(p, hash, tid, name);
	if (sl->ent) {
		*idx = sl->ent - 1;
		return 0;
	}
	char *copy = strdup(name);
	if (!copy || table_reserve(&p->thread_tab) < 0 ||
	    grow_array((void **)&p->threads, &p->cap_threads, p->n_threads + 1,
		       sizeof(*p->threads)) < 0) {
		free(copy);
		return -ENOMEM;
	}
	sl = find_thread(p, hash, tid, name);
	p->threads[p->n_threads] =
	    (struct thread){.tid = tid, .hash = hash, .name = copy};
	*idx = (uint32_t)p->n_threads++;
	sl->hash = hash;
	sl->ent = *idx + 1;
	p->thread_tab.len++;
	return 0;
}

/* --- keys --- */

static bool key_eq(const struct fgt_profile *p, const struct key *k,
		   const struct fgt_sample_info *s, uint32_t thread)
{
	const struct fgt_stack *st = s->stack;
	return k->n == st->n && k->thread == thread && k->state == s->state &&
	       k->truncated == st->truncated &&
	       !memcmp(&p->pool[k->first], st->locs, st->n * sizeof(st->locs[0]));
}

static struct slot *find_key(struct fgt_profile *p, uint32_t hash,
			     const struct fgt_sample_info *s, uint32_t thread)
{
	size_t mask = p->key_tab.cap - 1;
	for (size_t i = hash & mask;; i = (i + 1) & mask) {
		struct slot *sl = &p->key_tab.slots[i];
		if (!sl->ent)
			return sl;
		if (sl->hash == hash && key_eq(p, &p->keys[sl->ent - 1], s, thread))
			return sl;
	}
}

static int insert_key(struct fgt_profile *p, uint32_t hash,
		      const struct fgt_sample_info *s, uint32_t thread)
{
	const struct fgt_stack *st = s->stack;
	if (table_reserve(&p->key_tab) < 0 ||
	    grow_array((void **)&p->keys, &p->cap_keys, p->n_keys + 1, sizeof(*p->keys)) <
		0 ||
	    grow_array((void **)&p->pool, &p->cap_pool, p->n_pool + st->n,
		       sizeof(*p->pool)) < 0)
		return -ENOMEM;
	struct slot *sl = find_key(p, hash, s, thread);
	struct key *k = &p->keys[p->n_keys++];
	*k = (struct key){.count = s->count ? s->count : 1,
			  .first = p->n_pool,
			  .n = (uint32_t)st->n,
			  .hash = hash,
			  .thread = thread,
			  .truncated = st->truncated,
			  .state = s->state};
	if (st->n)
		memcpy(&p->pool[p->n_pool], st->locs, st->n * sizeof(st->locs[0]));
	p->n_pool += st->n;
	sl->hash = hash;
	sl->ent = (uint32_t)p->n_keys;
	p->key_tab.len++;
	return 0;
}

int fgt_profile_add(struct fgt_profile *p, const struct fgt_sample_info *s)
{
	uint32_t thread;
	int rc = intern_thread(p, s->tid, s->thread_name, &thread);
	if (rc < 0)
		return rc;
	uint32_t hash = hash_key(s, thread);
	struct slot *sl = find_key(p, hash, s, thread);
	if (sl->ent)
		p->keys[sl->ent - 1].count += s->count ? s->count : 1;
	else if ((rc = insert_key(p, hash, s, thread)) < 0)
		return rc;
	p->samples += s->count ? s->count : 1;
	return 0;
}

/* --- frames of a key, shared by both formats --- */

static struct fgt_pprof_frame pseudo(enum fgt_func_kind kind, const char *name)
{
	return (struct fgt_pprof_frame){.kind = kind,
					.name = name && *name ? name : UNKNOWN_NAME};
}

/* Fills f with the key's frames, leaf first; returns how many. */
static size_t key_frames(const struct fgt_profile *p, const struct key *k,
			 struct fgt_pprof_frame *f)
{
	enum fgt_state_frames where = p->opts.state_frames;
	size_t n = 0;
	if (k->state && where == FGT_STATE_LEAF)
		f[n++] = pseudo(FGT_FUNC_STATE, k->state->name);
	for (size_t i = 0; i < k->n; i++)
		f[n++] = (struct fgt_pprof_frame){.loc = p->pool[k->first + i]};
	if (k->truncated)
		f[n++] = pseudo(FGT_FUNC_TRUNCATED, TRUNCATED_NAME);
	if (k->state && where == FGT_STATE_ROOT)
		f[n++] = pseudo(FGT_FUNC_STATE, k->state->name);
	if (p->opts.per_thread)
		f[n++] = pseudo(FGT_FUNC_THREAD, p->threads[k->thread].name);
	/* An empty line would break the folded format; keep both formats alike. */
	if (!n)
		f[n++] = pseudo(FGT_FUNC_FUNCTION, UNKNOWN_NAME);
	return n;
}

/* --- folded --- */

struct text {
	char *s;
	size_t len, cap;
	bool oom;
};

static void text_put(struct text *t, const char *s, size_t n)
{
	if (t->oom)
		return;
	if (grow_array((void **)&t->s, &t->cap, t->len + n, 1) < 0) {
		t->oom = true;
		return;
	}
	memcpy(t->s + t->len, s, n);
	t->len += n;
}

/* ';' separates frames and control bytes would split the line: replace them
 * in place so a name stays one frame of one line. */
static void text_put_name(struct text *t, const char *name)
{
	if (!name || !*name)
		name = UNKNOWN_NAME;
	size_t start = t->len;
	text_put(t, name, strlen(name));
	if (t->oom)
		return;
	for (size_t i = start; i < t->len; i++) {
		unsigned char c = (unsigned char)t->s[i];
		if (c == ';')
			t->s[i] = ':';
		else if (c < 0x20 || c == 0x7f)
			t->s[i] = '?';
	}
}

static void text_put_frame(struct text *t, const struct fgt_pprof_frame *f)
{
	const struct fgt_location *loc = f->loc;
	if (!loc) {
		text_put_name(t, f->name);
		return;
	}
	if (!loc->n_lines)
		text_put_name(t, NULL);
	/* Lines are innermost first: the caller comes first in a folded line. */
	for (size_t i = loc->n_lines; i-- > 0;) {
		const struct fgt_func *fn = loc->lines[i].func;
		text_put_name(t, fn ? fn->name : NULL);
		if (i)
			text_put(t, ";", 1);
	}
}

/* Appends the key's frames, root to leaf, and a NUL. */
static void text_put_key(struct text *t, const struct fgt_profile *p, const struct key *k)
{
	struct fgt_pprof_frame f[MAX_KEY_FRAMES];
	size_t n = key_frames(p, k, f);
	for (size_t i = n; i-- > 0;) {
		text_put_frame(t, &f[i]);
		if (i)
			text_put(t, ";", 1);
	}
	text_put(t, "", 1);
}

struct folded_line {
	const char *stack;
	uint64_t count;
};

static int cmp_line(const void *a, const void *b)
{
	return strcmp(((const struct folded_line *)a)->stack,
		      ((const struct folded_line *)b)->stack);
}

static int write_lines(struct fgt_output *out, const struct folded_line *lines, size_t n)
{
	struct text w = {0};
	int rc = 0;
	for (size_t i = 0; i < n && !rc; i++) {
		uint64_t count = lines[i].count;
		/* Keys that differ only in tid or state give the same line. */
		while (i + 1 < n && !strcmp(lines[i].stack, lines[i + 1].stack))
			count += lines[++i].count;
		char num[32];
		int len =
		    snprintf(num, sizeof(num), " %llu\n", (unsigned long long)count);
		text_put(&w, lines[i].stack, strlen(lines[i].stack));
		text_put(&w, num, (size_t)len);
		if (w.oom)
			rc = -ENOMEM;
		else if (w.len >= WRITE_BYTES || i + 1 >= n) {
			rc = fgt_output_write(out, w.s, w.len);
			w.len = 0;
		}
	}
	free(w.s);
	return rc;
}

static int write_folded(struct fgt_profile *p, struct fgt_output *out)
{
	struct text t = {0};
	size_t *offs = malloc((p->n_keys ? p->n_keys : 1) * sizeof(*offs));
	struct folded_line *lines = malloc((p->n_keys ? p->n_keys : 1) * sizeof(*lines));
	int rc = -ENOMEM;
	if (!offs || !lines)
		goto out;
	for (size_t i = 0; i < p->n_keys; i++) {
		offs[i] = t.len;
		text_put_key(&t, p, &p->keys[i]);
	}
	if (t.oom)
		goto out;
	/* Pointers only once the text has stopped moving. */
	for (size_t i = 0; i < p->n_keys; i++)
		lines[i] = (struct folded_line){t.s + offs[i], p->keys[i].count};
	qsort(lines, p->n_keys, sizeof(*lines), cmp_line);
	rc = write_lines(out, lines, p->n_keys);
out:
	free(t.s);
	free(offs);
	free(lines);
	return rc;
}

/* --- pprof --- */

static int write_pprof(struct fgt_profile *p, struct fgt_output *out, uint64_t time_nanos,
		       uint64_t duration_nanos)
{
	struct fgt_pprof *pp;
	int rc = fgt_pprof_new(out, p->period, time_nanos, duration_nanos, &pp);
	if (rc < 0)
		return rc;
	struct fgt_pprof_frame f[MAX_KEY_FRAMES];
	for (size_t i = 0; i < p->n_keys && !rc; i++) {
		const struct key *k = &p->keys[i];
		const struct thread *t = &p->threads[k->thread];
		struct fgt_pprof_sample s = {
		    .frames = f,
		    .n_frames = key_frames(p, k, f),
		    .thread = *t->name ? t->name : UNKNOWN_NAME,
		    .tid = t->tid,
		    .state = k->state ? k->state->name : NULL,
		    .count = k->count,
		};
		rc = fgt_pprof_add(pp, &s);
	}
	if (!rc)
		rc = fgt_pprof_finish(pp);
	fgt_pprof_free(pp);
	return rc;
}

/* --- lifecycle --- */

int fgt_profile_new(const struct fgt_profile_opts *o, struct fgt_profile **out)
{
	if (!o->hz || (o->format != FGT_FORMAT_PPROF && o->format != FGT_FORMAT_FOLDED))
		return -EINVAL;
	struct fgt_profile *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->opts = *o;
	p->period = 1000000000ULL / o->hz;
	if (table_init(&p->key_tab) < 0 || table_init(&p->thread_tab) < 0) {
		fgt_profile_free(p);
		return -ENOMEM;
	}
	*out = p;
	return 0;
}

int fgt_profile_write(struct fgt_profile *p, struct fgt_output *out, uint64_t time_nanos,
		      uint64_t duration_nanos)
{
	if (p->opts.format == FGT_FORMAT_FOLDED)
		return write_folded(p, out);
	return write_pprof(p, out, time_nanos, duration_nanos);
}

uint64_t fgt_profile_samples(const struct fgt_profile *p)
{
	return p->samples;
}

size_t fgt_profile_keys(const struct fgt_profile *p)
{
	return p->n_keys;
}

void fgt_profile_free(struct fgt_profile *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n_threads; i++)
		free(p->threads[i].name);
	free(p->threads);
	free(p->thread_tab.slots);
	free(p->keys);
	free(p->pool);
	free(p->key_tab.slots);
	free(p);
}
