/* fgtrace — remembered unwinds: the part of a stack that did not change since
 * a thread's previous sample is not unwound again.
 *
 * Between two samples of a busy thread, its stack changes near the leaf; the
 * frames above are the same bytes, and unwinding them again costs the same
 * each time (libunwind 1.6.2 blocks signals around every step: two system
 * calls a frame). A memo keeps a thread's previous unwind: its frames, the
 * state the unwind had at each (pc, sp, the values of the callee-saved
 * registers and where they were saved), and every word of the copied stack
 * and every snapshot register it read, by the frame it was stepping out of.
 * When an unwind reaches a frame in the same state, where the words the steps
 * from there on read hold the same values, the rest is the same computation on
 * the same inputs: its frames are taken from the memo.
 *
 * Reads of code-module memory are not tracked: it cannot change while mapped,
 * and every memo is dropped when the modules change (fgt_memo_clear).
 *
 * Besides what it reads, libunwind decides on where registers were saved:
 * it ends an unwind where rbp or the return address was saved nowhere. Save
 * locations are compared for rbx, rbp, r12-r15, rsp and rip, the registers
 * whose locations its API tells; those of the other registers matter only to
 * a later frame whose unwind rules copy them into one of these, which
 * compiled code does not do.
 *
 * Bookkeeping only: no libunwind, no system calls. Not thread-safe: the
 * worker thread owns a table and everything in it.
 */
#ifndef FGT_UNWMEMO_H
#define FGT_UNWMEMO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define FGT_MEMO_NREGS	 6	      /* callee-saved: rbx, rbp, r12, r13, r14, r15 */
#define FGT_MEMO_NSNAP	 17	      /* snapshot registers, by libunwind number */
#define FGT_MEMO_LOC_REG (1ull << 63) /* loc: saved in a snapshot register */
#define FGT_MEMO_SLOTS	 32	      /* threads remembered at once */

/* One frame of an unwind, and the unwinder's state there. */
struct fgt_memo_frame {
	uint64_t pc;
	uint64_t sp; /* the canonical frame address */
	bool exact;  /* as struct fgt_frame_pc */
	uint64_t val[FGT_MEMO_NREGS];
	/* Where each was saved: a stack address, FGT_MEMO_LOC_REG | regnum,
	 * or 0 for nowhere. */
	uint64_t loc[FGT_MEMO_NREGS];
	/* The registers with no save location at all (bit i: the i-th of rbx,
	 * rbp, r12, r13, r14, r15, rsp, rip): libunwind ends an unwind on some
	 * of these without reading anything. */
	uint8_t unsaved;
	/* Of the steps from this frame on; set by fgt_memo_store: */
	bool ok;       /* they can be taken over (see fgt_memo_match) */
	uint64_t hi;   /* end of the highest copied byte they read */
	uint32_t regs; /* snapshot registers they read (bit: regnum) */
	uint8_t need;  /* callee-saved registers whose values they read */
};

/* A word of the copied stack that an unwind read. */
struct fgt_memo_read {
	uint64_t addr;
	uint64_t val;
	uint32_t frame; /* the frame being stepped out of */
};

/* What one unwind read from the copied stack, by the frame it stepped from.
 * Frames past FGT_MEMO_LOG_FRAMES are not logged: such a memo is unusable. */
#define FGT_MEMO_LOG_FRAMES 520
struct fgt_memo_log {
	struct fgt_memo_read *reads;
	size_t n, cap;
	bool lost; /* a read could not be logged (no memory, too deep) */
	uint32_t regs[FGT_MEMO_LOG_FRAMES];
	bool failed[FGT_MEMO_LOG_FRAMES]; /* a read that failed */
};

struct fgt_memo {
	pid_t tid; /* 0: free */
	uint64_t stamp;
	struct fgt_memo_frame *f;
	size_t n, cap;
	bool truncated;
	uint64_t snap[FGT_MEMO_NSNAP];
	struct fgt_memo_read *reads;
	size_t nreads, reads_cap;
};

struct fgt_memo_table {
	struct fgt_memo slot[FGT_MEMO_SLOTS];
	uint64_t clock;
	struct fgt_memo_read *spare; /* the next memo's reads are built here */
	size_t spare_cap;
};

/* Clears a log for the next unwind. */
void fgt_memo_log_reset(struct fgt_memo_log *log);
/* Logs a copied-stack read of val at addr (ok), or a failed read, by the
 * step out of frame. */
void fgt_memo_log_read(struct fgt_memo_log *log, uint32_t frame, uint64_t addr,
		       uint64_t val, bool ok);
/* Logs a read of snapshot register regnum (< FGT_MEMO_NSNAP). */
void fgt_memo_log_reg(struct fgt_memo_log *log, uint32_t frame, int regnum);
void fgt_memo_log_free(struct fgt_memo_log *log);

/* The memo of thread tid, or NULL. */
struct fgt_memo *fgt_memo_find(struct fgt_memo_table *t, pid_t tid);

/* What one unwind's copy has in common with a memo: zero it before the
 * unwind's first fgt_memo_match. */
struct fgt_memo_cmp {
	bool done;
	size_t first; /* from this frame on, the words read hold the same */
};

/* Returns the index of a frame of m from which the rest of an unwind now at
 * frame cur (not the leaf) is known, or -1. It is one where:
 * - pc, sp, exact and the registers with no save location are cur's;
 * - the steps from it read no copied word below sp but where callee-saved
 *   registers were saved, read none that failed, and stopped at no frame
 *   limit;
 * - the callee-saved registers whose values they read have cur's values,
 *   saved in the same places;
 * - the snapshot registers they read hold the same values (snap);
 * - every word at or above sp that they read holds the same value in the copy
 *   [stack_addr, + stack_len).
 * The unwinder reads nothing else, so from there it would find the same. */
long fgt_memo_match(const struct fgt_memo *m, const struct fgt_memo_frame *cur,
		    const uint64_t snap[FGT_MEMO_NSNAP], const uint8_t *stack,
		    uint64_t stack_addr, size_t stack_len, struct fgt_memo_cmp *cmp);

/* Stores thread tid's unwind in its memo, taking a slot (the least recently
 * used) if it has none. fresh[0..nfresh) are the frames unwound now, and log
 * what they read; when from is not NULL, it is tid's memo, fresh[nfresh - 1]
 * matched from->f[at], and the unwind took from->f[at + 1..]. truncated: the
 * unwind's. limit: it stopped at the frame limit. Returns 0, or -ENOMEM (the
 * thread then has no memo). */
int fgt_memo_store(struct fgt_memo_table *t, pid_t tid,
		   const struct fgt_memo_frame *fresh, size_t nfresh,
		   const struct fgt_memo_log *log, const struct fgt_memo *from, size_t at,
		   bool truncated, bool limit, const uint64_t snap[FGT_MEMO_NSNAP]);

/* Forgets every memo (the modules changed), keeping memory. */
void fgt_memo_clear(struct fgt_memo_table *t);
/* Frees everything a table holds (not the table). */
void fgt_memo_free(struct fgt_memo_table *t);

#endif
