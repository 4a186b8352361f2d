/* fgtrace — unwinding a copied stack with libunwind's remote API. */
#include "unwind.h"
#include "config.h"
#include "hashmap.h"
#include "procfs.h"
#include "unwmemo.h"
#include "x86call.h"

#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <libunwind-ptrace.h>
#include <libunwind.h>
#include <sys/syscall.h>
#include <stdlib.h>
#include <inttypes.h>
#include <string.h>
#include <sys/uio.h>

#define PAGE	   4096ul
#define PAGE_CACHE 256 /* direct-mapped pages of code-module memory */

/* x86-64 user addresses are below this; anything else is garbage from a
 * corrupt frame and must not cost a syscall. */
#define USER_LIMIT 0x0000800000000000ull
#define MAX_TABLES 1024 /* modules with an unwind table in memory */
/* Converted .debug_frame tables live at made-up addresses that no user
 * address can be (non-canonical on x86-64), one 2^40-byte window each, and
 * access_mem serves them from our memory. */
#define DF_BASE	       0x4000000000000000ull
#define DF_SHIFT       40
#define MAX_DF_MODULES 256

struct cached_page {
	uint64_t addr; /* page address, or 0 when empty */
	bool readable; /* false: the read failed, and fails again */
	uint8_t data[PAGE];
};

/* A module's .debug_frame, converted (debugframe.h), or a module known to
 * have none (df.image NULL). */
struct df_module {
	uint64_t start, end;
	struct fgt_debugframe df;
	unw_dyn_info_t di;
	struct fgt_range switches[FGT_DF_MAX_SWITCHES]; /* see fgt_debugframe_src */
	size_t n_switches;
};

struct fgt_unwinder {
	pid_t pid;
	pid_t via;    /* the task whose memory and maps are read: pid, or a
		       * thread of it once the leader has none (see move_via) */
	pid_t thread; /* the thread being unwound */
	unw_addr_space_t as;
	void *upt; /* _UPT handle: libunwind's own proc-info lookup */
	fgt_is_code_fn is_code;
	void *ctx;
	const struct fgt_snapshot *snap; /* the copy being unwound */
	uint64_t highest;		 /* highest stack address read */
	struct cached_page *pages;
	struct fgt_hashmap no_info; /* pcs libunwind has no unwind info for */
	struct {
		unw_dyn_info_t di;
	} tables[MAX_TABLES]; /* unwind tables in memory, by address */
	size_t n_tables;
	bool tables_stale; /* the modules changed: find the tables again */
	fgt_debug_frame_fn debug_frame;
	void *debug_frame_ctx;
	struct df_module dfs[MAX_DF_MODULES];
	size_t n_dfs;
	struct fgt_memo_table memos;
	struct fgt_memo_log log;    /* what this unwind read */
	struct fgt_memo_frame *rec; /* this unwind's frames, FGT_MAX_FRAMES + 1 */
	struct fgt_frame_pc *alt;   /* another unwind's frames, FGT_MAX_FRAMES + 1 */
	bool step_failed;	    /* this unwind ended on a step that failed */
	uint64_t last_sp;	    /* ... the sp of the frame it failed to leave */
	uint32_t frame;		    /* the frame being stepped out of */
	bool quiet;		    /* reads for our records: not the unwinder's */
	struct fgt_unwind_stats stats;
};

/* libunwind's _UPT_find_proc_info calls the accessors with its own argument,
 * not ours, so the unwinder in use is kept here (worker thread only). */
static struct fgt_unwinder *current;

/* The process is read through its leader, until the leader exits alone
 * (pthread_exit): it is then a zombie with no memory and empty maps while
 * the other threads run on. It is read through the thread being unwound from
 * then on (or another, when that is the leader), and through the next one
 * when that one ends. Returns true when it moved. */
static bool move_via(struct fgt_unwinder *u)
{
	pid_t to = u->thread != u->via ? u->thread : 0;
	pid_t *tids;
	size_t n;
	/* The thread unwound is the one with no memory (the leader's own
	 * samples, taken before it left): any other thread of the process. */
	if (!to && fgt_procfs_list_tasks(u->pid, &tids, &n) == 0) {
		for (size_t i = 0; i < n && !to; i++)
			if (tids[i] != u->via && tids[i] != u->pid)
				to = tids[i];
		free(tids);
	}
	if (!to)
		return false;
	u->via = to;
	/* _UPT reads the maps of the task it was made for. */
	void *upt = _UPT_create(u->via);
	if (upt) {
		_UPT_destroy(u->upt);
		u->upt = upt;
	}
	return true;
}

static bool vm_read(struct fgt_unwinder *u, uint64_t addr, void *buf, size_t len)
{
	struct iovec l = {buf, len}, r = {(void *)addr, len};
	u->stats.remote_reads++;
	ssize_t n = process_vm_readv(u->via, &l, 1, &r, 1, 0);
	if (n < 0 && errno == ESRCH && move_via(u))
		n = process_vm_readv(u->via, &l, 1, &r, 1, 0);
	return n == (ssize_t)len;
}

