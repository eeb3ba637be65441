/* rexec: runs an allowlisted program on the server as if locally (stdio, signals, tty, exit status). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <unistd.h>

#include "link.h"
#include "log.h"
#include "loop.h"
#include "proto.h"
#include "pty.h"
#include "registry.h"
#include "util.h"
#include "xport.h"

#define DEFAULT_SERVER "unix:" REXEC_RUN_DIR "/rexec_uds.sock"
#define PIDS_DIR       REXEC_RUN_DIR "/pids"
#define EXIT_LINK      255
#define EXIT_REFUSED   126
#define EXIT_NOTFOUND  127

extern char **environ;

/* The client's own top-level state. */
struct client {
	const char *addr;
	struct xport_opts xo;
	bool tty, detach;
	const char *cwd;
	struct loop *loop;
	struct rexec_link lk;
	struct rexec_rawmode raw;
	int ttyfd; /* the local terminal (-t), or -1 */
	char pidfile[PATH_MAX];
	/* stream state */
	bool started;	 /* PID received */
	uint32_t credit; /* stdin bytes the server accepts */
	bool stdin_watched;
	bool stdin_pollable;
	bool stdin_done;
	uint64_t consumed; /* output bytes written locally, not yet credited */
	bool stdout_broken;
	bool have_exit;
	struct rexec_exit ex;
	int result; /* exit code once done, -1 while running */
	int link_err;
};

static struct client *g_client; /* for the atexit tty restore only */

static void die_link(const char *addr, const char *what)
{
	fprintf(stderr, "rexec: %s: %s\n", addr, what);
}

static void restore_tty(void)
{
	if (g_client)
		rexec_rawmode_leave(&g_client->raw);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: rexec [OPTIONS] PROGRAM [ARG]...\n"
		   "       rexec [OPTIONS] --signal SIG PID\n"
		   "       rexec [OPTIONS] --wait PID\n"
		   "  -t                 allocate a pty on the server (raw mode locally)\n"
		   "  -d, --detach       start detached, print the remote pid and return\n"
		   "  -C, --cwd DIR      remote working directory (default: this one, else /)\n"
		   "  --server ADDR      unix:/path | tcp:H:P | tls:H:P | vsock:C:P\n"
		   "                     (default $REXEC_SERVER or " DEFAULT_SERVER ")\n"
		   "  --test-mode        allow tcp: (cleartext; also REXEC_TEST_MODE=1)\n"
		   "  --tls-cert F --tls-key F --tls-ca F   (also REXEC_TLS_CERT/KEY/CA)\n"
		   "exit status: the program's, 128+N if it died of signal N, 126 refused,\n"
		   "127 not found on the server, 255 connection failure\n");
}

/* Maps an ERROR frame that ended a request to an exit status. */
static int error_exit_code(uint32_t err)
{
	switch (err) {
	case ENOENT:
		return EXIT_NOTFOUND;
	case EAGAIN:
	case EPROTO:
	case EBADMSG:
	case ENOMEM:
	case EIO:
		return EXIT_LINK;
	case ESRCH:
		return 1;
	default:
		return EXIT_REFUSED;
	}
}

static int exit_code(const struct rexec_exit *x)
{
	return x->how == REXEC_SIGNALED ? 128 + (int)x->value : (int)x->value;
}

static int report_error(struct client *cl, const struct wire_frame *f)
{
	char msg[400];
	uint32_t err;

	if (rexec_dec_error(f->payload, f->h.length, &err, msg, sizeof(msg))) {
		die_link(cl->addr, "malformed ERROR frame");
		return EXIT_LINK;
	}
	fprintf(stderr, "rexec: %s\n", msg);
	return error_exit_code(err);
}

static void queue_scratch(struct client *cl)
{
	if (rexec_link_queue_scratch(&cl->lk))
		cl->link_err = -ENOMEM;
}

static void kick(struct client *cl)
{
	int ret;

	if (cl->link_err)
		return;
	ret = rexec_link_flush(&cl->lk);
	if (ret) {
		cl->link_err = ret;
		return;
	}
	(void)loop_mod_fd(cl->loop, cl->lk.fd,
			  EPOLLIN | (rexec_link_queued(&cl->lk) ? EPOLLOUT : 0));
}

static void on_stdin(struct loop *l, int fd, uint32_t events, void *arg);

static void watch_stdin(struct client *cl)
{
	bool want = cl->started && !cl->stdin_done && cl->credit > 0 && !cl->have_exit;

	if (!cl->stdin_pollable || want == cl->stdin_watched)
		return;
	if (want)
		(void)loop_add_fd(cl->loop, 0, EPOLLIN, on_stdin, cl);
	else
		(void)loop_del_fd(cl->loop, 0);
	cl->stdin_watched = want;
}

