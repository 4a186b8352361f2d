/* fgtrace — naming program counters with libdw. */
#include "symbolize.h"
#include "hashmap.h"
#include "perfmap.h"
#include "plt.h"
#include "procfs.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>
#include <inttypes.h>
#include <libiberty/demangle.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* An unknown pc may belong to a library loaded after the last module scan;
 * rescan at most this often. */
/* Module rescans on unknown pcs: a burst of REFRESH_BURST (the dynamic
 * loader maps a program's libraries within milliseconds of exec), then one
 * per REFRESH_NS (JIT code can miss on every new pc). */
#define REFRESH_NS    (100 * 1000000ull)
#define REFRESH_BURST 8
#define REFRESH_GAP_NS 1000000ull /* never twice in one unwind */

struct fgt_span {
	uint64_t start, end;
};

struct fgt_symbolizer {
	pid_t pid;
	pid_t via; /* the task whose maps and files are read: see set_via */
	const struct fgt_config *cfg;
	Dwfl *dwfl;
	char *debuginfo_path;
	Dwfl_Callbacks callbacks;
	uint64_t last_refresh_ns;
	uint64_t refresh_credit_ns; /* rescans allowed, in units of REFRESH_NS */
	uint64_t credit_ns;	    /* when the credit was last topped up */
	uint64_t generation;		/* module scans so far */
	struct fgt_perfmap *perfmap;	/* JIT symbols, or NULL */
	fgt_func_start_fn func_start;	/* code without symbols: its function */
	void *func_start_ctx;
	struct fgt_hashmap modules;	/* start address -> struct fgt_module */
	struct fgt_hashmap funcs;	/* identity key -> struct fgt_func */
	struct fgt_hashmap locations;	/* pc (+exact bit) -> struct fgt_location */
	struct fgt_hashmap unknown;	/* pcs no module mapped when first seen */
	struct fgt_hashmap pseudo_locs; /* func id -> struct fgt_location */
	struct fgt_hashmap plts;	/* module id -> struct fgt_plt */
	uint32_t next_module_id, next_func_id, next_location_id;
	/* The mappings, by address, at the last scan: libdw gives a module the
	 * range from its file's first mapping to its last, and a file mapped
	 * twice (V8 maps its builtins again) spans the heap and generated code
	 * in between. Only the file's own mappings are its module's. */
	struct fgt_span *files;	 /* of files, and the vdso */
	struct fgt_span *anon_x; /* anonymous and executable: generated code */
	size_t n_files, n_anon_x, cap_files, cap_anon_x;
	bool spans_ok; /* the last scan read them all */
	/* Everything allocated, freed together. */
	void **owned;
	size_t n_owned, cap_owned;
	struct fgt_symbolizer_stats stats;
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void *own(struct fgt_symbolizer *s, void *p)
{
	if (!p)
		return NULL;
	if (s->n_owned == s->cap_owned) {
		size_t cap = s->cap_owned ? s->cap_owned * 2 : 256;
		void **o = realloc(s->owned, cap * sizeof(*o));
		if (!o) {
			free(p);
			return NULL;
		}
		s->owned = o;
		s->cap_owned = cap;
	}
	s->owned[s->n_owned++] = p;
	return p;
}

static const char *own_str(struct fgt_symbolizer *s, const char *str)
{
	return str ? own(s, strdup(str)) : NULL;
}

/* The process whose modules are being reported: libdw's find_elf callback
 * gets no context of ours (worker thread only). */
static pid_t reporting_pid;

/* Opens the mapping of name that starts at file offset 0 through
 * /proc/PID/map_files: the very file the process mapped, even when it was
 * deleted or replaced on disk since. */
static int open_mapped_file(pid_t pid, const char *name)
{
	char path[64], *line = NULL;
	size_t cap = 0;
	int fd = -1;
	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	while (fd < 0 && getline(&line, &cap, f) > 0) {
		struct fgt_map m;
		line[strcspn(line, "\n")] = '\0';
		if (fgt_procfs_parse_maps_line(line, &m) < 0 || m.offset != 0 ||
		    strcmp(m.path, name) != 0)
			continue;
		char mf[96];
		snprintf(mf, sizeof(mf), "/proc/%d/map_files/%" PRIx64 "-%" PRIx64, pid,
			 m.start, m.end);
		fd = open(mf, O_RDONLY | O_CLOEXEC);
	}
	free(line);
	fclose(f);
	return fd;
}

/* Finds a module's file as the target sees it: through /proc/PID/root (a
 * container's or chroot's own files), then through map_files (deleted or
 * replaced files), then as libdw would (in-memory images such as the vdso). */
static int find_elf(Dwfl_Module *mod, void **userdata, const char *name, Dwarf_Addr base,
		    char **file_name, Elf **elfp)
{
	pid_t pid = reporting_pid;
	if (name[0] == '/' && pid > 0) {
		char path[PATH_MAX];
		struct stat st;
		snprintf(path, sizeof(path), "/proc/%d/root%s", pid, name);
		int fd = -1;
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
			fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			fd = open_mapped_file(pid, name);
		if (fd >= 0) {
			/* A path in the target's root lets libdw find separate debug
			 * files next to the binary, in the target's filesystem. */
			*file_name = strdup(path);
			return fd;
		}
	}
	return dwfl_linux_proc_find_elf(mod, userdata, name, base, file_name, elfp);
}

static bool add_span(struct fgt_span **v, size_t *n, size_t *cap, uint64_t start,
		     uint64_t end)
{
	if (*n && (*v)[*n - 1].end == start) {
		(*v)[*n - 1].end = end;
		return true;
	}
	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 64;
		struct fgt_span *nv = realloc(*v, c * sizeof(*nv));
		if (!nv)
			return false;
		*v = nv;
		*cap = c;
	}
	(*v)[(*n)++] = (struct fgt_span){start, end};
	return true;
}

