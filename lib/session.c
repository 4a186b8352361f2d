/* fgtrace — one capture, from checking the target to finishing the files. */
#include "session.h"
#include "json.h"
#include "output.h"
#include "procfs.h"
#include "profile.h"
#include "queue.h"
#include "priority.h"
#include "strbuf.h"
#include "tef.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SPIN_NS		  150000 /* how long to poll for stops before sleeping */
#define QUEUE_HEADERS	  8192	 /* snapshots in flight, most without a stack copy */
#define DETACH_TIMEOUT_MS 2000
#define WARMUP_MAX_NS	  2000000000ull
/* The longest a launched command is held at its exit for the worker. */
#define EXIT_HOLD_MAX_NS 2000000000ull
#define NS		  1000000000ull

/* The stack copies in flight share a pool with room for this many copies of
 * --stack-bytes; most copies are far smaller, and keep only what they fill. */
#define QUEUE_STACKS 128

struct fgt_session {
	struct fgt_config cfg;
	pid_t pid;
	bool launch;
	struct fgt_prio_info prio; /* the tracer thread's scheduling */
	char note[256];
	char paths[FGT_MAX_OUTPUTS][PATH_MAX];
	struct fgt_sinks sinks;
	struct fgt_queue *queue;
	struct fgt_tracee *tracee;
	struct fgt_worker *worker;
	sigset_t old_mask;
	int sigfd, timerfd;
	uint64_t start_ns;
	uint64_t warmup_ns; /* attach mode: the first round, until symbolized */
	struct timespec start_wall;
	bool started; /* the spawned command was let run */
	struct fgt_summary sum;
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS + (uint64_t)ts.tv_nsec;
}

/* ---- checking the target -------------------------------------------------- */

/* Only one tracer at a time, per thread: a debugger on any one thread would
 * leave that thread out of the capture in silence. Refuses, naming it. */
static int check_untraced(pid_t pid, char *err, size_t errlen)
{
	pid_t *tids;
	size_t n;
	int rc = fgt_procfs_list_tasks(pid, &tids, &n);
	if (rc < 0)
		return 0; /* the attach itself reports what is wrong */
	for (size_t i = 0; i < n; i++) {
		struct fgt_proc_status st;
		if (fgt_procfs_read_status(pid, tids[i], &st) < 0 || !st.tracer_pid)
			continue;
		char comm[64] = "?";
		char which[64] = "";
		/* TracerPid names the tracing thread: name its process. */
		struct fgt_proc_status tracer;
		if (fgt_procfs_read_status(st.tracer_pid, 0, &tracer) == 0)
			st.tracer_pid = tracer.tgid;
		fgt_procfs_read_comm(st.tracer_pid, 0, comm, sizeof(comm));
		if (tids[i] != pid)
			snprintf(which, sizeof(which), " (its thread %d)", tids[i]);
		snprintf(err, errlen,
			 "cannot attach to %d: it%s is already traced by process %d (%s); "
			 "only one tracer at a time: detach that debugger first",
			 pid, which, st.tracer_pid, comm);
		free(tids);
		return -EPERM;
	}
	free(tids);
	return 0;
}

static int check_pid(struct fgt_session *s, char *err, size_t errlen)
{
	pid_t pid = s->cfg.pid;
	struct fgt_proc_status st;
	struct fgt_proc_stat ps;
	int rc = fgt_procfs_read_status(pid, 0, &st);
	if (rc == -ENOENT || rc == -ESRCH) {
		snprintf(err, errlen, "cannot attach to %d: no such process", pid);
		return -ESRCH;
	}
	if (rc < 0) {
		snprintf(err, errlen, "cannot read /proc/%d/status: %s", pid,
			 strerror(-rc));
		return rc;
	}
	if (st.tgid != pid) {
		snprintf(s->note, sizeof(s->note),
			 "%d is a thread of process %d: tracing the whole process", pid,
			 st.tgid);
		pid = st.tgid;
	}
	if (pid == getpid()) {
		snprintf(err, errlen, "cannot attach to %d: that is fgtrace itself", pid);
		return -EINVAL;
	}
	if (fgt_procfs_read_stat(pid, 0, &ps) == 0 && fgt_procfs_is_kernel_thread(&ps)) {
		snprintf(
		    err, errlen,
		    "cannot attach to %d: it is a kernel thread (%s), which has no user "
		    "code to sample",
		    pid, ps.comm);
		return -EPERM;
	}
	rc = check_untraced(pid, err, errlen);
	if (rc < 0)
		return rc;
	s->pid = pid;
	return 0;
}

