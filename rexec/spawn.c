/* rexec spawn: the child side of starting a program (stdio, session, cwd, exec) and detaching. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proto.h"
#include "pty.h"
#include "registry.h"
#include "spawn.h"
#include "util.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

enum stage {
	ST_SETUP = 1,
	ST_PTY,
	ST_STDIO,
	ST_CHDIR,
	ST_EXEC,
};

struct child_report {
	int stage;
	int err;
};

static const char *stage_name(int stage)
{
	switch (stage) {
	case ST_PTY:
		return "pty";
	case ST_STDIO:
		return "stdio";
	case ST_CHDIR:
		return "chdir";
	case ST_EXEC:
		return "exec";
	default:
		return "setup";
	}
}

void rexec_exit_from_status(int status, struct rexec_exit *x)
{
	memset(x, 0, sizeof(*x));
	if (WIFSIGNALED(status)) {
		x->how = REXEC_SIGNALED;
		x->value = (uint32_t)WTERMSIG(status);
		x->core = WCOREDUMP(status);
	} else {
		x->how = REXEC_EXITED;
		x->value = (uint32_t)WEXITSTATUS(status);
	}
}

/* The kernel's struct sigaction, for the two signals glibc will not let us touch. */
struct ksigaction {
	void (*handler)(int);
	unsigned long flags;
	void (*restorer)(void);
	uint64_t mask;
};

static void reset_signals(void)
{
	struct sigaction sa = {.sa_handler = SIG_DFL};
	struct ksigaction ksa = {.handler = SIG_DFL};
	sigset_t all;
	int sig;

	for (sig = 1; sig < NSIG; sig++) {
		/* glibc refuses its internal signals 32 and 33 (EINVAL), yet an ignored one
		 * would survive exec: reset those with the raw system call. SIGKILL and
		 * SIGSTOP fail either way, harmlessly. */
		if (sigaction(sig, &sa, NULL) < 0 && errno == EINVAL)
			(void)syscall(SYS_rt_sigaction, sig, &ksa, NULL, sizeof(ksa.mask));
	}
	sigemptyset(&all);
	(void)sigprocmask(SIG_SETMASK, &all, NULL);
}

static void report(int fd, int stage, int err)
{
	struct child_report r = {.stage = stage, .err = err};

	(void)!write(fd, &r, sizeof(r));
}

static int dup_to(int from, int to)
{
	if (from == to)
		return fcntl(from, F_SETFD, 0) < 0 ? -errno : 0;
	return dup2(from, to) < 0 ? -errno : 0;
}

/* Runs in the forked child; never returns. detached: setsid; else own process group. */
static void child_exec(const struct rexec_spawn *s, int errfd, bool detached, pid_t parent)
{
	int ret, i;

	reset_signals();
	umask(022);
	if (s->pty_name) {
		ret = rexec_pty_attach_child(s->pty_name);
		if (ret) {
			report(errfd, ST_PTY, -ret);
			_exit(126);
		}
	} else {
		if (detached ? setsid() < 0 : setpgid(0, 0) < 0) {
			report(errfd, ST_SETUP, errno);
			_exit(126);
		}
		/* fds[] may sit at 0-2 already or clash with each other: move them up first. */
		int hi[3];

		for (i = 0; i < 3; i++) {
			hi[i] = fcntl(s->fds[i], F_DUPFD_CLOEXEC, 10);
			if (hi[i] < 0) {
				report(errfd, ST_STDIO, errno);
				_exit(126);
			}
		}
		for (i = 0; i < 3; i++) {
			ret = dup_to(hi[i], i);
			if (ret) {
				report(errfd, ST_STDIO, -ret);
				_exit(126);
			}
		}
	}
	if (!detached) {
		/* The program dies with its session process, whatever kills that. */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
			_exit(126);
	}
	if (chdir(s->cwd && s->cwd[0] ? s->cwd : "/") < 0) {
		if (s->cwd_strict || chdir("/") < 0) {
			report(errfd, ST_CHDIR, errno);
			_exit(126);
		}
	}
	/* Nothing of the server's leaks into the program. */
	(void)close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
	/*
	 * A binary is executed from the very descriptor that was checked (and hashed),
	 * so swapping the file afterwards changes nothing. A script is executed by its
	 * canonical path: its interpreter opens the file again by name whatever we do,
	 * and the script sees its real path as $0 rather than /dev/fd/N.
	 */
	if (s->d->script)
		execve(s->d->path, s->argv, s->env);
	else
		execveat(s->d->fd, "", s->argv, s->env, AT_EMPTY_PATH);
	report(errfd, ST_EXEC, errno);
	_exit(errno == ENOENT ? 127 : 126);
}

/* Reads the child's report: 0 (EOF: the exec happened) or -errno with a message. */
static int read_report(int fd, const struct rexec_spawn *s, struct errmsg *e)
{
	struct child_report r;
	ssize_t n;

	do {
		n = read(fd, &r, sizeof(r));
	} while (n < 0 && errno == EINTR);
	if (n == 0)
		return 0;
	if (n != (ssize_t)sizeof(r) || r.err <= 0) {
		errmsg_set(e, "%s: starting failed (bad report from the child)", s->d->path);
		return -EIO;
	}
	if (r.stage == ST_CHDIR)
		errmsg_set(e, "%s: chdir %s: %s", s->d->path, s->cwd, strerror(r.err));
	else
		errmsg_set(e, "%s: %s: %s", s->d->path, stage_name(r.stage), strerror(r.err));
	return -r.err;
}