static int read_code(struct fgt_unwinder *u, uint64_t addr, unw_word_t *val)
{
	uint64_t page = addr & ~(PAGE - 1);
	size_t off = addr - page;
	if (off + sizeof(*val) > PAGE) {
		/* Straddles two pages: read directly. */
		return vm_read(u, addr, val, sizeof(*val)) ? 0 : -1;
	}
	struct cached_page *c = &u->pages[(page / PAGE) % PAGE_CACHE];
	if (c->addr != page) {
		c->readable = vm_read(u, page, c->data, PAGE);
		c->addr = page;
	} else {
		u->stats.page_hits++;
	}
	if (!c->readable)
		return -1;
	memcpy(val, c->data + off, sizeof(*val));
	return 0;
}

/* True when [addr, addr + len) lies in the stack copy of s. Written so that
 * nothing wraps: a corrupt frame can hand libunwind an address next to 2^64. */
static bool in_copy(const struct fgt_snapshot *s, uint64_t addr, size_t len)
{
	return addr >= s->stack_addr && addr - s->stack_addr <= s->stack_len &&
	       s->stack_len - (addr - s->stack_addr) >= len;
}

static int access_mem(unw_addr_space_t as, unw_word_t addr, unw_word_t *val, int write,
		      void *arg)
{
	(void)as;
	(void)arg;
	struct fgt_unwinder *u = current;
	if (write || !u)
		return -UNW_EINVAL;
	const struct fgt_snapshot *s = u->snap;
	if (s && in_copy(s, addr, sizeof(*val))) {
		memcpy(val, s->stack + (addr - s->stack_addr), sizeof(*val));
		if (u->quiet)
			return 0;
		if (addr + sizeof(*val) > u->highest)
			u->highest = addr + sizeof(*val);
		fgt_memo_log_read(&u->log, u->frame, addr, *val, true);
		return 0;
	}
	/* Converted tables and code-module memory do not change: not logged. */
	if (addr >= DF_BASE) {
		size_t i = (size_t)((addr - DF_BASE) >> DF_SHIFT);
		uint64_t off = (addr - DF_BASE) & ((1ull << DF_SHIFT) - 1);
		if (i >= u->n_dfs || !u->dfs[i].df.image ||
		    off + sizeof(*val) > u->dfs[i].df.size)
			return -UNW_EINVAL;
		memcpy(val, u->dfs[i].df.image + off, sizeof(*val));
		return 0;
	}
	if (addr < USER_LIMIT && u->is_code(u->ctx, addr, false) &&
	    read_code(u, addr, val) == 0)
		return 0;
	if (!u->quiet)
		fgt_memo_log_read(&u->log, u->frame, addr, 0, false);
	return -UNW_EINVAL;
}

static int reg_offset(unw_regnum_t reg)
{
	switch (reg) {
#define R(unw, field)                                                                    \
	case unw:                                                                        \
		return (int)offsetof(struct user_regs_struct, field)
		R(UNW_X86_64_RAX, rax);
		R(UNW_X86_64_RDX, rdx);
		R(UNW_X86_64_RCX, rcx);
		R(UNW_X86_64_RBX, rbx);
		R(UNW_X86_64_RSI, rsi);
		R(UNW_X86_64_RDI, rdi);
		R(UNW_X86_64_RBP, rbp);
		R(UNW_X86_64_RSP, rsp);
		R(UNW_X86_64_R8, r8);
		R(UNW_X86_64_R9, r9);
		R(UNW_X86_64_R10, r10);
		R(UNW_X86_64_R11, r11);
		R(UNW_X86_64_R12, r12);
		R(UNW_X86_64_R13, r13);
		R(UNW_X86_64_R14, r14);
		R(UNW_X86_64_R15, r15);
		R(UNW_X86_64_RIP, rip);
#undef R
	default:
		return -1;
	}
}

static int access_reg(unw_addr_space_t as, unw_regnum_t reg, unw_word_t *val, int write,
		      void *arg)
{
	(void)as;
	(void)arg;
	struct fgt_unwinder *u = current;
	int off = reg_offset(reg);
	if (write || !u || !u->snap || off < 0)
		return -UNW_EBADREG;
	memcpy(val, (const char *)&u->snap->regs + off, sizeof(*val));
	if (!u->quiet)
		fgt_memo_log_reg(&u->log, u->frame, reg);
	return 0;
}

static int access_fpreg(unw_addr_space_t as, unw_regnum_t reg, unw_fpreg_t *val,
			int write, void *arg)
{
	(void)as, (void)reg, (void)val, (void)write, (void)arg;
	return -UNW_EBADREG;
}

static int resume(unw_addr_space_t as, unw_cursor_t *c, void *arg)
{
	(void)as, (void)c, (void)arg;
	return -UNW_EINVAL;
}

/* libunwind's remote table search: exported, but not in its headers. */
extern int _Ux86_64_dwarf_search_unwind_table(unw_addr_space_t as, unw_word_t ip,
					      unw_dyn_info_t *di, unw_proc_info_t *pi,
					      int need_unwind_info, void *arg);

static bool read_remote(pid_t pid, uint64_t addr, void *buf, size_t len)
{
	struct iovec l = {buf, len}, r = {(void *)addr, len};
	return process_vm_readv(pid, &l, 1, &r, 1, 0) == (ssize_t)len;
}

