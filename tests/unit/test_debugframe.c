/* Unit tests for the .debug_frame to .eh_frame conversion, and the .eh_frame
 * one (lib/debugframe.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "debugframe.h"

#define BIAS  0x400000ull
#define START (BIAS + 0x1000)
#define END   (BIAS + 0x3000)

struct sec {
	uint8_t b[1024];
	size_t n;
};

static void put(struct sec *s, const void *p, size_t n)
{
	assert_true(s->n + n <= sizeof(s->b));
	memcpy(s->b + s->n, p, n);
	s->n += n;
}

static void put8(struct sec *s, uint8_t v)
{
	put(s, &v, 1);
}

static void put32(struct sec *s, uint32_t v)
{
	put(s, &v, 4);
}

static void put64(struct sec *s, uint64_t v)
{
	put(s, &v, 8);
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

/* The instructions every test CIE carries: CFA = rsp + 8, rip at CFA - 8. */
static const uint8_t CIE_INSNS[] = {0x0c, 0x07, 0x08, 0x90, 0x01};
/* An FDE's: after one byte, CFA = rsp + 16. */
static const uint8_t FDE_INSNS[] = {0x41, 0x0e, 0x10, 0x00};

/* Appends a 32-bit DWARF CIE; returns its offset. */
static size_t add_cie(struct sec *s, uint8_t version, const char *aug, uint8_t addr_size)
{
	size_t at = s->n;
	put32(s, 0); /* length, set below */
	put32(s, 0xffffffffu);
	put8(s, version);
	put(s, aug, strlen(aug) + 1);
	if (version == 4) {
		put8(s, addr_size);
		put8(s, 0);
	}
	put8(s, 1);    /* code alignment */
	put8(s, 0x78); /* data alignment -8 */
	put8(s, 16);   /* return address column (a byte, or a one-byte uleb128) */
	put(s, CIE_INSNS, sizeof(CIE_INSNS));
	uint32_t len = (uint32_t)(s->n - at - 4);
	memcpy(s->b + at, &len, 4);
	return at;
}

/* Appends an FDE of the CIE at cie, for [pc, pc + range); returns its offset. */
static size_t add_fde(struct sec *s, size_t cie, uint64_t pc, uint64_t range)
{
	size_t at = s->n;
	put32(s, 4 + 8 + 8 + sizeof(FDE_INSNS));
	put32(s, (uint32_t)cie);
	put64(s, pc);
	put64(s, range);
	put(s, FDE_INSNS, sizeof(FDE_INSNS));
	return at;
}

struct entry {
	int32_t start, fde;
};

static struct entry entry(const struct fgt_debugframe *df, size_t i)
{
	struct entry e;
	assert_true(i < df->n_entries);
	memcpy(&e, df->image + df->table_off + i * sizeof(e), sizeof(e));
	return e;
}

/* Checks the table's entry i as libunwind reads it: a function starting at
 * START + start, whose FDE in the image is an .eh_frame FDE for [pc,
 * pc + range) with our instructions, pointing back to an .eh_frame CIE of
 * version want_version. */
static void check_entry(const struct fgt_debugframe *df, size_t i, uint64_t pc,
			uint64_t range, uint8_t want_version)
{
	struct entry e = entry(df, i);
	assert_int_equal(START + (uint64_t)e.start, pc);
	assert_true(e.fde >= 0 && (size_t)e.fde + 24 <= df->table_off);
	const uint8_t *f = df->image + e.fde;
	assert_int_equal(get32(f), 4 + 8 + 8 + sizeof(FDE_INSNS));
	assert_int_equal(get64(f + 8), pc);
	assert_int_equal(get64(f + 16), range);
	assert_memory_equal(f + 24, FDE_INSNS, sizeof(FDE_INSNS));
	uint32_t back = get32(f + 4);
	assert_true(back > 0 && back <= (uint32_t)e.fde + 4);
	const uint8_t *c = f + 4 - back;
	assert_int_equal(get32(c + 4), 0); /* .eh_frame's CIE id */
	assert_int_equal(c[8], want_version);
	assert_int_equal(c[9], 0); /* empty augmentation */
	assert_int_equal(c[10], 1);
	assert_int_equal(c[11], 0x78);
	assert_int_equal(c[12], 16);
	assert_memory_equal(c + 13, CIE_INSNS, sizeof(CIE_INSNS));
	assert_int_equal(get32(c), 9 + sizeof(CIE_INSNS));
}