/* ---- outputs -------------------------------------------------------------- */

static int expand_path(const struct fgt_session *s, const char *in, char *out, size_t cap)
{
	char stamp[32];
	struct tm tm;
	localtime_r(&s->start_wall.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm);
	size_t n = 0;
	for (const char *p = in; *p; p++) {
		char num[32];
		const char *piece = NULL;
		if (p[0] == '%' && p[1] == 'p') {
			snprintf(num, sizeof(num), "%d", s->pid);
			piece = num;
		} else if (p[0] == '%' && p[1] == 't') {
			piece = stamp;
		} else if (p[0] == '%' && p[1] == '%') {
			piece = "%";
		}
		if (piece) {
			p++;
		} else {
			num[0] = *p;
			num[1] = '\0';
			piece = num;
		}
		size_t len = strlen(piece);
		if (n + len >= cap)
			return -ENAMETOOLONG;
		memcpy(out + n, piece, len);
		n += len;
	}
	out[n] = '\0';
	return 0;
}

static void close_outputs(struct fgt_session *s)
{
	for (size_t i = 0; i < s->sinks.n; i++) {
		fgt_tef_free(s->sinks.tef[i]);
		fgt_profile_free(s->sinks.prof[i]);
		fgt_output_close(s->sinks.out[i]);
		s->sinks.tef[i] = NULL;
		s->sinks.prof[i] = NULL;
		s->sinks.out[i] = NULL;
	}
	s->sinks.n = 0;
}

static int open_outputs(struct fgt_session *s, char *err, size_t errlen)
{
	for (size_t i = 0; i < s->cfg.n_outputs; i++) {
		const struct fgt_output_spec *spec = &s->cfg.outputs[i];
		int rc = expand_path(s, spec->path, s->paths[i], sizeof(s->paths[i]));
		if (rc < 0) {
			snprintf(err, errlen, "cannot open %s: %s", spec->path,
				 strerror(-rc));
			return rc;
		}
		/* pprof is always a gzip-compressed protobuf, whatever its name. */
		enum fgt_compress c = spec->format == FGT_FORMAT_PPROF
					  ? FGT_COMPRESS_GZIP
					  : FGT_COMPRESS_AUTO;
		rc = fgt_output_open(s->paths[i], c, &s->sinks.out[i]);
		if (rc < 0) {
			snprintf(err, errlen, "cannot open %s: %s", s->paths[i],
				 strerror(-rc));
			return rc;
		}
		s->sinks.n = i + 1;
		if (spec->format == FGT_FORMAT_TRACE) {
			rc = fgt_tef_new(s->sinks.out[i], s->cfg.source_line,
					 &s->sinks.tef[i]);
		} else {
			struct fgt_profile_opts po = {spec->format, s->cfg.per_thread,
						      s->cfg.state_frames, s->cfg.hz};
			rc = fgt_profile_new(&po, &s->sinks.prof[i]);
		}
		if (rc < 0) {
			snprintf(err, errlen, "cannot write %s: %s", s->paths[i],
				 strerror(-rc));
			return rc;
		}
	}
	return 0;
}

/* ---- set-up --------------------------------------------------------------- */

static int block_signals(struct fgt_session *s)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGCHLD);
	/* A closed stdout must be a write error (EPIPE), not a silent death that
	 * skips the detach. */
	sigaddset(&set, SIGPIPE);
	if (sigprocmask(SIG_BLOCK, &set, &s->old_mask) < 0)
		return -errno;
	sigdelset(&set, SIGPIPE);
	s->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	return s->sigfd < 0 ? -errno : 0;
}