/* Reads the .eh_frame_hdr binary-search table of the ELF image loaded at
 * base, from the target's memory, as libunwind reads a file's. Returns true
 * and fills di (covering [start, end)) when it has one in the usual format. */
static bool read_table(pid_t pid, uint64_t base, uint64_t start, uint64_t end,
		       unw_dyn_info_t *di)
{
	Elf64_Ehdr eh;
	if (!read_remote(pid, base, &eh, sizeof(eh)) ||
	    memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_phnum > 64 ||
	    eh.e_phentsize != sizeof(Elf64_Phdr))
		return false;
	Elf64_Phdr ph[64];
	if (!read_remote(pid, base + eh.e_phoff, ph, eh.e_phnum * sizeof(ph[0])))
		return false;
	uint64_t bias = base, hdr = 0;
	for (int i = 0; i < eh.e_phnum; i++) {
		if (ph[i].p_type == PT_LOAD && ph[i].p_offset == 0)
			bias = base - ph[i].p_vaddr;
		if (ph[i].p_type == PT_GNU_EH_FRAME)
			hdr = ph[i].p_vaddr;
	}
	unsigned char h[12];
	if (!hdr || !read_remote(pid, bias + hdr, h, sizeof(h)))
		return false;
	/* version 1; eh_frame_ptr pcrel|sdata4; fde_count udata4; table
	 * datarel|sdata4: what the usual linkers write. */
	if (h[0] != 1 || h[1] != 0x1b || h[2] != 0x03 || h[3] != 0x3b)
		return false;
	uint32_t count;
	memcpy(&count, h + 8, sizeof(count));
	memset(di, 0, sizeof(*di));
	di->format = UNW_INFO_FORMAT_REMOTE_TABLE;
	di->start_ip = start;
	di->end_ip = end;
	di->u.rti.segbase = bias + hdr;
	di->u.rti.table_data = bias + hdr + 12;
	di->u.rti.table_len = count * 8 / sizeof(unw_word_t);
	return true;
}

/* Finds the unwind table of every module in the target's memory: the files
 * as they were mapped, even if deleted or replaced since, or only visible in
 * another mount namespace, and the vdso, which has no file at all. */
static void scan_tables(struct fgt_unwinder *u)
{
	char path[64];
	char *line = NULL;
	size_t cap = 0;
	u->n_tables = 0;
	u->tables_stale = false;
	snprintf(path, sizeof(path), "/proc/%d/maps", u->via);
	FILE *f = fopen(path, "re");
	if (!f)
		return;
	uint64_t base = 0, start = 0, end = 0, inode = 0;
	char *name = NULL;
	for (bool more = true; more;) {
		struct fgt_map m;
		more = getline(&line, &cap, f) >= 0;
		bool parsed = more && fgt_procfs_parse_maps_line(line, &m) == 0;
		/* Mappings of one file follow each other; its first maps offset 0. */
		if (parsed && name && m.inode == inode && strcmp(m.path, name) == 0) {
			end = m.end;
			continue;
		}
		if (name && u->n_tables < MAX_TABLES &&
		    read_table(u->via, base, start, end, &u->tables[u->n_tables].di))
			u->n_tables++;
		free(name);
		name = NULL;
		if (parsed && m.offset == 0 && m.path[0] &&
		    (m.path[0] == '/' || strcmp(m.path, "[vdso]") == 0)) {
			name = strdup(m.path);
			base = start = m.start;
			end = m.end;
			inode = m.inode;
		}
	}
	free(name);
	free(line);
	fclose(f);
}

static void find_tables(struct fgt_unwinder *u)
{
	scan_tables(u);
	if (u->n_tables == 0 && move_via(u)) /* a leader with empty maps */
		scan_tables(u);
}

static const unw_dyn_info_t *table_for(struct fgt_unwinder *u, uint64_t ip)
{
	if (u->tables_stale)
		find_tables(u);
	size_t lo = 0, hi = u->n_tables;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		const unw_dyn_info_t *di = &u->tables[mid].di;
		if (ip < di->start_ip)
			hi = mid;
		else if (ip >= di->end_ip)
			lo = mid + 1;
		else
			return di;
	}
	return NULL;
}

static void drop_debug_frames(struct fgt_unwinder *u)
{
	bool had = false;
	for (size_t i = 0; i < u->n_dfs; i++) {
		had = had || u->dfs[i].df.image;
		fgt_debugframe_free(&u->dfs[i].df);
	}
	u->n_dfs = 0;
	/* A cached rule may hold the address of a DWARF expression in a
	 * window that another module's table takes next. */
	if (had && u->as)
		unw_flush_cache(u->as, 0, 0);
}

/* The converted .debug_frame table of the module that holds ip, converting
 * it the first time; NULL when it has none. */
