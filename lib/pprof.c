/* fgtrace — streaming profile.proto encoder.
 *
 * Field numbers are those of github.com/google/pprof/proto/profile.proto.
 * Ids of mappings, locations and functions are assigned here, densely from 1
 * in order of first use, so pseudo frames never collide with real ones.
 */
#include "pprof.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "output.h"

/* Profile */
#define PROFILE_SAMPLE_TYPE    1
#define PROFILE_SAMPLE	       2
#define PROFILE_MAPPING	       3
#define PROFILE_LOCATION       4
#define PROFILE_FUNCTION       5
#define PROFILE_STRING_TABLE   6
#define PROFILE_TIME_NANOS     9
#define PROFILE_DURATION_NANOS 10
#define PROFILE_PERIOD_TYPE    11
#define PROFILE_PERIOD	       12
/* ValueType */
#define VALUE_TYPE_TYPE 1
#define VALUE_TYPE_UNIT 2
/* Sample */
#define SAMPLE_LOCATION_ID 1
#define SAMPLE_VALUE	   2
#define SAMPLE_LABEL	   3
/* Label */
#define LABEL_KEY 1
#define LABEL_STR 2
#define LABEL_NUM 3
/* Mapping */
#define MAPPING_ID	      1
#define MAPPING_MEMORY_START  2
#define MAPPING_MEMORY_LIMIT  3
#define MAPPING_FILE_OFFSET   4
#define MAPPING_FILENAME      5
#define MAPPING_BUILD_ID      6
#define MAPPING_HAS_FUNCTIONS 7
/* Location */
#define LOCATION_ID	    1
#define LOCATION_MAPPING_ID 2
#define LOCATION_ADDRESS    3
#define LOCATION_LINE	    4
/* Line */
#define LINE_FUNCTION_ID 1
#define LINE_LINE	 2
/* Function */
#define FUNCTION_ID	     1
#define FUNCTION_NAME	     2
#define FUNCTION_SYSTEM_NAME 3
#define FUNCTION_FILENAME    4
#define FUNCTION_START_LINE  5

#define WIRE_VARINT 0
#define WIRE_LEN    2

#define FLUSH_BYTES (64 * 1024)

/* A growable byte buffer; oom sticks, so encoders check once at the end. */
struct buf {
	uint8_t *b;
	size_t len, cap;
	bool oom;
};

/* Open addressing over an entry array: ent is entry index + 1, 0 when empty.
 * The hash is kept so growing never recomputes it. */
struct hslot {
	uint32_t hash, ent;
};

struct hindex {
	struct hslot *slots;
	size_t cap, len;
};

typedef bool (*hindex_eq)(const struct fgt_pprof *pp, uint32_t ent, const void *key);

/* A function: a real one (func != NULL) or a pseudo frame. */
struct func_ent {
	const struct fgt_func *func;
	enum fgt_func_kind kind;
	const char *name;
};

/* A location: a real one (loc != NULL), or the one of a pseudo function. */
struct loc_ent {
	const struct fgt_location *loc;
	uint32_t pseudo_func_id;
};

struct fgt_pprof {
	struct fgt_output *out;
	uint64_t period;
	int err; /* first error; later calls do nothing */
	struct buf wbuf, msg, sub;

	const char **strs;
	size_t n_strs, cap_strs;
	struct hindex str_ix;

	const struct fgt_module **mods;
	size_t n_mods, cap_mods;
	struct hindex mod_ix;

	struct func_ent *funcs;
	size_t n_funcs, cap_funcs;
	struct hindex func_ix;

	struct loc_ent *locs;
	size_t n_locs, cap_locs;
	struct hindex loc_ix;

	uint64_t scratch_ids[FGT_MAX_FRAMES + 8];
};

/* --- buffers and wire format --- */

static void buf_need(struct buf *b, size_t n)
{
	if (b->oom || b->len + n <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < b->len + n)
		cap *= 2;
	uint8_t *nb = realloc(b->b, cap);
	if (!nb) {
		b->oom = true;
		return;
	}
	b->b = nb;
	b->cap = cap;
}

static void put_bytes(struct buf *b, const void *p, size_t n)
{
	buf_need(b, n);
	if (b->oom)
		return;
	if (n)
		memcpy(b->b + b->len, p, n);
	b->len += n;
}