int rexec_spawn(const struct rexec_spawn *s, pid_t *pid, struct errmsg *e)
{
	pid_t self = getpid(), child;
	int p[2], ret;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	child = fork();
	if (child < 0) {
		ret = -errno;
		close(p[0]);
		close(p[1]);
		errmsg_set(e, "fork: %s", strerror(-ret));
		return ret;
	}
	if (child == 0) {
		close(p[0]);
		child_exec(s, p[1], false, self);
	}
	close(p[1]);
	ret = read_report(p[0], s, e);
	close(p[0]);
	if (ret) {
		int st;

		(void)waitpid(child, &st, 0);
		return ret;
	}
	*pid = child;
	return 0;
}

struct monitor_report {
	pid_t pid;
	uint64_t start;
	int stage;
	int err;
};

/* The monitor: parent of a detached program, outside the server's process group. */
static void monitor_main(const struct rexec_spawn *s, int infofd)
{
	struct monitor_report mr = {0};
	struct rexec_reg_entry ent = {.detached = true};
	struct child_report r;
	struct rexec_spawn cs = *s;
	int p[2], nullfd, logfd, st;
	pid_t child;
	ssize_t n;

	reset_signals();
	(void)prctl(PR_SET_NAME, "rexec-monitor");
	/* Keep nothing of the session (its client's socket above all): only the report
	 * pipe and the program's fd. */
	{
		int keep[2] = {infofd < s->d->fd ? infofd : s->d->fd,
			       infofd < s->d->fd ? s->d->fd : infofd};

		(void)close_range(3, (unsigned)keep[0] - 1, 0);
		(void)close_range((unsigned)keep[0] + 1, (unsigned)keep[1] - 1, 0);
		(void)close_range((unsigned)keep[1] + 1, ~0U, 0);
	}
	if (setsid() < 0 || pipe2(p, O_CLOEXEC) < 0) {
		mr.stage = ST_SETUP;
		mr.err = errno;
		goto report;
	}
	nullfd = open("/dev/null", O_RDWR | O_CLOEXEC);
	logfd = s->log_file ? open(s->log_file,
				   O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600)
			    : nullfd;
	if (nullfd < 0 || logfd < 0) {
		mr.stage = ST_STDIO;
		mr.err = errno;
		goto report;
	}
	cs.pty_name = NULL;
	cs.fds[0] = nullfd;
	cs.fds[1] = logfd;
	cs.fds[2] = logfd;
	child = fork();
	if (child < 0) {
		mr.stage = ST_SETUP;
		mr.err = errno;
		goto report;
	}
	if (child == 0) {
		close(p[0]);
		close(infofd);
		child_exec(&cs, p[1], true, 0);
	}
	close(p[1]);
	do {
		n = read(p[0], &r, sizeof(r));
	} while (n < 0 && errno == EINTR);
	mr.pid = child;
	if (n == (ssize_t)sizeof(r)) {
		mr.stage = r.stage;
		mr.err = r.err > 0 ? r.err : EIO;
	} else {
		ent.pid = child;
		if (rexec_proc_start_time(child, &ent.start_time) == 0 &&
		    rexec_reg_add(s->procs_dir, &ent) == 0)
			mr.start = ent.start_time;
	}
report:
	(void)!write(infofd, &mr, sizeof(mr));
	close(infofd);
	if (mr.pid <= 0)
		_exit(1);
	while (waitpid(mr.pid, &st, 0) < 0) {
		if (errno != EINTR)
			_exit(1);
	}
	if (!mr.err && mr.start) {
		struct rexec_exit x;

		rexec_exit_from_status(st, &x);
		(void)rexec_reg_set_exit(s->procs_dir, &ent, &x);
	}
	_exit(0);
}

int rexec_spawn_detached(const struct rexec_spawn *s, pid_t *pid, uint64_t *start, struct errmsg *e)
{
	struct monitor_report mr;
	pid_t mon;
	int p[2], ret;
	ssize_t n;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	mon = fork();
	if (mon < 0) {
		ret = -errno;
		close(p[0]);
		close(p[1]);
		errmsg_set(e, "fork: %s", strerror(-ret));
		return ret;
	}
	if (mon == 0) {
		close(p[0]);
		monitor_main(s, p[1]);
	}
	close(p[1]);
	do {
		n = read(p[0], &mr, sizeof(mr));
	} while (n < 0 && errno == EINTR);
	close(p[0]);
	/* The monitor lives on as long as the program: this session exits before it and
	 * init adopts it, so it is never waited for here. */
	if (n != (ssize_t)sizeof(mr)) {
		errmsg_set(e, "%s: detach monitor failed", s->d->path);
		return -EIO;
	}
	if (mr.err) {
		if (mr.stage == ST_CHDIR)
			errmsg_set(e, "%s: chdir %s: %s", s->d->path, s->cwd, strerror(mr.err));
		else
			errmsg_set(e, "%s: %s: %s", s->d->path, stage_name(mr.stage),
				   strerror(mr.err));
		return -mr.err;
	}
	if (!mr.start) {
		errmsg_set(e, "%s: started as pid %d but could not be registered", s->d->path,
			   (int)mr.pid);
		return -EIO;
	}
	*pid = mr.pid;
	*start = mr.start;
	return 0;
}
