/* fgtrace — naming program counters with libdw (elfutils).
 *
 * One symbolizer per capture. It reports the process's modules to a Dwfl,
 * finds separate debug information as libdw does (.gnu_debuglink, build-id
 * directories, --debuginfo-path, debuginfod when DEBUGINFOD_URLS is set) and
 * resolves each pc to the inline chain at it. Results are cached per pc.
 * Everything returned is interned and owned by the symbolizer: valid until
 * fgt_symbolizer_free. Worker thread only.
 */
#ifndef FGT_SYMBOLIZE_H
#define FGT_SYMBOLIZE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "debugframe.h"
#include "frame.h"

struct fgt_symbolizer;

struct fgt_symbolizer_stats {
	uint64_t lookups;   /* fgt_symbolizer_lookup calls */
	uint64_t hits;	    /* served from the pc cache */
	uint64_t refreshes; /* module list re-read (dlopen, exec) */
	uint64_t lookup_ns; /* time spent resolving misses */
};

/* Creates a symbolizer for process pid. Returns 0, -ENOMEM, or -errno when
 * libdw cannot read the process's modules. */
int fgt_symbolizer_new(pid_t pid, const struct fgt_config *cfg,
		       struct fgt_symbolizer **out);
void fgt_symbolizer_free(struct fgt_symbolizer *s);

/* Resolves pc (a return address unless exact: then looked up at pc-1). Never
 * returns an empty name: unknown code gets "module+0xOFF" or "[unknown]".
 * Returns NULL only when out of memory. */
const struct fgt_location *fgt_symbolizer_lookup(struct fgt_symbolizer *s, uint64_t pc,
						 bool exact);

/* An interned pseudo frame (state, thread name, "[truncated]"). NULL on ENOMEM. */
const struct fgt_func *fgt_symbolizer_pseudo(struct fgt_symbolizer *s,
					     enum fgt_func_kind kind, const char *name);
/* An interned state frame named name with detail_json (JSON members without
 * braces, or NULL) as its args: one identity per (name, detail). NULL on
 * ENOMEM. */
const struct fgt_func *fgt_symbolizer_state(struct fgt_symbolizer *s, const char *name,
					    const char *detail_json);
/* A pseudo location holding just that pseudo frame (for the aggregates). */
const struct fgt_location *fgt_symbolizer_pseudo_location(struct fgt_symbolizer *s,
							  const struct fgt_func *f);

/* Sets *start to the start of the function that holds pc, from some other
 * source than symbols (unwind information); false when unknown. */
typedef bool (*fgt_func_start_fn)(void *ctx, uint64_t pc, uint64_t *start);
/* With fn set, code that has no symbol is named after the start of its
 * function, "module+0xSTART", one frame per function, rather than after each
 * pc, wherever fn knows that start. ctx is borrowed: it must outlive s. */
void fgt_symbolizer_set_func_start(struct fgt_symbolizer *s, fgt_func_start_fn fn,
				   void *ctx);

/* Finds the .debug_frame of the module that holds pc, in its file or else
 * in its separate debug file, decompressed: an fgt_debug_frame_fn
 * (unwind.h), with the symbolizer as ctx. out->data stays valid until
 * fgt_symbolizer_reset or fgt_symbolizer_free. Returns 0, or -ENOENT (with
 * out->start and out->end set when a module holds pc). */
int fgt_symbolizer_debug_frame(void *symbolizer, uint64_t pc,
			       struct fgt_debugframe_src *out);

/* Re-reads the module list after exec (the image changed). Returns 0 or -errno. */
int fgt_symbolizer_reset(struct fgt_symbolizer *s);

/* True when addr lies in a mapping of a module's file (unwinder's memory
 * check) or, when jit is true (a pc), in JIT code: named by the perf map, or
 * in an anonymous executable mapping. A pc in no module may rescan the
 * modules, at most every 100 ms. */
bool fgt_symbolizer_is_code(void *symbolizer, uint64_t addr, bool jit);

/* Reads the process's maps and files through task via (a thread of it) from
 * now on: the leader, once it has exited alone, is a zombie with empty maps.
 * Returns true when via changed, and the modules were rescanned.
 * fgt_symbolizer_reset goes back to the leader. */
bool fgt_symbolizer_set_via(struct fgt_symbolizer *s, pid_t via);

/* Counts module rescans: when it changes, what failed before may work now. */
uint64_t fgt_symbolizer_generation(const struct fgt_symbolizer *s);

void fgt_symbolizer_get_stats(const struct fgt_symbolizer *s,
			      struct fgt_symbolizer_stats *st);

#endif
