/* Unit tests for the stack copies' page pool (lib/pagepool.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>

#include "pagepool.h"

#define PG 4096

static struct fgt_pagepool *pool(size_t pages)
{
	struct fgt_pagepool *p = NULL;
	assert_int_equal(fgt_pagepool_new(pages, PG, &p), 0);
	assert_non_null(p);
	return p;
}

/* The page index of a run, from the pool's first run (page 0). */
static long page_of(const void *base, const void *run)
{
	return (long)(((const uint8_t *)run - (const uint8_t *)base) / PG);
}

static void test_runs_are_page_aligned_and_sized_up(void **state)
{
	(void)state;
	struct fgt_pagepool *p = pool(8);
	uint8_t *a = fgt_pagepool_get(p, 1);
	assert_non_null(a);
	assert_int_equal((uintptr_t)a % PG, 0);
	assert_int_equal(fgt_pagepool_free_pages(p), 7);
	uint8_t *b = fgt_pagepool_get(p, PG + 1); /* two pages */
	assert_int_equal(page_of(a, b), 1);
	assert_int_equal(fgt_pagepool_free_pages(p), 5);
	uint8_t *c = fgt_pagepool_get(p, 0); /* still a page */
	assert_int_equal(page_of(a, c), 3);
	/* Every byte of a run is the caller's: writing one touches no other. */
	memset(a, 0, PG);
	memset(c, 0, PG);
	memset(b, 0xab, 2 * PG);
	assert_int_equal(a[PG - 1], 0);
	assert_int_equal(c[0], 0);
	fgt_pagepool_free(p);
}

static void test_full_pool_refuses_and_recovers(void **state)
{
	(void)state;
	struct fgt_pagepool *p = pool(4);
	void *a = fgt_pagepool_get(p, 2 * PG);
	void *b = fgt_pagepool_get(p, 2 * PG);
	assert_non_null(a);
	assert_non_null(b);
	assert_null(fgt_pagepool_get(p, 1));
	assert_int_equal(fgt_pagepool_free_pages(p), 0);
	fgt_pagepool_put(p, a, 2 * PG);
	assert_ptr_equal(fgt_pagepool_get(p, PG), a);
	assert_non_null(fgt_pagepool_get(p, PG));
	assert_null(fgt_pagepool_get(p, PG));
	fgt_pagepool_free(p);
}

static void test_larger_than_the_pool_is_refused(void **state)
{
	(void)state;
	struct fgt_pagepool *p = pool(3);
	assert_null(fgt_pagepool_get(p, 3 * PG + 1));
	assert_int_equal(fgt_pagepool_free_pages(p), 3);
	assert_non_null(fgt_pagepool_get(p, 3 * PG));
	fgt_pagepool_free(p);
}

/* Free pages that are not contiguous do not make a run. */
static void test_fragments_do_not_make_a_run(void **state)
{
	(void)state;
	struct fgt_pagepool *p = pool(6);
	void *r[6];
	for (int i = 0; i < 6; i++)
		assert_non_null(r[i] = fgt_pagepool_get(p, PG));
	fgt_pagepool_put(p, r[1], PG);
	fgt_pagepool_put(p, r[3], PG);
	fgt_pagepool_put(p, r[5], PG);
	assert_int_equal(fgt_pagepool_free_pages(p), 3);
	assert_null(fgt_pagepool_get(p, 2 * PG));
	/* Freeing the page between two free ones makes a run of three. */
	fgt_pagepool_put(p, r[4], PG);
	assert_ptr_equal(fgt_pagepool_get(p, 3 * PG), r[3]);
	fgt_pagepool_free(p);
}

/* The lowest run that fits is taken, so a pool that is rarely full keeps
 * its copies in its first pages. */
static void test_lowest_fit_first(void **state)
{
	(void)state;
	struct fgt_pagepool *p = pool(16);
	void *r[16];
	for (int i = 0; i < 16; i++)
		assert_non_null(r[i] = fgt_pagepool_get(p, PG));
	for (int i = 0; i < 16; i++)
		fgt_pagepool_put(p, r[i], PG);
	void *a = fgt_pagepool_get(p, PG);
	assert_ptr_equal(a, r[0]);
	fgt_pagepool_put(p, a, PG);
	/* A gap of one page below a larger free run: a page fills the gap,
	 * a larger run goes above it. */
	void *x = fgt_pagepool_get(p, PG);     /* page 0 */
	void *y = fgt_pagepool_get(p, PG);     /* page 1 */
	void *z = fgt_pagepool_get(p, 2 * PG); /* pages 2-3 */
	fgt_pagepool_put(p, y, PG);
	assert_ptr_equal(fgt_pagepool_get(p, 2 * PG), r[4]);
	assert_ptr_equal(fgt_pagepool_get(p, PG), r[1]);
	(void)x;
	(void)z;
	fgt_pagepool_free(p);
}

/* Runs across the 64-page words of the bitmap, and a pool whose size is
 * not a multiple of 64 pages. */