/* One read of stdin into a STDIN frame (or STDIN_EOF). */
static void read_stdin(struct client *cl)
{
	size_t max = cl->credit < REXEC_DATA_CHUNK ? cl->credit : REXEC_DATA_CHUNK;
	uint8_t *p = rexec_link_reserve(&cl->lk, max);
	ssize_t n;

	if (!p) {
		cl->link_err = -ENOMEM;
		return;
	}
	do {
		n = read(0, p, max);
	} while (n < 0 && errno == EINTR);
	if (n < 0 && errno == EAGAIN)
		return;
	if (n > 0) {
		rexec_link_commit(&cl->lk, REXEC_T_STDIN, (size_t)n);
		cl->credit -= (uint32_t)n;
		return;
	}
	/* EOF, or an unreadable stdin (closed, EIO): the remote sees end of input. */
	cl->stdin_done = true;
	if (rexec_enc_empty(&cl->lk.scratch, REXEC_T_STDIN_EOF) == 0)
		queue_scratch(cl);
}

static void after_event(struct client *cl)
{
	watch_stdin(cl);
	kick(cl);
	if (cl->link_err || cl->result >= 0)
		loop_stop(cl->loop);
}

static void on_stdin(struct loop *l, int fd, uint32_t events, void *arg)
{
	struct client *cl = arg;

	read_stdin(cl);
	after_event(cl);
}

static void write_pidfile(struct client *cl, int32_t rpid)
{
	char text[32];
	int fd;

	if (mkdir_p(PIDS_DIR, 0755))
		return;
	snprintf(cl->pidfile, sizeof(cl->pidfile), PIDS_DIR "/%d", (int)getpid());
	fd = open(cl->pidfile, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0) {
		log_debug("pid file %s: %s", cl->pidfile, strerror(errno));
		cl->pidfile[0] = '\0';
		return;
	}
	snprintf(text, sizeof(text), "%d\n", (int)rpid);
	if (write_full(fd, text, strlen(text)))
		log_debug("pid file %s: write failed", cl->pidfile);
	close(fd);
}

/* Writes program output locally; blocking writes keep the client simple and fast, and
 * the credit window bounds what the server sends meanwhile. */
static void output(struct client *cl, int fd, const uint8_t *p, size_t len)
{
	if (fd == 1 && cl->stdout_broken)
		goto credit;
	if (write_full(fd, p, len)) {
		if (fd == 1 && !cl->stdout_broken) {
			/* Like a local pipeline: the writer learns of the closed pipe. */
			cl->stdout_broken = true;
			if (rexec_enc_u32(&cl->lk.scratch, REXEC_T_SIGNAL, SIGPIPE) == 0)
				queue_scratch(cl);
		}
	}
credit:
	cl->consumed += len;
	if (cl->consumed >= REXEC_WINDOW / 4) {
		if (rexec_enc_u32(&cl->lk.scratch, REXEC_T_CREDIT, (uint32_t)cl->consumed) == 0)
			queue_scratch(cl);
		cl->consumed = 0;
	}
}

static int on_frame(void *arg, const struct wire_frame *f)
{
	struct client *cl = arg;
	struct rexec_pid pid;
	uint32_t v;
	char tn[16];

	switch (f->h.type) {
	case REXEC_T_PID:
		if (cl->started || rexec_dec_pid(f->payload, f->h.length, &pid))
			return -EBADMSG;
		cl->started = true;
		log_debug("remote pid %d", (int)pid.pid);
		if (cl->detach) {
			printf("%d\n", (int)pid.pid);
			fflush(stdout);
		} else {
			cl->credit = pid.window;
			write_pidfile(cl, pid.pid);
		}
		return 0;
	case REXEC_T_STDOUT:
	case REXEC_T_STDERR:
		if (!cl->started)
			return -EBADMSG;
		output(cl, f->h.type == REXEC_T_STDOUT ? 1 : 2, f->payload, f->h.length);
		return 0;
	case REXEC_T_CREDIT:
		if (rexec_dec_u32(f->payload, f->h.length, &v) ||
		    (uint64_t)cl->credit + v > 2ull * REXEC_WINDOW)
			return -EBADMSG;
		cl->credit += v;
		return 0;
	case REXEC_T_EXIT:
		if (rexec_dec_exit(f->payload, f->h.length, &cl->ex))
			return -EBADMSG;
		cl->have_exit = true;
		cl->result = exit_code(&cl->ex);
		return 0;
	case REXEC_T_OK:
		if (!cl->detach || !cl->started)
			return -EBADMSG;
		cl->result = 0;
		return 0;
	case WIRE_T_ERROR:
		cl->result = report_error(cl, f);
		return 0;
	default:
		log_debug("unexpected %s frame", rexec_type_name(f->h.type, tn, sizeof(tn)));
		return -EBADMSG;
	}
}

