/* fgtrace — one capture: validate, attach or spawn, the event loop, the stop
 * conditions, detach, and finishing the outputs.
 *
 * Signals: fgt_session_new blocks SIGINT, SIGTERM, SIGHUP, SIGCHLD and SIGPIPE
 * in the calling thread (they are read from a signalfd), so it must be called
 * before any other thread exists. Never prints; errors come back as a message.
 */
#ifndef FGT_SESSION_H
#define FGT_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "priority.h"
#include "tracee.h"
#include "worker.h"

#define FGT_VERSION "0.1.0"

enum fgt_end_reason {
	FGT_END_DURATION, /* -d elapsed */
	FGT_END_EXITED,	  /* the target exited */
	FGT_END_SIGNAL,	  /* SIGINT, SIGTERM or SIGHUP to fgtrace */
	FGT_END_ERROR,	  /* an output write failed, or another internal error */
};

struct fgt_progress {
	uint64_t elapsed_ns;
	uint64_t samples;
	uint64_t threads;
	uint64_t bytes;
};

typedef void (*fgt_progress_fn)(void *ctx, const struct fgt_progress *p);

struct fgt_summary {
	pid_t pid;
	enum fgt_end_reason reason;
	uint64_t duration_ns;
	uint64_t missed_ticks;
	struct fgt_tracee_stats tracer;
	struct fgt_worker_stats worker;
	bool target_exited; /* with its wait status in target_status */
	int target_status;
	bool left_running; /* launch mode: detached from a running command */
	int exec_errno;	   /* launch mode: why the command could not be executed, or 0 */
	enum fgt_demotion tracer_demoted; /* why the tracer left real-time priority */
	size_t n_outputs;
	const char *paths[FGT_MAX_OUTPUTS]; /* expanded output paths */
	uint64_t bytes[FGT_MAX_OUTPUTS];
};

struct fgt_session;

/* Checks the target and opens every output, before touching the target.
 * Attach mode: the pid must exist, not be fgtrace itself nor a kernel thread,
 * and not be traced already. Launch mode: the command is found and started,
 * stopped before its exec. Returns 0, or -errno with a message in err:
 * -ESRCH no such process, -EPERM refused, -ENOENT/-EACCES command not found or
 * not executable (launch), or the output's error. cfg is borrowed. */
int fgt_session_new(const struct fgt_config *cfg, struct fgt_session **out, char *err,
		    size_t errlen);

/* A note for the user about how the target was understood (a thread id
 * given for its process), or NULL. */
const char *fgt_session_note(const struct fgt_session *s);

/* Runs the capture to its end and finishes the outputs. progress (may be
 * NULL) is called about once a second from this thread. Returns 0, or -errno
 * with a message in err when attaching, writing or the loop failed; the target
 * is detached in every case. */
int fgt_session_run(struct fgt_session *s, fgt_progress_fn progress, void *ctx, char *err,
		    size_t errlen);

void fgt_session_get_summary(const struct fgt_session *s, struct fgt_summary *sum);

/* Frees the session; kills a spawned command that never started. */
void fgt_session_free(struct fgt_session *s);

#endif
