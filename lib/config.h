/* fgtrace — what one capture is asked to do.
 *
 * Filled in by cmd/ from the command line and read by lib/session.c. Strings
 * are borrowed: they must outlive the session (they point into argv).
 */
#ifndef FGT_CONFIG_H
#define FGT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define FGT_MAX_OUTPUTS		8
#define FGT_DEFAULT_HZ		99
#define FGT_DEFAULT_STACK_BYTES (64 * 1024)
#define FGT_MIN_STACK_BYTES	(4 * 1024)
#define FGT_MAX_STACK_BYTES	(1024 * 1024)
#define FGT_MAX_FRAMES		512

enum fgt_format { FGT_FORMAT_TRACE, FGT_FORMAT_PPROF, FGT_FORMAT_FOLDED };
enum fgt_state_frames { FGT_STATE_ROOT, FGT_STATE_LEAF, FGT_STATE_NONE };
enum fgt_demangle { FGT_DEMANGLE_SHORT, FGT_DEMANGLE_FULL, FGT_DEMANGLE_NONE };
/* How fgtrace's threads are scheduled: see lib/priority.h. */
enum fgt_priority { FGT_PRIORITY_REALTIME, FGT_PRIORITY_HIGH, FGT_PRIORITY_INHERIT };

struct fgt_output_spec {
	const char *path; /* as given; %p and %t are expanded at start */
	enum fgt_format format;
};

struct fgt_config {
	pid_t pid;	      /* process to attach to, or 0 */
	char *const *command; /* argv of the command to launch, or NULL */
	uint64_t duration_ns; /* 0: until the target exits or a signal */
	unsigned hz;	      /* samples per second per thread */
	size_t stack_bytes;   /* most stack bytes copied per sample */
	struct fgt_output_spec outputs[FGT_MAX_OUTPUTS];
	size_t n_outputs;
	enum fgt_state_frames state_frames;
	bool per_thread;	    /* thread name as the aggregates' root frame */
	const char *debuginfo_path; /* extra debug directories, ':'-separated */
	enum fgt_demangle demangle;
	bool source_line;    /* sampled source line in frame args */
	enum fgt_priority priority; /* the tracer's and the worker's */
	const char *cmdline; /* fgtrace's own command line, for the metadata */
	bool quiet;	     /* no progress line, no summary (cmd/ only) */
};

#endif
