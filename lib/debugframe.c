/* fgtrace — a module's .debug_frame, recast as .eh_frame for libunwind. */
#include "debugframe.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define CIE_ID_32   0xffffffffu
#define DWARF64_ESC 0xffffffffu
#define FDE_HEAD    20 /* CIE pointer, 8-byte start, 8-byte length */

struct cie {
	size_t old_off; /* the entry's offset in .debug_frame */
	size_t new_off; /* its offset in the image; SIZE_MAX: not converted */
};

struct entry {
	size_t off;  /* offset of the length field */
	size_t len;  /* bytes after the length field */
	uint32_t id; /* CIE id or FDE's CIE offset */
};

struct table_entry {
	int32_t start; /* function start minus the module's start */
	int32_t fde;   /* offset of the FDE in the image */
};

static uint32_t rd32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, sizeof(v));
	return v;
}

static uint64_t rd64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, sizeof(v));
	return v;
}

static void wr32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, sizeof(v));
}

static void wr64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, sizeof(v));
}

/* Reads the entry at *off and moves *off past it. Returns false at the end
 * of the section or at a malformed length; a 64-bit DWARF entry is skipped
 * (e->len 0). A zero length (padding) reads as an entry of length 0 too. */
static bool next_entry(const uint8_t *sec, size_t len, size_t *off, struct entry *e)
{
	if (*off > len || len - *off < 4)
		return false;
	uint32_t l = rd32(sec + *off);
	e->off = *off;
	e->len = 0;
	if (l == DWARF64_ESC) {
		if (len - *off < 12)
			return false;
		uint64_t l64 = rd64(sec + *off + 4);
		if (l64 > len - *off - 12)
			return false;
		*off += 12 + (size_t)l64;
		return true;
	}
	if (l > len - *off - 4)
		return false;
	*off += 4 + (size_t)l;
	if (l < 4)
		return true;
	e->len = l;
	e->id = rd32(sec + e->off + 4);
	return true;
}

/* Appends the CIE e to img at *pos, as .eh_frame has it. Returns false when
 * it cannot be converted. */
static bool put_cie(const uint8_t *sec, const struct entry *e, uint8_t *img, size_t *pos)
{
	const uint8_t *body = sec + e->off + 4; /* id, version, augmentation, ... */
	/* At least: id, version, an empty augmentation, (version 4: address
	 * and segment sizes), code and data alignment, return column. */
	if (e->len < 9)
		return false;
	uint8_t version = body[4];
	if ((version != 1 && version != 3 && version != 4) || body[5] != 0)
		return false; /* an augmentation we would have to interpret */
	size_t skip = 0;      /* version 4: address size and segment selector size */
	if (version == 4) {
		if (e->len < 11 || body[6] != 8 || body[7] != 0)
			return false;
		skip = 2;
		version = 3;
	}
	size_t rest = e->len - 6 - skip; /* after the augmentation (and sizes) */
	uint8_t *o = img + *pos;
	wr32(o, (uint32_t)(e->len - skip));
	wr32(o + 4, 0);
	o[8] = version;
	o[9] = 0;
	memcpy(o + 10, body + 6 + skip, rest);
	*pos += 4 + e->len - skip;
	return true;
}

static const struct cie *find_cie(const struct cie *cies, size_t n, size_t old_off)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (cies[mid].old_off < old_off)
			lo = mid + 1;
		else if (cies[mid].old_off > old_off)
			hi = mid;
		else
			return &cies[mid];
	}
	return NULL;
}

static int by_start(const void *a, const void *b)
{
	const struct table_entry *x = a, *y = b;
	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return x->fde < y->fde ? -1 : x->fde > y->fde;
}

int fgt_debugframe_convert(const uint8_t *sec, size_t len, uint64_t bias, uint64_t start,
			   uint64_t end, struct fgt_debugframe *out)
{
	memset(out, 0, sizeof(*out));
	/* Count, so that one allocation holds everything: the image is never
	 * longer than the section. */
	size_t off = 0, n_cies = 0, n_fdes = 0;
	struct entry e;
	while (next_entry(sec, len, &off, &e))
		if (e.len)
			*(e.id == CIE_ID_32 ? &n_cies : &n_fdes) += 1;
	if (!n_fdes || len > INT32_MAX)
		return -ENOENT;
	struct cie *cies = calloc(n_cies ? n_cies : 1, sizeof(*cies));
	size_t table_off = (len + 7) & ~(size_t)7;
	size_t size = table_off + n_fdes * sizeof(struct table_entry) + 8;
	uint8_t *img = calloc(1, size);
	if (!cies || !img) {
		free(cies);
		free(img);
		return -ENOMEM;
	}

	/* The CIEs first (an FDE may come before its CIE in .debug_frame),
	 * so that every FDE's pointer back to its CIE is positive. */
	size_t pos = 0, nc = 0;
	for (off = 0; next_entry(sec, len, &off, &e);) {
		if (!e.len || e.id != CIE_ID_32)
			continue;
		cies[nc].old_off = e.off;
		cies[nc].new_off = pos;
		if (!put_cie(sec, &e, img, &pos))
			cies[nc].new_off = SIZE_MAX;
		nc++;
	}

	struct table_entry *table = (struct table_entry *)(void *)(img + table_off);
	size_t nt = 0;
	for (off = 0; next_entry(sec, len, &off, &e);) {
		if (!e.len || e.id == CIE_ID_32 || e.len < FDE_HEAD)
			continue;
		const struct cie *c = find_cie(cies, nc, e.id);
		if (!c || c->new_off == SIZE_MAX)
			continue;
		const uint8_t *body = sec + e.off + 4;
		uint64_t pc = rd64(body + 4), range = rd64(body + 12);
		if (!pc || !range)
			continue; /* a function the linker dropped */
		pc += bias;
		if (pc < start || pc >= end || pc - start > INT32_MAX)
			continue;
		uint8_t *o = img + pos;
		memcpy(o, sec + e.off, 4 + e.len);
		wr32(o + 4, (uint32_t)(pos + 4 - c->new_off));
		wr64(o + 8, pc);
		table[nt].start = (int32_t)(pc - start);
		table[nt].fde = (int32_t)pos;
		nt++;
		pos += 4 + e.len;
	}
	free(cies);
	if (!nt) {
		free(img);
		return -ENOENT;
	}
	qsort(table, nt, sizeof(*table), by_start);
	size_t kept = 1; /* one FDE per start: the search wants distinct keys */
	for (size_t i = 1; i < nt; i++)
		if (table[i].start != table[kept - 1].start)
			table[kept++] = table[i];
	memset(table + kept, 0, (nt - kept) * sizeof(*table)); /* the padding */
	out->image = img;
	out->size = table_off + kept * sizeof(*table) + 8;
	out->table_off = table_off;
	out->n_entries = kept;
	return 0;
}

void fgt_debugframe_free(struct fgt_debugframe *df)
{
	free(df->image);
	memset(df, 0, sizeof(*df));
}