static void scan_spans(struct fgt_symbolizer *s)
{
	char path[64], *line = NULL;
	size_t cap = 0;
	s->n_files = s->n_anon_x = 0;
	s->spans_ok = false;
	snprintf(path, sizeof(path), "/proc/%d/maps", s->via);
	FILE *f = fopen(path, "re");
	if (!f)
		return;
	bool ok = true;
	while (ok && getline(&line, &cap, f) > 0) {
		struct fgt_map m;
		if (fgt_procfs_parse_maps_line(line, &m) < 0)
			continue;
		if (m.path[0] == '/' || strcmp(m.path, "[vdso]") == 0)
			ok = add_span(&s->files, &s->n_files, &s->cap_files, m.start, m.end);
		else if (!m.path[0] && m.perms[2] == 'x')
			ok = add_span(&s->anon_x, &s->n_anon_x, &s->cap_anon_x, m.start,
				      m.end);
	}
	free(line);
	fclose(f);
	s->spans_ok = ok;
}

static bool in_spans(const struct fgt_span *v, size_t n, uint64_t addr)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (addr < v[mid].start)
			hi = mid;
		else if (addr >= v[mid].end)
			lo = mid + 1;
		else
			return true;
	}
	return false;
}

static int report(struct fgt_symbolizer *s)
{
	scan_spans(s);
	dwfl_report_begin(s->dwfl);
	reporting_pid = s->via;
	int rc = dwfl_linux_proc_report(s->dwfl, s->via);
	dwfl_report_end(s->dwfl, NULL, NULL);
	s->last_refresh_ns = now_ns();
	s->stats.refreshes++;
	s->generation++;
	return rc == 0 ? 0 : rc > 0 ? -rc : -EIO;
}

/* JIT code is named by /tmp/perf-PID.map, seen from the target's root and
 * named with its pid as its own namespace sees it. */
static void open_perfmap(struct fgt_symbolizer *s)
{
	struct fgt_proc_status st;
	pid_t nspid = s->pid;
	if (fgt_procfs_read_status(s->pid, 0, &st) == 0 && st.ns_pid > 0)
		nspid = st.ns_pid;
	char path[96];
	snprintf(path, sizeof(path), "/proc/%d/root/tmp/perf-%d.map", s->pid, nspid);
	fgt_perfmap_free(s->perfmap);
	s->perfmap = NULL;
	if (fgt_perfmap_new(path, &s->perfmap) == 0)
		fgt_perfmap_refresh(s->perfmap); /* names code JIT-compiled already */
}

int fgt_symbolizer_new(pid_t pid, const struct fgt_config *cfg,
		       struct fgt_symbolizer **out)
{
	struct fgt_symbolizer *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->pid = s->via = pid;
	s->cfg = cfg;
	/* libdw's default (":.debug:/usr/lib/debug": next to the file, in .debug/,
	 * and the global directory with its .build-id tree), then the user's. */
	const char *extra = cfg->debuginfo_path;
	if (asprintf(&s->debuginfo_path, ":.debug:/usr/lib/debug%s%s", extra ? ":" : "",
		     extra ? extra : "") < 0) {
		free(s);
		return -ENOMEM;
	}
	s->callbacks.find_elf = find_elf;
	s->callbacks.find_debuginfo = dwfl_standard_find_debuginfo;
	s->callbacks.debuginfo_path = &s->debuginfo_path;
	s->dwfl = dwfl_begin(&s->callbacks);
	if (!s->dwfl) {
		free(s->debuginfo_path);
		free(s);
		return -ENOMEM;
	}
	fgt_hashmap_init(&s->modules);
	fgt_hashmap_init(&s->funcs);
	fgt_hashmap_init(&s->locations);
	fgt_hashmap_init(&s->unknown);
	fgt_hashmap_init(&s->pseudo_locs);
	fgt_hashmap_init(&s->plts);
	report(s); /* a process that just exec'd may have nothing mapped yet */
	open_perfmap(s);
	*out = s;
	return 0;
}

