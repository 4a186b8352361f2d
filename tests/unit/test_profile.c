/* Unit tests for lib/profile.c: folded lines, the pprof encoding (read back
 * with a small protobuf reader), and memory that does not grow per sample.
 *
 * `test_profile --write-sample DIR` writes the fixture's profiles to
 * DIR/sample.pb.gz and DIR/sample.folded for tests/e2e/test_profile_reader.py.
 */
#include <errno.h>
#include <malloc.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include <cmocka.h>

#include "output.h"
#include "profile.h"

/* --- the fixture: two modules, an inline chain, pseudo state frames --- */

static const struct fgt_module mod_app = {
    .id = 1,
    .path = "/usr/bin/app",
    .name = "app",
    .start = 0x400000,
    .end = 0x480000,
    .file_offset = 0x1000,
    .build_id = "0123456789abcdef0123456789abcdef01234567",
};
static const struct fgt_module mod_libc = {
    .id = 2,
    .path = "/usr/lib/libc.so.6",
    .name = "libc.so.6",
    .start = 0x7f0000000000,
    .end = 0x7f0000200000,
};

#define FUNC(id_, kind_, name_, sys_, mod_, file_, line_)                                \
	{                                                                                \
		.id = id_, .kind = kind_, .name = name_, .system_name = sys_,            \
		.module = mod_, .file = file_, .line = line_                             \
	}

static const struct fgt_func fn_main =
    FUNC(1, FGT_FUNC_FUNCTION, "main", "main", &mod_app, "app.c", 10);
static const struct fgt_func fn_work =
    FUNC(2, FGT_FUNC_FUNCTION, "work", "_Z4workv", &mod_app, "app.c", 20);
static const struct fgt_func fn_helper =
    FUNC(3, FGT_FUNC_INLINE, "helper", "_Z6helperv", &mod_app, "util.h", 5);
static const struct fgt_func fn_read =
    FUNC(4, FGT_FUNC_FUNCTION, "read", "__libc_read", &mod_libc, NULL, 0);
static const struct fgt_func fn_odd =
    FUNC(5, FGT_FUNC_FUNCTION, "odd;name\nx", "odd", &mod_app, NULL, 0);
static const struct fgt_func fn_anon =
    FUNC(6, FGT_FUNC_FUNCTION, "[unknown]", "[unknown]", NULL, NULL, 0);
static const struct fgt_func st_running =
    FUNC(100, FGT_FUNC_STATE, "running", "running", NULL, NULL, 0);
static const struct fgt_func st_read =
    FUNC(101, FGT_FUNC_STATE, "sys_read", "sys_read", NULL, NULL, 0);

static struct fgt_line ln_main[] = {{&fn_main, 12}};
/* helper is inlined into work at this pc: innermost first. */
static struct fgt_line ln_work[] = {{&fn_helper, 7}, {&fn_work, 25}};
static struct fgt_line ln_read[] = {{&fn_read, 0}};
static struct fgt_line ln_odd[] = {{&fn_odd, 0}};
static struct fgt_line ln_anon[] = {{&fn_anon, 0}};

static const struct fgt_location loc_main = {1, 0x401010, &mod_app, 1, ln_main};
static const struct fgt_location loc_work = {2, 0x402020, &mod_app, 2, ln_work};
static const struct fgt_location loc_read = {3, 0x7f0000001234, &mod_libc, 1, ln_read};
static const struct fgt_location loc_odd = {4, 0x403030, &mod_app, 1, ln_odd};
/* Code that no module maps. */
static const struct fgt_location loc_anon = {5, 0x900000, NULL, 1, ln_anon};

static struct fgt_stack stk_work = {.n = 2, .locs = {&loc_work, &loc_main}};
static struct fgt_stack stk_read = {.n = 2, .locs = {&loc_read, &loc_main}};
static struct fgt_stack stk_odd = {.n = 1, .locs = {&loc_odd}, .truncated = true};
static struct fgt_stack stk_empty = {.n = 0};
static struct fgt_stack stk_anon = {
    .n = 2, .locs = {&loc_anon, &loc_main}, .truncated = true};