static const unw_dyn_info_t *debug_frame_for(struct fgt_unwinder *u, uint64_t ip)
{
	for (size_t i = 0; i < u->n_dfs; i++) {
		struct df_module *m = &u->dfs[i];
		if (ip >= m->start && ip < m->end)
			return m->df.image ? &m->di : NULL;
	}
	struct fgt_debugframe_src src = {0};
	if (!u->debug_frame || u->n_dfs == MAX_DF_MODULES)
		return NULL;
	int rc = u->debug_frame(u->debug_frame_ctx, ip, &src);
	if (src.start >= src.end || ip < src.start || ip >= src.end)
		return NULL; /* in no module: nothing to remember */
	struct df_module *m = &u->dfs[u->n_dfs++];
	memset(m, 0, sizeof(*m));
	m->start = src.start;
	m->end = src.end;
	m->n_switches =
	    src.n_switches < FGT_DF_MAX_SWITCHES ? src.n_switches : FGT_DF_MAX_SWITCHES;
	memcpy(m->switches, src.switches, sizeof(m->switches));
	if (rc < 0 ||
	    (src.eh ? fgt_ehframe_convert(src.data, src.len, src.eh_addr, src.start,
					  src.end, &m->df)
		    : fgt_debugframe_convert(src.data, src.len, src.bias, src.start,
					     src.end, &m->df)) < 0)
		return NULL;
	uint64_t base = DF_BASE + ((uint64_t)(m - u->dfs) << DF_SHIFT);
	m->di.format = UNW_INFO_FORMAT_IP_OFFSET;
	m->di.start_ip = m->start;
	m->di.end_ip = m->end;
	m->di.u.rti.segbase = base;
	m->di.u.rti.table_data = base + m->df.table_off;
	m->di.u.rti.table_len = m->df.n_entries * 8 / sizeof(unw_word_t);
	return &m->di;
}

void fgt_unwinder_set_debug_frame(struct fgt_unwinder *u, fgt_debug_frame_fn fn,
				  void *ctx)
{
	u->debug_frame = fn;
	u->debug_frame_ctx = ctx;
	drop_debug_frames(u);
}

static int find_proc_info(unw_addr_space_t as, unw_word_t ip, unw_proc_info_t *pi,
			  int need_unwind_info, void *arg)
{
	(void)arg;
	struct fgt_unwinder *u = current;
	if (!u)
		return -UNW_EINVAL;
	/* libunwind caches what it found, not what it did not: without this, a
	 * pc with no unwind info (such as _start, the root of every main-thread
	 * stack) re-reads the maps and re-maps the ELF file on every sample. */
	if (fgt_hashmap_get(&u->no_info, ip))
		return -UNW_ENOINFO;
	/* The table in memory first; then the module's .debug_frame; then
	 * libunwind's own lookup, which reads the file by its path in our
	 * namespace. */
	const unw_dyn_info_t *di = table_for(u, ip);
	int rc = di ? _Ux86_64_dwarf_search_unwind_table(as, ip, (unw_dyn_info_t *)di, pi,
							 need_unwind_info, u->upt)
		    : -UNW_ENOINFO;
	if (rc >= 0)
		return rc;
	di = debug_frame_for(u, ip);
	rc = di ? _Ux86_64_dwarf_search_unwind_table(as, ip, (unw_dyn_info_t *)di, pi,
						     need_unwind_info, u->upt)
		: -UNW_ENOINFO;
	if (rc >= 0)
		return rc;
	rc = _UPT_find_proc_info(as, ip, pi, need_unwind_info, u->upt);
	if (rc == -UNW_ENOINFO)
		fgt_hashmap_put(&u->no_info, ip, u);
	return rc;
}

static void put_unwind_info(unw_addr_space_t as, unw_proc_info_t *pi, void *arg)
{
	(void)arg;
	if (current)
		_UPT_put_unwind_info(as, pi, current->upt);
}

static int get_dyn_info_list_addr(unw_addr_space_t as, unw_word_t *dil, void *arg)
{
	(void)arg;
	return current ? _UPT_get_dyn_info_list_addr(as, dil, current->upt)
		       : -UNW_ENOINFO;
}

static int get_proc_name(unw_addr_space_t as, unw_word_t addr, char *buf, size_t len,
			 unw_word_t *offp, void *arg)
{
	(void)as, (void)addr, (void)buf, (void)len, (void)offp, (void)arg;
	return -UNW_ENOINFO; /* names come from libdw */
}

static unw_accessors_t accessors = {
    .find_proc_info = find_proc_info,
    .put_unwind_info = put_unwind_info,
    .get_dyn_info_list_addr = get_dyn_info_list_addr,
    .access_mem = access_mem,
    .access_reg = access_reg,
    .access_fpreg = access_fpreg,
    .resume = resume,
    .get_proc_name = get_proc_name,
};

bool fgt_unwinder_func_start(void *unwinder, uint64_t pc, uint64_t *start)
{
	struct fgt_unwinder *u = unwinder;
	struct fgt_unwinder *was = current;
	const struct fgt_snapshot *snap = u->snap;
	bool quiet = u->quiet;
	unw_proc_info_t pi;
	/* No stack is read: only the unwind tables, in code-module memory,
	 * and nothing goes into the memo's record of the unwind. */
	current = u;
	u->snap = NULL;
	u->quiet = true;
	int rc = find_proc_info(u->as, pc, &pi, 0, NULL);
	u->quiet = quiet;
	u->snap = snap;
	current = was;
	if (rc < 0 || pc < pi.start_ip || pc >= pi.end_ip)
		return false;
	*start = pi.start_ip;
	return true;
}