void fgt_symbolizer_free(struct fgt_symbolizer *s)
{
	if (!s)
		return;
	dwfl_end(s->dwfl);
	fgt_perfmap_free(s->perfmap);
	for (size_t i = 0; i < s->n_owned; i++)
		free(s->owned[i]);
	free(s->owned);
	fgt_hashmap_free(&s->modules);
	fgt_hashmap_free(&s->funcs);
	fgt_hashmap_free(&s->locations);
	fgt_hashmap_free(&s->unknown);
	fgt_hashmap_free(&s->pseudo_locs);
	fgt_hashmap_free(&s->plts);
	free(s->files);
	free(s->anon_x);
	free(s->debuginfo_path);
	free(s);
}

int fgt_symbolizer_reset(struct fgt_symbolizer *s)
{
	/* Old interned objects stay valid (writers may still refer to them);
	 * only the lookups start afresh. */
	fgt_hashmap_clear(&s->modules);
	fgt_hashmap_clear(&s->locations);
	fgt_hashmap_clear(&s->unknown);
	fgt_hashmap_clear(&s->plts);
	s->via = s->pid; /* a new image: read through its leader again */
	dwfl_end(s->dwfl);
	s->dwfl = dwfl_begin(&s->callbacks);
	if (!s->dwfl)
		return -ENOMEM;
	open_perfmap(s);
	return report(s);
}

static Dwfl_Module *find_module(struct fgt_symbolizer *s, uint64_t addr, bool rescan);

bool fgt_symbolizer_is_code(void *symbolizer, uint64_t addr, bool jit)
{
	struct fgt_symbolizer *s = symbolizer;
	uint64_t start;
	/* Only a pc may be in a module loaded since: a memory read that misses
	 * (the stack past the copy, say) is no reason to rescan. */
	return find_module(s, addr, jit) != NULL ||
	       (jit && s->perfmap && fgt_perfmap_lookup(s->perfmap, addr, &start)) ||
	       (jit && in_spans(s->anon_x, s->n_anon_x, addr));
}

bool fgt_symbolizer_set_via(struct fgt_symbolizer *s, pid_t via)
{
	if (via == s->via)
		return false;
	s->via = via;
	report(s);
	fgt_hashmap_clear(&s->unknown);
	return true;
}

uint64_t fgt_symbolizer_generation(const struct fgt_symbolizer *s)
{
	return s->generation;
}

/* ---- modules ------------------------------------------------------------- */

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? slash + 1 : path;
}

static const struct fgt_module *intern_module(struct fgt_symbolizer *s, Dwfl_Module *mod)
{
	Dwarf_Addr start, end;
	const char *name =
	    dwfl_module_info(mod, NULL, &start, &end, NULL, NULL, NULL, NULL);
	struct fgt_module *m = fgt_hashmap_get(&s->modules, start);
	if (m && m->end == end)
		return m;
	m = own(s, calloc(1, sizeof(*m)));
	if (!m)
		return NULL;
	m->id = ++s->next_module_id;
	m->path = own_str(s, name ? name : "[unknown]");
	m->name = m->path ? base_name(m->path) : "[unknown]";
	const char *del = strstr(m->name, " (deleted)");
	if (del && !del[10])
		m->name = own(s, strndup(m->name, (size_t)(del - m->name)));
	if (!m->name)
		m->name = "[unknown]";
	/* libdw names the vdso "[vdso: PID]"; /proc/PID/maps and perf say "[vdso]". */
	if (m->path && strncmp(m->path, "[vdso", 5) == 0)
		m->path = m->name = "[vdso]";
	m->start = start;
	m->end = end;
	m->file_offset = 0;
	const unsigned char *bits;
	GElf_Addr vaddr;
	int n = dwfl_module_build_id(mod, &bits, &vaddr);
	for (int i = 0; i < n && i < 20; i++)
		snprintf(m->build_id + 2 * i, 3, "%02x", bits[i]);
	fgt_hashmap_put(&s->modules, start, m);
	return m;
}

/* ---- functions ----------------------------------------------------------- */

static char *demangle(const struct fgt_symbolizer *s, const char *name)
{
	if (!name || s->cfg->demangle == FGT_DEMANGLE_NONE)
		return NULL;
	int opts = DMGL_AUTO;
	if (s->cfg->demangle == FGT_DEMANGLE_FULL)
		opts |= DMGL_PARAMS | DMGL_ANSI;
	return cplus_demangle(name, opts);
}

/* Function names from the symbol table of a clone or split part carry a
 * suffix: "f.constprop.0", "f.isra.0", "f.part.1", "f.cold". */
static size_t clone_suffix_start(const char *name)
{
	static const char *const suffixes[] = {
	    ".constprop.", ".isra.", ".part.", ".cold", ".lto_priv.", ".localalias"};
	size_t cut = strlen(name);
	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		const char *p = strstr(name, suffixes[i]);
		if (p && p != name && (size_t)(p - name) < cut)
			cut = (size_t)(p - name);
	}
	return cut;
}