#define PERIOD_99HZ 10101010ULL /* 1e9 / 99 */

static void add_n(struct fgt_profile *p, pid_t tid, const char *thread,
		  const struct fgt_func *state, const struct fgt_stack *st, int n)
{
	struct fgt_sample_info s = {
	    .pid = 100, .tid = tid, .thread_name = thread, .state = state, .stack = st};
	for (int i = 0; i < n; i++)
		assert_int_equal(fgt_profile_add(p, &s), 0);
}

/* 5 work (3 on worker, 2 on main), 2 read on main: 7 samples, 3 keys. */
static void add_fixture(struct fgt_profile *p)
{
	add_n(p, 101, "worker", &st_running, &stk_work, 3);
	add_n(p, 100, "main", &st_running, &stk_work, 2);
	add_n(p, 100, "main", &st_read, &stk_read, 2);
}

static struct fgt_profile *new_profile(enum fgt_format f, bool per_thread,
				       enum fgt_state_frames sf)
{
	struct fgt_profile_opts o = {
	    .format = f, .per_thread = per_thread, .state_frames = sf, .hz = 99};
	struct fgt_profile *p = NULL;
	assert_int_equal(fgt_profile_new(&o, &p), 0);
	return p;
}

static int write_file(struct fgt_profile *p, const char *path, enum fgt_compress c)
{
	struct fgt_output *out;
	int rc = fgt_output_open(path, c, &out);
	if (rc < 0)
		return rc;
	rc = fgt_profile_write(p, out, 1700000000000000000ULL, 3000000000ULL);
	int rc2 = fgt_output_close(out);
	return rc ? rc : rc2;
}

/* Reads a file, gzip-compressed or not, into a NUL-terminated buffer. */
static char *slurp(const char *path, size_t *len)
{
	gzFile gz = gzopen(path, "rb");
	assert_non_null(gz);
	size_t cap = 1 << 16, n = 0;
	char *b = malloc(cap + 1);
	int got;
	while ((got = gzread(gz, b + n, (unsigned)(cap - n))) > 0) {
		n += (size_t)got;
		if (n == cap)
			b = realloc(b, (cap *= 2) + 1);
	}
	assert_true(got == 0);
	gzclose(gz);
	b[n] = 0;
	*len = n;
	return b;
}

/* Writes p through a real output into a fresh file and reads it back. */
static char *written(struct fgt_profile *p, enum fgt_compress c, size_t *len)
{
	char dir[] = "/tmp/fgt-profile-XXXXXX", path[64];
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/out", dir);
	assert_int_equal(write_file(p, path, c), 0);
	if (c == FGT_COMPRESS_GZIP) {
		unsigned char magic[2] = {0};
		FILE *f = fopen(path, "rb");
		assert_non_null(f);
		assert_int_equal(fread(magic, 1, 2, f), 2);
		fclose(f);
		assert_true(magic[0] == 0x1f && magic[1] == 0x8b);
	}
	char *data = slurp(path, len);
	unlink(path);
	rmdir(dir);
	return data;
}

static char *folded_of(struct fgt_profile *p)
{
	size_t len;
	return written(p, FGT_COMPRESS_NONE, &len);
}

/* --- folded --- */

static void test_folded_state_root(void **state)
{
	(void)state;
	struct fgt_profile *p = new_profile(FGT_FORMAT_FOLDED, false, FGT_STATE_ROOT);
	add_fixture(p);
	assert_int_equal(fgt_profile_samples(p), 7);
	char *text = folded_of(p);
	/* Threads merge without --per-thread; inline helper follows its caller. */
	assert_string_equal(text, "running;main;work;helper 5\n"
				  "sys_read;main;read 2\n");
	free(text);
	fgt_profile_free(p);
}

/* A sample whose stop was pending over several ticks stands for each of
 * them: it counts as many samples as ticks, in a new key and in an old one. */
