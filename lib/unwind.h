/* fgtrace — unwinding a copied stack with libunwind.
 *
 * The thread runs again while this works: registers and stack come from the
 * snapshot; unwind tables and other code-module memory are read from the live
 * process with process_vm_readv (they do not change while mapped). Memory that
 * is neither in the copy nor in a code module is never read: a stack that
 * needs it is cut there and marked truncated. Worker thread only.
 */
#ifndef FGT_UNWIND_H
#define FGT_UNWIND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "debugframe.h"
#include "snapshot.h"

struct fgt_unwinder;

/* Says whether addr lies in a mapped code module of the process, or, when
 * jit is true, in code that has a name at all (a JIT perf map counts). */
typedef bool (*fgt_is_code_fn)(void *ctx, uint64_t addr, bool jit);

struct fgt_frame_pc {
	uint64_t pc;
	bool exact; /* pc is the leaf or the interrupted pc under a signal frame,
		     * not a return address (look it up as is, not at pc-1) */
};

/* Creates an unwinder for process pid. Returns 0, -ENOMEM, or -EINVAL when
 * libunwind cannot be set up. Free with fgt_unwinder_free. */
int fgt_unwinder_new(pid_t pid, fgt_is_code_fn is_code, void *ctx,
		     struct fgt_unwinder **out);
void fgt_unwinder_free(struct fgt_unwinder *u);

/* Finds the .debug_frame of the module that holds pc. Returns 0, or
 * -ENOENT when it has none; then out->start and out->end still give the
 * module's range (both 0 when no module holds pc). */
typedef int (*fgt_debug_frame_fn)(void *ctx, uint64_t pc, struct fgt_debugframe_src *out);
/* With fn set, code that no .eh_frame covers is unwound by its module's
 * .debug_frame where it has one (debugframe.h), not by guessing from the
 * frame pointer. ctx is borrowed: it must outlive u. */
void fgt_unwinder_set_debug_frame(struct fgt_unwinder *u, fgt_debug_frame_fn fn,
				  void *ctx);

/* Forgets cached unwind information and memory, after exec or new mappings. */
void fgt_unwinder_flush(struct fgt_unwinder *u);

/* Forgets the pcs that had no unwind information (after a module rescan,
 * they may have some now). */
void fgt_unwinder_forget_failures(struct fgt_unwinder *u);
/* The thread whose sample is unwound next. The process's memory and maps are
 * read through its leader; when the leader has none (it exited alone and is
 * a zombie while other threads run), through this thread from then on. */
void fgt_unwinder_set_thread(struct fgt_unwinder *u, pid_t tid);
/* The task the process is read through now: the leader, or a thread. */
pid_t fgt_unwinder_via(const struct fgt_unwinder *u);

/* Sets *start to the start of the function that holds pc, as its unwind
 * information (the FDE that covers pc) gives it. Returns false when pc has
 * none. An fgt_func_start_fn (symbolize.h), with the unwinder as ctx. */
bool fgt_unwinder_func_start(void *unwinder, uint64_t pc, uint64_t *start);

/* Unwinds s into frames[0..max) (frames[0] is the leaf). Returns the number of
 * frames (>= 1 when the snapshot has registers). *truncated is set when the
 * stack was cut: max reached, the copy too short, or unwinding failed. *used
 * gets how many bytes of the copy above its start the unwinder needed. */
size_t fgt_unwind(struct fgt_unwinder *u, const struct fgt_snapshot *s,
		  struct fgt_frame_pc *frames, size_t max, bool *truncated, size_t *used);

struct fgt_unwind_stats {
	uint64_t remote_reads; /* process_vm_readv calls for code memory */
	uint64_t page_hits;    /* reads served by the page cache */
	uint64_t memo_hits;    /* unwinds that took frames from a memo */
	uint64_t memo_frames;  /* frames taken from memos */
	uint64_t memo_checked; /* FGT_UNWIND_VERIFY builds: memo unwinds redone */
	uint64_t memo_mismatches; /* ... that did not match the full unwind */
	uint64_t fp_found;	  /* unwinds of a sample with no frame pointer that went
				   * further with one found on its stack */
};
void fgt_unwinder_get_stats(const struct fgt_unwinder *u, struct fgt_unwind_stats *st);

#endif
