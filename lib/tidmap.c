/* fgtrace — open-addressing map from thread id to pointer. */
#include "tidmap.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#define EMPTY	0
#define DELETED (-1)

struct fgt_tidmap_slot {
	pid_t tid; /* EMPTY, DELETED or a tid (> 0) */
	void *value;
};

void fgt_tidmap_init(struct fgt_tidmap *m)
{
	m->slots = NULL;
	m->cap = m->len = m->used = 0;
}

void fgt_tidmap_free(struct fgt_tidmap *m)
{
	free(m->slots);
	fgt_tidmap_init(m);
}

static size_t slot_of(pid_t tid, size_t cap)
{
	return ((uint32_t)tid * 2654435761u) & (cap - 1);
}

void *fgt_tidmap_get(const struct fgt_tidmap *m, pid_t tid)
{
	if (!m->cap || tid <= 0)
		return NULL;
	for (size_t i = slot_of(tid, m->cap);; i = (i + 1) & (m->cap - 1)) {
		if (m->slots[i].tid == tid)
			return m->slots[i].value;
		if (m->slots[i].tid == EMPTY)
			return NULL;
	}
}

static int grow(struct fgt_tidmap *m)
{
	size_t cap = m->cap ? m->cap : 16;
	/* Rehash in place of tombstones when live entries are few. */
	while (m->len * 2 >= cap)
		cap *= 2;
	struct fgt_tidmap_slot *slots = calloc(cap, sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < m->cap; i++) {
		if (m->slots[i].tid <= 0)
			continue;
		size_t j = slot_of(m->slots[i].tid, cap);
		while (slots[j].tid != EMPTY)
			j = (j + 1) & (cap - 1);
		slots[j] = m->slots[i];
	}
	free(m->slots);
	m->slots = slots;
	m->cap = cap;
	m->used = m->len;
	return 0;
}

int fgt_tidmap_put(struct fgt_tidmap *m, pid_t tid, void *value)
{
	if (tid <= 0)
		return -EINVAL;
	if ((m->used + 1) * 4 >= m->cap * 3) {
		int rc = grow(m);
		if (rc < 0)
			return rc;
	}
	size_t tomb = SIZE_MAX;
	for (size_t i = slot_of(tid, m->cap);; i = (i + 1) & (m->cap - 1)) {
		if (m->slots[i].tid == tid) {
			m->slots[i].value = value;
			return 0;
		}
		if (m->slots[i].tid == DELETED && tomb == SIZE_MAX)
			tomb = i;
		if (m->slots[i].tid == EMPTY) {
			if (tomb != SIZE_MAX)
				i = tomb;
			else
				m->used++;
			m->slots[i].tid = tid;
			m->slots[i].value = value;
			m->len++;
			return 0;
		}
	}
}

void *fgt_tidmap_del(struct fgt_tidmap *m, pid_t tid)
{
	if (!m->cap || tid <= 0)
		return NULL;
	for (size_t i = slot_of(tid, m->cap);; i = (i + 1) & (m->cap - 1)) {
		if (m->slots[i].tid == tid) {
			void *v = m->slots[i].value;
			m->slots[i].tid = DELETED;
			m->slots[i].value = NULL;
			m->len--;
			return v;
		}
		if (m->slots[i].tid == EMPTY)
			return NULL;
	}
}

void *fgt_tidmap_next(const struct fgt_tidmap *m, size_t *pos)
{
	for (; *pos < m->cap; (*pos)++) {
		if (m->slots[*pos].tid > 0)
			return m->slots[(*pos)++].value;
	}
	return NULL;
}
