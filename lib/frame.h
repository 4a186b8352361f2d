/* fgtrace — the symbolized data model shared by the timeline and aggregates.
 *
 * Modules, functions and locations are interned by the symbolizer: their
 * pointers stay valid, and their ids stable, until fgt_symbolizer_free(). Ids
 * are dense, starting at 1, unique across one capture (also across exec).
 */
#ifndef FGT_FRAME_H
#define FGT_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"

/* One mapped ELF file (or the vdso). */
struct fgt_module {
	uint32_t id;
	const char *path;     /* path as the target maps it, e.g. "/usr/lib/libc.so.6" */
	const char *name;     /* basename of path; "[vdso]" for the vdso */
	uint64_t start, end;  /* address range of its mappings in the process */
	uint64_t file_offset; /* file offset of start (for pprof's Mapping) */
	char build_id[41];    /* lowercase hex, or "" when unknown */
};

enum fgt_func_kind {
	FGT_FUNC_FUNCTION, /* a real function ("cat":"function") */
	FGT_FUNC_INLINE,   /* an inlined function ("cat":"inline") */
	FGT_FUNC_STATE, /* a thread state frame: running, sys_read, ... ("cat":"state") */
	FGT_FUNC_THREAD,   /* a thread name as root frame (aggregates, --per-thread) */
	FGT_FUNC_TRUNCATED /* the "[truncated]" root of a capped or cut stack */
};

/* A function, or a pseudo frame. Two frames are the same function exactly when
 * they point to the same struct fgt_func. */
struct fgt_func {
	uint32_t id;
	enum fgt_func_kind kind;
	const char *name;		 /* display name, never empty */
	const char *system_name;	 /* linkage (mangled) name; == name when none */
	const struct fgt_module *module; /* NULL for pseudo frames and unknown code */
	const char *file;		 /* source file of the function, or NULL */
	int line;			 /* line of its declaration, or 0 */
	const char *detail_json;	 /* state frames: what the thread waits on, as
					  * JSON members without braces ("fd":3,...), or NULL */
};

/* What one program counter resolves to: the inline chain at that pc. */
struct fgt_line {
	const struct fgt_func *func;
	int line; /* sampled source line in func, or 0 */
};

struct fgt_location {
	uint32_t id;
	uint64_t pc;			 /* absolute address in the target */
	const struct fgt_module *module; /* NULL when no module maps pc */
	size_t n_lines;			 /* >= 1 */
	struct fgt_line *lines; /* innermost (inlined) first, real function last */
};

/* A symbolized call stack: locations from the leaf (index 0) to the root. */
struct fgt_stack {
	size_t n;
	const struct fgt_location *locs[FGT_MAX_FRAMES];
	bool truncated; /* capped, cut short by the copy, or unwinding failed */
};

/* One sample as the writers see it. Borrowed for the duration of a call. */
struct fgt_sample_info {
	pid_t pid, tid;
	const char *thread_name;
	uint64_t ts_ns;		       /* nanoseconds since the capture started */
	const struct fgt_func *state;  /* state pseudo frame, or NULL when disabled */
	const struct fgt_stack *stack; /* never NULL; n may be 0 */
	uint32_t count;		       /* ticks this sample stands for, >= 1 */
};

#endif
