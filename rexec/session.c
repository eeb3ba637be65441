/* rexec session: serves one connection in a forked process: EXEC with streams, KILL or WAIT. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "link.h"
#include "log.h"
#include "loop.h"
#include "proto.h"
#include "pty.h"
#include "registry.h"
#include "session.h"
#include "spawn.h"
#include "util.h"

#define PIPE_SIZE (1024 * 1024)

struct sess {
	const struct rexec_server_ctx *ctx;
	struct loop *loop;
	struct rexec_link lk;
	char peer[160];
	char argvdesc[512];
	bool tty;
	pid_t pid;
	int pidfd;
	struct rexec_reg_entry ent;
	int in_fd, out_fd, err_fd;	   /* tty: in_fd == out_fd == the master, err_fd -1 */
	uint32_t in_reg, out_reg, err_reg; /* events currently registered (0: not) */
	uint32_t credit;		   /* output bytes the client still accepts */
	uint8_t *ibuf;			   /* stdin received, not yet written */
	size_t ihead, ilen, icap;
	size_t uncredited; /* stdin bytes consumed but not yet credited back */
	bool in_eof;
	bool exited;
	int status;
	bool done;
	int link_err;
};

/* Describes argv for a log line: printable bytes kept, others as \xHH, clipped. */
static void describe_argv(char *buf, size_t len, char *const *argv, size_t argc)
{
	size_t n = 0, i;

	buf[0] = '\0';
	for (i = 0; i < argc && n + 8 < len; i++) {
		const unsigned char *p = (const unsigned char *)argv[i];

		if (i)
			buf[n++] = ' ';
		buf[n++] = '\'';
		for (; *p && n + 8 < len; p++) {
			if (*p >= 0x20 && *p < 0x7f && *p != '\'' && *p != '\\')
				buf[n++] = (char)*p;
			else
				n += (size_t)snprintf(buf + n, len - n, "\\x%02x", *p);
		}
		buf[n++] = '\'';
	}
	if (i < argc && n + 4 < len) {
		memcpy(buf + n, "...", 3);
		n += 3;
	}
	buf[n < len ? n : len - 1] = '\0';
}

static int send_now(struct sess *s)
{
	int ret = rexec_link_queue_scratch(&s->lk);

	if (!ret)
		ret = rexec_link_flush_all(&s->lk, 5000);
	return ret;
}

static void send_error(struct rexec_link *lk, int err, const char *msg)
{
	if (rexec_enc_error(&lk->scratch, (uint32_t)err, msg) == 0 &&
	    rexec_link_queue_scratch(lk) == 0)
		(void)rexec_link_flush_all(lk, 5000);
}

static void sess_fd_cb(struct loop *l, int fd, uint32_t events, void *arg);

/* Registers, re-registers or removes fd so that it is watched for exactly `want`. */
static void watch(struct sess *s, int fd, uint32_t *reg, uint32_t want)
{
	if (fd < 0)
		return;
	if (want == *reg)
		return;
	if (!want) {
		(void)loop_del_fd(s->loop, fd);
	} else if (!*reg) {
		if (loop_add_fd(s->loop, fd, want, sess_fd_cb, s) < 0) {
			log_error("session %s: watching fd %d failed", s->peer, fd);
			s->done = true;
		}
	} else {
		(void)loop_mod_fd(s->loop, fd, want);
	}
	*reg = want;
}

/* Recomputes what every child fd is watched for. */
static void rewatch(struct sess *s)
{
	bool pending_in = s->ilen > s->ihead;

	if (s->tty) {
		uint32_t ev = 0;

		if (s->out_fd >= 0 && s->credit)
			ev |= EPOLLIN;
		if (pending_in)
			ev |= EPOLLOUT;
		watch(s, s->out_fd, &s->out_reg, ev);
		return;
	}
	watch(s, s->out_fd, &s->out_reg, s->credit ? EPOLLIN : 0);
	watch(s, s->err_fd, &s->err_reg, s->credit ? EPOLLIN : 0);
	watch(s, s->in_fd, &s->in_reg, pending_in ? EPOLLOUT : 0);
}