int fgt_unwinder_new(pid_t pid, fgt_is_code_fn is_code, void *ctx,
		     struct fgt_unwinder **out)
{
	struct fgt_unwinder *u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	u->pages = calloc(PAGE_CACHE, sizeof(*u->pages));
	u->rec = calloc(FGT_MAX_FRAMES + 1, sizeof(*u->rec));
	u->alt = calloc(FGT_MAX_FRAMES + 1, sizeof(*u->alt));
	u->pid = u->via = pid;
	fgt_hashmap_init(&u->no_info);
	u->is_code = is_code;
	u->ctx = ctx;
	u->tables_stale = true;
	u->as = unw_create_addr_space(&accessors, 0);
	u->upt = _UPT_create(pid);
	if (!u->pages || !u->rec || !u->alt || !u->as || !u->upt) {
		fgt_unwinder_free(u);
		return -ENOMEM;
	}
	/* Register rules are cached per pc, across all target threads. The
	 * global cache's lock blocks signals around every step (two system
	 * calls): libunwind as Debian builds it has no per-thread cache, so
	 * the memos (unwmemo.h) spare the steps instead. */
	unw_set_caching_policy(u->as, UNW_CACHE_GLOBAL);
	*out = u;
	return 0;
}

void fgt_unwinder_free(struct fgt_unwinder *u)
{
	if (!u)
		return;
	drop_debug_frames(u); /* flushes u->as's cache: before it goes */
	if (u->as)
		unw_destroy_addr_space(u->as);
	if (u->upt)
		_UPT_destroy(u->upt);
	free(u->pages);
	free(u->rec);
	free(u->alt);
	fgt_memo_free(&u->memos);
	fgt_memo_log_free(&u->log);
	fgt_hashmap_free(&u->no_info);
	if (current == u)
		current = NULL;
	free(u);
}

void fgt_unwinder_flush(struct fgt_unwinder *u)
{
	unw_flush_cache(u->as, 0, 0);
	fgt_memo_clear(&u->memos);
	fgt_hashmap_clear(&u->no_info);
	u->tables_stale = true; /* a new image after exec */
	drop_debug_frames(u);
	for (size_t i = 0; i < PAGE_CACHE; i++)
		u->pages[i].addr = 0;
	/* _UPT keeps the last ELF image it mapped; a new handle forgets it. A
	 * new image is read through its leader again. */
	u->via = u->pid;
	void *upt = _UPT_create(u->via);
	if (upt) {
		_UPT_destroy(u->upt);
		u->upt = upt;
	}
}

void fgt_unwinder_set_thread(struct fgt_unwinder *u, pid_t tid)
{
	u->thread = tid;
}

pid_t fgt_unwinder_via(const struct fgt_unwinder *u)
{
	return u->via;
}

void fgt_unwinder_forget_failures(struct fgt_unwinder *u)
{
	fgt_hashmap_clear(&u->no_info);
	fgt_memo_clear(&u->memos); /* which pcs are code may have changed */
	u->tables_stale = true;
	drop_debug_frames(u); /* a module may be mapped elsewhere now */
	for (size_t i = 0; i < PAGE_CACHE; i++)
		if (!u->pages[i].readable)
			u->pages[i].addr = 0;
}

static bool is_known_pc(struct fgt_unwinder *u, uint64_t pc)
{
	return pc < USER_LIMIT && u->is_code(u->ctx, pc, true);
}

/* True when pc lies in a module that has a converted .debug_frame and no
 * .eh_frame table: in practice a Go program. A step out of such a frame to a
 * return address that is not code ends the chain, unmarked: the CFI of the
 * first frame of Go's stacks (runtime.rt0_go, a thread's start) points at
 * whatever lies above it, as does that of a stack switch (switches_stack).
 * The frame-pointer walk ended these chains the same way. */
static bool only_debug_frame(struct fgt_unwinder *u, uint64_t pc)
{
	/* An .eh_frame table first: it is a binary search, where the other
	 * may ask the symbolizer. libunwind steps from its cache without
	 * asking for the .debug_frame table: it may not be loaded (again). */
	return !table_for(u, pc) && debug_frame_for(u, pc);
}

/* True when pc lies in one of the functions of such a module that may
 * switch stacks (see fgt_debugframe_src). When it did, its CFI points into
 * the stack it moved to, where a caller is left over from before, or
 * garbage: Go's own tracebacks end a system stack there. */
static bool switches_stack(struct fgt_unwinder *u, uint64_t pc)
{
	if (!only_debug_frame(u, pc))
		return false;
	for (size_t i = 0; i < u->n_dfs; i++) {
		const struct df_module *m = &u->dfs[i];
		if (pc < m->start || pc >= m->end)
			continue;
		for (size_t k = 0; k < m->n_switches; k++)
			if (pc >= m->switches[k].lo && pc < m->switches[k].hi)
				return true;
		return false;
	}
	return false;
}

/* True when the return address ra follows a direct call to a function that
 * may switch stacks: the caller the CFI found really called it, so it did
 * not switch (Go's nanotime1 on the system stack already, say). A caller
 * left over on the stack it moved to made some other call. */