static void test_cies_and_fdes_take_eh_frame_form(void **state)
{
	(void)state;
	struct sec s = {0};
	size_t cie = add_cie(&s, 1, "", 0);
	add_fde(&s, cie, 0x1000, 0x40);
	add_fde(&s, cie, 0x1100, 0x20);
	struct fgt_debugframe df;
	assert_int_equal(fgt_debugframe_convert(s.b, s.n, BIAS, START, END, &df), 0);
	assert_int_equal(df.n_entries, 2);
	assert_int_equal(df.table_off % 8, 0);
	assert_true(df.size >= df.table_off + 2 * 8 + 8);
	check_entry(&df, 0, BIAS + 0x1000, 0x40, 1);
	check_entry(&df, 1, BIAS + 0x1100, 0x20, 1);
	assert_int_equal(entry(&df, 0).start, 0);
	assert_int_equal(entry(&df, 1).start, 0x100);
	/* The padding after the table reads as zeros. */
	for (size_t i = df.size - 8; i < df.size; i++)
		assert_int_equal(df.image[i], 0);
	fgt_debugframe_free(&df);
	assert_null(df.image);
}

static void test_a_cie_after_its_fde_is_found(void **state)
{
	(void)state;
	struct sec s = {0};
	/* The FDE names the CIE's offset before the CIE is written. */
	size_t fde = add_fde(&s, 0, 0x1200, 0x10);
	size_t cie = add_cie(&s, 3, "", 0);
	uint32_t off = (uint32_t)cie;
	memcpy(s.b + fde + 4, &off, 4);
	struct fgt_debugframe df;
	assert_int_equal(fgt_debugframe_convert(s.b, s.n, BIAS, START, END, &df), 0);
	assert_int_equal(df.n_entries, 1);
	check_entry(&df, 0, BIAS + 0x1200, 0x10, 3);
	fgt_debugframe_free(&df);
}

static void test_version_4_cies_read_as_version_3(void **state)
{
	(void)state;
	struct sec s = {0};
	size_t cie = add_cie(&s, 4, "", 8);
	add_fde(&s, cie, 0x1000, 0x10);
	size_t cie4 = add_cie(&s, 4, "", 4); /* 4-byte addresses: left out */
	add_fde(&s, cie4, 0x1300, 0x10);
	struct fgt_debugframe df;
	assert_int_equal(fgt_debugframe_convert(s.b, s.n, BIAS, START, END, &df), 0);
	assert_int_equal(df.n_entries, 1);
	/* Without its address and segment sizes, as libunwind reads it. */
	check_entry(&df, 0, BIAS + 0x1000, 0x10, 3);
	fgt_debugframe_free(&df);
}

static void test_entries_that_cannot_be_used_are_left_out(void **state)
{
	(void)state;
	struct sec s = {0};
	size_t cie = add_cie(&s, 1, "", 0);
	size_t zr = add_cie(&s, 1, "zR", 0); /* an augmentation */
	add_fde(&s, zr, 0x1400, 0x10);
	size_t cut = s.n; /* a version 4 CIE that ends before its fields */
	put32(&s, 7);
	put32(&s, 0xffffffffu);
	put8(&s, 4);
	put8(&s, 0);
	put8(&s, 8);
	put32(&s, 0); /* padding: what would be its segment size reads 0 */
	add_fde(&s, cut, 0x1450, 0x10);
	add_fde(&s, cie, 0, 0x10);	    /* a function the linker dropped */
	add_fde(&s, cie, 0x1500, 0);	    /* empty */
	add_fde(&s, cie, 0x0f00, 0x10);	    /* before the module */
	add_fde(&s, cie, 0x3000, 0x10);	    /* at its end */
	add_fde(&s, cie, 0x1600, 0x10);	    /* good */
	add_fde(&s, cie + 1, 0x1700, 0x10); /* no CIE there */
	put32(&s, 0);			    /* padding */
	put32(&s, 0xffffffffu);		    /* a 64-bit DWARF entry */
	put64(&s, 12);
	put64(&s, 0);
	put32(&s, 0);
	add_fde(&s, cie, 0x1800, 0x10); /* read past the 64-bit entry */
	struct fgt_debugframe df;
	assert_int_equal(fgt_debugframe_convert(s.b, s.n, BIAS, START, END, &df), 0);
	assert_int_equal(df.n_entries, 2);
	check_entry(&df, 0, BIAS + 0x1600, 0x10, 1);
	check_entry(&df, 1, BIAS + 0x1800, 0x10, 1);
	fgt_debugframe_free(&df);
}