static struct fgt_func *new_func(struct fgt_symbolizer *s, uint64_t key,
				 enum fgt_func_kind kind, const char *raw,
				 const struct fgt_module *m, const char *file, int line)
{
	struct fgt_func *f = own(s, calloc(1, sizeof(*f)));
	if (!f)
		return NULL;
	char *d = demangle(s, raw);
	f->id = ++s->next_func_id;
	f->kind = kind;
	f->system_name = own_str(s, raw);
	f->name = d ? own(s, d) : f->system_name;
	if (!f->name || !*f->name)
		f->name = "[unknown]";
	if (!f->system_name)
		f->system_name = f->name;
	f->module = m;
	f->file = own_str(s, file);
	f->line = line;
	fgt_hashmap_put(&s->funcs, key, f);
	return f;
}

static uint64_t func_key(const struct fgt_module *m, enum fgt_func_kind kind, uint64_t v)
{
	uint64_t h = fgt_hash_u64(FGT_HASH_INIT, m ? m->id : 0);
	h = fgt_hash_u64(h, (uint64_t)kind);
	return fgt_hash_u64(h, v);
}

/* Follows abstract_origin/specification links to the DIE that declares the
 * function, so that clones and inlined copies share one identity. */
static Dwarf_Die origin_of(Dwarf_Die *die)
{
	Dwarf_Die cur = *die, next;
	Dwarf_Attribute attr;
	for (int i = 0; i < 8; i++) {
		if (dwarf_attr(&cur, DW_AT_abstract_origin, &attr) &&
		    dwarf_formref_die(&attr, &next))
			cur = next;
		else if (dwarf_attr(&cur, DW_AT_specification, &attr) &&
			 dwarf_formref_die(&attr, &next))
			cur = next;
		else
			break;
	}
	return cur;
}

/* The name of a function without a linkage name (GCC gives none to static
 * functions), qualified by its enclosing namespaces and classes as a
 * debugger shows it: "app::now_ms". Into buf; NULL when it has no name. */
static const char *qualified_name(Dwarf_Die *die, char *buf, size_t cap)
{
	const char *name = dwarf_diename(die);
	if (!name)
		return NULL;
	/* An inlined copy's or out-of-line definition's scope is its abstract
	 * origin's or declaration's. */
	Dwarf_Die decl = *die, next;
	Dwarf_Attribute a;
	for (int i = 0; i < 8 && (dwarf_attr(&decl, DW_AT_abstract_origin, &a) ||
				  dwarf_attr(&decl, DW_AT_specification, &a)) &&
			dwarf_formref_die(&a, &next);
	     i++)
		decl = next;
	Dwarf_Die *scopes = NULL;
	int n = dwarf_getscopes_die(&decl, &scopes);
	size_t len = 0;
	buf[0] = '\0';
	for (int i = n - 1; i >= 1; i--) {
		int tag = dwarf_tag(&scopes[i]);
		if (tag != DW_TAG_namespace && tag != DW_TAG_class_type &&
		    tag != DW_TAG_structure_type && tag != DW_TAG_union_type)
			continue;
		const char *part = dwarf_diename(&scopes[i]);
		int w = snprintf(buf + len, cap - len, "%s::",
				 part ? part : "(anonymous namespace)");
		if (w < 0 || (size_t)w >= cap - len)
			break;
		len += (size_t)w;
	}
	free(scopes);
	if (len == 0)
		return name;
	snprintf(buf + len, cap - len, "%s", name);
	return buf;
}

static const char *linkage_name(Dwarf_Die *die, char *buf, size_t cap)
{
	Dwarf_Attribute attr;
	const char *name = NULL;
	if (dwarf_attr_integrate(die, DW_AT_linkage_name, &attr) ||
	    dwarf_attr_integrate(die, DW_AT_MIPS_linkage_name, &attr))
		name = dwarf_formstring(&attr);
	return name ? name : qualified_name(die, buf, cap);
}

static const struct fgt_func *dwarf_func(struct fgt_symbolizer *s,
					 const struct fgt_module *m, Dwarf_Die *die,
					 enum fgt_func_kind kind)
{
	Dwarf_Die origin = origin_of(die);
	uint64_t key = func_key(m, kind, dwarf_dieoffset(&origin));
	struct fgt_func *f = fgt_hashmap_get(&s->funcs, key);
	if (f)
		return f;
	char buf[512];
	const char *name = linkage_name(die, buf, sizeof(buf));
	if (!name)
		name = linkage_name(&origin, buf, sizeof(buf));
	int line = 0;
	dwarf_decl_line(&origin, &line);
	return new_func(s, key, kind, name ? name : "[unknown]", m,
			dwarf_decl_file(&origin), line);
}

/* A pc in a PLT stub: "puts@plt", as objdump and perf name it. An IFUNC's
 * stub (an IRELATIVE slot) is named after its resolver's symbol. */