static void test_runs_cross_words(void **state)
{
	(void)state;
	struct fgt_pagepool *p = pool(130);
	void *first = fgt_pagepool_get(p, 60 * PG);
	void *across = fgt_pagepool_get(p, 10 * PG); /* pages 60..69 */
	assert_int_equal(page_of(first, across), 60);
	void *rest = fgt_pagepool_get(p, 60 * PG); /* pages 70..129 */
	assert_int_equal(page_of(first, rest), 70);
	assert_null(fgt_pagepool_get(p, 1));
	fgt_pagepool_put(p, across, 10 * PG);
	assert_null(fgt_pagepool_get(p, 11 * PG));
	assert_ptr_equal(fgt_pagepool_get(p, 10 * PG), across);
	fgt_pagepool_free(p);
}

/* Many rounds of a queue-like pattern (oldest given back first, sizes
 * varying) keep the books right: everything comes back. */
static void test_fifo_churn_keeps_the_books(void **state)
{
	(void)state;
	enum { PAGES = 64, SLOTS = 32 };
	struct fgt_pagepool *p = pool(PAGES);
	void *run[SLOTS];
	size_t len[SLOTS];
	size_t head = 0, tail = 0, held = 0;
	unsigned seed = 1;
	for (int i = 0; i < 10000; i++) {
		seed = seed * 1103515245u + 12345u;
		size_t bytes = ((seed >> 16) % (4 * PG)) + 1;
		void *r = tail - head < SLOTS ? fgt_pagepool_get(p, bytes) : NULL;
		if (r) {
			memset(r, 0x5a, bytes);
			run[tail % SLOTS] = r;
			len[tail % SLOTS] = bytes;
			held += (bytes + PG - 1) / PG;
			tail++;
		} else {
			assert_true(head < tail);
			fgt_pagepool_put(p, run[head % SLOTS], len[head % SLOTS]);
			held -= (len[head % SLOTS] + PG - 1) / PG;
			head++;
		}
		assert_int_equal(fgt_pagepool_free_pages(p), PAGES - held);
	}
	for (; head < tail; head++)
		fgt_pagepool_put(p, run[head % SLOTS], len[head % SLOTS]);
	assert_int_equal(fgt_pagepool_free_pages(p), PAGES);
	assert_non_null(fgt_pagepool_get(p, PAGES * PG));
	fgt_pagepool_free(p);
}

/* A copy shorter than its buffer keeps only the pages it filled. */
static void test_trim_gives_back_the_tail(void **state)
{
	(void)state;
	struct fgt_pagepool *p = pool(8);
	uint8_t *a = fgt_pagepool_get(p, 4 * PG);
	assert_int_equal(fgt_pagepool_trim(p, a, 4 * PG, PG + 1), 2 * PG);
	assert_int_equal(fgt_pagepool_free_pages(p), 6);
	/* The pages given back are the next run handed out. */
	assert_ptr_equal(fgt_pagepool_get(p, 2 * PG), a + 2 * PG);
	/* Nothing copied still keeps a page; keeping it all gives back none. */
	uint8_t *b = fgt_pagepool_get(p, 3 * PG);
	assert_int_equal(fgt_pagepool_trim(p, b, 3 * PG, 0), PG);
	assert_int_equal(fgt_pagepool_trim(p, b, PG, PG), PG);
	assert_int_equal(fgt_pagepool_free_pages(p), 3);
	fgt_pagepool_put(p, b, PG);
	fgt_pagepool_put(p, a, 2 * PG);
	fgt_pagepool_put(p, a + 2 * PG, 2 * PG);
	assert_int_equal(fgt_pagepool_free_pages(p), 8);
	assert_non_null(fgt_pagepool_get(p, 8 * PG));
	fgt_pagepool_free(p);
}

static void test_bad_sizes_are_refused(void **state)
{
	(void)state;
	struct fgt_pagepool *p = NULL;
	assert_int_equal(fgt_pagepool_new(0, PG, &p), -ENOMEM);
	assert_int_equal(fgt_pagepool_new(4, 3000, &p), -ENOMEM);
	assert_int_equal(fgt_pagepool_new(SIZE_MAX / 2, PG, &p), -ENOMEM);
	assert_null(p);
	fgt_pagepool_put(NULL, NULL, 0); /* giving back nothing is harmless */
	fgt_pagepool_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_runs_are_page_aligned_and_sized_up),
	    cmocka_unit_test(test_full_pool_refuses_and_recovers),
	    cmocka_unit_test(test_larger_than_the_pool_is_refused),
	    cmocka_unit_test(test_fragments_do_not_make_a_run),
	    cmocka_unit_test(test_lowest_fit_first),
	    cmocka_unit_test(test_runs_cross_words),
	    cmocka_unit_test(test_fifo_churn_keeps_the_books),
	    cmocka_unit_test(test_trim_gives_back_the_tail),
	    cmocka_unit_test(test_bad_sizes_are_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
