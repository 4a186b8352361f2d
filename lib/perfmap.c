/* fgtrace — JIT symbol maps (/tmp/perf-PID.map). */
#include "perfmap.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct entry {
	uint64_t start, end;
	char *name;
};

struct fgt_perfmap {
	char *path;
	off_t size_read; /* file size at the last read */
	struct entry *entries;
	size_t n;
};

int fgt_perfmap_new(const char *path, struct fgt_perfmap **out)
{
	struct fgt_perfmap *m = calloc(1, sizeof(*m));
	if (!m || !(m->path = strdup(path))) {
		free(m);
		return -ENOMEM;
	}
	*out = m;
	return 0;
}

static void clear(struct fgt_perfmap *m)
{
	for (size_t i = 0; i < m->n; i++)
		free(m->entries[i].name);
	free(m->entries);
	m->entries = NULL;
	m->n = 0;
}

void fgt_perfmap_free(struct fgt_perfmap *m)
{
	if (!m)
		return;
	clear(m);
	free(m->path);
	free(m);
}

static int parse_hex(char **p, uint64_t *v)
{
	char *end;
	if (!isxdigit((unsigned char)**p))
		return -EINVAL;
	errno = 0;
	*v = strtoull(*p, &end, 16);
	if (errno || (*end != ' ' && *end != '\t'))
		return -EINVAL;
	*p = end;
	while (**p == ' ' || **p == '\t')
		(*p)++;
	return 0;
}

int fgt_perfmap_parse_line(char *line, uint64_t *start, uint64_t *size, const char **name)
{
	char *p = line;
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
		p += 2;
	if (parse_hex(&p, start) < 0)
		return -EINVAL;
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
		p += 2;
	if (parse_hex(&p, size) < 0 || !*p)
		return -EINVAL;
	size_t len = strcspn(p, "\r\n");
	p[len] = '\0';
	if (!len || *size == 0 || *start + *size < *start)
		return -EINVAL;
	*name = p;
	return 0;
}

static int by_start(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;
	return x->start < y->start ? -1 : x->start > y->start;
}

int fgt_perfmap_refresh(struct fgt_perfmap *m)
{
	struct stat st;
	if (stat(m->path, &st) < 0)
		return -errno;
	if (st.st_size == m->size_read)
		return 0;
	FILE *f = fopen(m->path, "re");
	if (!f)
		return -errno;
	clear(m);
	size_t cap = 0;
	char *line = NULL;
	size_t linecap = 0;
	int rc = 0;
	while (getline(&line, &linecap, f) > 0) {
		uint64_t start, size;
		const char *name;
		if (fgt_perfmap_parse_line(line, &start, &size, &name) < 0)
			continue;
		if (m->n == cap) {
			cap = cap ? cap * 2 : 256;
			struct entry *e = realloc(m->entries, cap * sizeof(*e));
			if (!e) {
				rc = -ENOMEM;
				break;
			}
			m->entries = e;
		}
		char *copy = strdup(name);
		if (!copy) {
			rc = -ENOMEM;
			break;
		}
		m->entries[m->n++] = (struct entry){start, start + size, copy};
	}
	free(line);
	fclose(f);
	/* Sorted by start for the binary search in fgt_perfmap_lookup. */
	qsort(m->entries, m->n, sizeof(*m->entries), by_start);
	m->size_read = st.st_size;
	return rc;
}

const char *fgt_perfmap_lookup(const struct fgt_perfmap *m, uint64_t addr,
			       uint64_t *start)
{
	size_t lo = 0, hi = m->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (m->entries[mid].start <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0 || addr >= m->entries[lo - 1].end)
		return NULL;
	*start = m->entries[lo - 1].start;
	return m->entries[lo - 1].name;
}

size_t fgt_perfmap_size(const struct fgt_perfmap *m)
{
	return m->n;
}