static const struct fgt_func *plt_func(struct fgt_symbolizer *s,
				       const struct fgt_module *m, Dwfl_Module *mod,
				       uint64_t addr)
{
	GElf_Addr bias;
	Elf *elf = dwfl_module_getelf(mod, &bias);
	if (!elf)
		return NULL;
	struct fgt_plt *p = fgt_hashmap_get(&s->plts, m->id);
	if (!p) {
		/* One allocation: the owned list frees it with the rest. */
		if (fgt_plt_read(elf, &p) < 0 || !own(s, p) ||
		    fgt_hashmap_put(&s->plts, m->id, p) < 0)
			return NULL;
	}
	const struct fgt_plt_stub *st = fgt_plt_find(p, addr - bias);
	if (!st)
		return NULL;
	uint64_t key = func_key(m, FGT_FUNC_FUNCTION, (st->start + bias) | (1ull << 62));
	struct fgt_func *f = fgt_hashmap_get(&s->funcs, key);
	if (f)
		return f;
	char anon[32];
	const char *base = st->name;
	GElf_Off off;
	GElf_Sym sym;
	if (!base) {
		base = dwfl_module_addrinfo(mod, st->target + bias, &off, &sym, NULL, NULL,
					    NULL);
		if (base && off != 0)
			base = NULL;
	}
	if (!base || !*base) {
		snprintf(anon, sizeof(anon), "*ABS*+0x%" PRIx64, st->target);
		base = anon;
	}
	char raw[512];
	snprintf(raw, sizeof(raw), "%s@plt", base);
	f = new_func(s, key, FGT_FUNC_FUNCTION, raw, m, NULL, 0);
	char *d = f ? demangle(s, base) : NULL;
	if (d) {
		char *full = NULL;
		if (asprintf(&full, "%s@plt", d) >= 0 && own(s, full))
			f->name = full;
		free(d);
	} else if (f) {
		f->name = f->system_name; /* "name@plt" is no mangled name */
	}
	return f;
}

static const struct fgt_func *symtab_func(struct fgt_symbolizer *s,
					  const struct fgt_module *m, Dwfl_Module *mod,
					  uint64_t addr)
{
	const struct fgt_func *plt = plt_func(s, m, mod, addr);
	if (plt)
		return plt;
	GElf_Off off;
	GElf_Sym sym;
	const char *name = dwfl_module_addrinfo(mod, addr, &off, &sym, NULL, NULL, NULL);
	char buf[64];
	uint64_t ident;
	/* A pc past the end of a function can land on the data symbol after it
	 * (a stripped file, a table in .text): that is no function's name. */
	int type = name ? GELF_ST_TYPE(sym.st_info) : STT_NOTYPE;
	if (type != STT_FUNC && type != STT_GNU_IFUNC && type != STT_NOTYPE)
		name = NULL;
	if (name && *name) {
		ident = addr - off;
	} else {
		/* No symbol: name the code by its place in the file, at the
		 * start of its function where the unwind tables tell it, so
		 * that a function is one frame, not one per pc. */
		uint64_t start;
		if (!s->func_start || !s->func_start(s->func_start_ctx, addr, &start) ||
		    start < m->start || start > addr)
			start = addr;
		snprintf(buf, sizeof(buf), "+0x%" PRIx64, start - m->start);
		ident = start | (1ull << 63);
	}
	uint64_t key = func_key(m, FGT_FUNC_FUNCTION, ident);
	struct fgt_func *f = fgt_hashmap_get(&s->funcs, key);
	if (f)
		return f;
	if (name && *name) {
		char *trimmed = strndup(name, clone_suffix_start(name));
		f = new_func(s, key, FGT_FUNC_FUNCTION, trimmed ? trimmed : name, m, NULL,
			     0);
		free(trimmed);
		return f;
	}
	char full[512];
	snprintf(full, sizeof(full), "%s%s", m->name, buf);
	f = new_func(s, key, FGT_FUNC_FUNCTION, full, m, NULL, 0);
	if (f)
		f->name = f->system_name; /* never demangle a made-up name */
	return f;
}

/* The bytes of elf's .debug_frame, decompressed, or NULL. */
/* The first PROGBITS section of elf whose name is one of names (NULL-ended);
 * *which gets the index in names of the one found. */
static Elf_Scn *section_named(Elf *elf, const char *const *names, GElf_Shdr *sh,
			      size_t *which)
{
	size_t shstrndx;
	Elf_Scn *scn = NULL;
	if (!elf || elf_getshdrstrndx(elf, &shstrndx) < 0)
		return NULL;
	while ((scn = elf_nextscn(elf, scn))) {
		const char *name;
		if (!gelf_getshdr(scn, sh) || sh->sh_type != SHT_PROGBITS ||
		    !(name = elf_strptr(elf, shstrndx, sh->sh_name)))
			continue;
		for (*which = 0; names[*which]; (*which)++)
			if (strcmp(name, names[*which]) == 0)
				return scn;
	}
	return NULL;
}

