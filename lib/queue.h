/* fgtrace — the bounded snapshot queue between the tracer and the worker.
 *
 * All memory is allocated up front: a fixed number of headers, and a pool of
 * pages that the stack copies share, each taking only the pages it needs
 * (lib/pagepool.h). The tracer never waits for the worker: when no header or
 * no run of pages is left, a sample is dropped and counted. Thread events
 * (new, exit, exec) must not be lost, so they fall back to a heap allocation
 * when the headers are used up.
 */
#ifndef FGT_QUEUE_H
#define FGT_QUEUE_H

#include "snapshot.h"

#include <stdatomic.h>

struct fgt_queue;

/* Creates a queue of n_headers headers and stack_pool_bytes (rounded up to
 * whole pages) for stack copies. Returns 0 or -ENOMEM. Free with
 * fgt_queue_free. */
int fgt_queue_new(size_t n_headers, size_t stack_pool_bytes, struct fgt_queue **out);
void fgt_queue_free(struct fgt_queue *q);

/* Takes a free header, with a stack buffer of stack_bytes (stack, stack_cap)
 * unless stack_bytes is 0. Returns NULL when no header or no buffer is free
 * (the caller counts a drop). Never blocks for long, never allocates.
 * Tracer only. */
struct fgt_snapshot *fgt_queue_get(struct fgt_queue *q, size_t stack_bytes);
/* Like fgt_queue_get(q, 0), but falls back to malloc; NULL only on ENOMEM. */
struct fgt_snapshot *fgt_queue_get_event(struct fgt_queue *q);
/* Gives an unused snapshot back, with its stack buffer, without queueing it. */
void fgt_queue_put_back(struct fgt_queue *q, struct fgt_snapshot *s);

/* Appends s for the worker, and gives back the pages of its stack buffer
 * past what was copied (stack_len). Wakes the worker only when wake is true,
 * so the tracer can batch a whole tick into one wake-up. */
void fgt_queue_push(struct fgt_queue *q, struct fgt_snapshot *s, bool wake);
/* Wakes the worker for what was pushed without waking it. */
void fgt_queue_wake(struct fgt_queue *q);
/* Marks the end: fgt_queue_pop returns NULL once the queue is drained. */
void fgt_queue_close(struct fgt_queue *q);

/* Worker: waits for the next snapshot; NULL after close and drain. */
struct fgt_snapshot *fgt_queue_pop(struct fgt_queue *q);
/* Worker: returns a popped snapshot to the pool. */
void fgt_queue_release(struct fgt_queue *q, struct fgt_snapshot *s);

/* Stack hints, worker to tracer, lock-free: how many bytes above the copy's
 * start a thread's recent unwinds needed (0: copy all, bytes < 2 GiB), and
 * whether its last stack was cut short. A small table indexed by tid; a
 * collision only costs a full-size copy or one more stop. */
void fgt_queue_set_hint(struct fgt_queue *q, pid_t tid, size_t bytes, bool cut);
size_t fgt_queue_hint(struct fgt_queue *q, pid_t tid, bool *cut);

/* True when more than a quarter of the stack copies' memory is taken: the
 * worker is behind. */
bool fgt_queue_stacks_filling(struct fgt_queue *q);

/* True when every pool header is back in the pool: nothing is held by the
 * tracer for a pending stop, queued, or being processed by the worker. */
bool fgt_queue_idle(struct fgt_queue *q);

/* How many snapshots wait to be processed. */
size_t fgt_queue_depth(struct fgt_queue *q);

#endif
