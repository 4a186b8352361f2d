// fuzz-sources: lib/debugframe.c
/* libFuzzer target: any bytes as a .debug_frame section, and as an .eh_frame
 * one. Neither conversion ever crashes, and what each returns is what libunwind's table
 * search will walk: a table of distinct, rising function starts inside the module, each
 * naming an FDE that lies in the image and starts there, whose pointer back
 * leads to a CIE in the .eh_frame form that libunwind accepts. Aborts on a
 * violation. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "debugframe.h"

#define BIAS  0x400000ull
#define START (BIAS + 0x1000)
#define END   (BIAS + 0x100000)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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

static void check_cie(const struct fgt_debugframe *df, size_t at)
{
	const uint8_t *c = df->image + at;
	if (at + 10 > df->table_off)
		abort();
	uint32_t len = rd32(c);
	if (len < 6 || len > df->table_off - at - 4)
		abort();
	if (rd32(c + 4) != 0 || (c[8] != 1 && c[8] != 3) || c[9] != 0)
		abort();
}

/* Checks a conversion's result; its table starts at most max_table_off
 * bytes into the image. */
static void check(int rc, struct fgt_debugframe *df, size_t max_table_off)
{
	if (rc == -ENOENT) {
		if (df->image)
			abort();
		return;
	}
	if (rc != 0 || !df->image || !df->n_entries || df->table_off % 8 ||
	    df->size != df->table_off + df->n_entries * 8 + 8 ||
	    df->table_off > max_table_off)
		abort();
	for (size_t i = df->size - 8; i < df->size; i++)
		if (df->image[i])
			abort();
	int64_t prev = -1;
	for (size_t i = 0; i < df->n_entries; i++) {
		int32_t start, fde;
		memcpy(&start, df->image + df->table_off + i * 8, 4);
		memcpy(&fde, df->image + df->table_off + i * 8 + 4, 4);
		if (start <= prev || START + (uint64_t)start >= END || fde < 0 ||
		    (size_t)fde + 24 > df->table_off)
			abort();
		prev = start;
		const uint8_t *f = df->image + fde;
		uint32_t len = rd32(f), back = rd32(f + 4);
		if (len < 20 || len > df->table_off - (size_t)fde - 4)
			abort();
		if (rd64(f + 8) != START + (uint64_t)start || rd64(f + 16) == 0)
			abort();
		if (back == 0 || back > (uint32_t)fde + 4)
			abort();
		check_cie(df, (size_t)fde + 4 - back);
	}
	fgt_debugframe_free(df);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fgt_debugframe df;
	check(fgt_debugframe_convert(data, size, BIAS, START, END, &df), &df, size + 7);
	/* An .eh_frame FDE may grow by 12 bytes, and has at least 8. */
	check(fgt_ehframe_convert(data, size, START + 0x800, START, END, &df), &df,
	      size + 16 * (size / 8) + 7);
	return 0;
}
