/* rexec_server: listens, forks one session process per connection, reloads the whitelist on SIGHUP. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "errmsg.h"
#include "log.h"
#include "loop.h"
#include "proto.h"
#include "registry.h"
#include "rules.h"
#include "session.h"
#include "util.h"
#include "wire.h"
#include "xport.h"

#define DEFAULT_CONFIG "/etc/rexec/rexec_server.conf"
#define DEFAULT_LISTEN "unix:" REXEC_RUN_DIR "/rexec_uds.sock"
#define MAX_LISTEN     16

/* The daemon's own top-level state (main.c-style context). */
struct server {
	struct loop *loop;
	struct xport_listener *ls[MAX_LISTEN];
	struct loop_timer *resume[MAX_LISTEN]; /* tls: re-watch after an acceptor forked */
	size_t nls;
	const char *listen[MAX_LISTEN];
	size_t nlisten;
	const char *whitelist;
	const char *config_path;
	bool config_explicit;
	bool test_mode;
	bool check_only;
	int64_t max_sessions;
	int64_t unix_mode;
	const char *log_file;
	bool log_set;
	const char *log_level;
	const char *tls_cert, *tls_key, *tls_ca;
	const char *env_allow;
	bool env_refuse;
	struct config *cfg;
	struct rexec_rules *rules;
	struct rexec_server_ctx ctx;
	size_t nsessions;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: rexec_server [OPTIONS]\n"
		"  --listen ADDR        unix:/path, tcp:HOST:PORT, tls:HOST:PORT, vsock:CID:PORT\n"
		"                       (repeatable; default " DEFAULT_LISTEN ")\n"
		"  --whitelist FILE     allowlist (default " REXEC_DEFAULT_WHITELIST ")\n"
		"  --config FILE        server configuration (default " DEFAULT_CONFIG
		" if present)\n"
		"  --test-mode          allow tcp: (cleartext, unauthenticated)\n"
		"  --max-sessions N     concurrent sessions (default 256)\n"
		"  --tls-cert F --tls-key F --tls-ca F   certificates for tls:\n"
		"  -D, --log [FILE]     log to FILE (default stderr); --log-level LEVEL\n"
		"  --check              validate the configuration and whitelist, then exit\n");
}