static const uint8_t *debug_frame_of(Elf *elf, size_t *len)
{
	static const char *const names[] = {".debug_frame", ".zdebug_frame", NULL};
	GElf_Shdr sh;
	size_t which;
	Elf_Scn *scn = section_named(elf, names, &sh, &which);
	if (!scn)
		return NULL;
	/* Compressed as gABI has it, or in GNU's older form. libdw may have
	 * inflated it already: a GNU section then fails to inflate again, and
	 * no longer starts with "ZLIB". */
	bool gnu = which == 1;
	if (gnu)
		(void)elf_compress_gnu(scn, 0, 0);
	else if ((sh.sh_flags & SHF_COMPRESSED) && elf_compress(scn, 0, 0) < 0)
		return NULL;
	Elf_Data *d = elf_getdata(scn, NULL);
	if (!d || !d->d_buf || !d->d_size ||
	    (gnu && d->d_size >= 4 && memcmp(d->d_buf, "ZLIB", 4) == 0))
		return NULL;
	*len = d->d_size;
	return d->d_buf;
}

/* Go's runtime functions that move to another stack (the system stack, or
 * a new goroutine stack) without CFI for the move: Go's own traceback ends
 * or jumps stacks at each (runtime/traceback.go). */
static bool is_go_stack_switch(const char *name)
{
	static const char *const names[] = {
	    "runtime.mcall",	 "runtime.systemstack", "runtime.morestack",
	    "runtime.asmcgocall", "runtime.nanotime1",	 "runtime.walltime",
	    "runtime.walltime1", "time.now",
	};
	size_t len = strlen(name);
	if (len > 5 && strcmp(name + len - 5, ".abi0") == 0)
		len -= 5;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i]) == len && strncmp(name, names[i], len) == 0)
			return true;
	return false;
}

static void find_switches(Dwfl_Module *mod, struct fgt_debugframe_src *out)
{
	int n = dwfl_module_getsymtab(mod);
	for (int i = 1; i < n && out->n_switches < FGT_DF_MAX_SWITCHES; i++) {
		GElf_Sym sym;
		GElf_Addr addr;
		const char *name =
		    dwfl_module_getsym_info(mod, i, &sym, &addr, NULL, NULL, NULL);
		if (name && GELF_ST_TYPE(sym.st_info) == STT_FUNC && sym.st_size &&
		    is_go_stack_switch(name)) {
			out->switches[out->n_switches].lo = addr;
			out->switches[out->n_switches].hi = addr + sym.st_size;
			out->n_switches++;
		}
	}
}

/* The module's .eh_frame, for a module whose unwind table the unwinder did
 * not find: gcc links static executables without --eh-frame-hdr, so they
 * have no PT_GNU_EH_FRAME, which libunwind needs to find their CFI. */
static const uint8_t *eh_frame_of(Elf *elf, uint64_t bias, struct fgt_debugframe_src *out)
{
	static const char *const names[] = {".eh_frame", NULL};
	GElf_Shdr sh;
	size_t which;
	Elf_Scn *scn = section_named(elf, names, &sh, &which);
	Elf_Data *d = scn && (sh.sh_flags & SHF_ALLOC) ? elf_getdata(scn, NULL) : NULL;
	if (!d || !d->d_buf || !d->d_size)
		return NULL;
	out->len = d->d_size;
	out->eh = true;
	out->eh_addr = sh.sh_addr + bias;
	return d->d_buf;
}

int fgt_symbolizer_debug_frame(void *symbolizer, uint64_t pc,
			       struct fgt_debugframe_src *out)
{
	struct fgt_symbolizer *s = symbolizer;
	memset(out, 0, sizeof(*out));
	Dwfl_Module *mod = find_module(s, pc, false);
	Dwarf_Addr start, end;
	if (!mod || !dwfl_module_info(mod, NULL, &start, &end, NULL, NULL, NULL, NULL))
		return -ENOENT;
	out->start = start;
	out->end = end;
	GElf_Addr bias;
	Elf *elf = dwfl_module_getelf(mod, &bias);
	out->data = debug_frame_of(elf, &out->len);
	if (!out->data) {
		Dwarf *dw = dwfl_module_getdwarf(mod, &bias);
		Elf *debug = dw ? dwarf_getelf(dw) : NULL;
		if (debug && debug != elf)
			out->data = debug_frame_of(debug, &out->len);
	}
	out->bias = bias;
	if (out->data)
		find_switches(mod, out);
	else
		out->data = eh_frame_of(elf, bias, out); /* a static executable's */
	return out->data ? 0 : -ENOENT;
}

void fgt_symbolizer_set_func_start(struct fgt_symbolizer *s, fgt_func_start_fn fn,
				   void *ctx)
{
	s->func_start = fn;
	s->func_start_ctx = ctx;
}

static const struct fgt_func *pseudo(struct fgt_symbolizer *s, enum fgt_func_kind kind,
				     const char *name, const char *detail)
{
	uint64_t key = fgt_hash_u64(FGT_HASH_INIT, 0xfeedull + kind);
	key = fgt_hash_bytes(key, name, strlen(name) + 1);
	if (detail)
		key = fgt_hash_bytes(key, detail, strlen(detail));
	struct fgt_func *f = fgt_hashmap_get(&s->funcs, key);
	if (f)
		return f;
	f = own(s, calloc(1, sizeof(*f)));
	if (!f)
		return NULL;
	f->id = ++s->next_func_id;
	f->kind = kind;
	f->name = own_str(s, *name ? name : "[unknown]");
	f->detail_json = own_str(s, detail);
	if (!f->name || (detail && !f->detail_json))
		return NULL;
	f->system_name = f->name;
	fgt_hashmap_put(&s->funcs, key, f);
	return f;
}

