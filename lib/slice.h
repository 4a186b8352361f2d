/* fgtrace — the fair-scheduler slice of our own threads.
 * Each call applies to the calling thread only.
 */
#ifndef FGT_SLICE_H
#define FGT_SLICE_H

#include <stdint.h>

/* Asks for a fair-scheduler slice of slice_ns for the calling thread,
 * keeping its nice value. A shorter slice does not give the thread more CPU
 * time; it makes the scheduler run it sooner when it wakes, in shorter turns
 * (Linux 6.12 and later; older kernels ignore the request). Returns 0, or
 * -errno from sched_setattr(2). */
int fgt_slice_set(uint64_t slice_ns);

/* Returns the fair-scheduler slice the kernel uses for the calling thread,
 * in ns, or 0 when the kernel does not say (before Linux 6.12) or the thread
 * is not SCHED_OTHER. */
uint64_t fgt_slice_get(void);

#endif
