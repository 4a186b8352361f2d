/* fgtrace — an open-addressing hash map from a 64-bit key to a pointer.
 *
 * The map does not own its values. Keys are any 64-bit value (0 included).
 * Not thread-safe: one owner thread per map.
 */
#ifndef FGT_HASHMAP_H
#define FGT_HASHMAP_H

#include <stddef.h>
#include <stdint.h>

struct fgt_hashmap {
	struct fgt_hashmap_slot *slots;
	size_t cap; /* power of two, or 0 */
	size_t len;
};

void fgt_hashmap_init(struct fgt_hashmap *m);
/* Frees the slots (not the values). */
void fgt_hashmap_free(struct fgt_hashmap *m);
/* Returns the value for key, or NULL. */
void *fgt_hashmap_get(const struct fgt_hashmap *m, uint64_t key);
/* Sets key's value. Returns 0 or -ENOMEM. No deletion: maps only grow, and
 * are cleared as a whole with fgt_hashmap_clear. */
int fgt_hashmap_put(struct fgt_hashmap *m, uint64_t key, void *value);
/* Empties the map, keeping its memory. */
void fgt_hashmap_clear(struct fgt_hashmap *m);
/* Iterates values: for (size_t i = 0; (v = fgt_hashmap_next(m, &i));) */
void *fgt_hashmap_next(const struct fgt_hashmap *m, size_t *pos);

/* 64-bit FNV-1a over bytes, chained from h (start with FGT_HASH_INIT). */
#define FGT_HASH_INIT 0xcbf29ce484222325ull
uint64_t fgt_hash_bytes(uint64_t h, const void *p, size_t n);
/* Mixes a 64-bit value into h. */
uint64_t fgt_hash_u64(uint64_t h, uint64_t v);

#endif
