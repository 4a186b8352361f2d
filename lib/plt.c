/* fgtrace — naming the stubs of an x86-64 ELF file's procedure linkage table. */
#include "plt.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct fgt_plt {
	size_t n;
	struct fgt_plt_stub stubs[]; /* by start; their names follow the array */
};

/* A GOT slot that a stub may jump through, and what binds it. */
struct slot {
	uint64_t got;
	const char *name; /* into elf's string table, or NULL (IRELATIVE) */
	uint64_t target;
};

struct vec {
	void *v;
	size_t n, cap, elem;
};

static void *vec_push(struct vec *a)
{
	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 64;
		void *v = realloc(a->v, cap * a->elem);
		if (!v)
			return NULL;
		a->v = v;
		a->cap = cap;
	}
	return (char *)a->v + a->elem * a->n++;
}

static int by_got(const void *a, const void *b)
{
	const struct slot *x = a, *y = b;
	return x->got < y->got ? -1 : x->got > y->got;
}

static int by_start(const void *a, const void *b)
{
	const struct fgt_plt_stub *x = a, *y = b;
	return x->start < y->start ? -1 : x->start > y->start;
}

/* The slots of one relocation section that name a function or an IFUNC
 * resolver: R_X86_64_JUMP_SLOT (.rela.plt), R_X86_64_GLOB_DAT (.rela.dyn,
 * for .plt.got) and R_X86_64_IRELATIVE. */
static int read_relocs(Elf *elf, Elf_Scn *scn, const GElf_Shdr *sh, struct vec *slots)
{
	Elf_Scn *symscn = elf_getscn(elf, sh->sh_link);
	GElf_Shdr symsh;
	Elf_Data *data = elf_getdata(scn, NULL);
	if (!symscn || !gelf_getshdr(symscn, &symsh) || symsh.sh_type != SHT_DYNSYM ||
	    !data || sh->sh_entsize == 0)
		return 0;
	Elf_Data *syms = elf_getdata(symscn, NULL);
	for (size_t i = 0; i < sh->sh_size / sh->sh_entsize; i++) {
		GElf_Rela r;
		GElf_Sym sym;
		if (!gelf_getrela(data, (int)i, &r))
			break;
		unsigned type = (unsigned)GELF_R_TYPE(r.r_info);
		const char *name = NULL;
		if (type == R_X86_64_JUMP_SLOT || type == R_X86_64_GLOB_DAT) {
			if (!syms || !gelf_getsym(syms, (int)GELF_R_SYM(r.r_info), &sym))
				continue;
			name = elf_strptr(elf, symsh.sh_link, sym.st_name);
			if (!name || !*name)
				continue;
		} else if (type != R_X86_64_IRELATIVE) {
			continue;
		}
		struct slot *s = vec_push(slots);
		if (!s)
			return -ENOMEM;
		*s = (struct slot){r.r_offset, name, (uint64_t)r.r_addend};
	}
	return 0;
}

/* The GOT slot that the stub at addr jumps through: the target of its
 * "jmp *disp32(%rip)" (ff 25), alone or after endbr64 and/or a bnd prefix. */
static bool stub_slot(const unsigned char *p, size_t len, uint64_t addr, uint64_t *slot)
{
	static const unsigned char endbr64[4] = {0xf3, 0x0f, 0x1e, 0xfa};
	static const size_t at[] = {0, 1, 4, 5};
	for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
		size_t k = at[i];
		if (k + 6 > len)
			break;
		if (p[k] != 0xff || p[k + 1] != 0x25)
			continue;
		if ((k == 1 || k == 5) && p[k - 1] != 0xf2)
			continue;
		if (k >= 4 && memcmp(p, endbr64, sizeof(endbr64)) != 0)
			continue;
		int32_t disp;
		memcpy(&disp, p + k + 2, sizeof(disp));
		*slot = addr + k + 6 + (uint64_t)(int64_t)disp;
		return true;
	}
	return false;
}

