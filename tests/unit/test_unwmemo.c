/* Unit tests for remembered unwinds (lib/unwmemo.c), on a made-up stack of
 * five frames whose steps read what x86-64 code would: each step out of a
 * frame reads the return address just below its caller's sp. The end-to-end
 * test (tests/e2e/test_memo.py) checks memos against real unwinds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "unwmemo.h"

#define NF   5
#define BASE 0x7000u
#define TOP  0x7600u
#define RBP  1 /* index of rbp among the callee-saved registers */
#define RAX  0 /* libunwind's number for rax */

struct sim {
	struct fgt_memo_frame f[NF];
	struct fgt_memo_log log;
	uint64_t snap[FGT_MEMO_NSNAP];
	uint8_t stack[TOP - BASE];
};

static uint64_t sp_of(size_t k)
{
	return BASE + 0x100 * k;
}

static uint64_t word(const struct sim *s, uint64_t addr)
{
	uint64_t v;
	memcpy(&v, s->stack + (addr - BASE), sizeof(v));
	return v;
}

static void set_word(struct sim *s, uint64_t addr, uint64_t v)
{
	memcpy(s->stack + (addr - BASE), &v, sizeof(v));
}

static void read_at(struct sim *s, uint32_t frame, uint64_t addr)
{
	fgt_memo_log_read(&s->log, frame, addr, word(s, addr), true);
}

/* An unwind of five frames: the step out of frame k reads the return
 * address at sp(k + 1) - 8; the last one reads the word below TOP. */
static void unwind(struct sim *s)
{
	fgt_memo_log_reset(&s->log);
	for (size_t k = 0; k < NF; k++) {
		memset(&s->f[k], 0, sizeof(s->f[k]));
		s->f[k].pc = 0x400000 + 0x10 * k;
		s->f[k].sp = sp_of(k);
		s->f[k].val[RBP] = 0xbbb0 + k;
		s->f[k].loc[RBP] = FGT_MEMO_LOC_REG | 6;
		read_at(s, (uint32_t)k, k + 1 < NF ? sp_of(k + 1) - 8 : TOP - 8);
	}
}

static struct sim *new_sim(void)
{
	struct sim *s = test_calloc(1, sizeof(*s));
	for (uint64_t a = BASE; a < TOP; a += 8)
		set_word(s, a, a * 3);
	unwind(s);
	return s;
}

static void free_sim(struct sim *s)
{
	fgt_memo_log_free(&s->log);
	test_free(s);
}

static struct fgt_memo *store(struct fgt_memo_table *t, struct sim *s, bool limit)
{
	assert_int_equal(
	    fgt_memo_store(t, 42, s->f, NF, &s->log, NULL, 0, false, limit, s->snap), 0);
	struct fgt_memo *m = fgt_memo_find(t, 42);
	assert_non_null(m);
	assert_int_equal(m->n, NF);
	return m;
}

static long match(const struct fgt_memo *m, const struct sim *s, size_t k)
{
	struct fgt_memo_cmp cmp = {0};
	return fgt_memo_match(m, &s->f[k], s->snap, s->stack, BASE, sizeof(s->stack),
			      &cmp);
}

static void test_same_stack_matches_above_the_leaf(void **state)
{
	(void)state;
	struct fgt_memo_table t = {0};
	struct sim *s = new_sim();
	struct fgt_memo *m = store(&t, s, false);
	assert_int_equal(match(m, s, 0), -1); /* the leaf: never */
	for (size_t k = 1; k < NF; k++)
		assert_int_equal(match(m, s, k), (long)k);
	/* What the leaf's own step read does not matter above it. */
	set_word(s, sp_of(1) - 8, 1);
	assert_int_equal(match(m, s, 1), 1);
	/* Another pc or sp: no frame. */
	s->f[2].pc++;
	assert_int_equal(match(m, s, 2), -1);
	s->f[2].pc--;
	s->f[2].sp += 8;
	assert_int_equal(match(m, s, 2), -1);
	s->f[2].sp -= 8;
	/* A register saved nowhere here, and somewhere then: libunwind may end
	 * the unwind on that alone. */
	s->f[2].unsaved = 1u << RBP;
	assert_int_equal(match(m, s, 2), -1);
	s->f[2].unsaved = 0;
	assert_int_equal(match(m, s, 2), 2);
	fgt_memo_free(&t);
	free_sim(s);
}

static void test_changed_word_bounds_the_match(void **state)
{
	(void)state;
	struct fgt_memo_table t = {0};
	struct sim *s = new_sim();
	struct fgt_memo *m = store(&t, s, false);
	/* The step out of frame 2 read this: frames 1 and 2 depend on it. */
	set_word(s, sp_of(3) - 8, 7);
	assert_int_equal(match(m, s, 1), -1);
	assert_int_equal(match(m, s, 2), -1);
	assert_int_equal(match(m, s, 3), 3);
	/* A word nobody read may change. */
	set_word(s, sp_of(3) - 8, (sp_of(3) - 8) * 3);
	set_word(s, sp_of(2) + 0x40, 9);
	assert_int_equal(match(m, s, 1), 1);
	/* A copy too short for the words the steps read. */
	struct fgt_memo_cmp cmp = {0};
	assert_int_equal(
	    fgt_memo_match(m, &s->f[1], s->snap, s->stack, BASE, sp_of(4) - BASE, &cmp),
	    -1);
	fgt_memo_free(&t);
	free_sim(s);
}

