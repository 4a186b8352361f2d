/* fgtrace — a fixed pool of pages, handed out as contiguous runs.
 *
 * The stack copies in flight share one pool of memory allocated up front:
 * a copy takes as many pages as it is long, not a whole --stack-bytes
 * buffer, so small stacks leave room for many more copies. The lowest run
 * that fits is taken, so a pool that is rarely full touches few pages.
 *
 * Not thread-safe: the caller serializes (the snapshot queue's lock). No
 * call allocates, except fgt_pagepool_new.
 */
#ifndef FGT_PAGEPOOL_H
#define FGT_PAGEPOOL_H

#include <stddef.h>
#include <stdint.h>

struct fgt_pagepool;

/* Creates a pool of n_pages pages of page_size bytes (a power of two).
 * Returns 0 or -ENOMEM (also when n_pages is 0). Free with fgt_pagepool_free. */
int fgt_pagepool_new(size_t n_pages, size_t page_size, struct fgt_pagepool **out);
void fgt_pagepool_free(struct fgt_pagepool *p);

/* Takes the lowest run of free pages that holds bytes (rounded up to whole
 * pages; 0 counts as one page). Returns its start, or NULL when no run fits.
 * The run belongs to the caller until fgt_pagepool_put. */
void *fgt_pagepool_get(struct fgt_pagepool *p, size_t bytes);
/* Gives back a run from fgt_pagepool_get, with the same bytes. */
void fgt_pagepool_put(struct fgt_pagepool *p, void *run, size_t bytes);
/* Gives back the pages of a run (of bytes) past its first keep bytes, and
 * returns the bytes the run holds now: keep rounded up to whole pages, one
 * page at least. Put it back with those bytes. */
size_t fgt_pagepool_trim(struct fgt_pagepool *p, void *run, size_t bytes, size_t keep);

/* Pages not handed out. */
size_t fgt_pagepool_free_pages(const struct fgt_pagepool *p);

#endif