static void test_sample_standing_for_several_ticks(void **state)
{
	(void)state;
	struct fgt_profile *p = new_profile(FGT_FORMAT_FOLDED, false, FGT_STATE_ROOT);
	add_fixture(p);
	struct fgt_sample_info s = {.pid = 100,
				    .tid = 102,
				    .thread_name = "late",
				    .state = &st_running,
				    .stack = &stk_work,
				    .count = 4};
	assert_int_equal(fgt_profile_add(p, &s), 0);
	s.stack = &stk_odd;
	s.count = 3;
	assert_int_equal(fgt_profile_add(p, &s), 0);
	assert_int_equal(fgt_profile_samples(p), 14);
	char *text = folded_of(p);
	assert_string_equal(text, "running;[truncated];odd:name?x 3\n"
				  "running;main;work;helper 9\n"
				  "sys_read;main;read 2\n");
	free(text);
	fgt_profile_free(p);
}

static void test_folded_per_thread_state_leaf(void **state)
{
	(void)state;
	struct fgt_profile *p = new_profile(FGT_FORMAT_FOLDED, true, FGT_STATE_LEAF);
	add_fixture(p);
	char *text = folded_of(p);
	assert_string_equal(text, "main;main;read;sys_read 2\n"
				  "main;main;work;helper;running 2\n"
				  "worker;main;work;helper;running 3\n");
	free(text);
	fgt_profile_free(p);
}

static void test_folded_truncated_and_names(void **state)
{
	(void)state;
	struct fgt_profile *p = new_profile(FGT_FORMAT_FOLDED, true, FGT_STATE_ROOT);
	add_n(p, 7, "w;x\ty", &st_running, &stk_odd, 4);
	add_n(p, 8, "", NULL, &stk_empty, 1);
	add_n(p, 9, "idle", NULL, &stk_empty, 1);
	char *text = folded_of(p);
	/* Thread, then state, then [truncated] above the program's frames. */
	assert_string_equal(text, "[unknown] 1\n"
				  "idle 1\n"
				  "w:x?y;running;[truncated];odd:name?x 4\n");
	free(text);
	fgt_profile_free(p);
}

static void test_folded_no_state(void **state)
{
	(void)state;
	struct fgt_profile *p = new_profile(FGT_FORMAT_FOLDED, false, FGT_STATE_NONE);
	add_fixture(p);
	add_n(p, 8, "x", NULL, &stk_empty, 1);
	char *text = folded_of(p);
	assert_string_equal(text, "[unknown] 1\n"
				  "main;read 2\n"
				  "main;work;helper 5\n");
	free(text);
	fgt_profile_free(p);
}

/* --- a small protobuf reader, enough for profile.proto --- */

struct pb {
	const uint8_t *p, *end;
};

static uint64_t pb_varint(struct pb *b)
{
	uint64_t v = 0;
	for (int shift = 0; b->p < b->end && shift < 64; shift += 7) {
		uint8_t c = *b->p++;
		v |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80))
			return v;
	}
	fail_msg("bad varint");
	return 0;
}

/* Reads the next field: a varint into *v, or a length-delimited one into *sub. */
static bool pb_next(struct pb *b, unsigned *field, uint64_t *v, struct pb *sub)
{
	if (b->p >= b->end)
		return false;
	uint64_t tag = pb_varint(b);
	*field = (unsigned)(tag >> 3);
	if ((tag & 7) == 0) {
		*v = pb_varint(b);
		return true;
	}
	assert_int_equal(tag & 7, 2);
	uint64_t n = pb_varint(b);
	assert_true(n <= (uint64_t)(b->end - b->p));
	*sub = (struct pb){b->p, b->p + n};
	b->p += n;
	return true;
}

/* Packed repeated varints; also accepts one unpacked value. */
static size_t pb_ints(struct pb *sub, uint64_t v, bool packed, uint64_t *out, size_t n,
		      size_t max)
{
	if (!packed) {
		assert_true(n < max);
		out[n++] = v;
		return n;
	}
	while (sub->p < sub->end) {
		assert_true(n < max);
		out[n++] = pb_varint(sub);
	}
	return n;
}

#define MAXN 64

