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
	size_t old_off;	 /* the entry's offset in the section */
	size_t new_off;	 /* its offset in the image; SIZE_MAX: not converted */
	uint8_t fde_enc; /* .eh_frame: its FDEs' pointer encoding (DW_EH_PE_*) */
	bool has_aug;	 /* .eh_frame: "z", its FDEs carry augmentation data */
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

/* Counts the section's CIEs (whose id is cie_id) and FDEs. */
static void count_entries(const uint8_t *sec, size_t len, uint32_t cie_id, size_t *n_cies,
			  size_t *n_fdes)
{
	size_t off = 0;
	struct entry e;
	*n_cies = *n_fdes = 0;
	while (next_entry(sec, len, &off, &e))
		if (e.len)
			*(e.id == cie_id ? n_cies : n_fdes) += 1;
}

/* Allocates the CIE list and the image: entries up to table_off, then a
 * table of n_fdes and 8 bytes of padding, zeroed. Returns 0 or -ENOMEM. */
static int start_image(size_t n_cies, size_t n_fdes, size_t table_off, struct cie **cies,
		       uint8_t **img)
{
	*cies = calloc(n_cies ? n_cies : 1, sizeof(**cies));
	*img = calloc(1, table_off + n_fdes * sizeof(struct table_entry) + 8);
	if (*cies && *img)
		return 0;
	free(*cies);
	free(*img);
	return -ENOMEM;
}

/* Sorts the nt entries of the table at img + table_off, keeps one per
 * start, and hands img over to out. Returns 0, or -ENOENT (img freed). */
