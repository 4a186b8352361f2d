/* fgtrace — command-line entry point: parse, run one capture, report. */
#include "options.h"
#include "session.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define EXIT_FAIL  1
#define EXIT_USAGE 2

struct ui {
	bool quiet;
	bool tty;
	bool progress_shown;
};

static void usage_error(const char *msg)
{
	fprintf(stderr, "fgtrace: %s\nTry 'fgtrace --help' for more information.\n", msg);
}

static char *join_args(int argc, char **argv)
{
	size_t len = 1;
	for (int i = 0; i < argc; i++)
		len += strlen(argv[i]) + 1;
	char *s = malloc(len);
	if (!s)
		return NULL;
	s[0] = '\0';
	for (int i = 0; i < argc; i++) {
		if (i)
			strcat(s, " ");
		strcat(s, argv[i]);
	}
	return s;
}

static void human_bytes(uint64_t n, char *buf, size_t cap)
{
	if (n < 1024)
		snprintf(buf, cap, "%" PRIu64 " B", n);
	else if (n < 1024 * 1024)
		snprintf(buf, cap, "%.1f KiB", n / 1024.0);
	else
		snprintf(buf, cap, "%.1f MiB", n / (1024.0 * 1024.0));
}

static void show_progress(void *ctx, const struct fgt_progress *p)
{
	struct ui *ui = ctx;
	char bytes[32];
	human_bytes(p->bytes, bytes, sizeof(bytes));
	fprintf(stderr,
		"\r\033[Kfgtrace: %.0fs  %" PRIu64 " samples  %" PRIu64 " threads  %s",
		p->elapsed_ns / 1e9, p->samples, p->threads, bytes);
	ui->progress_shown = true;
}

/* The median stop time, from the power-of-two histogram (its bucket's top). */
static uint64_t held_median_us(const struct fgt_tracee_stats *t)
{
	uint64_t total = 0, seen = 0;
	for (int i = 0; i < FGT_HELD_BUCKETS; i++)
		total += t->held_hist[i];
	for (int i = 0; i < FGT_HELD_BUCKETS; i++) {
		seen += t->held_hist[i];
		if (total && seen * 2 >= total)
			return 1ull << i;
	}
	return 0;
}

static void print_summary(const struct fgt_config *cfg, const struct fgt_summary *s)
{
	const struct fgt_tracee_stats *t = &s->tracer;
	double secs = s->duration_ns / 1e9;
	uint64_t samples = s->worker.samples;
	uint64_t taken = t->stops + t->reused + t->jobstopped + t->unstopped + t->blocked;
	fprintf(stderr,
		"fgtrace: %" PRIu64 " samples of %" PRIu64
		" threads in %.2f s (%.0f/s, %u Hz per "
		"thread), %" PRIu64 " missed ticks\n",
		samples, t->threads_seen, secs, secs > 0 ? samples / secs : 0.0, cfg->hz,
		s->missed_ticks);
	fprintf(
	    stderr,
	    "fgtrace: cost to the target: %" PRIu64 " stops, median <= %" PRIu64
	    " us, max %.0f us; %.0f%% of samples needed no stop; %" PRIu64 " dropped\n",
	    t->stops, held_median_us(t), t->held_max_ns / 1e3,
	    taken ? 100.0 * (double)(taken - t->stops) / (double)taken : 0.0, t->drops);
	if (t->exit_held_ns >= 1000000) /* shorter is noise here: see the metadata */
		fprintf(stderr,
			"fgtrace: the command was held %.0f ms at its exit, until its "
			"last samples were unwound\n",
			t->exit_held_ns / 1e6);
	if (t->files_short)
		fprintf(stderr,
			"fgtrace: note: %" PRIu64 " threads had their /proc files "
			"opened at each tick, at more cost to fgtrace: too few open "
			"files (ulimit -n) to keep them open\n",
			t->files_short);
	if (s->tracer_demoted == FGT_DEMOTED_CPU)
		fputs("fgtrace: the tracer left real-time priority: it needed more than "
		      "half a CPU (try a lower -F)\n",
		      stderr);
	else if (s->tracer_demoted == FGT_DEMOTED_RTTIME)
		fputs("fgtrace: the tracer left real-time priority: it ran 100 ms "
		      "without sleeping\n",
		      stderr);
	for (size_t i = 0; i < s->n_outputs; i++) {
		char bytes[32];
		human_bytes(s->bytes[i], bytes, sizeof(bytes));
		bool trace = cfg->outputs[i].format == FGT_FORMAT_TRACE;
		fprintf(stderr, "fgtrace: wrote %s (%s)%s\n",
			strcmp(s->paths[i], "-") ? s->paths[i] : "to stdout", bytes,
			trace ? ": open it at https://ui.perfetto.dev" : "");
	}
}

