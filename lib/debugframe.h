/* fgtrace — a module's .debug_frame, recast as .eh_frame for libunwind.
 *
 * Some code has its call frame information only in .debug_frame, not in an
 * .eh_frame that the loader maps: Go binaries, and C built with
 * -fno-asynchronous-unwind-tables -g. Debian's libunwind reads .eh_frame
 * only, and without the table it guesses from the frame pointer, which code
 * that uses rbp as a general register (Go's crypto assembly, say) breaks.
 *
 * The two sections hold the same entries in slightly different forms, so the
 * converter rewrites them: CIE ids of 0, FDE-to-CIE pointers relative to the
 * pointer itself, version 4 CIEs as version 3 (without their address and
 * segment sizes), each FDE's start moved by the module's load bias. It also
 * builds the sorted search table that libunwind's remote table lookup
 * (UNW_INFO_FORMAT_IP_OFFSET) expects: pairs of int32 (function start
 * minus the module's start, FDE offset in the image).
 *
 * Converted: 32-bit DWARF entries of 8-byte addresses whose CIE has an empty
 * augmentation, versions 1, 3 and 4. Other entries, and FDEs of functions
 * outside the module, are left out. Pure: no I/O, no globals.
 */
#ifndef FGT_DEBUGFRAME_H
#define FGT_DEBUGFRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct fgt_debugframe {
	uint8_t *image;	  /* .eh_frame-format entries, then the table (8-aligned) */
	size_t size;	  /* bytes of image, with 8 bytes of zero padding at the end */
	size_t table_off; /* where the table starts in image */
	size_t n_entries; /* table entries (8 bytes each) */
};

/* A module's .debug_frame as found in its files: data[0..len) is borrowed
 * from whoever found it. The module is mapped at [start, end); its
 * addresses are its files' plus bias. */
#define FGT_DF_MAX_SWITCHES 16

struct fgt_range {
	uint64_t lo, hi; /* [lo, hi) */
};

struct fgt_debugframe_src {
	const uint8_t *data;
	size_t len;
	uint64_t bias;
	/* data is the module's .eh_frame, loaded at run-time address eh_addr,
	 * not its .debug_frame: see fgt_ehframe_convert */
	bool eh;
	uint64_t eh_addr;
	uint64_t start, end;
	/* Functions (run-time address ranges) that switch to another stack
	 * without saying so in their CFI: Go's runtime.mcall and the like. A
	 * stack's chain ends at them. */
	struct fgt_range switches[FGT_DF_MAX_SWITCHES];
	size_t n_switches;
};

/* Converts the .debug_frame bytes sec[0..len) of a module mapped at
 * [start, end), whose addresses are its link-time ones plus bias. Returns 0,
 * -ENOENT when no FDE of the module could be converted, or -ENOMEM. On
 * success the caller owns out->image: release it with fgt_debugframe_free. */
int fgt_debugframe_convert(const uint8_t *sec, size_t len, uint64_t bias, uint64_t start,
			   uint64_t end, struct fgt_debugframe *out);
void fgt_debugframe_free(struct fgt_debugframe *df);

/* The same for a module's .eh_frame, when the module has no search table for
 * it (no PT_GNU_EH_FRAME: a static executable that gcc linked without
 * --eh-frame-hdr, as it does for -static). sec[0..len) is the section as
 * loaded at run-time address addr. Augmentations "z" with R, P, L and S are
 * read and dropped (libunwind needs none of them to step); pointers may be
 * absolute or pc-relative. The result has the same form as
 * fgt_debugframe_convert's, and the same returns. */
int fgt_ehframe_convert(const uint8_t *sec, size_t len, uint64_t addr, uint64_t start,
			uint64_t end, struct fgt_debugframe *out);

#endif
