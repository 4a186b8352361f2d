/* fgtrace — a fixed pool of pages, handed out as contiguous runs. */
#include "pagepool.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

#define WORD_BITS 64

struct fgt_pagepool {
	uint8_t *base;
	size_t n_pages;
	size_t page_size;
	size_t free_pages;
	uint64_t *used; /* one bit per page, set when handed out */
};

int fgt_pagepool_new(size_t n_pages, size_t page_size, struct fgt_pagepool **out)
{
	if (!n_pages || !page_size || (page_size & (page_size - 1)) ||
	    n_pages > SIZE_MAX / page_size)
		return -ENOMEM;
	struct fgt_pagepool *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	size_t words = (n_pages + WORD_BITS - 1) / WORD_BITS;
	p->used = calloc(words, sizeof(*p->used));
	/* Aligned, so a run of n pages touches n pages of memory; untouched
	 * pages cost nothing until used. */
	p->base = aligned_alloc(page_size, n_pages * page_size);
	if (!p->used || !p->base) {
		fgt_pagepool_free(p);
		return -ENOMEM;
	}
	/* Bits past the last page are marked used, so no run reaches them. */
	for (size_t i = n_pages; i < words * WORD_BITS; i++)
		p->used[i / WORD_BITS] |= 1ull << (i % WORD_BITS);
	p->n_pages = n_pages;
	p->page_size = page_size;
	p->free_pages = n_pages;
	*out = p;
	return 0;
}

void fgt_pagepool_free(struct fgt_pagepool *p)
{
	if (!p)
		return;
	free(p->base);
	free(p->used);
	free(p);
}

/* The first page at or after i whose bit is want (true: used), or n_pages. */
static size_t next_with(const struct fgt_pagepool *p, size_t i, bool want)
{
	size_t words = (p->n_pages + WORD_BITS - 1) / WORD_BITS;
	size_t wi = i / WORD_BITS;
	if (wi >= words)
		return p->n_pages;
	/* Bits below i count as not wanted. */
	uint64_t below = (1ull << (i % WORD_BITS)) - 1;
	uint64_t w = want ? p->used[wi] & ~below : ~p->used[wi] & ~below;
	while (!w) {
		if (++wi == words)
			return p->n_pages;
		w = want ? p->used[wi] : ~p->used[wi];
	}
	size_t at = wi * WORD_BITS + (size_t)__builtin_ctzll(w);
	return at < p->n_pages ? at : p->n_pages;
}

static void mark(struct fgt_pagepool *p, size_t first, size_t n, bool used)
{
	for (size_t i = first; i < first + n; i++) {
		uint64_t bit = 1ull << (i % WORD_BITS);
		if (used)
			p->used[i / WORD_BITS] |= bit;
		else
			p->used[i / WORD_BITS] &= ~bit;
	}
}

static size_t pages_for(const struct fgt_pagepool *p, size_t bytes)
{
	size_t n = bytes / p->page_size + (bytes % p->page_size != 0);
	return n ? n : 1;
}

void *fgt_pagepool_get(struct fgt_pagepool *p, size_t bytes)
{
	size_t k = pages_for(p, bytes);
	if (k > p->free_pages)
		return NULL;
	/* First fit: each free run in turn, from the lowest. */
	for (size_t i = 0;;) {
		size_t start = next_with(p, i, false);
		if (start >= p->n_pages || p->n_pages - start < k)
			return NULL;
		size_t end = next_with(p, start, true);
		if (end - start >= k) {
			mark(p, start, k, true);
			p->free_pages -= k;
			return p->base + start * p->page_size;
		}
		i = end;
	}
}

void fgt_pagepool_put(struct fgt_pagepool *p, void *run, size_t bytes)
{
	if (!run)
		return;
	size_t k = pages_for(p, bytes);
	size_t first = (size_t)((uint8_t *)run - p->base) / p->page_size;
	mark(p, first, k, false);
	p->free_pages += k;
}

size_t fgt_pagepool_trim(struct fgt_pagepool *p, void *run, size_t bytes, size_t keep)
{
	size_t have = pages_for(p, bytes), want = pages_for(p, keep);
	if (want >= have)
		return have * p->page_size;
	size_t first = (size_t)((uint8_t *)run - p->base) / p->page_size;
	mark(p, first + want, have - want, false);
	p->free_pages += have - want;
	return want * p->page_size;
}

size_t fgt_pagepool_free_pages(const struct fgt_pagepool *p)
{
	return p->free_pages;
}