static bool calls_switch(struct fgt_unwinder *u, uint64_t ra)
{
	unw_word_t w;
	if (ra < 5 || read_code(u, ra - 5, &w) < 0 || (w & 0xff) != 0xe8)
		return false; /* not after a CALL rel32 */
	int32_t rel = (int32_t)(uint32_t)(w >> 8);
	return switches_stack(u, ra + (uint64_t)(int64_t)rel);
}

/* Records the unwinder's state at a frame, for the memo. */
static void record(struct fgt_unwinder *u, unw_cursor_t *c, struct fgt_memo_frame *f,
		   uint64_t pc, uint64_t sp, bool exact)
{
	/* The callee-saved registers, then the others whose save location
	 * libunwind tells. */
	static const int saved[FGT_MEMO_NREGS + 2] = {
	    UNW_X86_64_RBX, UNW_X86_64_RBP, UNW_X86_64_R12, UNW_X86_64_R13,
	    UNW_X86_64_R14, UNW_X86_64_R15, UNW_X86_64_RSP, UNW_X86_64_RIP};
	f->pc = pc;
	f->sp = sp;
	f->exact = exact;
	f->unsaved = 0;
	u->quiet = true;
	for (int r = FGT_MEMO_NREGS; r < FGT_MEMO_NREGS + 2; r++) {
		unw_save_loc_t sl;
		if (unw_get_save_loc(c, saved[r], &sl) < 0 || sl.type == UNW_SLT_NONE)
			f->unsaved |= (uint8_t)(1u << r);
	}
	for (int r = 0; r < FGT_MEMO_NREGS; r++) {
		unw_word_t v = 0;
		unw_save_loc_t sl;
		f->val[r] = unw_get_reg(c, saved[r], &v) == 0 ? v : 0;
		f->loc[r] = 0;
		if (unw_get_save_loc(c, saved[r], &sl) < 0 || sl.type == UNW_SLT_NONE) {
			f->unsaved |= (uint8_t)(1u << r);
			continue;
		}
		if (sl.type == UNW_SLT_MEMORY)
			f->loc[r] = sl.u.addr;
		else if (sl.type == UNW_SLT_REG)
			f->loc[r] = FGT_MEMO_LOC_REG | (uint64_t)sl.u.regnum;
	}
	u->quiet = false;
}

#ifndef SYS_clone3
#define SYS_clone3 435
#endif

/* Where a leaf pc with no unwind info lies after a SYSCALL instruction:
 * right after it (2 bytes back), or within the few instructions after
 * glibc's "syscall; test %rax,%rax" of clone and clone3, which end their CFI
 * before the syscall because what it would say is wrong in the child.
 * Returns 0 when neither, 1 after a plain syscall, 2 in clone's pattern. */
static int after_syscall(struct fgt_unwinder *u, uint64_t pc)
{
	uint8_t b[16];
	unw_word_t w[2];
	if (pc < sizeof(b) || pc >= USER_LIMIT || read_code(u, pc - 16, &w[0]) < 0 ||
	    read_code(u, pc - 8, &w[1]) < 0)
		return 0;
	memcpy(b, w, sizeof(b));
	static const uint8_t clone_tail[] = {0x0f, 0x05, 0x48, 0x85, 0xc0};
	for (size_t k = sizeof(clone_tail); k <= 12; k++)
		if (!memcmp(b + sizeof(b) - k, clone_tail, sizeof(clone_tail)))
			return 2;
	if (b[14] != 0x0f || b[15] != 0x05)
		return 0;
	unw_word_t next;
	bool test_follows = read_code(u, pc, &next) == 0 && (next & 0xffffff) == 0xc08548;
	return test_follows ? 2 : 1;
}

enum stub_step { STUB_NONE, STUB_BIRTH, STUB_STEPPED };

/* A leaf pc after a SYSCALL, in code that no unwind info covers (see
 * after_syscall). Nothing has been pushed there on the parent's side, so the
 * return address is at the stack pointer: *out gets s with the registers of
 * that caller (STUB_STEPPED). A child at its birth (clone returned 0 to it)
 * has nothing on its new stack: its chain ends here (STUB_BIRTH). Anything
 * else is left to libunwind (STUB_NONE). */
static enum stub_step step_syscall_stub(struct fgt_unwinder *u,
					const struct fgt_snapshot *s, bool leaf_known,
					struct fgt_snapshot *out)
{
	const struct user_regs_struct *r = &s->regs;
	uint64_t start;
	int where = leaf_known ? after_syscall(u, r->rip) : 0;
	if (!where || fgt_unwinder_func_start(u, r->rip, &start))
		return STUB_NONE;
	bool clone_call = r->orig_rax == SYS_clone || r->orig_rax == SYS_clone3;
	if (r->rax == 0 && (where == 2 || clone_call))
		return STUB_BIRTH;
	unw_word_t ra;
	if (!in_copy(s, r->rsp, sizeof(ra)))
		return STUB_NONE;
	memcpy(&ra, s->stack + (r->rsp - s->stack_addr), sizeof(ra));
	if (!is_known_pc(u, ra))
		return STUB_NONE;
	*out = *s;
	out->regs.rip = ra;
	out->regs.rsp = r->rsp + sizeof(ra);
	if (r->rsp + sizeof(ra) > u->highest)
		u->highest = r->rsp + sizeof(ra);
	return STUB_STEPPED;
}