int fgt_session_new(const struct fgt_config *cfg, struct fgt_session **out, char *err,
		    size_t errlen)
{
	struct fgt_session *s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	s->cfg = *cfg;
	s->sigfd = s->timerfd = -1;
	s->launch = cfg->command != NULL;
	*out = s;
	int rc = block_signals(s);
	if (rc < 0) {
		snprintf(err, errlen, "signalfd: %s", strerror(-rc));
		return rc;
	}
	clock_gettime(CLOCK_REALTIME, &s->start_wall);
	s->start_ns = now_ns();
	rc = fgt_queue_new(QUEUE_HEADERS, QUEUE_STACKS * cfg->stack_bytes, &s->queue);
	if (rc == 0)
		rc = fgt_tracee_new(s->queue, cfg->stack_bytes, s->start_ns, &s->tracee);
	if (rc < 0) {
		snprintf(err, errlen, "out of memory");
		return rc;
	}
	if (s->launch) {
		pid_t pid =
		    fgt_tracee_spawn(s->tracee, cfg->command, &s->old_mask, err, errlen);
		if (pid < 0)
			return pid;
		s->pid = pid;
	} else if ((rc = check_pid(s, err, errlen)) < 0) {
		return rc;
	}
	return open_outputs(s, err, errlen);
}

const char *fgt_session_note(const struct fgt_session *s)
{
	return s->note[0] ? s->note : NULL;
}

static int start_target(struct fgt_session *s, char *err, size_t errlen)
{
	int rc;
	if (s->launch) {
		rc = fgt_tracee_spawn_start(s->tracee);
		if (rc < 0)
			snprintf(err, errlen, "cannot trace the command: %s",
				 strerror(-rc));
		else
			s->started = true;
		return rc;
	}
	rc = fgt_tracee_attach(s->tracee, s->pid, err, errlen);
	if (rc == -EPERM) {
		size_t n = strlen(err);
		snprintf(
		    err + n, errlen - n,
		    " (tracing needs root or CAP_SYS_PTRACE, or kernel.yama.ptrace_scope "
		    "set to 0 for a process of your own user; see fgtrace(1))");
	}
	return rc;
}

static int create_timer(struct fgt_session *s)
{
	s->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	return s->timerfd < 0 ? -errno : 0;
}

static int start_timer(struct fgt_session *s)
{
	uint64_t period = NS / s->cfg.hz;
	uint64_t first = now_ns() + period;
	/* Absolute deadlines: a late tick does not shift the ones after it. */
	struct itimerspec its = {
	    .it_interval = {(time_t)(period / NS), (long)(period % NS)},
	    .it_value = {(time_t)(first / NS), (long)(first % NS)},
	};
	if (timerfd_settime(s->timerfd, TFD_TIMER_ABSTIME, &its, NULL) < 0)
		return -errno;
	return 0;
}

/* ---- the loop ------------------------------------------------------------- */

struct loop_state {
	int sigints;
	bool stop;
};

static void read_signals(struct fgt_session *s, struct loop_state *ls)
{
	struct signalfd_siginfo si;
	while (read(s->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGINT:
			/* Launch mode: Ctrl-C reached the command too; the capture
			 * ends when it exits. A second one detaches at once. */
			if (!s->launch || ++ls->sigints >= 2)
				ls->stop = true;
			break;
		case SIGTERM:
		case SIGHUP:
			ls->stop = true;
			break;
		default:
			break; /* SIGCHLD: the events are reaped below */
		}
	}
}

static void on_timer(struct fgt_session *s)
{
	uint64_t expirations = 0;
	if (read(s->timerfd, &expirations, sizeof(expirations)) != sizeof(expirations))
		return;
	/* Nothing to sample while the command is held at its exit. */
	if (fgt_tracee_exit_held(s->tracee))
		return;
	/* Missed ticks are counted, not replayed in a burst. */
	if (expirations > 1)
		s->sum.missed_ticks += expirations - 1;
	/* Every round starts on time; a thread whose previous stop is still on
	 * its way (it waits for a CPU) is skipped and counted as late. */
	fgt_tracee_tick(s->tracee, false);
}

