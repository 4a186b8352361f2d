/* fgtrace — aggregate profiles: folded stacks and pprof.
 *
 * A profile counts samples per distinct (stack, thread, tid, state) key and is
 * written once, at the end of the capture. Memory grows with the number of
 * distinct keys only, never with the number of samples.
 *
 * Samples point into the symbolizer: their locations, functions and modules
 * (and the state function) are kept by pointer, so the symbolizer must
 * outlive the profile (free the profile first). Thread names are copied. Not
 * thread-safe: one owner thread per profile.
 */
#ifndef FGT_PROFILE_H
#define FGT_PROFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "frame.h"

struct fgt_output;
struct fgt_profile;

struct fgt_profile_opts {
	enum fgt_format format; /* FGT_FORMAT_PPROF or FGT_FORMAT_FOLDED */
	bool per_thread;	/* thread name as the outermost root frame */
	enum fgt_state_frames state_frames;
	unsigned hz; /* sampling rate: each sample weighs 1e9 / hz ns */
};

/* Creates an empty profile. Returns 0 and sets *out (free it with
 * fgt_profile_free), -EINVAL if the format is not an aggregate or hz is 0,
 * -ENOMEM. */
int fgt_profile_new(const struct fgt_profile_opts *o, struct fgt_profile **out);

/* Counts one sample. s is borrowed for the call only. Allocates only when the
 * key is new. Returns 0, or -ENOMEM (the sample is then not counted). */
int fgt_profile_add(struct fgt_profile *p, const struct fgt_sample_info *s);

/* Writes the whole profile into out, which the caller opened (pprof outputs
 * with FGT_COMPRESS_GZIP: this writes the raw protobuf) and closes. time_nanos
 * is the capture's wall-clock start (Unix ns). The profile is unchanged and
 * may be written again. Returns 0, -ENOMEM, or the output's -errno. */
int fgt_profile_write(struct fgt_profile *p, struct fgt_output *out, uint64_t time_nanos,
		      uint64_t duration_nanos);

/* Returns the number of samples counted. */
uint64_t fgt_profile_samples(const struct fgt_profile *p);

/* Returns the number of distinct keys: what the profile's memory grows with. */
size_t fgt_profile_keys(const struct fgt_profile *p);

/* Frees p and all it owns; NULL is allowed. */
void fgt_profile_free(struct fgt_profile *p);

#endif