static int exit_status(const struct fgt_config *cfg, const struct fgt_summary *s)
{
	if (!cfg->command || s->left_running)
		return EXIT_SUCCESS;
	if (s->exec_errno)
		return s->exec_errno == ENOENT ? 127 : 126;
	if (!s->target_exited)
		return EXIT_SUCCESS;
	if (WIFEXITED(s->target_status))
		return WEXITSTATUS(s->target_status);
	if (WIFSIGNALED(s->target_status))
		return 128 + WTERMSIG(s->target_status);
	return EXIT_FAIL;
}

static void note_guessed_formats(const struct fgt_config *cfg, char **argv)
{
	(void)argv;
	for (size_t i = 0; i < cfg->n_outputs; i++) {
		int guessed;
		fgt_format_from_name(cfg->outputs[i].path, &guessed);
		if (guessed && cfg->outputs[i].format == FGT_FORMAT_TRACE)
			fprintf(
			    stderr,
			    "fgtrace: note: %s has no known ending; writing a trace (use "
			    "--format to choose)\n",
			    cfg->outputs[i].path);
	}
}

int main(int argc, char **argv)
{
	struct fgt_config cfg;
	char err[1024] = "";
	switch (fgt_options_parse(argc, argv, &cfg, err, sizeof(err))) {
	case FGT_OPTIONS_HELP:
		fgt_options_help(stdout);
		return fclose(stdout) == 0 ? EXIT_SUCCESS : EXIT_FAIL;
	case FGT_OPTIONS_VERSION:
		printf("fgtrace %s\n", FGT_VERSION);
		return fclose(stdout) == 0 ? EXIT_SUCCESS : EXIT_FAIL;
	case FGT_OPTIONS_USAGE:
		usage_error(err);
		return EXIT_USAGE;
	case FGT_OPTIONS_RUN:
		break;
	}
	char *cmdline = join_args(argc, argv);
	cfg.cmdline = cmdline;
	struct ui ui = {.quiet = cfg.quiet, .tty = isatty(STDERR_FILENO)};
	if (!ui.quiet)
		note_guessed_formats(&cfg, argv);

	struct fgt_session *s = NULL;
	int rc = fgt_session_new(&cfg, &s, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "fgtrace: %s\n", err);
		fgt_session_free(s);
		free(cmdline);
		if (cfg.command && (rc == -ENOENT || rc == -EACCES || rc == -ENOEXEC))
			return rc == -ENOENT ? 127 : 126;
		return EXIT_FAIL;
	}
	if (fgt_session_note(s) && !ui.quiet)
		fprintf(stderr, "fgtrace: note: %s\n", fgt_session_note(s));

	rc = fgt_session_run(s, ui.tty && !ui.quiet ? show_progress : NULL, &ui, err,
			     sizeof(err));
	struct fgt_summary sum;
	fgt_session_get_summary(s, &sum);
	if (ui.progress_shown)
		fputs("\r\033[K", stderr);
	if (rc < 0)
		fprintf(stderr, "fgtrace: %s\n", err);
	if (sum.exec_errno)
		fprintf(stderr, "fgtrace: cannot execute %s: %s\n", cfg.command[0],
			strerror(sum.exec_errno));
	if (rc == 0 && !ui.quiet)
		print_summary(&cfg, &sum);
	if (sum.left_running && !ui.quiet)
		fprintf(stderr, "fgtrace: detached; %s (pid %d) keeps running\n",
			cfg.command ? cfg.command[0] : "the target", sum.pid);
	fgt_session_free(s);
	free(cmdline);
	return rc < 0 ? EXIT_FAIL : exit_status(&cfg, &sum);
}