struct pf_label {
	uint64_t key, str, num;
};
struct pf_sample {
	uint64_t locs[MAXN], values[4];
	size_t n_locs, n_values, n_labels;
	struct pf_label labels[4];
};
struct pf_line {
	uint64_t func, line;
};
struct pf_location {
	uint64_t id, mapping, address;
	struct pf_line lines[4];
	size_t n_lines;
};
struct pf_function {
	uint64_t id, name, system_name, filename, start_line;
};
struct pf_mapping {
	uint64_t id, start, limit, offset, filename, build_id, has_functions;
};
struct pf {
	const char *strs[MAXN];
	size_t strlens[MAXN], n_strs;
	uint64_t sample_type[2][2], period_type[2], period, time_nanos, duration_nanos;
	size_t n_sample_types;
	struct pf_sample samples[MAXN];
	size_t n_samples;
	struct pf_location locs[MAXN];
	size_t n_locs;
	struct pf_function funcs[MAXN];
	size_t n_funcs;
	struct pf_mapping maps[MAXN];
	size_t n_maps;
};

static void pf_value_type(struct pb b, uint64_t out[2])
{
	unsigned f;
	uint64_t v;
	struct pb sub;
	while (pb_next(&b, &f, &v, &sub))
		if (f == 1 || f == 2)
			out[f - 1] = v;
}

static void pf_sample(struct pb b, struct pf_sample *s)
{
	unsigned f;
	uint64_t v = 0;
	struct pb sub = {0};
	while (pb_next(&b, &f, &v, &sub)) {
		bool packed = sub.p != NULL;
		if (f == 1)
			s->n_locs = pb_ints(&sub, v, packed, s->locs, s->n_locs, MAXN);
		else if (f == 2)
			s->n_values = pb_ints(&sub, v, packed, s->values, s->n_values, 4);
		else if (f == 3) {
			assert_true(s->n_labels < 4);
			struct pf_label *l = &s->labels[s->n_labels++];
			unsigned lf;
			uint64_t lv;
			struct pb lsub;
			while (pb_next(&sub, &lf, &lv, &lsub))
				if (lf == 1)
					l->key = lv;
				else if (lf == 2)
					l->str = lv;
				else if (lf == 3)
					l->num = lv;
		}
		sub.p = NULL;
	}
}

static void pf_location(struct pb b, struct pf_location *l)
{
	unsigned f;
	uint64_t v;
	struct pb sub;
	while (pb_next(&b, &f, &v, &sub)) {
		if (f == 1)
			l->id = v;
		else if (f == 2)
			l->mapping = v;
		else if (f == 3)
			l->address = v;
		else if (f == 4) {
			assert_true(l->n_lines < 4);
			uint64_t tmp[3] = {0};
			pf_value_type(sub, tmp); /* Line: function_id = 1, line = 2 */
			l->lines[l->n_lines++] = (struct pf_line){tmp[0], tmp[1]};
		}
	}
}

static void pf_fields(struct pb b, uint64_t *out, size_t n)
{
	unsigned f;
	uint64_t v;
	struct pb sub;
	while (pb_next(&b, &f, &v, &sub))
		if (f >= 1 && f <= n)
			out[f - 1] = v;
}

static void pf_parse(const char *data, size_t len, struct pf *pf)
{
	struct pb b = {(const uint8_t *)data, (const uint8_t *)data + len};
	unsigned f;
	uint64_t v;
	struct pb sub;
	memset(pf, 0, sizeof(*pf));
	while (pb_next(&b, &f, &v, &sub)) {
		switch (f) {
		case 1:
			assert_true(pf->n_sample_types < 2);
			pf_value_type(sub, pf->sample_type[pf->n_sample_types++]);
			break;
		case 2:
			assert_true(pf->n_samples < MAXN);
			pf_sample(sub, &pf->samples[pf->n_samples++]);
			break;
		case 3: {
			assert_true(pf->n_maps < MAXN);
			uint64_t m[7] = {0};
			pf_fields(sub, m, 7);
			pf->maps[pf->n_maps++] =
			    (struct pf_mapping){m[0], m[1], m[2], m[3], m[4], m[5], m[6]};
			break;
		}
		case 4:
			assert_true(pf->n_locs < MAXN);
			pf_location(sub, &pf->locs[pf->n_locs++]);
			break;
		case 5: {
			assert_true(pf->n_funcs < MAXN);
			uint64_t m[5] = {0};
			pf_fields(sub, m, 5);
			pf->funcs[pf->n_funcs++] =
			    (struct pf_function){m[0], m[1], m[2], m[3], m[4]};
			break;
		}
		case 6:
			assert_true(pf->n_strs < MAXN);
			pf->strs[pf->n_strs] = (const char *)sub.p;
			pf->strlens[pf->n_strs++] = (size_t)(sub.end - sub.p);
			break;
		case 9:
			pf->time_nanos = v;
			break;
		case 10:
			pf->duration_nanos = v;
			break;
		case 11:
			pf_value_type(sub, pf->period_type);
			break;
		case 12:
			pf->period = v;
			break;
		default:
			fail_msg("unexpected Profile field %u", f);
		}
	}
}