static int finish(uint8_t *img, size_t table_off, size_t nt, struct fgt_debugframe *out)
{
	if (!nt) {
		free(img);
		return -ENOENT;
	}
	struct table_entry *table = (struct table_entry *)(void *)(img + table_off);
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

int fgt_debugframe_convert(const uint8_t *sec, size_t len, uint64_t bias, uint64_t start,
			   uint64_t end, struct fgt_debugframe *out)
{
	memset(out, 0, sizeof(*out));
	/* Count, so that one allocation holds everything: the image is never
	 * longer than the section. */
	size_t off, n_cies, n_fdes;
	struct entry e;
	count_entries(sec, len, CIE_ID_32, &n_cies, &n_fdes);
	if (!n_fdes || len > INT32_MAX)
		return -ENOENT;
	size_t table_off = (len + 7) & ~(size_t)7;
	struct cie *cies;
	uint8_t *img;
	if (start_image(n_cies, n_fdes, table_off, &cies, &img) < 0)
		return -ENOMEM;

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
	return finish(img, table_off, nt, out);
}

void fgt_debugframe_free(struct fgt_debugframe *df)
{
	free(df->image);
	memset(df, 0, sizeof(*df));
}

/* ---- .eh_frame without its search table ---------------------------------- */

/* A LEB128 number at sec[*off], within sec[0..end); moves *off past it. */
static bool leb(const uint8_t *sec, size_t end, size_t *off, bool is_signed, int64_t *v)
{
	uint64_t r = 0;
	unsigned shift = 0;
	uint8_t b;
	do {
		if (*off >= end || shift > 63)
			return false;
		b = sec[(*off)++];
		r |= (uint64_t)(b & 0x7f) << shift;
		shift += 7;
	} while (b & 0x80);
	if (is_signed && shift < 64 && (b & 0x40))
		r |= ~0ull << shift;
	*v = (int64_t)r;
	return true;
}

#define PE_OMIT 0xff

/* A pointer in encoding enc (DW_EH_PE_*) at sec[*off]; where is its run-time
 * address, for pc-relative ones. Moves *off past it. Indirect, text-,
 * data- and function-relative pointers are refused. */
static bool pointer(const uint8_t *sec, size_t end, size_t *off, uint8_t enc,
		    uint64_t where, uint64_t *v)
{
	if ((enc & 0x70) != 0 && (enc & 0x70) != 0x10)
		return false; /* only absolute and pc-relative */
	if (enc & 0x80)
		return false;
	int64_t x;
	size_t n;
	switch (enc & 0x0f) {
	case 0x00: /* absptr */
	case 0x04: /* udata8 */
	case 0x0c: /* sdata8 */
		n = 8;
		break;
	case 0x03: /* udata4 */
	case 0x0b: /* sdata4 */
		n = 4;
		break;
	case 0x02: /* udata2 */
	case 0x0a: /* sdata2 */
		n = 2;
		break;
	case 0x01:
	case 0x09:
		if (!leb(sec, end, off, (enc & 0x0f) == 0x09, &x))
			return false;
		*v = (uint64_t)x + ((enc & 0x70) == 0x10 ? where : 0);
		return true;
	default:
		return false;
	}
	if (*off > end || end - *off < n)
		return false;
	uint64_t u = 0;
	memcpy(&u, sec + *off, n); /* little-endian */
	if ((enc & 0x08) && n < 8 && (u >> (8 * n - 1)) & 1)
		u |= ~0ull << (8 * n); /* sign-extend */
	*off += n;
	*v = u + ((enc & 0x70) == 0x10 ? where : 0);
	return true;
}

/* Parses the .eh_frame CIE e and appends it to img at *pos with no
 * augmentation. Returns false when it cannot be converted. */
static bool put_eh_cie(const uint8_t *sec, const struct entry *e, struct cie *c,
		       uint8_t *img, size_t *pos)
{
	size_t end = e->off + 4 + e->len, off = e->off + 8;
	if (off >= end)
		return false;
	uint8_t version = sec[off++];
	if (version != 1 && version != 3)
		return false;
	const uint8_t *aug = sec + off;
	size_t aug_len = strnlen((const char *)aug, end - off);
	if (aug_len == end - off)
		return false;
	off += aug_len + 1;
	size_t keep = off; /* code and data alignment, return column */
	int64_t v;
	if (!leb(sec, end, &off, false, &v) || !leb(sec, end, &off, true, &v))
		return false;
	if (version == 1)
		off++;
	else if (!leb(sec, end, &off, false, &v))
		return false;
	size_t keep_end = off;
	c->fde_enc = 0;
	c->has_aug = aug_len && aug[0] == 'z';
	if (aug_len && !c->has_aug)
		return false;
	if (c->has_aug) {
		int64_t n;
		if (!leb(sec, end, &off, false, &n) || (uint64_t)n > end - off)
			return false;
		size_t data = off, data_end = off + (size_t)n;
		for (size_t i = 1; i < aug_len; i++) {
			uint64_t ignored;
			if (aug[i] == 'R' && data < data_end)
				c->fde_enc = sec[data++];
			else if (aug[i] == 'L' && data < data_end)
				data++;
			else if (aug[i] == 'P' && data < data_end) {
				uint8_t enc = sec[data++];
				if (!pointer(sec, data_end, &data, enc & 0x7f, 0,
					     &ignored))
					return false;
			} else if (aug[i] != 'S')
				return false;
		}
		off = data_end;
	}
	if (keep_end > end || off > end)
		return false;
	/* length, id 0, version, "", the kept fields, the instructions */
	size_t body = 4 + 1 + 1 + (keep_end - keep) + (end - off);
	uint8_t *o = img + *pos;
	wr32(o, (uint32_t)body);
	wr32(o + 4, 0);
	o[8] = version;
	o[9] = 0;
	memcpy(o + 10, sec + keep, keep_end - keep);
	memcpy(o + 10 + (keep_end - keep), sec + off, end - off);
	*pos += 4 + body;
	return true;
}

int fgt_ehframe_convert(const uint8_t *sec, size_t len, uint64_t addr, uint64_t start,
			uint64_t end, struct fgt_debugframe *out)
{
	memset(out, 0, sizeof(*out));
	size_t off, n_cies, n_fdes;
	struct entry e;
	count_entries(sec, len, 0, &n_cies, &n_fdes);
	if (!n_fdes || len > INT32_MAX / 2)
		return -ENOENT;
	/* An FDE grows by 12 bytes at most (two 2-byte pointers made 8-byte);
	 * a CIE only shrinks. */
	size_t table_off = (len + 16 * n_fdes + 7) & ~(size_t)7;
	struct cie *cies;
	uint8_t *img;
	if (start_image(n_cies, n_fdes, table_off, &cies, &img) < 0)
		return -ENOMEM;
	size_t pos = 0, nc = 0;
	for (off = 0; next_entry(sec, len, &off, &e);) {
		if (!e.len || e.id != 0)
			continue;
		cies[nc].old_off = e.off;
		cies[nc].new_off = pos;
		if (!put_eh_cie(sec, &e, &cies[nc], img, &pos))
			cies[nc].new_off = SIZE_MAX;
		nc++;
	}
	struct table_entry *table = (struct table_entry *)(void *)(img + table_off);
	size_t nt = 0;
	for (off = 0; next_entry(sec, len, &off, &e);) {
		/* An FDE's id is the distance back to its CIE, from the id. */
		if (!e.len || e.id == 0 || e.id > e.off + 4)
			continue;
		const struct cie *c = find_cie(cies, nc, e.off + 4 - e.id);
		if (!c || c->new_off == SIZE_MAX)
			continue;
		size_t fend = e.off + 4 + e.len, at = e.off + 8;
		uint64_t pc, range;
		if (!pointer(sec, fend, &at, c->fde_enc, addr + at, &pc) ||
		    !pointer(sec, fend, &at, c->fde_enc & 0x0f, 0, &range))
			continue;
		if (c->has_aug) {
			int64_t n;
			if (!leb(sec, fend, &at, false, &n) || (uint64_t)n > fend - at)
				continue;
			at += (size_t)n;
		}
		if (!pc || !range || pc < start || pc >= end || pc - start > INT32_MAX)
			continue;
		uint8_t *o = img + pos;
		size_t body = 4 + 16 + (fend - at);
		wr32(o, (uint32_t)body);
		wr32(o + 4, (uint32_t)(pos + 4 - c->new_off));
		wr64(o + 8, pc);
		wr64(o + 16, range);
		memcpy(o + 24, sec + at, fend - at);
		table[nt].start = (int32_t)(pc - start);
		table[nt].fde = (int32_t)pos;
		nt++;
		pos += 4 + body;
	}
	free(cies);
	return finish(img, table_off, nt, out);
}