/* Flushes what the socket takes and watches it for writability while bytes remain. */
static void kick(struct sess *s)
{
	int ret;

	if (s->link_err)
		return;
	ret = rexec_link_flush(&s->lk);
	if (ret) {
		s->link_err = ret;
		return;
	}
	(void)loop_mod_fd(s->loop, s->lk.fd, EPOLLIN | (rexec_link_queued(&s->lk) ? EPOLLOUT : 0));
}

static void close_fd(struct sess *s, int *fd, uint32_t *reg)
{
	if (*fd < 0)
		return;
	watch(s, *fd, reg, 0);
	close(*fd);
	*fd = -1;
}

static void grant_stdin(struct sess *s, size_t n)
{
	s->uncredited += n;
	if (s->uncredited >= s->ctx->window / 4) {
		if (rexec_enc_u32(&s->lk.scratch, REXEC_T_CREDIT, (uint32_t)s->uncredited) == 0 &&
		    rexec_link_queue_scratch(&s->lk) == 0)
			s->uncredited = 0;
	}
}

/* The program's stdin is gone (EOF asked for, or the program closed it). */
static void stdin_finish(struct sess *s)
{
	if (s->tty) {
		struct termios t;
		char eof = 4;

		/* A pty has no half-close: EOF is the VEOF character, as a terminal would send. */
		if (tcgetattr(s->in_fd, &t) == 0 && t.c_cc[VEOF] != _POSIX_VDISABLE)
			eof = (char)t.c_cc[VEOF];
		(void)!write(s->in_fd, &eof, 1);
		return;
	}
	close_fd(s, &s->in_fd, &s->in_reg);
}

static void write_stdin(struct sess *s)
{
	while (s->ilen > s->ihead) {
		ssize_t n = write(s->in_fd, s->ibuf + s->ihead, s->ilen - s->ihead);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			/* EPIPE/EIO: the program stopped reading; drop what is left. */
			grant_stdin(s, s->ilen - s->ihead);
			s->ihead = s->ilen = 0;
			if (!s->tty)
				close_fd(s, &s->in_fd, &s->in_reg);
			return;
		}
		s->ihead += (size_t)n;
		grant_stdin(s, (size_t)n);
	}
	if (s->ihead == s->ilen) {
		s->ihead = s->ilen = 0;
		if (s->in_eof) {
			s->in_eof = false;
			stdin_finish(s);
		}
	}
}

/* Reads program output into STDOUT/STDERR frames, as far as the client's credit allows. */
static void read_output(struct sess *s, int *fd, uint32_t *reg, uint8_t type)
{
	int rounds;

	for (rounds = 0; rounds < 4 && s->credit; rounds++) {
		size_t max = s->credit < REXEC_DATA_CHUNK ? s->credit : REXEC_DATA_CHUNK;
		uint8_t *p = rexec_link_reserve(&s->lk, max);
		ssize_t n;

		if (!p) {
			s->link_err = -ENOMEM;
			return;
		}
		n = read(*fd, p, max);
		if (n > 0) {
			rexec_link_commit(&s->lk, type, (size_t)n);
			s->credit -= (uint32_t)n;
			if ((size_t)n < max)
				return;
			continue;
		}
		if (n < 0 && (errno == EINTR))
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		/* EOF, or EIO from a pty whose last slave holder went away. */
		if (s->tty && *fd == s->in_fd)
			s->in_fd = -1;
		close_fd(s, fd, reg);
		return;
	}
}