static bool pf_str_is(const struct pf *pf, uint64_t i, const char *s)
{
	return i < pf->n_strs && pf->strlens[i] == strlen(s) &&
	       !memcmp(pf->strs[i], s, pf->strlens[i]);
}

#define assert_str(pf, i, s) assert_true(pf_str_is(pf, i, s))

static const struct pf_location *pf_loc(const struct pf *pf, uint64_t id)
{
	for (size_t i = 0; i < pf->n_locs; i++)
		if (pf->locs[i].id == id)
			return &pf->locs[i];
	fail_msg("no location %llu", (unsigned long long)id);
	return NULL;
}

static const struct pf_function *pf_func(const struct pf *pf, uint64_t id)
{
	for (size_t i = 0; i < pf->n_funcs; i++)
		if (pf->funcs[i].id == id)
			return &pf->funcs[i];
	fail_msg("no function %llu", (unsigned long long)id);
	return NULL;
}

static const struct pf_mapping *pf_map(const struct pf *pf, uint64_t id)
{
	for (size_t i = 0; i < pf->n_maps; i++)
		if (pf->maps[i].id == id)
			return &pf->maps[i];
	fail_msg("no mapping %llu", (unsigned long long)id);
	return NULL;
}

/* The name of line i of location id. */
static const char *pf_loc_name(const struct pf *pf, uint64_t id, size_t line, char *buf)
{
	const struct pf_location *l = pf_loc(pf, id);
	assert_true(line < l->n_lines);
	const struct pf_function *fn = pf_func(pf, l->lines[line].func);
	assert_true(fn->name < pf->n_strs);
	snprintf(buf, 64, "%.*s", (int)pf->strlens[fn->name], pf->strs[fn->name]);
	return buf;
}

static const char *pf_label_str(const struct pf *pf, const struct pf_sample *s,
				const char *key, char *buf)
{
	for (size_t i = 0; i < s->n_labels; i++)
		if (pf_str_is(pf, s->labels[i].key, key)) {
			uint64_t v = s->labels[i].str;
			snprintf(buf, 64, "%.*s", (int)pf->strlens[v], pf->strs[v]);
			return buf;
		}
	return NULL;
}

static uint64_t pf_label_num(const struct pf *pf, const struct pf_sample *s,
			     const char *key)
{
	for (size_t i = 0; i < s->n_labels; i++)
		if (pf_str_is(pf, s->labels[i].key, key))
			return s->labels[i].num;
	fail_msg("no label %s", key);
	return 0;
}

/* --- pprof --- */

static char *pprof_of(struct fgt_profile *p, size_t *len)
{
	return written(p, FGT_COMPRESS_GZIP, len);
}

static void check_header(const struct pf *pf)
{
	assert_true(pf->n_strs > 0);
	assert_int_equal(pf->strlens[0], 0);
	assert_int_equal(pf->n_sample_types, 2);
	assert_str(pf, pf->sample_type[0][0], "samples");
	assert_str(pf, pf->sample_type[0][1], "count");
	assert_str(pf, pf->sample_type[1][0], "wall");
	assert_str(pf, pf->sample_type[1][1], "nanoseconds");
	assert_str(pf, pf->period_type[0], "wall");
	assert_str(pf, pf->period_type[1], "nanoseconds");
	assert_int_equal(pf->period, PERIOD_99HZ);
	assert_int_equal(pf->time_nanos, 1700000000000000000ULL);
	assert_int_equal(pf->duration_nanos, 3000000000ULL);
}