const struct fgt_func *fgt_symbolizer_pseudo(struct fgt_symbolizer *s,
					     enum fgt_func_kind kind, const char *name)
{
	return pseudo(s, kind, name, NULL);
}

const struct fgt_func *fgt_symbolizer_state(struct fgt_symbolizer *s, const char *name,
					    const char *detail_json)
{
	return pseudo(s, FGT_FUNC_STATE, name, detail_json);
}

const struct fgt_location *fgt_symbolizer_pseudo_location(struct fgt_symbolizer *s,
							  const struct fgt_func *f)
{
	struct fgt_location *l = fgt_hashmap_get(&s->pseudo_locs, f->id);
	if (l)
		return l;
	l = own(s, calloc(1, sizeof(*l)));
	struct fgt_line *line = own(s, calloc(1, sizeof(*line)));
	if (!l || !line)
		return NULL;
	line->func = f;
	l->id = ++s->next_location_id;
	l->n_lines = 1;
	l->lines = line;
	fgt_hashmap_put(&s->pseudo_locs, f->id, l);
	return l;
}

/* ---- locations ----------------------------------------------------------- */

static bool is_function_scope(Dwarf_Die *die)
{
	int tag = dwarf_tag(die);
	return tag == DW_TAG_subprogram || tag == DW_TAG_inlined_subroutine ||
	       tag == DW_TAG_entry_point;
}

/* The innermost function-like scope of scopes[from..n), or -1. */
static int first_function_scope(Dwarf_Die *scopes, int n, int from)
{
	for (int i = from; i < n; i++)
		if (is_function_scope(&scopes[i]))
			return i;
	return -1;
}

/* Fills lines[] innermost first from the DWARF scopes at addr. dwarf_getscopes
 * follows an inlined instance with its abstract definition's scopes, not its
 * caller's, so each caller is found through the inlined instance's concrete
 * containers (dwarf_getscopes_die), as eu-addr2line -i does. */
static size_t dwarf_lines(struct fgt_symbolizer *s, const struct fgt_module *m,
			  Dwfl_Module *mod, uint64_t addr, struct fgt_line *lines,
			  size_t max)
{
	Dwarf_Addr bias;
	Dwarf_Die *cu = dwfl_module_addrdie(mod, addr, &bias);
	if (!cu)
		return 0;
	Dwarf_Die *scopes = NULL;
	int n = dwarf_getscopes(cu, addr - bias, &scopes);
	int i = n > 0 ? first_function_scope(scopes, n, 0) : -1;
	if (i < 0) {
		free(scopes);
		return 0;
	}
	Dwarf_Die cur = scopes[i];
	free(scopes);
	int cur_line = 0;
	Dwfl_Line *dl = dwfl_module_getsrc(mod, addr);
	if (dl)
		dwfl_lineinfo(dl, NULL, &cur_line, NULL, NULL, NULL);
	size_t k = 0;
	while (k < max) {
		bool inl = dwarf_tag(&cur) == DW_TAG_inlined_subroutine;
		const struct fgt_func *f =
		    dwarf_func(s, m, &cur, inl ? FGT_FUNC_INLINE : FGT_FUNC_FUNCTION);
		if (!f)
			break;
		lines[k].func = f;
		lines[k].line = cur_line;
		k++;
		if (!inl)
			break;
		/* The caller's line is where this inlined copy was called. */
		Dwarf_Attribute attr;
		Dwarf_Word w = 0;
		cur_line = dwarf_attr(&cur, DW_AT_call_line, &attr) &&
				   dwarf_formudata(&attr, &w) == 0
			       ? (int)w
			       : 0;
		Dwarf_Die *chain = NULL;
		int c = dwarf_getscopes_die(&cur, &chain);
		int j = c > 1 ? first_function_scope(chain, c, 1) : -1;
		if (j >= 0)
			cur = chain[j];
		free(chain);
		if (j < 0)
			break;
	}
	return k;
}

/* Rescans the modules (and the perf map) if the rate allows it:
 * a library loaded since (dlopen, or the dynamic loader still at work right
 * after exec), or JIT code added to the map. Returns true when it rescanned. */
static bool maybe_refresh(struct fgt_symbolizer *s)
{
	uint64_t now = now_ns();
	s->refresh_credit_ns += now - s->credit_ns;
	s->credit_ns = now;
	if (s->refresh_credit_ns > REFRESH_BURST * REFRESH_NS)
		s->refresh_credit_ns = REFRESH_BURST * REFRESH_NS;
	if (s->refresh_credit_ns < REFRESH_NS || now - s->last_refresh_ns < REFRESH_GAP_NS)
		return false;
	s->refresh_credit_ns -= REFRESH_NS;
	report(s);
	if (s->perfmap)
		fgt_perfmap_refresh(s->perfmap);
	/* Unknown pcs may be known now; their old locations stay valid. */
	fgt_hashmap_clear(&s->unknown);
	return true;
}