static void put_varint(struct buf *b, uint64_t v)
{
	uint8_t tmp[10];
	size_t n = 0;
	while (v >= 0x80) {
		tmp[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	tmp[n++] = (uint8_t)v;
	put_bytes(b, tmp, n);
}

static void put_tag(struct buf *b, unsigned field, unsigned wire)
{
	put_varint(b, (uint64_t)field << 3 | wire);
}

/* Proto3 scalars: zero is the default and is left out. */
static void put_uint(struct buf *b, unsigned field, uint64_t v)
{
	if (!v)
		return;
	put_tag(b, field, WIRE_VARINT);
	put_varint(b, v);
}

static void put_len(struct buf *b, unsigned field, const void *p, size_t n)
{
	put_tag(b, field, WIRE_LEN);
	put_varint(b, n);
	put_bytes(b, p, n);
}

static void put_msg(struct buf *b, unsigned field, const struct buf *m)
{
	put_len(b, field, m->b, m->len);
}

static void put_packed(struct buf *b, struct buf *tmp, unsigned field, const uint64_t *v,
		       size_t n)
{
	tmp->len = 0;
	for (size_t i = 0; i < n; i++)
		put_varint(tmp, v[i]);
	put_len(b, field, tmp->b, tmp->len);
}

static void buf_free(struct buf *b)
{
	free(b->b);
	*b = (struct buf){0};
}

/* --- hash index --- */

static uint32_t mix64(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return (uint32_t)h;
}

static uint32_t hash_str(const char *s, uint64_t seed)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ seed;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return mix64(h);
}

static int hindex_reserve(struct hindex *h)
{
	if ((h->len + 1) * 4 <= h->cap * 3)
		return 0;
	size_t cap = h->cap ? h->cap * 2 : 64;
	struct hslot *s = calloc(cap, sizeof(*s));
	if (!s)
		return -ENOMEM;
	for (size_t i = 0; i < h->cap; i++) {
		if (!h->slots[i].ent)
			continue;
		size_t j = h->slots[i].hash & (cap - 1);
		while (s[j].ent)
			j = (j + 1) & (cap - 1);
		s[j] = h->slots[i];
	}
	free(h->slots);
	h->slots = s;
	h->cap = cap;
	return 0;
}

/* Returns the slot holding key, or the empty slot where it belongs. Call
 * hindex_reserve() first. */
static struct hslot *hindex_find(const struct fgt_pprof *pp, const struct hindex *h,
				 uint32_t hash, hindex_eq eq, const void *key)
{
	size_t mask = h->cap - 1;
	for (size_t i = hash & mask;; i = (i + 1) & mask) {
		struct hslot *s = &h->slots[i];
		if (!s->ent || (s->hash == hash && eq(pp, s->ent - 1, key)))
			return s;
	}
}

static int grow_array(void **arr, size_t *cap, size_t len, size_t size)
{
	if (len < *cap)
		return 0;
	size_t ncap = *cap ? *cap * 2 : 64;
	void *n = realloc(*arr, ncap * size);
	if (!n)
		return -ENOMEM;
	*arr = n;
	*cap = ncap;
	return 0;
}

/* --- interning: each returns an id >= 1, or 0 on ENOMEM --- */

static bool str_eq(const struct fgt_pprof *pp, uint32_t ent, const void *key)
{
	return !strcmp(pp->strs[ent], key);
}

/* String table indices start at 0, which is always "". */
static uint64_t intern_str(struct fgt_pprof *pp, const char *s, bool *oom)
{
	if (!s)
		s = "";
	uint32_t hash = hash_str(s, 0);
	if (hindex_reserve(&pp->str_ix) < 0 ||
	    grow_array((void **)&pp->strs, &pp->cap_strs, pp->n_strs, sizeof(*pp->strs)) <
		0) {
		*oom = true;
		return 0;
	}
	struct hslot *slot = hindex_find(pp, &pp->str_ix, hash, str_eq, s);
	if (!slot->ent) {
		pp->strs[pp->n_strs++] = s;
		slot->hash = hash;
		slot->ent = (uint32_t)pp->n_strs;
		pp->str_ix.len++;
	}
	return slot->ent - 1;
}

static bool mod_eq(const struct fgt_pprof *pp, uint32_t ent, const void *key)
{
	return pp->mods[ent] == key;
}

static uint32_t intern_mod(struct fgt_pprof *pp, const struct fgt_module *m)
{
	uint32_t hash = mix64((uintptr_t)m);
	if (hindex_reserve(&pp->mod_ix) < 0 ||
	    grow_array((void **)&pp->mods, &pp->cap_mods, pp->n_mods, sizeof(*pp->mods)) <
		0)
		return 0;
	struct hslot *slot = hindex_find(pp, &pp->mod_ix, hash, mod_eq, m);
	if (!slot->ent) {
		pp->mods[pp->n_mods++] = m;
		slot->hash = hash;
		slot->ent = (uint32_t)pp->n_mods;
		pp->mod_ix.len++;
	}
	return slot->ent;
}

static bool func_eq(const struct fgt_pprof *pp, uint32_t ent, const void *key)
{
	const struct func_ent *a = &pp->funcs[ent], *b = key;
	if (a->func || b->func)
		return a->func == b->func;
	return a->kind == b->kind && !strcmp(a->name, b->name);
}

static uint32_t intern_func(struct fgt_pprof *pp, const struct func_ent *f)
{
	uint32_t hash =
	    f->func ? mix64((uintptr_t)f->func) : hash_str(f->name, f->kind + 1);
	if (hindex_reserve(&pp->func_ix) < 0 ||
	    grow_array((void **)&pp->funcs, &pp->cap_funcs, pp->n_funcs,
		       sizeof(*pp->funcs)) < 0)
		return 0;
	struct hslot *slot = hindex_find(pp, &pp->func_ix, hash, func_eq, f);
	if (!slot->ent) {
		pp->funcs[pp->n_funcs++] = *f;
		slot->hash = hash;
		slot->ent = (uint32_t)pp->n_funcs;
		pp->func_ix.len++;
	}
	return slot->ent;
}

static bool loc_eq(const struct fgt_pprof *pp, uint32_t ent, const void *key)
{
	const struct loc_ent *a = &pp->locs[ent], *b = key;
	return a->loc == b->loc && a->pseudo_func_id == b->pseudo_func_id;
}

static uint32_t intern_loc(struct fgt_pprof *pp, const struct loc_ent *l)
{
	uint32_t hash = mix64(l->loc ? (uintptr_t)l->loc : l->pseudo_func_id);
	if (hindex_reserve(&pp->loc_ix) < 0 ||
	    grow_array((void **)&pp->locs, &pp->cap_locs, pp->n_locs, sizeof(*pp->locs)) <
		0)
		return 0;
	struct hslot *slot = hindex_find(pp, &pp->loc_ix, hash, loc_eq, l);
	if (!slot->ent) {
		pp->locs[pp->n_locs++] = *l;
		slot->hash = hash;
		slot->ent = (uint32_t)pp->n_locs;
		pp->loc_ix.len++;
	}
	return slot->ent;
}

/* Pseudo frames get one Function and one Location without a mapping. */
static uint32_t frame_loc_id(struct fgt_pprof *pp, const struct fgt_pprof_frame *f)
{
	struct loc_ent l = {.loc = f->loc};
	if (!f->loc) {
		struct func_ent fe = {.kind = f->kind, .name = f->name ? f->name : ""};
		l.pseudo_func_id = intern_func(pp, &fe);
		if (!l.pseudo_func_id)
			return 0;
	}
	return intern_loc(pp, &l);
}

/* --- output --- */

static int flush(struct fgt_pprof *pp, bool all)
{
	if (pp->wbuf.oom || pp->msg.oom || pp->sub.oom)
		pp->err = pp->err ? pp->err : -ENOMEM;
	if (pp->err)
		return pp->err;
	if (pp->wbuf.len && (all || pp->wbuf.len >= FLUSH_BYTES)) {
		pp->err = fgt_output_write(pp->out, pp->wbuf.b, pp->wbuf.len);
		pp->wbuf.len = 0;
	}
	return pp->err;
}

static void put_value_type(struct fgt_pprof *pp, unsigned field, const char *type,
			   const char *unit, bool *oom)
{
	pp->msg.len = 0;
	put_uint(&pp->msg, VALUE_TYPE_TYPE, intern_str(pp, type, oom));
	put_uint(&pp->msg, VALUE_TYPE_UNIT, intern_str(pp, unit, oom));
	put_msg(&pp->wbuf, field, &pp->msg);
}

int fgt_pprof_new(struct fgt_output *out, uint64_t period_ns, uint64_t time_nanos,
		  uint64_t duration_nanos, struct fgt_pprof **ppp)
{
	struct fgt_pprof *pp = calloc(1, sizeof(*pp));
	if (!pp)
		return -ENOMEM;
	pp->out = out;
	pp->period = period_ns;
	bool oom = false;
	intern_str(pp, "", &oom);
	put_value_type(pp, PROFILE_SAMPLE_TYPE, "samples", "count", &oom);
	put_value_type(pp, PROFILE_SAMPLE_TYPE, "wall", "nanoseconds", &oom);
	put_value_type(pp, PROFILE_PERIOD_TYPE, "wall", "nanoseconds", &oom);
	put_uint(&pp->wbuf, PROFILE_PERIOD, period_ns);
	put_uint(&pp->wbuf, PROFILE_TIME_NANOS, time_nanos);
	put_uint(&pp->wbuf, PROFILE_DURATION_NANOS, duration_nanos);
	if (oom || pp->wbuf.oom || pp->msg.oom) {
		fgt_pprof_free(pp);
		return -ENOMEM;
	}
	*ppp = pp;
	return 0;
}

static void put_label(struct fgt_pprof *pp, const char *key, const char *str,
		      uint64_t num, bool *oom)
{
	pp->sub.len = 0;
	put_uint(&pp->sub, LABEL_KEY, intern_str(pp, key, oom));
	if (str)
		put_uint(&pp->sub, LABEL_STR, intern_str(pp, str, oom));
	else
		put_uint(&pp->sub, LABEL_NUM, num);
	put_msg(&pp->msg, SAMPLE_LABEL, &pp->sub);
}

int fgt_pprof_add(struct fgt_pprof *pp, const struct fgt_pprof_sample *s)
{
	if (pp->err)
		return pp->err;
	size_t n = s->n_frames;
	if (n > sizeof(pp->scratch_ids) / sizeof(pp->scratch_ids[0]))
		n = sizeof(pp->scratch_ids) / sizeof(pp->scratch_ids[0]);
	for (size_t i = 0; i < n; i++) {
		pp->scratch_ids[i] = frame_loc_id(pp, &s->frames[i]);
		if (!pp->scratch_ids[i])
			return pp->err = -ENOMEM;
	}
	bool oom = false;
	uint64_t values[2] = {s->count, s->count * pp->period};
	pp->msg.len = 0;
	put_packed(&pp->msg, &pp->sub, SAMPLE_LOCATION_ID, pp->scratch_ids, n);
	put_packed(&pp->msg, &pp->sub, SAMPLE_VALUE, values, 2);
	put_label(pp, "thread", s->thread ? s->thread : "", 0, &oom);
	put_label(pp, "tid", NULL, (uint64_t)s->tid, &oom);
	if (s->state)
		put_label(pp, "state", s->state, 0, &oom);
	put_msg(&pp->wbuf, PROFILE_SAMPLE, &pp->msg);
	if (oom)
		pp->err = -ENOMEM;
	return flush(pp, false);
}

static int put_location(struct fgt_pprof *pp, uint32_t id)
{
	const struct loc_ent *l = &pp->locs[id - 1];
	pp->msg.len = 0;
	put_uint(&pp->msg, LOCATION_ID, id);
	if (!l->loc) {
		pp->sub.len = 0;
		put_uint(&pp->sub, LINE_FUNCTION_ID, l->pseudo_func_id);
		put_msg(&pp->msg, LOCATION_LINE, &pp->sub);
		put_msg(&pp->wbuf, PROFILE_LOCATION, &pp->msg);
		return 0;
	}
	if (l->loc->module) {
		uint32_t mid = intern_mod(pp, l->loc->module);
		if (!mid)
			return -ENOMEM;
		put_uint(&pp->msg, LOCATION_MAPPING_ID, mid);
	}
	put_uint(&pp->msg, LOCATION_ADDRESS, l->loc->pc);
	for (size_t i = 0; i < l->loc->n_lines; i++) {
		const struct fgt_line *ln = &l->loc->lines[i];
		struct func_ent fe = {.func = ln->func};
		uint32_t fid = ln->func ? intern_func(pp, &fe) : 0;
		if (ln->func && !fid)
			return -ENOMEM;
		pp->sub.len = 0;
		put_uint(&pp->sub, LINE_FUNCTION_ID, fid);
		put_uint(&pp->sub, LINE_LINE, (uint64_t)(int64_t)ln->line);
		put_msg(&pp->msg, LOCATION_LINE, &pp->sub);
	}
	put_msg(&pp->wbuf, PROFILE_LOCATION, &pp->msg);
	return 0;
}

static void put_function(struct fgt_pprof *pp, uint32_t id, bool *oom)
{
	const struct func_ent *fe = &pp->funcs[id - 1];
	const struct fgt_func *f = fe->func;
	const char *name = f ? f->name : fe->name;
	const char *sys = f && f->system_name ? f->system_name : name;
	pp->msg.len = 0;
	put_uint(&pp->msg, FUNCTION_ID, id);
	put_uint(&pp->msg, FUNCTION_NAME, intern_str(pp, name, oom));
	put_uint(&pp->msg, FUNCTION_SYSTEM_NAME, intern_str(pp, sys, oom));
	if (f) {
		put_uint(&pp->msg, FUNCTION_FILENAME, intern_str(pp, f->file, oom));
		put_uint(&pp->msg, FUNCTION_START_LINE, (uint64_t)(int64_t)f->line);
	}
	put_msg(&pp->wbuf, PROFILE_FUNCTION, &pp->msg);
}

static void put_mapping(struct fgt_pprof *pp, uint32_t id, bool *oom)
{
	const struct fgt_module *m = pp->mods[id - 1];
	pp->msg.len = 0;
	put_uint(&pp->msg, MAPPING_ID, id);
	put_uint(&pp->msg, MAPPING_MEMORY_START, m->start);
	put_uint(&pp->msg, MAPPING_MEMORY_LIMIT, m->end);
	put_uint(&pp->msg, MAPPING_FILE_OFFSET, m->file_offset);
	put_uint(&pp->msg, MAPPING_FILENAME, intern_str(pp, m->path, oom));
	put_uint(&pp->msg, MAPPING_BUILD_ID, intern_str(pp, m->build_id, oom));
	/* Without it, pprof tries to symbolize the file itself and warns. */
	put_uint(&pp->msg, MAPPING_HAS_FUNCTIONS, 1);
	put_msg(&pp->wbuf, PROFILE_MAPPING, &pp->msg);
}

/* Locations first: they intern the mappings and functions they use, whose
 * entries intern strings; the string table goes last. */
int fgt_pprof_finish(struct fgt_pprof *pp)
{
	bool oom = false;
	for (uint32_t id = 1; id <= pp->n_locs && !pp->err; id++) {
		if (put_location(pp, id) < 0)
			pp->err = -ENOMEM;
		flush(pp, false);
	}
	for (uint32_t id = 1; id <= pp->n_funcs && !pp->err; id++) {
		put_function(pp, id, &oom);
		flush(pp, false);
	}
	for (uint32_t id = 1; id <= pp->n_mods && !pp->err; id++) {
		put_mapping(pp, id, &oom);
		flush(pp, false);
	}
	for (size_t i = 0; i < pp->n_strs && !pp->err; i++) {
		put_len(&pp->wbuf, PROFILE_STRING_TABLE, pp->strs[i],
			strlen(pp->strs[i]));
		flush(pp, false);
	}
	if (oom && !pp->err)
		pp->err = -ENOMEM;
	return flush(pp, true);
}

void fgt_pprof_free(struct fgt_pprof *pp)
{
	if (!pp)
		return;
	buf_free(&pp->wbuf);
	buf_free(&pp->msg);
	buf_free(&pp->sub);
	free(pp->strs);
	free(pp->str_ix.slots);
	free(pp->mods);
	free(pp->mod_ix.slots);
	free(pp->funcs);
	free(pp->func_ix.slots);
	free(pp->locs);
	free(pp->loc_ix.slots);
	free(pp);
}