static void on_conn(struct loop *l, int fd, uint32_t events, void *arg)
{
	struct client *cl = arg;
	int ret;

	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		ret = rexec_link_read(&cl->lk, on_frame, cl);
		if (ret && cl->result < 0)
			cl->link_err = ret;
	}
	if (!cl->link_err && (events & EPOLLOUT))
		kick(cl);
	after_event(cl);
}

static void on_signal(struct loop *l, int signo, void *arg)
{
	struct client *cl = arg;

	if (signo == SIGWINCH) {
		uint16_t rows, cols;

		if (cl->tty && cl->ttyfd >= 0 && rexec_tty_size(cl->ttyfd, &rows, &cols) == 0 &&
		    rexec_enc_winch(&cl->lk.scratch, rows, cols) == 0)
			queue_scratch(cl);
	} else if (rexec_enc_u32(&cl->lk.scratch, REXEC_T_SIGNAL, (uint32_t)signo) == 0) {
		log_debug("forwarding signal %d", signo);
		queue_scratch(cl);
	}
	after_event(cl);
}

static struct xport_conn *connect_server(struct client *cl)
{
	struct wire_hello mine = {.version = REXEC_PROTO_VERSION,
				  .role = REXEC_ROLE_CLIENT,
				  .max_payload = REXEC_MAX_PAYLOAD};
	struct wire_hello peer;
	struct errmsg e = {{0}};
	struct xport_conn *c;

	snprintf(mine.proto, sizeof(mine.proto), "%s", REXEC_PROTO_NAME);
	c = xport_connect(cl->addr, &cl->xo, &e);
	if (!c) {
		fprintf(stderr, "rexec: %s\n", errmsg_str(&e));
		return NULL;
	}
	if (wire_handshake(c, &mine, REXEC_ROLE_SERVER, &peer, 10000, &e)) {
		fprintf(stderr, "rexec: %s: %s\n", cl->addr, errmsg_str(&e));
		xport_close(c);
		return NULL;
	}
	return c;
}

/* --signal / --wait: one request, one answer. */
static int simple_request(struct client *cl, bool is_wait, const char *sig, const char *pidstr)
{
	struct rexec_kill k = {0};
	struct wire_frame f = {0};
	struct wire_buf b;
	struct xport_conn *c;
	struct rexec_exit x;
	uint32_t pid;
	int ret, code;

	if (parse_u32(pidstr, 10, &pid) || pid == 0 || pid > INT32_MAX) {
		fprintf(stderr, "rexec: '%s' is not a process id\n", pidstr);
		return 2;
	}
	if (!is_wait) {
		uint32_t n;
		const char *name = sig;

		if (parse_u32(sig, 10, &n) == 0) {
			k.signo = n;
		} else {
			static const struct {
				const char *n;
				int s;
			} names[] = {
				{"HUP", SIGHUP},   {"INT", SIGINT},   {"QUIT", SIGQUIT},
				{"KILL", SIGKILL}, {"USR1", SIGUSR1}, {"USR2", SIGUSR2},
				{"TERM", SIGTERM}, {"CONT", SIGCONT}, {"STOP", SIGSTOP},
				{"ALRM", SIGALRM}, {"PIPE", SIGPIPE}, {"WINCH", SIGWINCH},
			};
			size_t i;

			if (strncasecmp(name, "SIG", 3) == 0)
				name += 3;
			for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
				if (strcasecmp(name, names[i].n) == 0)
					k.signo = (uint32_t)names[i].s;
			if (!k.signo) {
				fprintf(stderr, "rexec: --signal: unknown signal '%s'\n", sig);
				return 2;
			}
		}
		if (k.signo > 64) {
			fprintf(stderr, "rexec: --signal: signal %u out of range\n", k.signo);
			return 2;
		}
		k.pid = (int32_t)pid;
	}
	c = connect_server(cl);
	if (!c)
		return EXIT_LINK;
	wire_buf_init(&b);
	ret = is_wait ? rexec_enc_wait(&b, (int32_t)pid) : rexec_enc_kill(&b, &k);
	if (!ret)
		ret = xport_write_all(c, b.data, b.len);
	wire_buf_free(&b);
	if (!ret)
		ret = wire_recv(c, REXEC_MAX_PAYLOAD, &f);
	if (ret) {
		die_link(cl->addr,
			 ret == -EPIPE ? "connection closed by the server" : wire_strerror(ret));
		xport_close(c);
		return EXIT_LINK;
	}
	if (f.h.type == WIRE_T_ERROR) {
		code = report_error(cl, &f);
	} else if (!is_wait && f.h.type == REXEC_T_OK && f.h.length == 0) {
		code = 0;
	} else if (is_wait && f.h.type == REXEC_T_EXIT &&
		   rexec_dec_exit(f.payload, f.h.length, &x) == 0) {
		code = exit_code(&x);
	} else {
		die_link(cl->addr, "unexpected answer from the server");
		code = EXIT_LINK;
	}
	wire_frame_free(&f);
	xport_close(c);
	return code;
}