static void test_the_table_is_sorted_with_one_fde_per_start(void **state)
{
	(void)state;
	struct sec s = {0};
	size_t cie = add_cie(&s, 1, "", 0);
	static const uint64_t pcs[] = {0x2000, 0x1000, 0x2800, 0x1000, 0x1800};
	for (size_t i = 0; i < sizeof(pcs) / sizeof(pcs[0]); i++)
		add_fde(&s, cie, pcs[i], 0x10);
	struct fgt_debugframe df;
	assert_int_equal(fgt_debugframe_convert(s.b, s.n, BIAS, START, END, &df), 0);
	assert_int_equal(df.n_entries, 4);
	static const uint64_t want[] = {0x1000, 0x1800, 0x2000, 0x2800};
	for (size_t i = 0; i < 4; i++)
		check_entry(&df, i, BIAS + want[i], 0x10, 1);
	assert_int_equal(df.size, df.table_off + 4 * 8 + 8);
	for (size_t i = df.size - 8; i < df.size; i++)
		assert_int_equal(df.image[i], 0); /* not the entry dropped */
	fgt_debugframe_free(&df);
}

static void test_a_cut_section_keeps_what_came_before(void **state)
{
	(void)state;
	struct sec s = {0};
	size_t cie = add_cie(&s, 1, "", 0);
	add_fde(&s, cie, 0x1000, 0x10);
	size_t last = add_fde(&s, cie, 0x1100, 0x10);
	struct fgt_debugframe df;
	/* The last FDE runs past the end of the section. */
	assert_int_equal(fgt_debugframe_convert(s.b, last + 10, BIAS, START, END, &df),
			 0);
	assert_int_equal(df.n_entries, 1);
	check_entry(&df, 0, BIAS + 0x1000, 0x10, 1);
	fgt_debugframe_free(&df);
	/* A length beyond the section ends the walk. */
	uint32_t huge = 0x7fffff00u;
	memcpy(s.b + last, &huge, 4);
	assert_int_equal(fgt_debugframe_convert(s.b, s.n, BIAS, START, END, &df), 0);
	assert_int_equal(df.n_entries, 1);
	fgt_debugframe_free(&df);
}

static void test_nothing_to_convert(void **state)
{
	(void)state;
	struct sec s = {0};
	struct fgt_debugframe df;
	assert_int_equal(fgt_debugframe_convert(s.b, 0, BIAS, START, END, &df), -ENOENT);
	assert_null(df.image);
	size_t cie = add_cie(&s, 1, "", 0);
	assert_int_equal(fgt_debugframe_convert(s.b, s.n, BIAS, START, END, &df),
			 -ENOENT);
	add_fde(&s, cie, 0x5000, 0x10); /* outside the module */
	assert_int_equal(fgt_debugframe_convert(s.b, s.n, BIAS, START, END, &df),
			 -ENOENT);
	assert_null(df.image);
}

/* ---- .eh_frame without its search table ---- */

#define EH_ADDR	     (BIAS + 0x2000) /* where the .eh_frame section is loaded */
#define PCREL_SDATA4 0x1b

/* Appends an .eh_frame CIE, version 1, with augmentation "zR" (FDE pointers
 * in fde_enc) or "zPLR" (also a personality routine and LSDA pointers). */