/* Ids are unique and nonzero, as pprof's CheckValid demands. */
static void check_ids(const struct pf *pf)
{
	for (size_t i = 0; i < pf->n_locs; i++) {
		assert_true(pf->locs[i].id != 0);
		for (size_t j = 0; j < i; j++)
			assert_true(pf->locs[i].id != pf->locs[j].id);
		for (size_t k = 0; k < pf->locs[i].n_lines; k++)
			pf_func(pf, pf->locs[i].lines[k].func);
		if (pf->locs[i].mapping)
			pf_map(pf, pf->locs[i].mapping);
	}
	for (size_t i = 0; i < pf->n_funcs; i++) {
		assert_true(pf->funcs[i].id != 0);
		for (size_t j = 0; j < i; j++)
			assert_true(pf->funcs[i].id != pf->funcs[j].id);
	}
}

static const struct pf_sample *find_sample(const struct pf *pf, const char *thread,
					   const char *leaf)
{
	char b1[64], b2[64];
	for (size_t i = 0; i < pf->n_samples; i++) {
		const struct pf_sample *s = &pf->samples[i];
		const char *t = pf_label_str(pf, s, "thread", b1);
		if (t && !strcmp(t, thread) && s->n_locs &&
		    !strcmp(pf_loc_name(pf, s->locs[0], 0, b2), leaf))
			return s;
	}
	fail_msg("no sample of %s with leaf %s", thread, leaf);
	return NULL;
}

static void test_pprof_samples(void **state)
{
	(void)state;
	struct fgt_profile *p = new_profile(FGT_FORMAT_PPROF, false, FGT_STATE_ROOT);
	add_fixture(p);
	size_t len;
	char *data = pprof_of(p, &len);
	struct pf pf;
	pf_parse(data, len, &pf);
	check_header(&pf);
	check_ids(&pf);
	assert_int_equal(pf.n_samples, 3); /* one per (stack, thread, tid, state) */

	char b[64];
	const struct pf_sample *s = find_sample(&pf, "worker", "helper");
	assert_int_equal(s->n_values, 2);
	assert_int_equal(s->values[0], 3);
	assert_int_equal(s->values[1], 3 * PERIOD_99HZ);
	assert_int_equal(pf_label_num(&pf, s, "tid"), 101);
	assert_string_equal(pf_label_str(&pf, s, "state", b), "running");
	/* Leaf first: work's location, main's, then the state at the root. */
	assert_int_equal(s->n_locs, 3);
	assert_string_equal(pf_loc_name(&pf, s->locs[1], 0, b), "main");
	assert_string_equal(pf_loc_name(&pf, s->locs[2], 0, b), "running");

	s = find_sample(&pf, "main", "read");
	assert_int_equal(s->values[0], 2);
	assert_int_equal(pf_label_num(&pf, s, "tid"), 100);
	assert_string_equal(pf_label_str(&pf, s, "state", b), "sys_read");
	s = find_sample(&pf, "main", "helper");
	assert_int_equal(s->values[0], 2);
	free(data);
	fgt_profile_free(p);
}