static int run(struct client *cl, int argc, char **argv)
{
	static const int fwd[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};
	struct rexec_exec x = {0};
	char cwd[PATH_MAX];
	struct xport_conn *c;
	size_t i, envc = 0;
	int ret;

	x.flags = (cl->tty ? REXEC_F_TTY : 0) | (cl->detach ? REXEC_F_DETACH : 0);
	x.window = REXEC_WINDOW;
	x.argc = (size_t)argc;
	x.argv = argv;
	while (environ && environ[envc])
		envc++;
	/* Only NAME=VALUE entries travel; the server filters them by its policy. */
	x.env = calloc(envc + 1, sizeof(char *));
	if (!x.env)
		return EXIT_LINK;
	for (i = 0; i < envc; i++) {
		const char *eq = strchr(environ[i], '=');

		if (eq && eq != environ[i] && x.envc < REXEC_MAX_ENV)
			x.env[x.envc++] = environ[i];
	}
	if (cl->cwd) {
		x.cwd = (char *)cl->cwd;
		x.flags |= REXEC_F_CWD_STRICT;
	} else {
		x.cwd = getcwd(cwd, sizeof(cwd)) ? cwd : "";
	}
	cl->ttyfd = -1;
	if (cl->tty) {
		/* The terminal whose size the remote pty copies: stdin may be redirected
		 * (a background job's is /dev/null) while stdout/stderr are still the tty. */
		for (i = 0; i < 3 && cl->ttyfd < 0; i++)
			if (isatty((int)i))
				cl->ttyfd = (int)i;
		if (cl->ttyfd < 0 || rexec_tty_size(cl->ttyfd, &x.rows, &x.cols))
			x.rows = 24, x.cols = 80;
	}
	c = connect_server(cl);
	if (!c) {
		free(x.env);
		return EXIT_LINK;
	}
	ret = rexec_link_init(&cl->lk, c);
	if (!ret)
		ret = rexec_enc_exec(&cl->lk.scratch, &x);
	free(x.env);
	if (ret == -EMSGSIZE || ret == -E2BIG) {
		fprintf(stderr, "rexec: %s: arguments and environment too large\n", argv[0]);
		rexec_link_close(&cl->lk);
		return EXIT_REFUSED;
	}
	if (ret) {
		fprintf(stderr, "rexec: %s\n", strerror(-ret));
		rexec_link_close(&cl->lk);
		return EXIT_LINK;
	}
	queue_scratch(cl);
	cl->loop = loop_new();
	if (!cl->loop || loop_add_fd(cl->loop, cl->lk.fd, EPOLLIN, on_conn, cl) < 0) {
		fprintf(stderr, "rexec: event loop: %s\n", strerror(errno));
		rexec_link_close(&cl->lk);
		return EXIT_LINK;
	}
	if (!cl->detach) {
		for (i = 0; i < sizeof(fwd) / sizeof(fwd[0]); i++) {
			struct sigaction old;

			/* A signal this process was told to ignore (nohup, a background job)
			 * is not forwarded either: the remote program behaves as a local one. */
			if (sigaction(fwd[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN)
				continue;
			(void)loop_add_signal(cl->loop, fwd[i], on_signal, cl);
		}
		if (cl->tty)
			(void)loop_add_signal(cl->loop, SIGWINCH, on_signal, cl);
		/* A regular file or /dev/null cannot be watched by epoll: it is always ready. */
		cl->stdin_pollable = true;
		if (loop_add_fd(cl->loop, 0, EPOLLIN, on_stdin, cl) < 0)
			cl->stdin_pollable = false;
		else
			(void)loop_del_fd(cl->loop, 0);
		if (cl->tty && isatty(0)) {
			g_client = cl;
			atexit(restore_tty);
			(void)rexec_rawmode_enter(&cl->raw, 0);
		}
	} else {
		cl->stdin_done = true;
	}
	kick(cl);
	while (cl->result < 0 && !cl->link_err) {
		bool eager = !cl->stdin_pollable && cl->started && !cl->stdin_done && cl->credit &&
			     !cl->have_exit;

		if (eager) {
			read_stdin(cl);
			kick(cl);
		}
		if (loop_run_once(cl->loop, eager ? 0 : -1) < 0)
			break;
	}
	rexec_rawmode_leave(&cl->raw);
	if (cl->pidfile[0])
		unlink(cl->pidfile);
	if (cl->result < 0) {
		if (cl->link_err == -EPIPE)
			die_link(cl->addr, cl->started
						   ? "connection lost before the program's exit "
						     "status"
						   : "connection closed by the server");
		else
			die_link(cl->addr,
				 cl->link_err ? wire_strerror(cl->link_err) : "connection lost");
		cl->result = EXIT_LINK;
	}
	rexec_link_close(&cl->lk);
	loop_free(cl->loop);
	return cl->result;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"detach", no_argument, NULL, 'd'},
		{"cwd", required_argument, NULL, 'C'},
		{"server", required_argument, NULL, 's'},
		{"test-mode", no_argument, NULL, 'T'},
		{"tls-cert", required_argument, NULL, 1},
		{"tls-key", required_argument, NULL, 2},
		{"tls-ca", required_argument, NULL, 3},
		{"signal", required_argument, NULL, 4},
		{"wait", required_argument, NULL, 5},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct client cl = {.result = -1};
	const char *sig = NULL, *wait_pid = NULL, *logf = getenv("REXEC_LOG_FILE"), *tm;
	int c, ret;

	cl.addr = getenv("REXEC_SERVER");
	if (!cl.addr || !*cl.addr)
		cl.addr = DEFAULT_SERVER;
	tm = getenv("REXEC_TEST_MODE");
	cl.xo.test_mode = tm && strcmp(tm, "1") == 0;
	cl.xo.tls_cert = getenv("REXEC_TLS_CERT");
	cl.xo.tls_key = getenv("REXEC_TLS_KEY");
	cl.xo.tls_ca = getenv("REXEC_TLS_CA");
	/* '+': options end at the program, whose own options are its arguments. */
	while ((c = getopt_long(argc, argv, "+tdC:h", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			cl.tty = true;
			break;
		case 'd':
			cl.detach = true;
			break;
		case 'C':
			if (optarg[0] != '/') {
				fprintf(stderr, "rexec: --cwd: '%s' is not an absolute path\n",
					optarg);
				return 2;
			}
			cl.cwd = optarg;
			break;
		case 's':
			cl.addr = optarg;
			break;
		case 'T':
			cl.xo.test_mode = true;
			break;
		case 1:
			cl.xo.tls_cert = optarg;
			break;
		case 2:
			cl.xo.tls_key = optarg;
			break;
		case 3:
			cl.xo.tls_ca = optarg;
			break;
		case 4:
			sig = optarg;
			break;
		case 5:
			wait_pid = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	/* REXEC_LOG_FILE as openEuler's: unset = no log, "std" = stderr, else a file. */
	if (logf && strcmp(logf, "std") == 0)
		ret = log_init("rexec", NULL, LOG_LVL_DEBUG);
	else
		ret = log_init("rexec", logf && *logf ? logf : "/dev/null",
			       logf && *logf ? LOG_LVL_DEBUG : LOG_LVL_ERROR);
	if (ret)
		fprintf(stderr, "rexec: REXEC_LOG_FILE %s: %s (not logging)\n", logf,
			strerror(-ret));
	signal(SIGPIPE, SIG_IGN);
	if (sig || wait_pid) {
		if (sig && wait_pid) {
			fprintf(stderr, "rexec: --signal and --wait are exclusive\n");
			return 2;
		}
		if (optind + (sig ? 1 : 0) != argc) {
			fprintf(stderr, "rexec: %s\n",
				sig ? "usage: rexec --signal SIG PID" : "usage: rexec --wait PID");
			return 2;
		}
		return simple_request(&cl, wait_pid != NULL, sig, sig ? argv[optind] : wait_pid);
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	if (argv[optind][0] == '\0') {
		fprintf(stderr, "rexec: empty program name\n");
		return 2;
	}
	return run(&cl, argc - optind, argv + optind);
}
