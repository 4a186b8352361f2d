/* fgtrace — the bounded snapshot queue. */
#include "queue.h"
#include "pagepool.h"

#include <errno.h>
#include <stdatomic.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define HINTS	   1024
#define STACK_PAGE 4096

struct fgt_queue {
	_Atomic uint64_t hints[HINTS]; /* tid << 32 | bytes */
	pthread_mutex_t lock;
	pthread_cond_t ready;
	struct fgt_snapshot *head, *tail; /* FIFO for the worker */
	struct fgt_snapshot *free;	  /* headers */
	struct fgt_pagepool *stacks;	  /* the stack copies' memory */
	size_t stack_pages;		  /* its size */
	size_t depth;
	size_t in_use; /* pool headers taken and not yet given back */
	bool closed;
	struct fgt_snapshot *headers;
};

int fgt_queue_new(size_t n_headers, size_t stack_pool_bytes, struct fgt_queue **out)
{
	struct fgt_queue *q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	size_t pages = (stack_pool_bytes + STACK_PAGE - 1) / STACK_PAGE;
	q->headers = calloc(n_headers, sizeof(*q->headers));
	if (!q->headers || fgt_pagepool_new(pages, STACK_PAGE, &q->stacks) < 0) {
		free(q->headers);
		free(q);
		return -ENOMEM;
	}
	q->stack_pages = pages;
	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->ready, NULL);
	for (size_t i = 0; i < n_headers; i++) {
		q->headers[i].next = q->free;
		q->free = &q->headers[i];
	}
	*out = q;
	return 0;
}

void fgt_queue_free(struct fgt_queue *q)
{
	if (!q)
		return;
	for (struct fgt_snapshot *s = q->head, *n; s; s = n) {
		n = s->next;
		if (s->from_heap)
			free(s);
	}
	pthread_mutex_destroy(&q->lock);
	pthread_cond_destroy(&q->ready);
	free(q->headers);
	fgt_pagepool_free(q->stacks);
	free(q);
}

struct fgt_snapshot *fgt_queue_get(struct fgt_queue *q, size_t stack_bytes)
{
	uint8_t *stack = NULL;
	pthread_mutex_lock(&q->lock);
	struct fgt_snapshot *s = q->free;
	if (s && stack_bytes && !(stack = fgt_pagepool_get(q->stacks, stack_bytes)))
		s = NULL;
	if (s) {
		q->free = s->next;
		q->in_use++;
	}
	pthread_mutex_unlock(&q->lock);
	if (s) {
		memset(s, 0, sizeof(*s));
		s->stack = stack;
		s->stack_cap = stack ? stack_bytes : 0;
		s->ticks = 1;
	}
	return s;
}

struct fgt_snapshot *fgt_queue_get_event(struct fgt_queue *q)
{
	struct fgt_snapshot *s = fgt_queue_get(q, 0);
	if (!s) {
		s = calloc(1, sizeof(*s));
		if (s) {
			s->from_heap = true;
			s->ticks = 1;
		}
	}
	return s;
}

static void give_back(struct fgt_queue *q, struct fgt_snapshot *s)
{
	if (s->from_heap) {
		free(s);
		return;
	}
	fgt_pagepool_put(q->stacks, s->stack, s->stack_cap);
	s->stack = NULL;
	s->stack_cap = 0;
	s->next = q->free;
	q->free = s;
	q->in_use--;
}

void fgt_queue_put_back(struct fgt_queue *q, struct fgt_snapshot *s)
{
	pthread_mutex_lock(&q->lock);
	give_back(q, s);
	pthread_mutex_unlock(&q->lock);
}

void fgt_queue_push(struct fgt_queue *q, struct fgt_snapshot *s, bool wake)
{
	s->next = NULL;
	pthread_mutex_lock(&q->lock);
	/* A copy is often shorter than its buffer: it ended at the top of the
	 * thread's stack mapping. Only what it holds stays taken. */
	if (s->stack)
		s->stack_cap =
		    fgt_pagepool_trim(q->stacks, s->stack, s->stack_cap, s->stack_len);
	if (q->tail)
		q->tail->next = s;
	else
		q->head = s;
	q->tail = s;
	q->depth++;
	if (wake)
		pthread_cond_signal(&q->ready);
	pthread_mutex_unlock(&q->lock);
}

void fgt_queue_wake(struct fgt_queue *q)
{
	pthread_mutex_lock(&q->lock);
	pthread_cond_signal(&q->ready);
	pthread_mutex_unlock(&q->lock);
}

void fgt_queue_close(struct fgt_queue *q)
{
	pthread_mutex_lock(&q->lock);
	q->closed = true;
	pthread_cond_broadcast(&q->ready);
	pthread_mutex_unlock(&q->lock);
}

struct fgt_snapshot *fgt_queue_pop(struct fgt_queue *q)
{
	pthread_mutex_lock(&q->lock);
	while (!q->head && !q->closed)
		pthread_cond_wait(&q->ready, &q->lock);
	struct fgt_snapshot *s = q->head;
	if (s) {
		q->head = s->next;
		if (!q->head)
			q->tail = NULL;
		q->depth--;
	}
	pthread_mutex_unlock(&q->lock);
	return s;
}

void fgt_queue_release(struct fgt_queue *q, struct fgt_snapshot *s)
{
	fgt_queue_put_back(q, s);
}

#define HINT_CUT 0x80000000u

void fgt_queue_set_hint(struct fgt_queue *q, pid_t tid, size_t bytes, bool cut)
{
	uint32_t low = (uint32_t)(bytes & ~(size_t)HINT_CUT) | (cut ? HINT_CUT : 0);
	uint64_t v = (uint64_t)(uint32_t)tid << 32 | low;
	atomic_store_explicit(&q->hints[(uint32_t)tid % HINTS], v, memory_order_relaxed);
}

size_t fgt_queue_hint(struct fgt_queue *q, pid_t tid, bool *cut)
{
	uint64_t v =
	    atomic_load_explicit(&q->hints[(uint32_t)tid % HINTS], memory_order_relaxed);
	bool ours = (pid_t)(v >> 32) == tid;
	if (cut)
		*cut = ours && (v & HINT_CUT);
	return ours ? (size_t)((uint32_t)v & ~HINT_CUT) : 0;
}

bool fgt_queue_stacks_filling(struct fgt_queue *q)
{
	pthread_mutex_lock(&q->lock);
	size_t free_pages = fgt_pagepool_free_pages(q->stacks);
	pthread_mutex_unlock(&q->lock);
	return free_pages < q->stack_pages - q->stack_pages / 4;
}

bool fgt_queue_idle(struct fgt_queue *q)
{
	pthread_mutex_lock(&q->lock);
	bool idle = q->in_use == 0;
	pthread_mutex_unlock(&q->lock);
	return idle;
}

size_t fgt_queue_depth(struct fgt_queue *q)
{
	pthread_mutex_lock(&q->lock);
	size_t d = q->depth;
	pthread_mutex_unlock(&q->lock);
	return d;
}