static void report_progress(struct fgt_session *s, fgt_progress_fn fn, void *ctx)
{
	struct fgt_tracee_stats ts;
	fgt_tracee_get_stats(s->tracee, &ts);
	struct fgt_progress p = {
	    .elapsed_ns = now_ns() - s->start_ns,
	    .samples = ts.stops + ts.reused + ts.jobstopped + ts.unstopped + ts.blocked,
	    .threads = ts.threads_live,
	    .bytes = fgt_worker_bytes(s->worker),
	};
	fn(ctx, &p);
}

/* The stops just asked for usually arrive within tens of microseconds. A
 * tracer that sleeps until SIGCHLD wakes it must first be woken, which on a
 * virtual machine with idle CPUs halted costs more than the stop itself,
 * and every microsecond of it holds a target thread stopped. So poll for
 * them for a short while before going back to sleep, unless stops lately
 * took longer than that (threads waiting for a CPU): polling would only
 * take a CPU from them. */
static int spin_for_stops(struct fgt_session *s)
{
	if (fgt_tracee_stop_latency_ns(s->tracee) > SPIN_NS)
		return 0;
	uint64_t until = now_ns() + SPIN_NS;
	while (fgt_tracee_inflight(s->tracee)) {
		int rc = fgt_tracee_handle_events(s->tracee);
		if (rc < 0)
			return rc;
		fgt_tracee_pump(s->tracee);
		if (now_ns() > until)
			break;
	}
	return 0;
}

/* Attach mode: the threads of a running process sit in code whose symbols
 * and unwind tables are not loaded yet. Loading them (decompressing debug
 * info, say) takes the worker a while, and much longer when the target's
 * threads take its CPUs. Ticks meanwhile would overflow the queue and lose
 * their samples, so the first round is taken alone, and the clock starts
 * when the worker has done with it (or after WARMUP_MAX_NS). Nothing is
 * stopped while the worker works. Returns true while warming up. */
static bool warming_up(struct fgt_session *s, uint64_t warm_start, uint64_t now)
{
	if (!fgt_tracee_round_done(s->tracee) || !fgt_queue_idle(s->queue))
		return now - warm_start < WARMUP_MAX_NS;
	return false;
}

/* Launch mode: the command is held at its exit until the worker has done
 * with every sample queued before it, while it can still read the command's
 * memory and maps, or for EXIT_HOLD_MAX_NS at most; then it is let go. Returns
 * true while it is held. */
static bool held_for_worker(struct fgt_session *s, uint64_t now)
{
	if (!fgt_tracee_exit_held(s->tracee))
		return false;
	if (fgt_queue_idle(s->queue) ||
	    now - fgt_tracee_exit_ns(s->tracee) >= EXIT_HOLD_MAX_NS) {
		fgt_tracee_release_exit(s->tracee);
		return false;
	}
	return true;
}