static void snapshot_regs(const struct fgt_snapshot *s, uint64_t snap[FGT_MEMO_NSNAP])
{
	for (int r = 0; r < FGT_MEMO_NSNAP; r++) {
		int off = reg_offset(r);
		snap[r] = 0;
		if (off >= 0)
			memcpy(&snap[r], (const char *)&s->regs + off, sizeof(snap[r]));
	}
}

/* Unwinds s; with use_memo, takes the frames above the first one found in
 * the thread's memo, and remembers this unwind. */
static size_t unwind(struct fgt_unwinder *u, const struct fgt_snapshot *s,
		     struct fgt_frame_pc *frames, size_t max, bool *truncated,
		     bool use_memo)
{
	unw_cursor_t cursor;
	struct fgt_snapshot stepped;
	size_t n = 0;
	bool signal = false, limit = false;
	uint64_t snap[FGT_MEMO_NSNAP];
	struct fgt_memo_cmp cmp = {0};
	struct fgt_memo *memo = NULL;
	long at = -1;

	use_memo = use_memo && max <= FGT_MAX_FRAMES;
	if (use_memo) {
		memo = fgt_memo_find(&u->memos, s->tid);
		snapshot_regs(s, snap);
		fgt_memo_log_reset(&u->log);
	}
	current = u;
	u->snap = s;
	u->highest = s->stack_addr;
	u->frame = 0;
	u->step_failed = false;
	*truncated = false;
	frames[n].pc = s->regs.rip;
	frames[n].exact = true;
	memset(&u->rec[0], 0, sizeof(u->rec[0]));
	u->rec[0].pc = s->regs.rip;
	u->rec[0].sp = s->regs.rsp;
	n++;
	bool leaf_known = is_known_pc(u, s->regs.rip);
	switch (step_syscall_stub(u, s, leaf_known, &stepped)) {
	case STUB_NONE:
		break;
	case STUB_BIRTH:
		use_memo = false;
		goto out;
	case STUB_STEPPED:
		/* Unwound from the caller on, without the memo (a rare state). */
		use_memo = false;
		memo = NULL;
		u->snap = &stepped;
		frames[n].pc = stepped.regs.rip;
		frames[n].exact = false;
		n++;
		break;
	}
	/* A leaf pc in no module may be generated code, which libunwind can
	 * still step out of; one in no mapping at all is garbage. */
	unw_word_t insn;
	if ((!leaf_known &&
	     (s->regs.rip >= USER_LIMIT || read_code(u, s->regs.rip, &insn) < 0)) ||
	    unw_init_remote(&cursor, u->as, NULL) < 0) {
		*truncated = true;
		use_memo = false;
		goto out;
	}
	unw_word_t prev_sp = s->regs.rsp;
	for (;;) {
		u->frame = (uint32_t)(n - 1);
		/* A return address is looked up at the call, one byte back. */
		bool from_switch =
		    switches_stack(u, frames[n - 1].pc - !frames[n - 1].exact);
		signal = unw_is_signal_frame(&cursor) > 0;
		int rc = unw_step(&cursor);
		if (rc == 0)
			break; /* the outermost frame */
		if (rc < 0 || n == max) {
			limit = rc > 0;
			u->step_failed = rc < 0;
			u->last_sp = prev_sp;
			*truncated = true;
			break;
		}
		unw_word_t ip, sp;
		unw_get_reg(&cursor, UNW_REG_IP, &ip);
		unw_get_reg(&cursor, UNW_REG_SP, &sp);
		if (from_switch && !calls_switch(u, ip))
			break; /* moved stacks: the caller is on the stack it left */
		/* A corrupt chain can loop or run backwards: stacks grow down, so
		 * each caller's frame lies above its callee's. */
		if (ip == 0 || sp < prev_sp) {
			*truncated = ip != 0;
			break;
		}
		bool known = is_known_pc(u, ip);
		if (!known && only_debug_frame(u, frames[n - 1].pc))
			break; /* the top of a stack the runtime switched to */
		prev_sp = sp;
		frames[n].pc = ip;
		frames[n].exact = signal;
		if (use_memo)
			record(u, &cursor, &u->rec[n], ip, sp, signal);
		n++;
		/* A return address in no module: a corrupt chain, or a stack that
		 * holds an older thread's frames (a thread seen at its birth).
		 * Keep that frame, and follow it no further. */
		if (!known) {
			*truncated = true;
			break;
		}
		if (!memo)
			continue;
		at = fgt_memo_match(memo, &u->rec[n - 1], snap, s->stack, s->stack_addr,
				    s->stack_len, &cmp);
		if (at < 0)
			continue;
		size_t tail = memo->n - (size_t)at - 1;
		if (n + tail > max) {
			memo = NULL; /* the full unwind would stop at the limit */
			at = -1;
			continue;
		}
		for (size_t k = 0; k < tail; k++) {
			frames[n + k].pc = memo->f[at + 1 + k].pc;
			frames[n + k].exact = memo->f[at + 1 + k].exact;
		}
		*truncated = memo->truncated;
		if (memo->f[at].hi > u->highest)
			u->highest = memo->f[at].hi;
		u->stats.memo_hits++;
		u->stats.memo_frames += tail;
		n += tail;
		break;
	}
out:
	if (use_memo) {
		size_t nfresh = at >= 0 ? n - (memo->n - (size_t)at - 1) : n;
		fgt_memo_store(&u->memos, s->tid, u->rec, nfresh, &u->log,
			       at >= 0 ? memo : NULL, at >= 0 ? (size_t)at : 0,
			       *truncated, limit, snap);
	}
	u->snap = NULL;
	return n;
}

