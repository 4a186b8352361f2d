/* fgtrace — naming the stubs of an x86-64 ELF file's procedure linkage table.
 *
 * A call into another module goes through a stub in .plt (or .plt.sec when
 * the file was built for IBT, or .plt.got) that jumps through a GOT slot. No
 * symbol table names the stubs; like objdump and perf, fgtrace names each one
 * after the relocation of its slot: "puts@plt". A pc in a stub is common in
 * a tight loop of library calls.
 *
 * The table is read once per file from its section headers, dynamic
 * relocations and dynamic symbols (all kept by strip). Addresses are the
 * file's own (link-time) addresses: subtract the module's load bias first.
 */
#ifndef FGT_PLT_H
#define FGT_PLT_H

#include <gelf.h>
#include <stddef.h>
#include <stdint.h>

struct fgt_plt_stub {
	uint64_t start; /* file address of the stub */
	uint64_t size;
	uint64_t slot; /* file address of the GOT slot it jumps through */
	/* The symbol its slot is bound to ("puts"), or NULL for an
	 * R_X86_64_IRELATIVE slot, whose resolver is at target. */
	const char *name;
	uint64_t target;
};

struct fgt_plt; /* owns its stubs and their names */

/* Reads elf's stubs into *out: an empty table when it has none, and when elf
 * is NULL or not an x86-64 file. The table does not refer to elf once read;
 * it is one allocation (fgt_plt_free is free). Returns 0, or -ENOMEM. */
int fgt_plt_read(Elf *elf, struct fgt_plt **out);
void fgt_plt_free(struct fgt_plt *p);

/* The stub that holds file address addr, or NULL. Valid while p is. */
const struct fgt_plt_stub *fgt_plt_find(const struct fgt_plt *p, uint64_t addr);

/* Stubs in the table. */
size_t fgt_plt_size(const struct fgt_plt *p);

#endif
