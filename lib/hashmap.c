/* fgtrace — open-addressing hash map from u64 to pointer. */
#include "hashmap.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct fgt_hashmap_slot {
	uint64_t key;
	void *value; /* NULL marks an empty slot */
};

void fgt_hashmap_init(struct fgt_hashmap *m)
{
	m->slots = NULL;
	m->cap = m->len = 0;
}

void fgt_hashmap_free(struct fgt_hashmap *m)
{
	free(m->slots);
	fgt_hashmap_init(m);
}

static size_t slot_of(uint64_t key, size_t cap)
{
	key ^= key >> 33;
	key *= 0xff51afd7ed558ccdull;
	key ^= key >> 33;
	return (size_t)key & (cap - 1);
}

void *fgt_hashmap_get(const struct fgt_hashmap *m, uint64_t key)
{
	if (!m->cap)
		return NULL;
	for (size_t i = slot_of(key, m->cap);; i = (i + 1) & (m->cap - 1)) {
		if (!m->slots[i].value)
			return NULL;
		if (m->slots[i].key == key)
			return m->slots[i].value;
	}
}

static int grow(struct fgt_hashmap *m)
{
	size_t cap = m->cap ? m->cap * 2 : 64;
	struct fgt_hashmap_slot *slots = calloc(cap, sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < m->cap; i++) {
		if (!m->slots[i].value)
			continue;
		size_t j = slot_of(m->slots[i].key, cap);
		while (slots[j].value)
			j = (j + 1) & (cap - 1);
		slots[j] = m->slots[i];
	}
	free(m->slots);
	m->slots = slots;
	m->cap = cap;
	return 0;
}

int fgt_hashmap_put(struct fgt_hashmap *m, uint64_t key, void *value)
{
	if (!value)
		return -EINVAL;
	if ((m->len + 1) * 4 >= m->cap * 3) {
		int rc = grow(m);
		if (rc < 0)
			return rc;
	}
	for (size_t i = slot_of(key, m->cap);; i = (i + 1) & (m->cap - 1)) {
		if (!m->slots[i].value) {
			m->slots[i].key = key;
			m->slots[i].value = value;
			m->len++;
			return 0;
		}
		if (m->slots[i].key == key) {
			m->slots[i].value = value;
			return 0;
		}
	}
}

void fgt_hashmap_clear(struct fgt_hashmap *m)
{
	if (m->cap)
		memset(m->slots, 0, m->cap * sizeof(*m->slots));
	m->len = 0;
}

void *fgt_hashmap_next(const struct fgt_hashmap *m, size_t *pos)
{
	for (; *pos < m->cap; (*pos)++)
		if (m->slots[*pos].value)
			return m->slots[(*pos)++].value;
	return NULL;
}

uint64_t fgt_hash_bytes(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

uint64_t fgt_hash_u64(uint64_t h, uint64_t v)
{
	return fgt_hash_bytes(h, &v, sizeof(v));
}