static int load_config(struct server *sv)
{
	static const char *const known[] = {
		"server.listen",    "server.whitelist", "server.max_sessions",
		"server.test_mode", "server.log_level", "server.log_file",
		"server.unix_mode", "tls.cert",		"tls.key",
		"tls.ca",	    "exec.path",	"exec.detach_log_dir",
		"env.allow",	    "env.dangerous",	NULL,
	};
	struct errmsg e = {{0}};
	const struct config *c;
	const char *v;
	int64_t n;
	bool b;
	size_t i;

	if (!sv->config_explicit && access(sv->config_path, F_OK) != 0)
		return 0;
	sv->cfg = config_load(sv->config_path, &e);
	if (!sv->cfg || config_check_known(sv->cfg, known, &e))
		goto bad;
	c = sv->cfg;
	if (!sv->nlisten) {
		for (i = 0; i < config_count(c) && sv->nlisten < MAX_LISTEN; i++) {
			const struct config_entry *ce = config_entry_at(c, i);

			if (strcmp(ce->section, "server") == 0 && strcmp(ce->key, "listen") == 0)
				sv->listen[sv->nlisten++] = ce->value;
		}
	}
	if (!sv->whitelist) {
		if (config_get_str(c, "server", "whitelist", NULL, &v, &e))
			goto bad;
		sv->whitelist = v;
	}
	if (sv->max_sessions < 0) {
		if (config_get_int(c, "server", "max_sessions", 1, 100000, -1, &n, &e))
			goto bad;
		sv->max_sessions = n;
	}
	if (config_get_int(c, "server", "unix_mode", 0, 0777, 0, &n, &e))
		goto bad;
	sv->unix_mode = n;
	if (!sv->test_mode) {
		if (config_get_bool(c, "server", "test_mode", false, &b, &e))
			goto bad;
		sv->test_mode = b;
	}
	if (!sv->log_level && config_get_str(c, "server", "log_level", NULL, &sv->log_level, &e))
		goto bad;
	if (!sv->log_set) {
		if (config_get_str(c, "server", "log_file", NULL, &v, &e))
			goto bad;
		sv->log_file = v;
	}
	if ((!sv->tls_cert && config_get_str(c, "tls", "cert", NULL, &sv->tls_cert, &e)) ||
	    (!sv->tls_key && config_get_str(c, "tls", "key", NULL, &sv->tls_key, &e)) ||
	    (!sv->tls_ca && config_get_str(c, "tls", "ca", NULL, &sv->tls_ca, &e)))
		goto bad;
	if (config_get_str(c, "exec", "path", REXEC_DEFAULT_PATH, &sv->ctx.search_path, &e) ||
	    config_get_str(c, "exec", "detach_log_dir", NULL, &sv->ctx.detach_log_dir, &e) ||
	    config_get_str(c, "env", "allow", REXEC_DEFAULT_ENV_ALLOW, &sv->env_allow, &e) ||
	    config_get_str(c, "env", "dangerous", "drop", &v, &e))
		goto bad;
	if (strcmp(v, "drop") == 0) {
		sv->env_refuse = false;
	} else if (strcmp(v, "refuse") == 0) {
		sv->env_refuse = true;
	} else {
		const struct config_entry *ce = config_find(c, "env", "dangerous");

		errmsg_set(&e, "%s:%u: [env] dangerous: expected drop or refuse, got '%s'",
			   sv->config_path, ce ? ce->line : 0, v);
		goto bad;
	}
	return 0;
bad:
	fprintf(stderr, "rexec_server: %s\n", errmsg_str(&e));
	return -EINVAL;
}

static void xopts(const struct server *sv, struct xport_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->test_mode = sv->test_mode;
	o->tls_cert = sv->tls_cert;
	o->tls_key = sv->tls_key;
	o->tls_ca = sv->tls_ca;
	o->unix_mode = (unsigned)sv->unix_mode;
	o->timeout_ms = 10000;
}

/* The parent's copy of an accepted connection is dropped without touching the stream
 * (a TLS close_notify from here would end the session's TLS session): the fd is
 * pointed at /dev/null before the transport is closed. */
static void drop_parent_copy(struct xport_conn *c)
{
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (null >= 0) {
		(void)dup3(null, xport_fd(c), O_CLOEXEC);
		close(null);
	}
	xport_close(c);
}

static void refuse_busy(struct server *sv, struct xport_conn *c)
{
	struct wire_buf b;
	char msg[96];

	snprintf(msg, sizeof(msg), "rexec_server: too many sessions (%lld), try again later",
		 (long long)sv->max_sessions);
	wire_buf_init(&b);
	wire_buf_reset(&b);
	wire_frame_begin(&b);
	wire_put_u32(&b, EAGAIN);
	wire_put_str(&b, msg);
	if (wire_frame_end(&b, WIRE_T_ERROR, 0, 0) == 0)
		(void)xport_write_all(c, b.data, b.len);
	wire_buf_free(&b);
	xport_close(c);
}

static void session_child(struct server *sv, struct xport_conn *c)
{
	struct sigaction sa = {.sa_handler = SIG_DFL};
	sigset_t none;
	size_t i;
	int sig;

	/* The listeners stay the server's alone: a restart must be able to bind again. */
	for (i = 0; i < sv->nls; i++)
		close(xport_listener_fd(sv->ls[i]));
	for (sig = 1; sig < NSIG; sig++)
		(void)sigaction(sig, &sa, NULL);
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
	_exit(rexec_session_run(&sv->ctx, c));
}

