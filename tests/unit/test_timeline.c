/* Unit tests for the stack-diff timeline (lib/timeline.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "timeline.h"

static struct fgt_func F[8];

struct event {
	char ph;
	const struct fgt_func *f;
	uint64_t ts;
};

struct recorder {
	struct event ev[64];
	size_t n;
};

static void rec_begin(void *ctx, const struct fgt_tl_frame *f, uint64_t ts)
{
	struct recorder *r = ctx;
	r->ev[r->n++] = (struct event){'B', f->func, ts};
}

static void rec_end(void *ctx, const struct fgt_tl_frame *f, uint64_t ts)
{
	struct recorder *r = ctx;
	r->ev[r->n++] = (struct event){'E', f->func, ts};
}

static size_t stack_of(struct fgt_tl_frame *out, const char *names, const int *lines)
{
	size_t n = strlen(names);
	for (size_t i = 0; i < n; i++)
		out[i] = (struct fgt_tl_frame){&F[names[i] - 'a'], lines ? lines[i] : 0};
	return n;
}

/* Renders the recorded events as "Ba@10 Eb@20 ..." for readable asserts. */
static const char *render(const struct recorder *r)
{
	static char buf[512];
	size_t len = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < r->n; i++)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%c%c@%llu",
					i ? " " : "", r->ev[i].ph,
					(char)('a' + (r->ev[i].f - F)),
					(unsigned long long)r->ev[i].ts);
	return buf;
}

static void update(struct fgt_timeline *t, struct recorder *r, const char *names,
		   uint64_t ts)
{
	struct fgt_tl_frame st[16];
	size_t n = stack_of(st, names, NULL);
	struct fgt_timeline_sink sink = {rec_begin, rec_end, r};
	fgt_timeline_update(t, st, n, ts, &sink);
}

static void test_first_stack_opens_root_first(void **state)
{
	(void)state;
	struct fgt_timeline t;
	struct recorder r = {0};
	fgt_timeline_init(&t, false);
	update(&t, &r, "abc", 10);
	assert_string_equal(render(&r), "Ba@10 Bb@10 Bc@10");
}

static void test_same_stack_emits_nothing(void **state)
{
	(void)state;
	struct fgt_timeline t;
	struct recorder r = {0};
	fgt_timeline_init(&t, false);
	update(&t, &r, "abc", 10);
	r.n = 0;
	update(&t, &r, "abc", 20);
	update(&t, &r, "abc", 30);
	assert_int_equal(r.n, 0);
}

static void test_diff_closes_leaf_first_then_opens(void **state)
{
	(void)state;
	struct fgt_timeline t;
	struct recorder r = {0};
	fgt_timeline_init(&t, false);
	update(&t, &r, "abcd", 10);
	r.n = 0;
	update(&t, &r, "abef", 20);
	assert_string_equal(render(&r), "Ed@20 Ec@20 Be@20 Bf@20");
}

static void test_shallower_and_deeper(void **state)
{
	(void)state;
	struct fgt_timeline t;
	struct recorder r = {0};
	fgt_timeline_init(&t, false);
	update(&t, &r, "abc", 10);
	r.n = 0;
	update(&t, &r, "a", 20);
	update(&t, &r, "ab", 30);
	assert_string_equal(render(&r), "Ec@20 Eb@20 Bb@30");
}

static void test_root_change_replaces_everything(void **state)
{
	(void)state;
	struct fgt_timeline t;
	struct recorder r = {0};
	fgt_timeline_init(&t, false);
	update(&t, &r, "ab", 10);
	r.n = 0;
	update(&t, &r, "cb", 20);
	/* b under another root is another span, even though it is the same function. */
	assert_string_equal(render(&r), "Eb@20 Ea@20 Bc@20 Bb@20");
}

static void test_close_ends_all_spans(void **state)
{
	(void)state;
	struct fgt_timeline t;
	struct recorder r = {0};
	struct fgt_timeline_sink sink = {rec_begin, rec_end, &r};
	fgt_timeline_init(&t, false);
	update(&t, &r, "abc", 10);
	r.n = 0;
	fgt_timeline_close(&t, 50, &sink);
	assert_string_equal(render(&r), "Ec@50 Eb@50 Ea@50");
	assert_int_equal(t.n, 0);
	r.n = 0;
	fgt_timeline_close(&t, 60, &sink);
	assert_int_equal(r.n, 0);
}

static void test_time_never_goes_back(void **state)
{
	(void)state;
	struct fgt_timeline t;
	struct recorder r = {0};
	fgt_timeline_init(&t, false);
	update(&t, &r, "ab", 100);
	r.n = 0;
	update(&t, &r, "ac", 90);
	assert_string_equal(render(&r), "Eb@100 Bc@100");
}

static void test_lines_compared_only_when_asked(void **state)
{
	(void)state;
	struct fgt_timeline t;
	struct recorder r = {0};
	struct fgt_timeline_sink sink = {rec_begin, rec_end, &r};
	struct fgt_tl_frame st[4];
	int l1[] = {1, 10}, l2[] = {1, 11};

	fgt_timeline_init(&t, false);
	fgt_timeline_update(&t, st, stack_of(st, "ab", l1), 10, &sink);
	r.n = 0;
	fgt_timeline_update(&t, st, stack_of(st, "ab", l2), 20, &sink);
	assert_int_equal(r.n, 0);

	fgt_timeline_init(&t, true);
	r.n = 0;
	fgt_timeline_update(&t, st, stack_of(st, "ab", l1), 10, &sink);
	r.n = 0;
	fgt_timeline_update(&t, st, stack_of(st, "ab", l2), 20, &sink);
	assert_string_equal(render(&r), "Eb@20 Bb@20");
}

static void count_begin(void *ctx, const struct fgt_tl_frame *f, uint64_t ts)
{
	(void)f, (void)ts;
	(*(size_t *)ctx)++;
}

static void count_end(void *ctx, const struct fgt_tl_frame *f, uint64_t ts)
{
	(void)f, (void)ts;
	(*(size_t *)ctx)--;
}

static void test_depth_is_capped(void **state)
{
	(void)state;
	static struct fgt_tl_frame st[FGT_TL_MAX_DEPTH + 10];
	static struct fgt_timeline t;
	size_t open = 0;
	struct fgt_timeline_sink sink = {count_begin, count_end, &open};
	for (size_t i = 0; i < FGT_TL_MAX_DEPTH + 10; i++)
		st[i] = (struct fgt_tl_frame){&F[i % 8], 0};
	fgt_timeline_init(&t, false);
	fgt_timeline_update(&t, st, FGT_TL_MAX_DEPTH + 10, 1, &sink);
	assert_int_equal(open, FGT_TL_MAX_DEPTH);
	fgt_timeline_close(&t, 2, &sink);
	assert_int_equal(open, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_first_stack_opens_root_first),
	    cmocka_unit_test(test_same_stack_emits_nothing),
	    cmocka_unit_test(test_diff_closes_leaf_first_then_opens),
	    cmocka_unit_test(test_shallower_and_deeper),
	    cmocka_unit_test(test_root_change_replaces_everything),
	    cmocka_unit_test(test_close_ends_all_spans),
	    cmocka_unit_test(test_time_never_goes_back),
	    cmocka_unit_test(test_lines_compared_only_when_asked),
	    cmocka_unit_test(test_depth_is_capped),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