static void test_pprof_inline_and_mapping(void **state)
{
	(void)state;
	struct fgt_profile *p = new_profile(FGT_FORMAT_PPROF, false, FGT_STATE_ROOT);
	add_fixture(p);
	size_t len;
	char *data = pprof_of(p, &len);
	struct pf pf;
	pf_parse(data, len, &pf);
	const struct pf_sample *s = find_sample(&pf, "worker", "helper");

	/* One location, innermost line first, with the sampled lines. */
	const struct pf_location *l = pf_loc(&pf, s->locs[0]);
	assert_int_equal(l->address, 0x402020);
	assert_int_equal(l->n_lines, 2);
	assert_int_equal(l->lines[0].line, 7);
	assert_int_equal(l->lines[1].line, 25);
	const struct pf_function *helper = pf_func(&pf, l->lines[0].func);
	const struct pf_function *work = pf_func(&pf, l->lines[1].func);
	assert_str(&pf, helper->name, "helper");
	assert_str(&pf, helper->system_name, "_Z6helperv");
	assert_str(&pf, helper->filename, "util.h");
	assert_int_equal(helper->start_line, 5);
	assert_str(&pf, work->name, "work");
	assert_str(&pf, work->system_name, "_Z4workv");
	assert_int_equal(work->start_line, 20);

	const struct pf_mapping *m = pf_map(&pf, l->mapping);
	assert_int_equal(m->start, 0x400000);
	assert_int_equal(m->limit, 0x480000);
	assert_int_equal(m->offset, 0x1000);
	assert_str(&pf, m->filename, "/usr/bin/app");
	assert_str(&pf, m->build_id, "0123456789abcdef0123456789abcdef01234567");
	assert_int_equal(m->has_functions, 1);
	assert_int_equal(pf.n_maps, 2);
	/* Three real locations and the two state frames. */
	assert_int_equal(pf.n_locs, 3 + 2);

	/* The state frame: its own location, no mapping, a function named so. */
	const struct pf_location *st = pf_loc(&pf, s->locs[2]);
	assert_int_equal(st->mapping, 0);
	assert_int_equal(st->n_lines, 1);
	assert_str(&pf, pf_func(&pf, st->lines[0].func)->name, "running");
	free(data);
	fgt_profile_free(p);
}

static void test_pprof_pseudo_frames(void **state)
{
	(void)state;
	struct fgt_profile *p = new_profile(FGT_FORMAT_PPROF, true, FGT_STATE_LEAF);
	add_n(p, 7, "w", &st_running, &stk_odd, 4);
	add_n(p, 8, "w", &st_running, &stk_odd, 1);
	size_t len;
	char *data = pprof_of(p, &len);
	struct pf pf;
	pf_parse(data, len, &pf);
	check_header(&pf);
	check_ids(&pf);
	assert_int_equal(pf.n_samples, 2); /* tids differ */
	const struct pf_sample *s = &pf.samples[0];
	char b[64];
	const char *want[] = {"running", "odd;name\nx", "[truncated]", "w"};
	assert_int_equal(s->n_locs, 4);
	for (size_t i = 0; i < 4; i++)
		assert_string_equal(pf_loc_name(&pf, s->locs[i], 0, b), want[i]);
	/* Both samples share the pseudo locations. */
	assert_memory_equal(pf.samples[1].locs, s->locs, sizeof(s->locs[0]) * 4);
	assert_int_equal(pf.n_locs, 4);
	assert_int_equal(pf.samples[0].values[0] + pf.samples[1].values[0], 5);
	free(data);
	fgt_profile_free(p);
}

/* --- memory and errors --- */

static const struct fgt_location *const many_locs[] = {&loc_main, &loc_work, &loc_read,
						       &loc_odd};

static void test_memory_does_not_grow(void **state)
{
	(void)state;
	struct fgt_profile *p = new_profile(FGT_FORMAT_PPROF, false, FGT_STATE_ROOT);
	struct fgt_stack stacks[10];
	for (int i = 0; i < 10; i++) {
		stacks[i] = (struct fgt_stack){.n = (size_t)(i % 4 + 1)};
		for (size_t j = 0; j < stacks[i].n; j++)
			stacks[i].locs[j] = many_locs[(j + (size_t)i / 4) % 4];
		stacks[i].truncated = i >= 8;
	}
	for (int i = 0; i < 10; i++)
		add_n(p, 100, "main", &st_running, &stacks[i], 1);
	assert_int_equal(fgt_profile_keys(p), 10);
	struct mallinfo2 before = mallinfo2();
	for (int round = 0; round < 100000; round++)
		for (int i = 0; i < 10; i++)
			add_n(p, 100, "main", &st_running, &stacks[i], 1);
	struct mallinfo2 after = mallinfo2();
	assert_int_equal(fgt_profile_keys(p), 10);
	assert_int_equal(fgt_profile_samples(p), 1000010);
	assert_int_equal(after.uordblks, before.uordblks);
	assert_int_equal(after.hblkhd, before.hblkhd);
	fgt_profile_free(p);
}