/* A tls: acceptor: takes the pending connection and does the TLS handshake here, so a
 * slow or silent peer holds up only this process, never the daemon. */
static void tls_acceptor_child(struct server *sv, struct xport_listener *lis, bool busy)
{
	struct errmsg e = {{0}};
	struct xport_conn *c = xport_accept(lis, &e);

	if (!c) {
		/* EAGAIN: another acceptor took it first. */
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			log_warn("accept: %s", errmsg_str(&e));
		_exit(0);
	}
	if (busy) {
		log_warn("refusing %s: %lld sessions already (--max-sessions)", xport_peer_desc(c),
			 (long long)sv->max_sessions);
		refuse_busy(sv, c);
		_exit(0);
	}
	session_child(sv, c);
}

static void on_accept(struct loop *l, int fd, uint32_t events, void *arg);

static void on_resume(struct loop *l, struct loop_timer *t, void *arg)
{
	struct server *sv = arg;
	size_t i;

	for (i = 0; i < sv->nls; i++)
		if (sv->resume[i] == t &&
		    loop_add_fd(l, xport_listener_fd(sv->ls[i]), EPOLLIN, on_accept, sv) < 0)
			log_error("listener %zu: cannot watch it again: %s", i, strerror(errno));
}

static void on_accept(struct loop *l, int fd, uint32_t events, void *arg)
{
	struct server *sv = arg;
	struct xport_listener *lis = NULL;
	struct errmsg e = {{0}};
	struct xport_conn *c;
	pid_t pid;
	size_t i;

	for (i = 0; i < sv->nls && !lis; i++)
		if (xport_listener_fd(sv->ls[i]) == fd)
			lis = sv->ls[i];
	if (!lis)
		return;
	i--;
	if (xport_listener_addr(lis)->kind == XPORT_TLS) {
		pid = fork();
		if (pid < 0) {
			log_error("fork for a tls connection: %s", strerror(errno));
			return;
		}
		if (pid == 0)
			tls_acceptor_child(sv, lis, sv->nsessions >= (size_t)sv->max_sessions);
		sv->nsessions++;
		/* The listener stays readable until the child has accepted: stop watching it
		 * for a moment instead of forking again for the same connection. A child that
		 * finds nothing to accept just exits. */
		(void)loop_del_fd(l, fd);
		if (loop_timer_set(sv->resume[i], 2, 0) < 0)
			on_resume(l, sv->resume[i], sv);
		return;
	}
	c = xport_accept(lis, &e);
	if (!c) {
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			log_warn("accept: %s", errmsg_str(&e));
		return;
	}
	if (sv->nsessions >= (size_t)sv->max_sessions) {
		log_warn("refusing %s: %zu sessions already (--max-sessions)", xport_peer_desc(c),
			 sv->nsessions);
		refuse_busy(sv, c);
		return;
	}
	pid = fork();
	if (pid < 0) {
		log_error("fork for %s: %s", xport_peer_desc(c), strerror(errno));
		xport_close(c);
		return;
	}
	if (pid == 0)
		session_child(sv, c);
	sv->nsessions++;
	drop_parent_copy(c);
}

/* Finished programs' records: non-detached kept a minute (for a --wait racing the
 * exit), detached ones a week unless collected by --wait. */
#define PRUNE_KEEP_S	      60
#define PRUNE_KEEP_DETACHED_S (7 * 24 * 3600)

static void on_prune(struct loop *l, struct loop_timer *t, void *arg)
{
	int n = rexec_reg_prune(REXEC_PROCS_DIR, PRUNE_KEEP_S, PRUNE_KEEP_DETACHED_S);

	if (n > 0)
		log_debug("registry: pruned %d finished program records", n);
}