static size_t add_eh_cie(struct sec *s, bool plr, uint8_t fde_enc)
{
	size_t at = s->n;
	put32(s, 0); /* length, set below */
	put32(s, 0); /* .eh_frame's CIE id */
	put8(s, 1);
	const char *aug = plr ? "zPLR" : "zR";
	put(s, aug, strlen(aug) + 1);
	put8(s, 1);
	put8(s, 0x78);
	put8(s, 16);
	if (plr) {
		put8(s, 7);    /* augmentation data: */
		put8(s, 0x03); /* personality: udata4 */
		put32(s, 0x401234);
		put8(s, 0x1b); /* LSDA: pc-relative sdata4 */
		put8(s, fde_enc);
	} else {
		put8(s, 1);
		put8(s, fde_enc);
	}
	put(s, CIE_INSNS, sizeof(CIE_INSNS));
	uint32_t len = (uint32_t)(s->n - at - 4);
	memcpy(s->b + at, &len, 4);
	return at;
}

/* Appends an .eh_frame FDE of the CIE at cie for [pc, pc + range), its start
 * pc-relative (sdata4), with an LSDA pointer when lsda. */
static size_t add_eh_fde(struct sec *s, size_t cie, uint64_t pc, uint32_t range,
			 bool lsda)
{
	size_t at = s->n;
	put32(s, 0); /* length, set below */
	put32(s, (uint32_t)(at + 4 - cie));
	put32(s, (uint32_t)(int32_t)(pc - (EH_ADDR + s->n)));
	put32(s, range);
	put8(s, lsda ? 4 : 0);
	if (lsda)
		put32(s, 0x100);
	put(s, FDE_INSNS, sizeof(FDE_INSNS));
	uint32_t len = (uint32_t)(s->n - at - 4);
	memcpy(s->b + at, &len, 4);
	return at;
}

static void test_eh_frame_entries_are_made_absolute(void **state)
{
	(void)state;
	struct sec s = {0};
	size_t zr = add_eh_cie(&s, false, PCREL_SDATA4);
	add_eh_fde(&s, zr, START + 0x100, 0x30, false);
	size_t plr = add_eh_cie(&s, true, PCREL_SDATA4);
	add_eh_fde(&s, plr, START, 0x80, true);
	put32(&s, 0); /* the terminator */
	struct fgt_debugframe df;
	assert_int_equal(fgt_ehframe_convert(s.b, s.n, EH_ADDR, START, END, &df), 0);
	assert_int_equal(df.n_entries, 2);
	/* Sorted by start, each FDE with its pc made absolute, the augmentation
	 * data of CIE and FDE dropped. */
	check_entry(&df, 0, START, 0x80, 1);
	check_entry(&df, 1, START + 0x100, 0x30, 1);
	fgt_debugframe_free(&df);
}

static void test_eh_frame_entries_that_cannot_be_read_are_left_out(void **state)
{
	(void)state;
	struct sec s = {0};
	size_t datarel = add_eh_cie(&s, false, 0x3b); /* data-relative: refused */
	add_eh_fde(&s, datarel, START, 0x10, false);
	size_t ok = add_eh_cie(&s, false, PCREL_SDATA4);
	add_eh_fde(&s, ok, END + 0x100, 0x10, false); /* outside the module */
	struct fgt_debugframe df;
	assert_int_equal(fgt_ehframe_convert(s.b, s.n, EH_ADDR, START, END, &df),
			 -ENOENT);
	assert_null(df.image);
	add_eh_fde(&s, ok, START + 0x40, 0x10, false);
	assert_int_equal(fgt_ehframe_convert(s.b, s.n, EH_ADDR, START, END, &df), 0);
	assert_int_equal(df.n_entries, 1);
	check_entry(&df, 0, START + 0x40, 0x10, 1);
	fgt_debugframe_free(&df);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cies_and_fdes_take_eh_frame_form),
	    cmocka_unit_test(test_a_cie_after_its_fde_is_found),
	    cmocka_unit_test(test_version_4_cies_read_as_version_3),
	    cmocka_unit_test(test_entries_that_cannot_be_used_are_left_out),
	    cmocka_unit_test(test_the_table_is_sorted_with_one_fde_per_start),
	    cmocka_unit_test(test_a_cut_section_keeps_what_came_before),
	    cmocka_unit_test(test_nothing_to_convert),
	    cmocka_unit_test(test_eh_frame_entries_are_made_absolute),
	    cmocka_unit_test(test_eh_frame_entries_that_cannot_be_read_are_left_out),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