/* The module whose mapped range holds addr, or NULL. libdw's
 * dwfl_addrmodule (0.188) also answers for addresses above the highest
 * module, the stack among them, with that module; and a module's range runs
 * from its file's first mapping to its last (see files). */
static Dwfl_Module *module_at(struct fgt_symbolizer *s, uint64_t addr)
{
	Dwfl_Module *mod = dwfl_addrmodule(s->dwfl, addr);
	Dwarf_Addr start, end;
	if (mod && dwfl_module_info(mod, NULL, &start, &end, NULL, NULL, NULL, NULL) &&
	    (addr < start || addr >= end))
		return NULL;
	if (mod && s->spans_ok && !in_spans(s->files, s->n_files, addr))
		return NULL;
	return mod;
}

static Dwfl_Module *find_module(struct fgt_symbolizer *s, uint64_t addr, bool rescan)
{
	Dwfl_Module *mod = module_at(s, addr);
	if (!mod && rescan && maybe_refresh(s))
		mod = module_at(s, addr);
	return mod;
}

/* JIT code: a function per perf-map symbol. */
static const struct fgt_func *jit_func(struct fgt_symbolizer *s, uint64_t addr)
{
	uint64_t start;
	if (!s->perfmap)
		return NULL;
	const char *name = fgt_perfmap_lookup(s->perfmap, addr, &start);
	/* New code is written to the map just before it runs: a miss re-reads
	 * the map when it grew (one stat when it did not). */
	if (!name && fgt_perfmap_refresh(s->perfmap) == 0)
		name = fgt_perfmap_lookup(s->perfmap, addr, &start);
	if (!name)
		return NULL;
	uint64_t key = func_key(NULL, FGT_FUNC_FUNCTION, start ^ 0x4a49540000000000ull);
	struct fgt_func *f = fgt_hashmap_get(&s->funcs, key);
	if (f && strcmp(f->system_name, name) == 0)
		return f;
	f = new_func(s, key, FGT_FUNC_FUNCTION, name, NULL, NULL, 0);
	if (f)
		f->name = f->system_name; /* JIT names are not C++ mangled names */
	return f;
}

static struct fgt_location *new_location(struct fgt_symbolizer *s, uint64_t pc,
					 const struct fgt_module *m,
					 struct fgt_line *lines, size_t n)
{
	struct fgt_location *l = own(s, calloc(1, sizeof(*l)));
	struct fgt_line *copy = own(s, malloc(n * sizeof(*copy)));
	if (!l || !copy)
		return NULL;
	memcpy(copy, lines, n * sizeof(*copy));
	l->id = ++s->next_location_id;
	l->pc = pc;
	l->module = m;
	l->n_lines = n;
	l->lines = copy;
	return l;
}

const struct fgt_location *fgt_symbolizer_lookup(struct fgt_symbolizer *s, uint64_t pc,
						 bool exact)
{
	uint64_t key = pc | (exact ? 1ull << 63 : 0);
	s->stats.lookups++;
	struct fgt_location *l = fgt_hashmap_get(&s->locations, key);
	/* A pc unknown when first seen is looked up again after a rescan. */
	if (!l && !(fgt_hashmap_get(&s->unknown, key) && maybe_refresh(s)))
		l = fgt_hashmap_get(&s->unknown, key);
	if (l) {
		s->stats.hits++;
		return l;
	}
	uint64_t t0 = now_ns();
	/* A return address points after the call: the call itself is at pc-1. */
	uint64_t addr = exact || pc == 0 ? pc : pc - 1;
	struct fgt_line lines[64];
	size_t n = 0;
	const struct fgt_module *m = NULL;
	Dwfl_Module *mod = find_module(s, addr, true);
	if (mod) {
		m = intern_module(s, mod);
		if (m)
			n = dwarf_lines(s, m, mod, addr, lines, 64);
		if (m && n == 0 && (lines[0].func = symtab_func(s, m, mod, addr)))
			n = 1;
	}
	if (n == 0 && (lines[0].func = jit_func(s, addr))) {
		lines[0].line = 0;
		n = 1;
	}
	if (n == 0) {
		lines[0].func = fgt_symbolizer_pseudo(s, FGT_FUNC_FUNCTION, "[unknown]");
		lines[0].line = 0;
		if (!lines[0].func)
			return NULL;
		n = 1;
	}
	l = new_location(s, pc, m, lines, n);
	/* A pc is rescanned for only once, when first seen: memory stays bounded
	 * by the number of distinct pcs. */
	if (l)
		fgt_hashmap_put(m ? &s->locations : &s->unknown, key, l);
	s->stats.lookup_ns += now_ns() - t0;
	return l;
}

void fgt_symbolizer_get_stats(const struct fgt_symbolizer *s,
			      struct fgt_symbolizer_stats *st)
{
	*st = s->stats;
}