static int on_frame(void *arg, const struct wire_frame *f)
{
	struct sess *s = arg;
	uint32_t v;
	uint16_t rows, cols;
	char tn[16];

	switch (f->h.type) {
	case REXEC_T_STDIN: {
		size_t len = f->h.length, room;

		if (s->in_fd < 0) {
			grant_stdin(s, len); /* nobody reads stdin any more: discard, keep credit */
			return 0;
		}
		if (s->ihead && s->ilen + len > s->icap) {
			memmove(s->ibuf, s->ibuf + s->ihead, s->ilen - s->ihead);
			s->ilen -= s->ihead;
			s->ihead = 0;
		}
		room = s->icap - s->ilen;
		if (len > room) {
			log_warn("session %s: client sent %zu stdin bytes beyond its credit",
				 s->peer, len - room);
			return -EPROTO;
		}
		if (len)
			memcpy(s->ibuf + s->ilen, f->payload, len);
		s->ilen += len;
		write_stdin(s);
		return 0;
	}
	case REXEC_T_STDIN_EOF:
		if (rexec_dec_empty(f->payload, f->h.length))
			return -EBADMSG;
		if (s->in_fd < 0)
			return 0;
		if (s->ilen > s->ihead)
			s->in_eof = true;
		else
			stdin_finish(s);
		return 0;
	case REXEC_T_CREDIT:
		if (rexec_dec_u32(f->payload, f->h.length, &v) || v == 0 ||
		    (uint64_t)s->credit + v > (uint64_t)s->ctx->window * 2)
			return -EBADMSG;
		s->credit += v;
		return 0;
	case REXEC_T_SIGNAL:
		if (rexec_dec_u32(f->payload, f->h.length, &v) || v < 1 || v > 64)
			return -EBADMSG;
		if (!s->exited) {
			log_debug("session %s: signal %u to process group %d", s->peer, v,
				  (int)s->pid);
			(void)kill(-s->pid, (int)v);
		}
		return 0;
	case REXEC_T_WINCH:
		if (rexec_dec_winch(f->payload, f->h.length, &rows, &cols))
			return -EBADMSG;
		if (s->tty && s->out_fd >= 0)
			(void)rexec_pty_resize(s->out_fd, rows, cols);
		return 0;
	default:
		log_warn("session %s: unexpected %s frame", s->peer,
			 rexec_type_name(f->h.type, tn, sizeof(tn)));
		return -EPROTO;
	}
}

static void reap(struct sess *s)
{
	int st;
	pid_t r;

	do {
		r = waitpid(s->pid, &st, WNOHANG);
	} while (r < 0 && errno == EINTR);
	if (r == s->pid) {
		s->exited = true;
		s->status = st;
		if (s->pidfd >= 0) {
			(void)loop_del_fd(s->loop, s->pidfd);
			close(s->pidfd);
			s->pidfd = -1;
		}
		/* The program is gone: nobody will read what is left for its stdin. */
		if (!s->tty && s->in_fd >= 0) {
			s->ihead = s->ilen = 0;
			close_fd(s, &s->in_fd, &s->in_reg);
		}
	}
}

