/* fgtrace — launching a command under the tracee: found on PATH as a shell
 * would, forked, stopped before its exec until it is seized, and its exec
 * error, if any, passed back through a pipe.
 */
#include "tracee_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static int find_executable(const char *cmd, char *path, size_t cap)
{
	if (strchr(cmd, '/')) {
		if (snprintf(path, cap, "%s", cmd) >= (int)cap)
			return -ENAMETOOLONG;
		struct stat st;
		if (stat(path, &st) < 0)
			return -errno;
		if (S_ISDIR(st.st_mode))
			return -EACCES;
		return access(path, X_OK) == 0 ? 0 : -EACCES;
	}
	const char *env = getenv("PATH");
	if (!env || !*env)
		env = "/usr/local/bin:/usr/bin:/bin";
	int found_noexec = 0;
	for (const char *p = env;;) {
		const char *colon = strchrnul(p, ':');
		int n = (int)(colon - p);
		if (snprintf(path, cap, "%.*s%s%s", n, p, n ? "/" : "", cmd) < (int)cap) {
			struct stat st;
			if (stat(path, &st) == 0 && !S_ISDIR(st.st_mode)) {
				if (access(path, X_OK) == 0)
					return 0;
				found_noexec = 1;
			}
		}
		if (!*colon)
			break;
		p = colon + 1;
	}
	return found_noexec ? -EACCES : -ENOENT;
}

static void child_exec(const char *path, char *const argv[], const sigset_t *mask,
		       const struct rlimit *nofile, int errfd)
{
	/* Only async-signal-safe calls here: we are a fork of a threaded process.
	 * Dispositions are inherited untouched (fgtrace installs no handlers),
	 * so an ignored SIGINT stays ignored, as a shell would leave it. */
	sigprocmask(SIG_SETMASK, mask, NULL);
	/* The limit fgtrace was started with, not the one it raised for itself:
	 * a program that uses select() needs its descriptors below 1024. */
	if (nofile)
		setrlimit(RLIMIT_NOFILE, nofile);
	/* Wait here until the parent has seized us and opened its outputs. */
	raise(SIGSTOP);
	execv(path, argv);
	int e = errno;
	if (write(errfd, &e, sizeof(e)) < 0) {
		/* nothing more to do */
	}
	_exit(e == ENOENT ? 127 : 126);
}

pid_t fgt_tracee_spawn(struct fgt_tracee *t, char *const argv[], const void *child_mask,
		       char *err, size_t errlen)
{
	char path[PATH_MAX];
	int rc = find_executable(argv[0], path, sizeof(path));
	if (rc < 0) {
		snprintf(err, errlen, "cannot run '%s': %s", argv[0],
			 rc == -ENOENT ? "command not found" : strerror(-rc));
		return rc;
	}
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		rc = -errno;
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		return rc;
	}
	pid_t pid = fork();
	if (pid < 0) {
		rc = -errno;
		snprintf(err, errlen, "fork: %s", strerror(errno));
		close(pfd[0]);
		close(pfd[1]);
		return rc;
	}
	if (pid == 0) {
		close(pfd[0]);
		child_exec(path, argv, child_mask,
			   t->nofile_raised ? &t->nofile_old : NULL, pfd[1]);
	}
	close(pfd[1]);
	t->exec_err_fd = pfd[0];
	t->pid = pid;
	t->launched = true;
	t->sampling = false; /* do not sample fgtrace's own code in the child */
	int status;
	while (waitpid(pid, &status, WUNTRACED) < 0 && errno == EINTR)
		;
	if (!WIFSTOPPED(status)) {
		snprintf(err, errlen, "cannot start '%s': it exited before exec",
			 argv[0]);
		return -ECHILD;
	}
	return pid;
}

int fgt_tracee_spawn_start(struct fgt_tracee *t)
{
	if (ptrace(PTRACE_SEIZE, t->pid, 0, LEADER_OPTIONS) < 0)
		return -errno;
	struct thread *th = tracee_add_thread(t, t->pid, TH_RUNNING, false);
	if (!th)
		return -ENOMEM;
	th->opts_known = th->exit_stop = true;
	/* The child reports its SIGSTOP group-stop to us, then this continues it. */
	kill(t->pid, SIGCONT);
	return 0;
}

void fgt_tracee_spawn_abort(struct fgt_tracee *t)
{
	if (!t->launched || t->pid <= 0)
		return;
	kill(t->pid, SIGKILL);
	while (waitpid(t->pid, NULL, __WALL) < 0 && errno == EINTR)
		;
	t->pid = 0;
}

int fgt_tracee_exec_error(struct fgt_tracee *t)
{
	int e = 0;
	if (t->exec_err_fd < 0)
		return 0;
	if (read(t->exec_err_fd, &e, sizeof(e)) != (ssize_t)sizeof(e))
		e = 0;
	return e;
}