static int run_loop(struct fgt_session *s, fgt_progress_fn progress, void *ctx)
{
	struct loop_state ls = {0};
	uint64_t end = UINT64_MAX;
	uint64_t next_progress = s->start_ns + NS;
	struct pollfd fds[2] = {{s->sigfd, POLLIN, 0}, {s->timerfd, POLLIN, 0}};
	int rc = 0;
	uint64_t warm_start = now_ns();
	bool warming = !s->launch, ticking = false;
	if (warming)
		fgt_tracee_tick(s->tracee, true);

	for (;;) {
		if (warming && !(warming = warming_up(s, warm_start, now_ns()))) {
			s->warmup_ns = now_ns() - warm_start;
			fgt_prio_restart_budget(now_ns());
		}
		if (!warming && !ticking) {
			if ((rc = start_timer(s)) < 0) {
				s->sum.reason = FGT_END_ERROR;
				break;
			}
			ticking = true;
			/* The duration counts from the warm-up's end. */
			if (s->cfg.duration_ns)
				end = now_ns() + s->cfg.duration_ns;
		}
		if (!fgt_tracee_alive(s->tracee)) {
			s->sum.reason = FGT_END_EXITED;
			break;
		}
		if ((rc = fgt_worker_error(s->worker)) < 0) {
			s->sum.reason = FGT_END_ERROR;
			break;
		}
		if (ls.stop) {
			s->sum.reason = FGT_END_SIGNAL;
			break;
		}
		uint64_t now = now_ns();
		if (!warming)
			fgt_prio_check(now);
		if (now >= end) {
			s->sum.reason = FGT_END_DURATION;
			break;
		}
		if (progress && now >= next_progress) {
			report_progress(s, progress, ctx);
			next_progress += NS;
		}
		/* Without progress reports, next_progress stays in the past, and
		 * must not make the wait a whole second long. */
		uint64_t wake = end;
		if (progress && next_progress < wake)
			wake = next_progress;
		uint64_t due = fgt_tracee_pump_due_ns(s->tracee);
		bool held = held_for_worker(s, now);
		if ((warming || held) && due > now + NS / 1000)
			due = now + NS / 1000; /* look again in a millisecond */
		if (due < wake)
			wake = due;
		uint64_t left = wake <= now ? 0 : wake - now < NS ? wake - now : NS;
		struct timespec timeout = {(time_t)(left / NS), (long)(left % NS)};
		if (ppoll(fds, 2, &timeout, NULL) < 0 && errno != EINTR) {
			rc = -errno;
			s->sum.reason = FGT_END_ERROR;
			break;
		}
		if (fds[0].revents)
			read_signals(s, &ls);
		if (fds[1].revents)
			on_timer(s);
		rc = fgt_tracee_handle_events(s->tracee);
		if (rc < 0) {
			s->sum.reason = FGT_END_ERROR;
			break;
		}
		fgt_tracee_pump(s->tracee);
		rc = spin_for_stops(s);
		if (rc < 0) {
			s->sum.reason = FGT_END_ERROR;
			break;
		}
	}
	return rc;
}

/* Launch mode, after the capture: the command runs on untraced; fgtrace waits
 * for it to pass its exit status on, unless told to leave. */