static void on_signal(struct loop *l, int signo, void *arg)
{
	struct server *sv = arg;

	if (signo == SIGCHLD) {
		int st;

		while (waitpid(-1, &st, WNOHANG) > 0)
			if (sv->nsessions)
				sv->nsessions--;
	} else if (signo == SIGHUP) {
		struct errmsg e = {{0}};
		struct rexec_rules *r = rexec_rules_load(sv->whitelist, true, &e);

		if (!r) {
			log_error("reload: %s; keeping the previous whitelist (%zu entries)",
				  errmsg_str(&e), sv->rules ? sv->rules->n : 0);
			return;
		}
		rexec_rules_free(sv->rules);
		sv->rules = r;
		sv->ctx.rules = r;
		log_info("reload: %s: %zu entries", sv->whitelist, r->n);
	} else {
		log_info("signal %d: stopping (running sessions continue)", signo);
		loop_stop(l);
	}
}

/* Everything after option parsing; resources stay in sv for server_free(). */
static int server_run(struct server *sv)
{
	struct errmsg e = {{0}};
	struct xport_opts xo;
	enum log_level lvl = LOG_LVL_INFO;
	size_t i;
	int ret;

	if (load_config(sv))
		return 1;
	if (!sv->ctx.search_path)
		sv->ctx.search_path = REXEC_DEFAULT_PATH;
	if (!sv->env_allow)
		sv->env_allow = REXEC_DEFAULT_ENV_ALLOW;
	if (!sv->whitelist)
		sv->whitelist = REXEC_DEFAULT_WHITELIST;
	if (sv->max_sessions < 0)
		sv->max_sessions = 256;
	if (!sv->nlisten)
		sv->listen[sv->nlisten++] = DEFAULT_LISTEN;
	if (sv->log_level && log_level_parse(sv->log_level, &lvl)) {
		fprintf(stderr,
			"rexec_server: log level '%s': expected error, warn, info or debug\n",
			sv->log_level);
		return 2;
	}
	ret = log_init("rexec_server", sv->log_file, lvl);
	if (ret) {
		fprintf(stderr, "rexec_server: log file %s: %s\n", sv->log_file, strerror(-ret));
		return 1;
	}
	if (rexec_envpolicy_init(&sv->ctx.env, sv->env_allow, sv->env_refuse, &e)) {
		fprintf(stderr, "rexec_server: %s: %s\n", sv->config_path, errmsg_str(&e));
		return 1;
	}
	sv->rules = rexec_rules_load(sv->whitelist, true, &e);
	if (!sv->rules) {
		fprintf(stderr, "rexec_server: %s\n", errmsg_str(&e));
		log_error("%s", errmsg_str(&e));
		return 1;
	}
	sv->ctx.rules = sv->rules;
	sv->ctx.procs_dir = REXEC_PROCS_DIR;
	sv->ctx.window = REXEC_WINDOW;
	sv->ctx.handshake_timeout_ms = 10000;
	if (sv->check_only) {
		printf("rexec_server: %s: %zu entries; configuration ok\n", sv->whitelist,
		       sv->rules->n);
		return 0;
	}
	ret = mkdir_p(REXEC_RUN_DIR, 0755);
	if (!ret)
		ret = mkdir_p(REXEC_PROCS_DIR, 0700);
	if (ret) {
		fprintf(stderr, "rexec_server: %s: %s\n", REXEC_RUN_DIR, strerror(-ret));
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	sv->loop = loop_new();
	if (!sv->loop) {
		fprintf(stderr, "rexec_server: event loop: %s\n", strerror(errno));
		return 1;
	}
	xopts(sv, &xo);
	for (i = 0; i < sv->nlisten; i++) {
		struct xport_listener *l = xport_listen(sv->listen[i], &xo, &e);

		if (!l) {
			fprintf(stderr, "rexec_server: %s\n", errmsg_str(&e));
			log_error("%s", errmsg_str(&e));
			return 1;
		}
		sv->resume[sv->nls] = loop_add_timer(sv->loop, 0, 0, on_resume, sv);
		if (!sv->resume[sv->nls]) {
			fprintf(stderr, "rexec_server: timer: %s\n", strerror(errno));
			return 1;
		}
		sv->ls[sv->nls++] = l;
		(void)fd_set_nonblock(xport_listener_fd(l), true);
		if (loop_add_fd(sv->loop, xport_listener_fd(l), EPOLLIN, on_accept, sv) < 0) {
			fprintf(stderr, "rexec_server: event loop: %s\n", strerror(errno));
			return 1;
		}
		log_info("listening on %s", sv->listen[i]);
	}
	if (loop_add_signal(sv->loop, SIGCHLD, on_signal, sv) ||
	    loop_add_signal(sv->loop, SIGHUP, on_signal, sv) ||
	    loop_add_signal(sv->loop, SIGTERM, on_signal, sv) ||
	    loop_add_signal(sv->loop, SIGINT, on_signal, sv)) {
		fprintf(stderr, "rexec_server: signals: %s\n", strerror(errno));
		return 1;
	}
	on_prune(sv->loop, NULL, sv);
	if (!loop_add_timer(sv->loop, 60000, 60000, on_prune, sv)) {
		fprintf(stderr, "rexec_server: timer: %s\n", strerror(errno));
		return 1;
	}
	log_info("whitelist %s: %zu entries; max %lld sessions", sv->whitelist, sv->rules->n,
		 (long long)sv->max_sessions);
	ret = loop_run(sv->loop);
	return ret ? 1 : 0;
}

static void server_free(struct server *sv)
{
	size_t i;

	for (i = 0; i < sv->nls; i++)
		xport_listener_close(sv->ls[i]);
	loop_free(sv->loop);
	rexec_rules_free(sv->rules);
	rexec_envpolicy_free(&sv->ctx.env);
	config_free(sv->cfg);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"listen", required_argument, NULL, 'l'},
		{"whitelist", required_argument, NULL, 'w'},
		{"config", required_argument, NULL, 'c'},
		{"test-mode", no_argument, NULL, 'T'},
		{"max-sessions", required_argument, NULL, 'm'},
		{"log", optional_argument, NULL, 'D'},
		{"log-level", required_argument, NULL, 'L'},
		{"tls-cert", required_argument, NULL, 1},
		{"tls-key", required_argument, NULL, 2},
		{"tls-ca", required_argument, NULL, 3},
		{"check", no_argument, NULL, 4},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct server sv = {.max_sessions = -1, .config_path = DEFAULT_CONFIG};
	uint64_t u;
	int c, ret;

	while ((c = getopt_long(argc, argv, "D::h", opts, NULL)) != -1) {
		switch (c) {
		case 'l':
			if (sv.nlisten >= MAX_LISTEN) {
				fprintf(stderr, "rexec_server: --listen: at most %d addresses\n",
					MAX_LISTEN);
				return 2;
			}
			sv.listen[sv.nlisten++] = optarg;
			break;
		case 'w':
			sv.whitelist = optarg;
			break;
		case 'c':
			sv.config_path = optarg;
			sv.config_explicit = true;
			break;
		case 'T':
			sv.test_mode = true;
			break;
		case 'm':
			if (parse_u64(optarg, 10, &u) || u < 1 || u > 100000) {
				fprintf(stderr,
					"rexec_server: --max-sessions: '%s' is not a number "
					"1-100000\n",
					optarg);
				return 2;
			}
			sv.max_sessions = (int64_t)u;
			break;
		case 'D':
			/* -D FILE as StratoVirt: also accept the file as the next word. */
			sv.log_file = log_file_optarg(argc, argv);
			sv.log_set = true;
			break;
		case 'L':
			sv.log_level = optarg;
			break;
		case 1:
			sv.tls_cert = optarg;
			break;
		case 2:
			sv.tls_key = optarg;
			break;
		case 3:
			sv.tls_ca = optarg;
			break;
		case 4:
			sv.check_only = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "rexec_server: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	ret = server_run(&sv);
	server_free(&sv);
	return ret;
}