static bool same_frames(const struct fgt_frame_pc *a, const struct fgt_frame_pc *b,
			size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (a[i].pc != b[i].pc || a[i].exact != b[i].exact)
			return false;
	return true;
}

/* Whether ra, a known code address, follows a call instruction. */
static bool follows_call(struct fgt_unwinder *u, uint64_t ra)
{
	unw_word_t w[2];
	if (ra < sizeof(w) || read_code(u, ra - 16, &w[0]) < 0 ||
	    read_code(u, ra - 8, &w[1]) < 0)
		return false;
	uint8_t b[sizeof(w)];
	memcpy(b, w, sizeof(b));
	return fgt_x86_ends_with_call(b, sizeof(b));
}

/* How far above the frame it failed to leave the search for a frame pointer
 * looks, and how many candidates it unwinds with at most. */
#define FP_SEARCH_BYTES 8192
#define FP_TRIES	4

/* A sample taken from /proc (regs_partial) has rbp 0, so its unwind fails
 * at the first frame whose CFI finds the frame through rbp: code built with
 * frame pointers (-fno-omit-frame-pointer, the default of some distributions
 * for all their packages), as the sleeping call's C library wrapper or any
 * caller up to the first frame that saved rbp. rbp is unchanged up to that
 * frame, and points into it: at the caller's saved rbp, which the return
 * address follows. So each word above the failed frame's sp that holds a
 * return address (a known code address just after a call) gives a
 * candidate, the lowest first; each is unwound with, without the memo, and
 * the first that reaches the outermost frame is taken, else the one that
 * goes furthest. frames[0..n) is the failed unwind; returns the new count. */
static size_t find_frame_pointer(struct fgt_unwinder *u, const struct fgt_snapshot *s,
				 struct fgt_frame_pc *frames, size_t n, size_t max,
				 bool *truncated, size_t *used)
{
	uint64_t from = (u->last_sp + 7) & ~7ull;
	uint64_t end = s->stack_addr + s->stack_len;
	if (from < s->stack_addr || from >= end)
		return n;
	if (end - from > FP_SEARCH_BYTES)
		end = from + FP_SEARCH_BYTES;
	struct fgt_snapshot t = *s;
	size_t best = n;
	int tries = 0;
	for (uint64_t at = from; at + 16 <= end && tries < FP_TRIES; at += 8) {
		uint64_t ra;
		memcpy(&ra, s->stack + (at + 8 - s->stack_addr), sizeof(ra));
		if (!is_known_pc(u, ra) || !follows_call(u, ra))
			continue;
		tries++;
		t.regs.rbp = at;
		bool cut;
		size_t m = unwind(u, &t, u->alt, max, &cut, false);
		/* Only frames that rbp found differ: the ones before are the
		 * failed unwind's. */
		if (m <= best || !same_frames(u->alt, frames, n))
			continue;
		memcpy(frames, u->alt, m * sizeof(*frames));
		best = m;
		*truncated = cut;
		*used = u->highest - s->stack_addr;
		if (!cut)
			break;
	}
	if (best > n)
		u->stats.fp_found++;
	return best;
}

size_t fgt_unwind(struct fgt_unwinder *u, const struct fgt_snapshot *s,
		  struct fgt_frame_pc *frames, size_t max, bool *truncated, size_t *used)
{
	uint64_t hits = u->stats.memo_hits;
	size_t n = unwind(u, s, frames, max, truncated, true);
	*used = u->highest - s->stack_addr;
#ifdef FGT_UNWIND_VERIFY
	/* Test builds: unwind again without the memo; the two must agree. */
	if (u->stats.memo_hits != hits) {
		static struct fgt_frame_pc full[FGT_MAX_FRAMES + 1];
		bool cut;
		size_t m = unwind(u, s, full, max, &cut, false);
		u->stats.memo_checked++;
		if (m != n || cut != *truncated || !same_frames(full, frames, n))
			u->stats.memo_mismatches++;
		if (u->highest - s->stack_addr != *used)
			u->stats.memo_mismatches++; /* read more than it said */
	}
#endif
	if (*truncated && s->regs_partial) {
		/* A memo's truncated tail does not say where the steps failed:
		 * unwind without it to find out. */
		if (!u->step_failed && u->stats.memo_hits != hits) {
			n = unwind(u, s, frames, max, truncated, false);
			*used = u->highest - s->stack_addr;
		}
		if (u->step_failed)
			n = find_frame_pointer(u, s, frames, n, max, truncated, used);
	}
	return n;
}

void fgt_unwinder_get_stats(const struct fgt_unwinder *u, struct fgt_unwind_stats *st)
{
	*st = u->stats;
}