static void test_reads_below_sp(void **state)
{
	(void)state;
	struct fgt_memo_table t = {0};
	struct sim *s = new_sim();
	/* Frame 2's step reads a word in frame 1: unknown state for frame 2,
	 * a plain word for frame 1. */
	read_at(s, 2, sp_of(1) + 0x80);
	/* Frame 3's step reads where frame 3 has rbp saved: it needs rbp. */
	s->f[3].loc[RBP] = sp_of(2) + 0x10;
	s->f[4].loc[RBP] = sp_of(2) + 0x10;
	read_at(s, 3, sp_of(2) + 0x10);
	struct fgt_memo *m = store(&t, s, false);
	assert_false(m->f[2].ok);
	assert_true(m->f[1].ok);
	assert_true(m->f[3].ok);
	assert_int_equal(m->f[3].need, 1u << RBP);
	assert_int_equal(m->f[4].need, 0);
	assert_int_equal(match(m, s, 2), -1);
	assert_int_equal(match(m, s, 3), 3);
	/* rbp's value, or where it is saved, differs: no match at 3. */
	s->f[3].val[RBP]++;
	assert_int_equal(match(m, s, 3), -1);
	s->f[3].val[RBP]--;
	s->f[3].loc[RBP] += 8;
	assert_int_equal(match(m, s, 3), -1);
	s->f[3].loc[RBP] -= 8;
	/* A register no step read may differ. */
	s->f[4].val[RBP]++;
	assert_int_equal(match(m, s, 4), 4);
	fgt_memo_free(&t);
	free_sim(s);
}

static void test_snapshot_registers_failures_and_limits(void **state)
{
	(void)state;
	struct fgt_memo_table t = {0};
	struct sim *s = new_sim();
	fgt_memo_log_reg(&s->log, 3, RAX);
	fgt_memo_log_read(&s->log, 2, TOP + 64, 0, false);
	struct fgt_memo *m = store(&t, s, false);
	assert_false(m->f[1].ok);
	assert_false(m->f[2].ok);
	assert_true(m->f[3].ok);
	assert_int_equal(match(m, s, 3), 3);
	s->snap[RAX] = 5; /* the step out of frame 3 read rax */
	assert_int_equal(match(m, s, 3), -1);
	assert_int_equal(match(m, s, 4), 4);
	/* An unwind stopped at the frame limit is never taken over. */
	unwind(s);
	m = store(&t, s, true);
	for (size_t k = 0; k < NF; k++)
		assert_false(m->f[k].ok);
	fgt_memo_free(&t);
	free_sim(s);
}

static void test_taken_over_steps_are_renumbered(void **state)
{
	(void)state;
	struct fgt_memo_table t = {0};
	struct sim *s = new_sim();
	struct fgt_memo *m = store(&t, s, false);
	/* A shallower unwind: two fresh frames, the second at frame 2's sp,
	 * then memo frames 3 and 4. */
	struct sim *b = new_sim();
	memcpy(b->stack, s->stack, sizeof(b->stack));
	fgt_memo_log_reset(&b->log);
	b->f[0] = s->f[0];
	b->f[0].sp = sp_of(1) + 0x40;
	read_at(b, 0, sp_of(2) - 8);
	b->f[1] = s->f[2];
	assert_int_equal(match(m, b, 1), 2);
	assert_int_equal(
	    fgt_memo_store(&t, 42, b->f, 2, &b->log, m, 2, false, false, b->snap), 0);
	assert_ptr_equal(fgt_memo_find(&t, 42), m);
	assert_int_equal(m->n, 4);
	assert_int_equal(m->f[2].pc, s->f[3].pc);
	assert_int_equal(m->f[3].pc, s->f[4].pc);
	/* The step out of old frame 3 is now the one out of frame 2: a change
	 * to what it read bounds a match there. */
	for (size_t k = 0; k < 4; k++)
		b->f[k] = m->f[k];
	assert_int_equal(match(m, b, 1), 1);
	set_word(b, sp_of(4) - 8, 1);
	assert_int_equal(match(m, b, 1), -1);
	assert_int_equal(match(m, b, 2), -1);
	assert_int_equal(match(m, b, 3), 3);
	fgt_memo_free(&t);
	free_sim(s);
	free_sim(b);
}

static void test_slots_and_clear(void **state)
{
	(void)state;
	struct fgt_memo_table t = {0};
	struct sim *s = new_sim();
	for (pid_t tid = 1; tid <= FGT_MEMO_SLOTS + 1; tid++)
		assert_int_equal(fgt_memo_store(&t, tid, s->f, NF, &s->log, NULL, 0,
						false, false, s->snap),
				 0);
	assert_null(fgt_memo_find(&t, 1)); /* the least recently used went */
	assert_non_null(fgt_memo_find(&t, 2));
	assert_non_null(fgt_memo_find(&t, FGT_MEMO_SLOTS + 1));
	fgt_memo_clear(&t);
	assert_null(fgt_memo_find(&t, 2));
	assert_null(fgt_memo_find(&t, 0));
	fgt_memo_free(&t);
	free_sim(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_same_stack_matches_above_the_leaf),
	    cmocka_unit_test(test_changed_word_bounds_the_match),
	    cmocka_unit_test(test_reads_below_sp),
	    cmocka_unit_test(test_snapshot_registers_failures_and_limits),
	    cmocka_unit_test(test_taken_over_steps_are_renumbered),
	    cmocka_unit_test(test_slots_and_clear),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
