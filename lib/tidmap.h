/* fgtrace — a small open-addressing map from thread id to a pointer.
 *
 * Used by the tracer and by the worker for their per-thread records. The map
 * does not own the values. Not thread-safe: one owner thread per map.
 */
#ifndef FGT_TIDMAP_H
#define FGT_TIDMAP_H

#include <stddef.h>
#include <sys/types.h>

struct fgt_tidmap {
	struct fgt_tidmap_slot *slots;
	size_t cap;  /* power of two, or 0 */
	size_t len;  /* live entries */
	size_t used; /* live + deleted slots */
};

void fgt_tidmap_init(struct fgt_tidmap *m);
/* Frees the slot array (not the values). */
void fgt_tidmap_free(struct fgt_tidmap *m);
/* Returns the value for tid, or NULL. */
void *fgt_tidmap_get(const struct fgt_tidmap *m, pid_t tid);
/* Sets tid's value (replacing any). Returns 0 or -ENOMEM. */
int fgt_tidmap_put(struct fgt_tidmap *m, pid_t tid, void *value);
/* Removes tid; returns its value, or NULL if absent. */
void *fgt_tidmap_del(struct fgt_tidmap *m, pid_t tid);
/* Iteration: for (size_t i = 0; (v = fgt_tidmap_next(m, &i));) — do not
 * insert while iterating; deleting the current entry is allowed. */
void *fgt_tidmap_next(const struct fgt_tidmap *m, size_t *pos);

#endif