static void sess_fd_cb(struct loop *l, int fd, uint32_t events, void *arg)
{
	struct sess *s = arg;
	int ret;

	if (fd == s->lk.fd) {
		if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
			ret = rexec_link_read(&s->lk, on_frame, s);
			if (ret)
				s->link_err = ret;
		}
		if (!s->link_err && (events & EPOLLOUT))
			kick(s);
	} else if (fd == s->pidfd) {
		reap(s);
	} else if (s->tty && fd == s->out_fd) {
		if (events & EPOLLOUT)
			write_stdin(s);
		if (s->out_fd >= 0 && (events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
			read_output(s, &s->out_fd, &s->out_reg, REXEC_T_STDOUT);
	} else if (fd == s->out_fd) {
		read_output(s, &s->out_fd, &s->out_reg, REXEC_T_STDOUT);
	} else if (fd == s->err_fd) {
		read_output(s, &s->err_fd, &s->err_reg, REXEC_T_STDERR);
	} else if (fd == s->in_fd) {
		if (events & EPOLLERR) {
			s->ihead = s->ilen = 0;
			close_fd(s, &s->in_fd, &s->in_reg);
		} else {
			write_stdin(s);
		}
	}
	if (!s->link_err) {
		rewatch(s);
		kick(s);
	}
	if (s->link_err || (s->exited && s->out_fd < 0 && s->err_fd < 0) || s->done)
		loop_stop(l);
}

static int pidfd_open_(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

static void set_pipe(int fd)
{
	(void)fcntl(fd, F_SETPIPE_SZ, PIPE_SIZE);
}

/* Opens the program's stdio: a pty, or three pipes whose server ends are non-blocking. */
static int open_stdio(struct sess *s, struct rexec_spawn *sp, const struct rexec_exec *x,
		      char *ptyname, size_t ptylen, int child[3], struct errmsg *e)
{
	int p[3][2] = {{-1, -1}, {-1, -1}, {-1, -1}}, i, ret;

	child[0] = child[1] = child[2] = -1;
	if (s->tty) {
		ret = rexec_pty_open(x->rows, x->cols, ptyname, ptylen);
		if (ret < 0) {
			errmsg_set(e, "pty: %s", strerror(-ret));
			return ret;
		}
		s->in_fd = s->out_fd = ret;
		sp->pty_name = ptyname;
		return 0;
	}
	for (i = 0; i < 3; i++) {
		if (pipe2(p[i], O_CLOEXEC) < 0) {
			ret = -errno;
			errmsg_set(e, "pipe: %s", strerror(errno));
			goto err;
		}
		set_pipe(p[i][0]);
	}
	/* stdin: child reads p[0][0]; stdout/stderr: child writes p[i][1]. */
	s->in_fd = p[0][1];
	s->out_fd = p[1][0];
	s->err_fd = p[2][0];
	child[0] = p[0][0];
	child[1] = p[1][1];
	child[2] = p[2][1];
	for (i = 0; i < 3; i++)
		sp->fds[i] = child[i];
	(void)fd_set_nonblock(s->in_fd, true);
	(void)fd_set_nonblock(s->out_fd, true);
	(void)fd_set_nonblock(s->err_fd, true);
	return 0;
err:
	for (i = 0; i < 3; i++) {
		if (p[i][0] >= 0)
			close(p[i][0]);
		if (p[i][1] >= 0)
			close(p[i][1]);
	}
	return ret;
}

static void log_exit(struct sess *s, const char *how)
{
	struct rexec_exit x;

	rexec_exit_from_status(s->status, &x);
	if (x.how == REXEC_SIGNALED)
		log_info("session %s: %s pid=%d: %s signal=%u", s->peer, s->argvdesc, (int)s->pid,
			 how, x.value);
	else
		log_info("session %s: %s pid=%d: %s exit=%u", s->peer, s->argvdesc, (int)s->pid,
			 how, x.value);
}

static int discard_frame(void *arg, const struct wire_frame *f)
{
	return 0;
}

/*
 * After EXIT: read and drop what the client still sends (stdin in flight) until it
 * closes, so that closing here never resets the connection under the unread EXIT.
 */
static void linger(struct sess *s)
{
	uint64_t deadline = now_ms() + 2000;

	for (;;) {
		struct pollfd pfd = {.fd = s->lk.fd, .events = POLLIN};
		uint64_t now = now_ms();
		int ret;

		if (now >= deadline)
			return;
		if (!xport_pending(s->lk.conn) && poll(&pfd, 1, (int)(deadline - now)) <= 0)
			return;
		ret = rexec_link_read(&s->lk, discard_frame, s);
		if (ret)
			return;
	}
}

static int run_exec(struct sess *s, struct rexec_exec *x)
{
	const struct rexec_server_ctx *ctx = s->ctx;
	struct rexec_decision d = {.fd = -1};
	struct rexec_spawn sp = {0};
	struct errmsg e = {{0}};
	struct rexec_pid rp = {0};
	char ptyname[64], logpath[4096], *saved_argv0;
	char **env = NULL;
	int child[3] = {-1, -1, -1}, ret, i;

	describe_argv(s->argvdesc, sizeof(s->argvdesc), x->argv, x->argc);
	s->tty = x->flags & REXEC_F_TTY;
	ret = rexec_rules_check(ctx->rules, ctx->search_path, x->argv, x->argc, &d, &e);
	if (!ret)
		ret = rexec_env_build(&ctx->env, x->env, x->envc, ctx->search_path, &env, &e);
	if (ret) {
		if (!errmsg_str(&e)[0])
			errmsg_set(&e, "%s: %s", x->argv[0], strerror(-ret));
		log_warn("session %s: %s", s->peer, errmsg_str(&e));
		send_error(&s->lk, -ret, errmsg_str(&e));
		rexec_decision_free(&d);
		return 0;
	}
	saved_argv0 = x->argv[0];
	x->argv[0] = d.argv0;
	sp.d = &d;
	sp.argv = x->argv;
	sp.env = env;
	sp.cwd = x->cwd;
	sp.cwd_strict = x->flags & REXEC_F_CWD_STRICT;
	sp.procs_dir = ctx->procs_dir;

	if (x->flags & REXEC_F_DETACH) {
		uint64_t start;

		if (ctx->detach_log_dir) {
			(void)mkdir_p(ctx->detach_log_dir, 0700);
			snprintf(logpath, sizeof(logpath), "%s/%s.log", ctx->detach_log_dir,
				 strrchr(d.path, '/') + 1);
			sp.log_file = logpath;
		}
		ret = rexec_spawn_detached(&sp, &s->pid, &start, &e);
		if (ret) {
			log_warn("session %s: %s: %s", s->peer, s->argvdesc, errmsg_str(&e));
			send_error(&s->lk, ret == -ENOENT ? ENOEXEC : -ret, errmsg_str(&e));
			goto out;
		}
		log_info("session %s: %s pid=%d: detached", s->peer, s->argvdesc, (int)s->pid);
		rp.pid = s->pid;
		rp.start_time = start;
		rp.window = ctx->window;
		if (rexec_enc_pid(&s->lk.scratch, &rp) == 0 && send_now(s) == 0 &&
		    rexec_enc_empty(&s->lk.scratch, REXEC_T_OK) == 0)
			(void)send_now(s);
		goto out;
	}

	ret = open_stdio(s, &sp, x, ptyname, sizeof(ptyname), child, &e);
	if (!ret)
		ret = rexec_spawn(&sp, &s->pid, &e);
	for (i = 0; i < 3; i++)
		if (child[i] >= 0)
			close(child[i]);
	if (ret) {
		log_warn("session %s: %s: %s", s->peer, s->argvdesc, errmsg_str(&e));
		/* ENOENT in an ERROR means "no such program" (127); a missing cwd or
		 * interpreter is a failure to start (126), as the message says. */
		send_error(&s->lk, ret == -ENOENT ? ENOEXEC : -ret, errmsg_str(&e));
		goto out;
	}
	s->ent.pid = s->pid;
	s->ent.detached = false;
	if (rexec_proc_start_time(s->pid, &s->ent.start_time) == 0)
		(void)rexec_reg_add(ctx->procs_dir, &s->ent);
	s->pidfd = pidfd_open_(s->pid);
	log_debug("session %s: %s started pid=%d", s->peer, s->argvdesc, (int)s->pid);

	rp.pid = s->pid;
	rp.start_time = s->ent.start_time;
	rp.window = ctx->window;
	s->credit = x->window;
	s->icap = ctx->window;
	s->ibuf = malloc(s->icap);
	if (!s->ibuf || rexec_enc_pid(&s->lk.scratch, &rp) || rexec_link_queue_scratch(&s->lk)) {
		s->link_err = -ENOMEM;
		goto end;
	}
	if (loop_add_fd(s->loop, s->lk.fd, EPOLLIN, sess_fd_cb, s) < 0 ||
	    (s->pidfd >= 0 && loop_add_fd(s->loop, s->pidfd, EPOLLIN, sess_fd_cb, s) < 0)) {
		s->link_err = -EIO;
		goto end;
	}
	rewatch(s);
	kick(s);
	while (!s->link_err && !(s->exited && s->out_fd < 0 && s->err_fd < 0) && !s->done) {
		/* Without a pidfd the child's exit is polled. */
		if (loop_run_once(s->loop, s->pidfd >= 0 ? -1 : 100) < 0)
			break;
		if (s->pidfd < 0 && !s->exited)
			reap(s);
	}
end:
	if (!s->exited) {
		/* The client went away (or the link broke): the program goes with it. */
		(void)kill(-s->pid, SIGKILL);
		(void)kill(s->pid, SIGKILL);
		while (waitpid(s->pid, &s->status, 0) < 0 && errno == EINTR)
			;
		s->exited = true;
		if (s->link_err == -EPIPE) {
			log_exit(s, "client disconnected, killed");
		} else {
			char why[96];

			snprintf(why, sizeof(why), "link failed (%s), killed",
				 wire_strerror(s->link_err));
			log_exit(s, why);
		}
	} else if (s->link_err) {
		log_exit(s, "client gone before the exit status");
	}
	{
		struct rexec_exit ex;

		/* Recorded (before the client hears it) for a --wait from elsewhere; the
		 * server prunes finished records later. */
		rexec_exit_from_status(s->status, &ex);
		if (s->ent.start_time && rexec_reg_set_exit(ctx->procs_dir, &s->ent, &ex))
			rexec_reg_remove(ctx->procs_dir, s->pid);
		if (!s->link_err) {
			if (rexec_enc_exit(&s->lk.scratch, &ex) == 0 && send_now(s) == 0) {
				(void)xport_shutdown_write(s->lk.conn);
				linger(s);
			}
			log_exit(s, "done");
		}
	}
out:
	x->argv[0] = saved_argv0;
	rexec_env_free(env);
	rexec_decision_free(&d);
	return 0;
}

static int run_kill(struct sess *s, const struct rexec_kill *k)
{
	struct rexec_reg_entry ent;
	struct rexec_exit x;
	char msg[160];

	if (rexec_reg_get(s->ctx->procs_dir, k->pid, &ent)) {
		snprintf(msg, sizeof(msg), "pid %d: refused: not a process this server started",
			 (int)k->pid);
		log_warn("session %s: kill %u: %s", s->peer, k->signo, msg);
		send_error(&s->lk, EPERM, msg);
		return 0;
	}
	if (!rexec_reg_alive(&ent) || rexec_reg_get_exit(s->ctx->procs_dir, &ent, &x) == 0) {
		snprintf(msg, sizeof(msg), "pid %d: has exited", (int)k->pid);
		send_error(&s->lk, ESRCH, msg);
		return 0;
	}
	if (kill(ent.pid, (int)k->signo) < 0) {
		snprintf(msg, sizeof(msg), "pid %d: kill: %s", (int)k->pid, strerror(errno));
		send_error(&s->lk, errno, msg);
		return 0;
	}
	log_info("session %s: signal %u sent to pid %d", s->peer, k->signo, (int)k->pid);
	if (rexec_enc_empty(&s->lk.scratch, REXEC_T_OK) == 0)
		(void)send_now(s);
	return 0;
}

/* Waits for a registered program's exit status, polling the registry and the client. */
static int run_wait(struct sess *s, int32_t pid)
{
	struct rexec_reg_entry ent;
	struct rexec_exit x;
	uint64_t gone_since = 0;
	char msg[160];

	if (rexec_reg_get(s->ctx->procs_dir, pid, &ent)) {
		snprintf(msg, sizeof(msg), "pid %d: refused: not a process this server started",
			 (int)pid);
		send_error(&s->lk, EPERM, msg);
		return 0;
	}
	for (;;) {
		struct pollfd pfd = {.fd = s->lk.fd, .events = POLLIN};

		if (rexec_reg_get_exit(s->ctx->procs_dir, &ent, &x) == 0) {
			log_info("session %s: wait pid=%d: %s=%u", s->peer, (int)pid,
				 x.how == REXEC_SIGNALED ? "signal" : "exit", x.value);
			if (ent.detached)
				rexec_reg_remove(s->ctx->procs_dir, pid);
			if (rexec_enc_exit(&s->lk.scratch, &x) == 0)
				(void)send_now(s);
			return 0;
		}
		if (!rexec_reg_alive(&ent)) {
			/* Its parent records the status right after reaping: allow it a moment. */
			if (!gone_since)
				gone_since = now_ms();
			else if (now_ms() - gone_since > 2000) {
				snprintf(msg, sizeof(msg), "pid %d: exited, status not recorded",
					 (int)pid);
				send_error(&s->lk, ESRCH, msg);
				return 0;
			}
		}
		if (poll(&pfd, 1, 50) > 0)
			return 0; /* the client hung up (it sends nothing while waiting) */
	}
}

/* The first frame, bounded by the handshake timeout (SO_RCVTIMEO on the socket). */
static int read_request(struct sess *s, struct wire_frame *f)
{
	int ret;

	ret = wire_recv(s->lk.conn, REXEC_MAX_PAYLOAD, f);
	return ret;
}

static void set_rcvtimeo(int fd, int ms)
{
	struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};

	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

int rexec_session_run(const struct rexec_server_ctx *ctx, struct xport_conn *c)
{
	struct wire_hello mine = {.version = REXEC_PROTO_VERSION,
				  .role = REXEC_ROLE_SERVER,
				  .max_payload = REXEC_MAX_PAYLOAD};
	struct wire_hello peer;
	struct wire_frame f = {0};
	struct errmsg e = {{0}};
	struct sess s = {
		.ctx = ctx, .pid = -1, .pidfd = -1, .in_fd = -1, .out_fd = -1, .err_fd = -1};
	char tn[16];
	int ret, fd = xport_fd(c);

	signal(SIGPIPE, SIG_IGN);
	snprintf(mine.proto, sizeof(mine.proto), "%s", REXEC_PROTO_NAME);
	snprintf(s.peer, sizeof(s.peer), "%s", xport_peer_desc(c));
	set_rcvtimeo(fd, ctx->handshake_timeout_ms);
	ret = wire_handshake(c, &mine, REXEC_ROLE_CLIENT, &peer, ctx->handshake_timeout_ms, &e);
	if (ret) {
		log_warn("session %s: handshake: %s", s.peer, errmsg_str(&e));
		xport_close(c);
		return 1;
	}
	/* Blocking reads for the request; the link switches to non-blocking after. */
	s.lk.conn = c;
	ret = read_request(&s, &f);
	set_rcvtimeo(fd, 0);
	if (ret) {
		log_warn("session %s: reading the request: %s", s.peer, wire_strerror(ret));
		xport_close(c);
		return 1;
	}
	ret = rexec_link_init(&s.lk, c);
	s.loop = loop_new();
	if (ret || !s.loop) {
		log_error("session %s: out of resources", s.peer);
		wire_frame_free(&f);
		rexec_link_close(&s.lk);
		return 1;
	}
	switch (f.h.type) {
	case REXEC_T_EXEC: {
		struct rexec_exec x;

		ret = rexec_dec_exec(f.payload, f.h.length, &x);
		if (ret) {
			log_warn("session %s: malformed EXEC request", s.peer);
			send_error(&s.lk, EBADMSG, "malformed EXEC request");
			break;
		}
		run_exec(&s, &x);
		rexec_exec_free(&x);
		break;
	}
	case REXEC_T_KILL: {
		struct rexec_kill k;

		if (rexec_dec_kill(f.payload, f.h.length, &k)) {
			send_error(&s.lk, EBADMSG, "malformed KILL request");
			break;
		}
		run_kill(&s, &k);
		break;
	}
	case REXEC_T_WAIT: {
		int32_t pid;

		if (rexec_dec_wait(f.payload, f.h.length, &pid)) {
			send_error(&s.lk, EBADMSG, "malformed WAIT request");
			break;
		}
		run_wait(&s, pid);
		break;
	}
	default:
		log_warn("session %s: unexpected %s frame as a request", s.peer,
			 rexec_type_name(f.h.type, tn, sizeof(tn)));
		send_error(&s.lk, EPROTO, "expected EXEC, KILL or WAIT");
		break;
	}
	wire_frame_free(&f);
	if (s.in_fd >= 0 && s.in_fd != s.out_fd)
		close(s.in_fd);
	if (s.out_fd >= 0)
		close(s.out_fd);
	if (s.err_fd >= 0)
		close(s.err_fd);
	if (s.pidfd >= 0)
		close(s.pidfd);
	free(s.ibuf);
	loop_free(s.loop);
	rexec_link_close(&s.lk);
	return 0;
}