static void wait_command(struct fgt_session *s)
{
	struct pollfd pfd = {s->sigfd, POLLIN, 0};
	for (;;) {
		int status;
		pid_t r = waitpid(s->pid, &status, WNOHANG);
		if (r == s->pid && (WIFEXITED(status) || WIFSIGNALED(status))) {
			s->sum.target_exited = true;
			s->sum.target_status = status;
			return;
		}
		if (r < 0 && errno != EINTR)
			return;
		poll(&pfd, 1, -1);
		struct signalfd_siginfo si;
		while (read(s->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
			if (si.ssi_signo != SIGCHLD && si.ssi_signo != SIGINT) {
				s->sum.left_running = true;
				return;
			}
		}
	}
}

/* ---- finishing ------------------------------------------------------------ */

static void metadata_json(struct fgt_session *s, struct fgt_strbuf *b)
{
	struct fgt_tracee_stats *ts = &s->sum.tracer;
	struct fgt_worker_stats *ws = &s->sum.worker;
	char start[64];
	struct tm tm;
	gmtime_r(&s->start_wall.tv_sec, &tm);
	strftime(start, sizeof(start), "%Y-%m-%dT%H:%M:%SZ", &tm);
	fgt_strbuf_printf(
	    b, "{\"version\":\"%s\",\"hz\":%u,\"command_line\":", FGT_VERSION, s->cfg.hz);
	fgt_json_cstring(b, s->cfg.cmdline ? s->cfg.cmdline : "");
	fgt_strbuf_printf(b,
			  ",\"start_time\":\"%s\",\"clock_monotonic_start_ns\":%" PRIu64,
			  start, s->start_ns);
	fgt_strbuf_printf(b, ",\"pid\":%d,\"duration_ns\":%" PRIu64, s->pid,
			  s->sum.duration_ns);
	fgt_strbuf_printf(
	    b,
	    ",\"samples\":%" PRIu64 ",\"stops\":%" PRIu64 ",\"stops_avoided\":%" PRIu64
	    ",\"jobstopped_samples\":%" PRIu64 ",\"blocked_samples\":%" PRIu64 ",\"dropped\":%" PRIu64
	    ",\"late\":%" PRIu64 ",\"missed_ticks\":%" PRIu64 ",\"ticks\":%" PRIu64
	    ",\"threads_seen\":%" PRIu64 ",\"signals_forwarded\":%" PRIu64,
	    ws->samples, ts->stops, ts->reused, ts->jobstopped, ts->blocked, ts->drops, ts->late,
	    s->sum.missed_ticks, ts->ticks, ts->threads_seen, ts->signals);
	static const char *const priorities[] = {"realtime", "high", "inherit"};
	const char *demoted = fgt_demotion_name(s->prio.demoted);
	fgt_strbuf_printf(b,
			  ",\"ticks_late\":%" PRIu64 ",\"warmup_ns\":%" PRIu64
			  ",\"tracer_priority\":\"%s\",\"tracer_realtime\":%s"
			  ",\"tracer_demoted\":",
			  ts->ticks_late, s->warmup_ns, priorities[s->cfg.priority],
			  s->prio.realtime ? "true" : "false");
	if (demoted)
		fgt_json_cstring(b, demoted);
	else
		fgt_strbuf_puts(b, "null");
	fgt_strbuf_printf(
	    b, ",\"tracer_nice\":%d,\"tracer_slice_ns\":%" PRIu64 ",\"worker_nice\":%d",
	    s->prio.nice, s->prio.slice_ns, ws->worker_nice);
	fgt_strbuf_printf(
	    b,
	    ",\"samples_without_stop\":%" PRIu64 ",\"calls_remade\":%" PRIu64
	    ",\"eintr_caused\":%" PRIu64 ",\"processes_let_go\":%" PRIu64
	    ",\"threads_files_short\":%" PRIu64 ",\"exit_held_ns\":%" PRIu64,
	    ts->unstopped, ts->restarted, ts->eintr, ts->foreign, ts->files_short,
	    ts->exit_held_ns);
	static const char *const watch_states[] = {"on", "unavailable", "contradicted"};
	fgt_strbuf_printf(b,
			  ",\"run_watch\":\"%s\",\"run_watches_opened\":%" PRIu64
			  ",\"run_watches_dropped\":%" PRIu64
			  ",\"run_reads_saved\":%" PRIu64,
			  watch_states[ts->run_watch], ts->watches_opened,
			  ts->watches_dropped, ts->run_reads_saved);
	fgt_strbuf_printf(b,
			  ",\"stop_held_ns_total\":%" PRIu64 ",\"stop_copy_ns_total\":%" PRIu64
			  ",\"stop_held_ns_max\":%" PRIu64 ",\"stop_held_us_histogram\":{",
			  ts->held_total_ns, ts->copy_total_ns, ts->held_max_ns);
	for (int i = 0; i < FGT_HELD_BUCKETS; i++) {
		if (i == 0)
			fgt_strbuf_printf(b, "\"<1\":%" PRIu64, ts->held_hist[i]);
		else if (i == FGT_HELD_BUCKETS - 1) /* it holds all the longer ones */
			fgt_strbuf_printf(b, ",\">=%u\":%" PRIu64, 1u << (i - 1),
					  ts->held_hist[i]);
		else
			fgt_strbuf_printf(b, ",\"%u-%u\":%" PRIu64, 1u << (i - 1),
					  1u << i, ts->held_hist[i]);
	}
	fgt_strbuf_printf(
	    b,
	    "},\"stack_bytes_copied\":%" PRIu64 ",\"stacks_unwound\":%" PRIu64
	    ",\"stacks_truncated\":%" PRIu64 ",\"timeline_gaps\":%" PRIu64
	    ",\"unwind_ns\":%" PRIu64 ",\"unwind_remote_reads\":%" PRIu64
	    ",\"unwind_page_hits\":%" PRIu64 ",\"unwind_memo_hits\":%" PRIu64
	    ",\"unwind_memo_frames\":%" PRIu64 ",\"unwind_fp_found\":%" PRIu64
	    ",\"symbol_lookups\":%" PRIu64 ",\"symbol_cache_hits\":%" PRIu64
	    ",\"symbol_ns\":%" PRIu64,
	    ts->copied_bytes, ws->unwound, ws->truncated, ws->gaps, ws->unwind_ns,
	    ws->remote_reads, ws->page_hits, ws->memo_hits, ws->memo_frames, ws->fp_found,
	    ws->symbol_lookups, ws->symbol_hits, ws->symbol_ns);
#ifdef FGT_UNWIND_VERIFY
	fgt_strbuf_printf(
	    b, ",\"unwind_memo_checked\":%" PRIu64 ",\"unwind_memo_mismatches\":%" PRIu64,
	    ws->memo_checked, ws->memo_mismatches);
#endif
	fgt_strbuf_printf(b, "}");
}

static int finish_outputs(struct fgt_session *s, char *err, size_t errlen)
{
	struct fgt_strbuf meta;
	fgt_strbuf_init(&meta);
	metadata_json(s, &meta);
	int first = fgt_worker_error(s->worker);
	size_t failed = 0;
	uint64_t wall_ns =
	    (uint64_t)s->start_wall.tv_sec * NS + (uint64_t)s->start_wall.tv_nsec;
	for (size_t i = 0; i < s->sinks.n; i++) {
		int rc = 0;
		if (s->sinks.tef[i]) {
			rc = fgt_tef_metadata(s->sinks.tef[i], s->pid,
					      meta.oom ? "{}" : meta.s);
			if (rc == 0)
				rc = fgt_tef_finish(s->sinks.tef[i]);
		} else if (s->sinks.prof[i]) {
			rc = fgt_profile_write(s->sinks.prof[i], s->sinks.out[i], wall_ns,
					       s->sum.duration_ns);
		}
		int crc = fgt_output_close(s->sinks.out[i]);
		s->sinks.out[i] = NULL;
		if (rc == 0)
			rc = crc;
		struct stat st;
		if (strcmp(s->paths[i], "-") != 0 && stat(s->paths[i], &st) == 0)
			s->sum.bytes[i] = (uint64_t)st.st_size;
		if (rc < 0 && !first) {
			first = rc;
			failed = i;
		}
	}
	fgt_strbuf_free(&meta);
	if (first < 0)
		snprintf(err, errlen, "cannot write %s: %s", s->paths[failed],
			 strerror(-first));
	return first;
}

/* Nothing was captured (the attach failed): a file with only metadata in it
 * would pass for a capture. Removes the regular files among the outputs. */
static void remove_outputs(const struct fgt_session *s)
{
	for (size_t i = 0; i < s->sinks.n; i++) {
		struct stat st;
		if (strcmp(s->paths[i], "-") != 0 && lstat(s->paths[i], &st) == 0 &&
		    S_ISREG(st.st_mode))
			unlink(s->paths[i]);
	}
}

static void describe_loop_error(struct fgt_session *s, int rc, char *err, size_t errlen)
{
	for (size_t i = 0; i < s->sinks.n; i++) {
		int e = fgt_output_error(s->sinks.out[i]);
		if (e < 0) {
			snprintf(err, errlen, "cannot write %s: %s; detached from %d",
				 s->paths[i], strerror(-e), s->pid);
			return;
		}
	}
	snprintf(err, errlen, "tracing %d failed: %s", s->pid, strerror(-rc));
}

/* What the tracer thread was given, and what it found. */
struct tracer_run {
	struct fgt_session *s;
	fgt_progress_fn progress;
	void *ctx;
	char *err;
	size_t errlen;
	int rc;
	bool not_started;
	uint64_t end_ns;
};

/* The tracer: the one thread that attaches, samples and detaches. Its exit
 * detaches, without a stop, the threads that fgt_tracee_detach leaves
 * running: so it ends as soon as the detach is done, and leaves the outputs
 * to the caller's thread. */
static void *tracer_main(void *arg)
{
	struct tracer_run *r = arg;
	struct fgt_session *s = r->s;
	int rc = start_target(s, r->err, r->errlen);
	r->not_started = rc < 0;
	if (rc == 0 && (rc = create_timer(s)) < 0)
		snprintf(r->err, r->errlen, "timerfd: %s", strerror(-rc));
	if (rc == 0) {
		/* After the fork of a command: it must not inherit any of it. */
		pthread_setname_np(pthread_self(), "fgtrace-tracer");
		fgt_prio_raise(s->cfg.priority, now_ns());
		rc = run_loop(s, r->progress, r->ctx);
		if (rc < 0)
			describe_loop_error(s, rc, r->err, r->errlen);
	}
	/* A command held at its exit ended there. */
	r->end_ns = fgt_tracee_exit_ns(s->tracee) ? fgt_tracee_exit_ns(s->tracee) : now_ns();
	/* Every way out detaches every thread. */
	if (fgt_tracee_alive(s->tracee))
		fgt_tracee_detach(s->tracee, DETACH_TIMEOUT_MS);
	fgt_prio_get(&s->prio);
	fgt_prio_lower();
	r->rc = rc;
	return NULL;
}

int fgt_session_run(struct fgt_session *s, fgt_progress_fn progress, void *ctx, char *err,
		    size_t errlen)
{
	int rc = fgt_worker_new(&s->cfg, s->pid, s->queue, &s->sinks, &s->worker);
	if (rc == 0)
		rc = fgt_worker_start(s->worker);
	if (rc < 0) {
		snprintf(err, errlen, "cannot start the worker thread: %s",
			 strerror(-rc));
		return rc;
	}
	struct tracer_run run = {
	    .s = s, .progress = progress, .ctx = ctx, .err = err, .errlen = errlen};
	pthread_t tracer;
	rc = -pthread_create(&tracer, NULL, tracer_main, &run);
	if (rc == 0) {
		pthread_join(tracer, NULL);
		rc = run.rc;
	} else {
		snprintf(err, errlen, "cannot start the tracer thread: %s",
			 strerror(-rc));
		run.not_started = true; /* fgt_session_free ends the command */
		run.end_ns = now_ns();
	}
	bool not_started = run.not_started;
	uint64_t end = run.end_ns;
	s->sum.tracer_demoted = s->prio.demoted;
	s->sum.duration_ns = end - s->start_ns;
	fgt_worker_finish(s->worker, s->sum.duration_ns);
	fgt_tracee_get_stats(s->tracee, &s->sum.tracer);
	fgt_worker_get_stats(s->worker, &s->sum.worker);
	int wrc =
	    finish_outputs(s, rc < 0 ? err + strlen(err) : err,
			   rc < 0 ? 0 : errlen); /* keep the first error's message */
	if (rc == 0)
		rc = wrc;
	if (not_started)
		remove_outputs(s);
	int status;
	if (s->launch)
		s->sum.exec_errno = fgt_tracee_exec_error(s->tracee);
	if (fgt_tracee_exit_status(s->tracee, &status)) {
		s->sum.target_exited = true;
		s->sum.target_status = status;
	} else if (s->launch && s->started) {
		if (s->sum.reason == FGT_END_SIGNAL)
			s->sum.left_running = true;
		else
			wait_command(s);
	}
	return rc;
}

void fgt_session_get_summary(const struct fgt_session *s, struct fgt_summary *sum)
{
	*sum = s->sum;
	sum->pid = s->pid;
	sum->n_outputs = s->cfg.n_outputs;
	for (size_t i = 0; i < s->cfg.n_outputs; i++)
		sum->paths[i] = s->paths[i];
}

void fgt_session_free(struct fgt_session *s)
{
	if (!s)
		return;
	if (s->launch && !s->started)
		fgt_tracee_spawn_abort(s->tracee);
	close_outputs(s);
	fgt_worker_free(s->worker);
	fgt_tracee_free(s->tracee);
	fgt_queue_free(s->queue);
	if (s->sigfd >= 0)
		close(s->sigfd);
	if (s->timerfd >= 0)
		close(s->timerfd);
	sigprocmask(SIG_SETMASK, &s->old_mask, NULL);
	free(s);
}