/* The stubs of one PLT section whose slot is in slots (sorted). */
static int read_stubs(Elf_Scn *scn, const GElf_Shdr *sh, const struct vec *slots,
		      struct vec *stubs, size_t *name_bytes)
{
	Elf_Data *data = elf_getdata(scn, NULL);
	if (!data || !data->d_buf || data->d_size < sh->sh_size)
		return 0;
	uint64_t step = sh->sh_entsize >= 8 && sh->sh_entsize <= 32 ? sh->sh_entsize : 16;
	for (uint64_t off = 0; off + step <= sh->sh_size; off += step) {
		struct slot key = {0};
		if (!stub_slot((const unsigned char *)data->d_buf + off, step,
			       sh->sh_addr + off, &key.got))
			continue;
		const struct slot *s =
		    bsearch(&key, slots->v, slots->n, sizeof(struct slot), by_got);
		if (!s)
			continue;
		struct fgt_plt_stub *st = vec_push(stubs);
		if (!st)
			return -ENOMEM;
		*st = (struct fgt_plt_stub){sh->sh_addr + off, step, s->got, s->name,
					    s->target};
		if (s->name)
			*name_bytes += strlen(s->name) + 1;
	}
	return 0;
}

static const char *scn_name(Elf *elf, size_t shstrndx, const GElf_Shdr *sh)
{
	const char *name = elf_strptr(elf, shstrndx, sh->sh_name);
	return name ? name : "";
}

/* Copies the stubs into one allocation, names and all. */
static struct fgt_plt *pack(struct vec *stubs, size_t name_bytes)
{
	struct fgt_plt *p =
	    malloc(sizeof(*p) + stubs->n * sizeof(p->stubs[0]) + name_bytes);
	if (!p)
		return NULL;
	p->n = stubs->n;
	if (p->n)
		memcpy(p->stubs, stubs->v, p->n * sizeof(p->stubs[0]));
	char *names = (char *)(p->stubs + p->n);
	for (size_t i = 0; i < p->n; i++) {
		if (!p->stubs[i].name)
			continue;
		size_t len = strlen(p->stubs[i].name) + 1;
		memcpy(names, p->stubs[i].name, len);
		p->stubs[i].name = names;
		names += len;
	}
	qsort(p->stubs, p->n, sizeof(p->stubs[0]), by_start);
	return p;
}

int fgt_plt_read(Elf *elf, struct fgt_plt **out)
{
	struct vec slots = {.elem = sizeof(struct slot)};
	struct vec stubs = {.elem = sizeof(struct fgt_plt_stub)};
	size_t name_bytes = 0, shstrndx;
	int rc = 0;
	GElf_Ehdr eh;
	bool ok = elf && gelf_getehdr(elf, &eh) && eh.e_machine == EM_X86_64 &&
		  elf_getshdrstrndx(elf, &shstrndx) == 0;
	GElf_Shdr sh;
	for (Elf_Scn *scn = NULL; ok && rc == 0 && (scn = elf_nextscn(elf, scn));)
		if (gelf_getshdr(scn, &sh) && sh.sh_type == SHT_RELA)
			rc = read_relocs(elf, scn, &sh, &slots);
	if (slots.n)
		qsort(slots.v, slots.n, sizeof(struct slot), by_got);
	for (Elf_Scn *scn = NULL; slots.n && rc == 0 && (scn = elf_nextscn(elf, scn));) {
		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_PROGBITS ||
		    !(sh.sh_flags & SHF_EXECINSTR))
			continue;
		const char *name = scn_name(elf, shstrndx, &sh);
		if (strcmp(name, ".plt") == 0 || strcmp(name, ".plt.sec") == 0 ||
		    strcmp(name, ".plt.got") == 0)
			rc = read_stubs(scn, &sh, &slots, &stubs, &name_bytes);
	}
	*out = rc == 0 ? pack(&stubs, name_bytes) : NULL;
	if (rc == 0 && !*out)
		rc = -ENOMEM;
	free(slots.v);
	free(stubs.v);
	return rc;
}

void fgt_plt_free(struct fgt_plt *p)
{
	free(p);
}

static int in_stub(const void *key, const void *elem)
{
	uint64_t addr = *(const uint64_t *)key;
	const struct fgt_plt_stub *st = elem;
	return addr < st->start ? -1 : addr - st->start >= st->size;
}

const struct fgt_plt_stub *fgt_plt_find(const struct fgt_plt *p, uint64_t addr)
{
	return p ? bsearch(&addr, p->stubs, p->n, sizeof(p->stubs[0]), in_stub) : NULL;
}

size_t fgt_plt_size(const struct fgt_plt *p)
{
	return p ? p->n : 0;
}