static void test_new_rejects_bad_options(void **state)
{
	(void)state;
	struct fgt_profile *p = NULL;
	struct fgt_profile_opts o = {.format = FGT_FORMAT_PPROF, .hz = 0};
	assert_int_equal(fgt_profile_new(&o, &p), -EINVAL);
	o = (struct fgt_profile_opts){.format = FGT_FORMAT_TRACE, .hz = 99};
	assert_int_equal(fgt_profile_new(&o, &p), -EINVAL);
	assert_null(p);
	fgt_profile_free(NULL);
}

static void test_empty_profiles(void **state)
{
	(void)state;
	struct fgt_profile *p = new_profile(FGT_FORMAT_FOLDED, false, FGT_STATE_ROOT);
	char *text = folded_of(p);
	assert_string_equal(text, "");
	free(text);
	fgt_profile_free(p);
	p = new_profile(FGT_FORMAT_PPROF, false, FGT_STATE_ROOT);
	size_t len;
	char *data = pprof_of(p, &len);
	struct pf pf;
	pf_parse(data, len, &pf);
	check_header(&pf);
	assert_int_equal(pf.n_samples, 0);
	free(data);
	fgt_profile_free(p);
}

/* --- helper mode for the end-to-end reader test --- */

static int add_sample(struct fgt_profile *p, pid_t tid, const char *thread,
		      const struct fgt_func *state, const struct fgt_stack *st, int n)
{
	struct fgt_sample_info s = {
	    .pid = 100, .tid = tid, .thread_name = thread, .state = state, .stack = st};
	int rc = 0;
	for (int i = 0; i < n && !rc; i++)
		rc = fgt_profile_add(p, &s);
	return rc;
}

/* The fixture the e2e test expects: 65 samples, see its docstring. */
static int write_one(enum fgt_format f, const char *path, enum fgt_compress c)
{
	struct fgt_profile_opts o = {
	    .format = f, .state_frames = FGT_STATE_ROOT, .hz = 99};
	struct fgt_profile *p;
	int rc = fgt_profile_new(&o, &p);
	if (rc < 0)
		return rc;
	if (!rc)
		rc = add_sample(p, 101, "worker", &st_running, &stk_work, 30);
	if (!rc)
		rc = add_sample(p, 100, "main", &st_running, &stk_work, 20);
	if (!rc)
		rc = add_sample(p, 100, "main", &st_read, &stk_read, 10);
	if (!rc)
		rc = add_sample(p, 100, "main", &st_running, &stk_anon, 5);
	if (!rc)
		rc = write_file(p, path, c);
	fgt_profile_free(p);
	return rc;
}

static int write_sample(const char *dir)
{
	char pb[4096], folded[4096];
	snprintf(pb, sizeof(pb), "%s/sample.pb.gz", dir);
	snprintf(folded, sizeof(folded), "%s/sample.folded", dir);
	int rc = write_one(FGT_FORMAT_PPROF, pb, FGT_COMPRESS_GZIP);
	if (!rc)
		rc = write_one(FGT_FORMAT_FOLDED, folded, FGT_COMPRESS_NONE);
	if (rc < 0)
		fprintf(stderr, "test_profile: cannot write into %s: %s\n", dir,
			strerror(-rc));
	return rc < 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "--write-sample"))
		return write_sample(argv[2]);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_folded_state_root),
	    cmocka_unit_test(test_folded_per_thread_state_leaf),
	    cmocka_unit_test(test_sample_standing_for_several_ticks),
	    cmocka_unit_test(test_folded_truncated_and_names),
	    cmocka_unit_test(test_folded_no_state),
	    cmocka_unit_test(test_pprof_samples),
	    cmocka_unit_test(test_pprof_inline_and_mapping),
	    cmocka_unit_test(test_pprof_pseudo_frames),
	    cmocka_unit_test(test_memory_does_not_grow),
	    cmocka_unit_test(test_new_rejects_bad_options),
	    cmocka_unit_test(test_empty_profiles),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
