/* main: udsproxyd's command line (including the openEuler form `udsproxyd 1 ADDR PORT
 * PEERADDR PEERPORT`), configuration file, startup checks, the event loop and cleanup. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <unistd.h>

#include "config.h"
#include "ctlmsg.h"
#include "daemon.h"
#include "log.h"
#include "udsproxy_client.h"
#include "util.h"

#define MAX_VSOCK_CIDS 64

static void usage(FILE *f)
{
	fprintf(f,
		"usage: udsproxyd --listen ADDR --peer ADDR [--allow FILE] [--mirror DIR]...\n"
		"                 [--shared DIR]... [--test-mode] [-D [LOG]] [options]\n"
		"       udsproxyd --status\n"
		"       udsproxyd 1 ADDR PORT PEERADDR PEERPORT   (openEuler form: tcp test mode)\n"
		"ADDR: tls:HOST:PORT, vsock:CID:PORT, tcp:HOST:PORT (only with --test-mode), "
		"unix:/path\n"
		"options:\n"
		"  --config FILE        INI file ([udsproxyd] listen, peer, allow, mirror, "
		"shared,\n"
		"                       test-mode, window, control; [tls] cert, key, ca; [vsock] "
		"cid)\n"
		"  --control PATH       control socket (default $UDSPROXY_SOCK or %s)\n"
		"  --conf-dir DIR       where qtcfg keeps its lists (default $UDSPROXY_CONF_DIR or "
		"%s)\n"
		"  --tls-cert F --tls-key F --tls-ca F   certificates for tls:\n"
		"  --vsock-cid CID      a peer CID accepted on vsock: (repeatable)\n"
		"  --window SIZE        per-stream receive window (default 1M)\n"
		"  --log-level LEVEL    error, warn, info, debug\n",
		UDSP_DEFAULT_CTL, UDSP_DEFAULT_CONF_DIR);
}

struct opts {
	const char *listen, *peer, *allow, *log_file, *config, *control, *conf_dir;
	const char *tls_cert, *tls_key, *tls_ca, *window;
	bool test_mode, status, log_on;
	enum log_level level;
	const char *mirror[UDSP_MAX_MIRROR_DIRS];
	size_t n_mirror;
	const char *shared[UDSP_MAX_SHARED];
	size_t n_shared;
	uint32_t cids[MAX_VSOCK_CIDS];
	size_t n_cids;
};

static int die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int die(const char *fmt, ...)
{
	va_list ap;

	fputs("udsproxyd: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 2;
}

static int add_cid(struct opts *o, const char *s)
{
	uint32_t cid;

	if (parse_u32(s, 0, &cid) || cid < 2)
		return die("--vsock-cid %s: not a peer CID (2 or more)", s);
	if (o->n_cids >= MAX_VSOCK_CIDS)
		return die("--vsock-cid: more than %d", MAX_VSOCK_CIDS);
	o->cids[o->n_cids++] = cid;
	return 0;
}

/* Settings from --config; the command line, parsed afterwards, overrides them. */
static int load_config(struct opts *o, struct config **out)
{
	static const char *const known[] = {
		"udsproxyd.listen",
		"udsproxyd.peer",
		"udsproxyd.allow",
		"udsproxyd.mirror",
		"udsproxyd.shared",
		"udsproxyd.test-mode",
		"udsproxyd.window",
		"udsproxyd.control",
		"udsproxyd.conf-dir",
		"udsproxyd.log",
		"udsproxyd.log-level",
		"tls.cert",
		"tls.key",
		"tls.ca",
		"vsock.cid",
		NULL,
	};
	struct errmsg e = {""};
	struct config *cfg = config_load(o->config, &e);
	size_t i;

	if (!cfg)
		return die("%s", errmsg_str(&e));
	*out = cfg;
	if (config_check_known(cfg, known, &e))
		return die("%s", errmsg_str(&e));
	for (i = 0; i < config_count(cfg); i++) {
		const struct config_entry *en = config_entry_at(cfg, i);
		bool is_u = !strcmp(en->section, "udsproxyd");

		if (is_u && !strcmp(en->key, "listen"))
			o->listen = en->value;
		else if (is_u && !strcmp(en->key, "peer"))
			o->peer = en->value;
		else if (is_u && !strcmp(en->key, "allow"))
			o->allow = en->value;
		else if (is_u && !strcmp(en->key, "window"))
			o->window = en->value;
		else if (is_u && !strcmp(en->key, "control"))
			o->control = en->value;
		else if (is_u && !strcmp(en->key, "conf-dir"))
			o->conf_dir = en->value;
		else if (is_u && !strcmp(en->key, "log"))
			o->log_on = true, o->log_file = en->value[0] ? en->value : NULL;
		else if (is_u && !strcmp(en->key, "log-level")) {
			if (log_level_parse(en->value, &o->level))
				return die("%s:%u: log-level %s: unknown level", o->config,
					   en->line, en->value);
		} else if (is_u && !strcmp(en->key, "test-mode")) {
			if (parse_bool(en->value, &o->test_mode))
				return die("%s:%u: test-mode %s: not a boolean", o->config,
					   en->line, en->value);
		} else if (is_u && !strcmp(en->key, "mirror")) {
			if (o->n_mirror >= UDSP_MAX_MIRROR_DIRS)
				return die("%s:%u: too many mirror entries", o->config, en->line);
			o->mirror[o->n_mirror++] = en->value;
		} else if (is_u && !strcmp(en->key, "shared")) {
			if (o->n_shared >= UDSP_MAX_SHARED)
				return die("%s:%u: too many shared entries", o->config, en->line);
			o->shared[o->n_shared++] = en->value;
		} else if (!strcmp(en->section, "tls")) {
			if (!strcmp(en->key, "cert"))
				o->tls_cert = en->value;
			else if (!strcmp(en->key, "key"))
				o->tls_key = en->value;
			else
				o->tls_ca = en->value;
		} else if (!strcmp(en->section, "vsock")) {
			if (add_cid(o, en->value))
				return 2;
		}
	}
	return 0;
}

/* `udsproxyd 1 ADDR PORT PEERADDR PEERPORT`: the offload guide's test-mode form. */
static int parse_openeuler(struct opts *o, int argc, char **argv, char *lbuf, char *pbuf, size_t n)
{
	uint32_t threads, port, pport;

	if (argc != 6)
		return die("openEuler form: udsproxyd THREADS ADDR PORT PEERADDR PEERPORT");
	if (parse_u32(argv[1], 10, &threads) || threads < 1)
		return die("%s: not a thread count", argv[1]);
	if (parse_u32(argv[3], 10, &port) || port == 0 || port > 65535)
		return die("port %s: not a TCP port", argv[3]);
	if (parse_u32(argv[5], 10, &pport) || pport == 0 || pport > 65535)
		return die("peer port %s: not a TCP port", argv[5]);
	snprintf(lbuf, n, "tcp:%s:%u", argv[2], port);
	snprintf(pbuf, n, "tcp:%s:%u", argv[4], pport);
	o->listen = lbuf;
	o->peer = pbuf;
	o->test_mode = true;
	fprintf(stderr, "udsproxyd: warning: the openEuler command form means test mode: the link "
			"is cleartext tcp without authentication; use --listen/--peer tls: in "
			"production\n");
	return 0;
}

static int parse_args(struct opts *o, int argc, char **argv, struct config **cfg, char *lbuf,
		      char *pbuf, size_t n)
{
	enum {
		O_LISTEN = 256,
		O_PEER,
		O_ALLOW,
		O_MIRROR,
		O_SHARED,
		O_TEST,
		O_STATUS,
		O_CONFIG,
		O_CONTROL,
		O_CONFDIR,
		O_CERT,
		O_KEY,
		O_CA,
		O_CID,
		O_WINDOW,
		O_LEVEL
	};
	static const struct option lopts[] = {
		{"listen", required_argument, NULL, O_LISTEN},
		{"peer", required_argument, NULL, O_PEER},
		{"allow", required_argument, NULL, O_ALLOW},
		{"mirror", required_argument, NULL, O_MIRROR},
		{"shared", required_argument, NULL, O_SHARED},
		{"test-mode", no_argument, NULL, O_TEST},
		{"status", no_argument, NULL, O_STATUS},
		{"config", required_argument, NULL, O_CONFIG},
		{"control", required_argument, NULL, O_CONTROL},
		{"conf-dir", required_argument, NULL, O_CONFDIR},
		{"tls-cert", required_argument, NULL, O_CERT},
		{"tls-key", required_argument, NULL, O_KEY},
		{"tls-ca", required_argument, NULL, O_CA},
		{"vsock-cid", required_argument, NULL, O_CID},
		{"window", required_argument, NULL, O_WINDOW},
		{"log-level", required_argument, NULL, O_LEVEL},
		{"log", optional_argument, NULL, 'D'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	int c, i;

	if (argc >= 2 && argv[1][0] >= '0' && argv[1][0] <= '9')
		return parse_openeuler(o, argc, argv, lbuf, pbuf, n);
	/* --config first, so the rest of the command line overrides it. */
	for (i = 1; i < argc - 1; i++) {
		if (!strcmp(argv[i], "--config")) {
			o->config = argv[i + 1];
			if (load_config(o, cfg))
				return 2;
		}
	}
	while ((c = getopt_long(argc, argv, "D::h", lopts, NULL)) != -1) {
		switch (c) {
		case O_LISTEN:
			o->listen = optarg;
			break;
		case O_PEER:
			o->peer = optarg;
			break;
		case O_ALLOW:
			o->allow = optarg;
			break;
		case O_MIRROR:
			if (o->n_mirror >= UDSP_MAX_MIRROR_DIRS)
				return die("--mirror: at most %d directories",
					   UDSP_MAX_MIRROR_DIRS);
			o->mirror[o->n_mirror++] = optarg;
			break;
		case O_SHARED:
			if (o->n_shared >= UDSP_MAX_SHARED)
				return die("--shared: at most %d trees", UDSP_MAX_SHARED);
			o->shared[o->n_shared++] = optarg;
			break;
		case O_TEST:
			o->test_mode = true;
			break;
		case O_STATUS:
			o->status = true;
			break;
		case O_CONFIG:
			break;
		case O_CONTROL:
			o->control = optarg;
			break;
		case O_CONFDIR:
			o->conf_dir = optarg;
			break;
		case O_CERT:
			o->tls_cert = optarg;
			break;
		case O_KEY:
			o->tls_key = optarg;
			break;
		case O_CA:
			o->tls_ca = optarg;
			break;
		case O_CID:
			if (add_cid(o, optarg))
				return 2;
			break;
		case O_WINDOW:
			o->window = optarg;
			break;
		case O_LEVEL:
			if (log_level_parse(optarg, &o->level))
				return die("--log-level %s: expected error, warn, info or debug",
					   optarg);
			break;
		case 'D':
			o->log_on = true;
			o->log_file = log_file_optarg(argc, argv);
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc)
		return die("unexpected argument '%s'", argv[optind]);
	return 0;
}

static void on_stop(struct loop *l, int signo, void *arg)
{
	log_info("signal %d: shutting down", signo);
	loop_stop(l);
}

static void on_tick(struct loop *l, struct loop_timer *t, void *arg)
{
	udsp_ctl_sweep(arg);
	udsp_link_tick(arg);
}

static int run_status(void)
{
	char *buf = malloc(UDSP_CTL_STATUS_MAX);
	int ret;

	if (!buf)
		return die("out of memory");
	ret = udsproxy_status(buf, UDSP_CTL_STATUS_MAX);
	if (ret == -EACCES) {
		free(buf);
		return die("%s: the status is for root only", udsproxy_ctl_path()), 1;
	}
	if (ret) {
		free(buf);
		return die("%s: %s (is udsproxyd running?)", udsproxy_ctl_path(), strerror(-ret)),
		       1;
	}
	fputs(buf, stdout);
	free(buf);
	return 0;
}

static int check_addr(const char *what, const char *addr, const struct opts *o)
{
	struct xport_addr a;
	struct errmsg e = {""};

	if (xport_addr_parse(addr, &a, &e))
		return die("%s %s", what, errmsg_str(&e));
	if (a.kind == XPORT_TCP && !o->test_mode)
		return die("%s %s: refused: tcp: is cleartext and unauthenticated; it needs "
			   "--test-mode (use tls: or vsock:)",
			   what, addr);
	if (a.kind == XPORT_TLS && (!o->tls_cert || !o->tls_key || !o->tls_ca))
		return die("%s %s: tls: needs --tls-cert, --tls-key and --tls-ca", what, addr);
	if (a.kind == XPORT_VSOCK && !o->n_cids)
		return die("%s %s: vsock: needs --vsock-cid for the peers it accepts", what, addr);
	return 0;
}

int main(int argc, char **argv)
{
	static struct udsp_daemon dd;
	struct udsp_daemon *d = &dd;
	struct config *cfg = NULL;
	struct errmsg e = {""};
	char lbuf[300], pbuf[300];
	struct opts o = {.level = LOG_LVL_INFO};
	uint64_t win = UDSP_DEFAULT_WINDOW;
	size_t i;
	int ret;

	ret = parse_args(&o, argc, argv, &cfg, lbuf, pbuf, sizeof(lbuf));
	if (ret)
		goto out_cfg;
	if (o.control)
		setenv("UDSPROXY_SOCK", o.control, 1);
	if (o.status) {
		ret = run_status();
		goto out_cfg;
	}
	if (!o.listen && !o.peer) {
		ret = die("needs --listen ADDR and/or --peer ADDR (see --help)");
		goto out_cfg;
	}
	if ((o.listen && (ret = check_addr("--listen", o.listen, &o))) ||
	    (o.peer && (ret = check_addr("--peer", o.peer, &o))))
		goto out_cfg;
	if (o.window &&
	    (parse_size(o.window, 1, &win) || win < UDSP_WINDOW_MIN || win > UDSP_WINDOW_MAX)) {
		ret = die("--window %s: expected %u..%u bytes", o.window, UDSP_WINDOW_MIN,
			  UDSP_WINDOW_MAX);
		goto out_cfg;
	}
	if (log_init("udsproxyd", o.log_on ? o.log_file : NULL, o.level)) {
		ret = die("-D %s: cannot open the log file", o.log_file ? o.log_file : "");
		goto out_cfg;
	}
	log_level_from_env("UDSPROXY_LOG_LEVEL");

	memset(d, 0, sizeof(*d));
	d->inotify_fd = -1;
	d->offer_pipe[0] = d->offer_pipe[1] = -1;
	d->window = (uint32_t)win;
	snprintf(d->listen_addr, sizeof(d->listen_addr), "%s", o.listen ? o.listen : "");
	snprintf(d->peer_addr, sizeof(d->peer_addr), "%s", o.peer ? o.peer : "");
	snprintf(d->ctl_path, sizeof(d->ctl_path), "%s", udsproxy_ctl_path());
	snprintf(d->conf_dir, sizeof(d->conf_dir), "%s",
		 o.conf_dir ? o.conf_dir
			    : (getenv("UDSPROXY_CONF_DIR") ? getenv("UDSPROXY_CONF_DIR")
							   : UDSP_DEFAULT_CONF_DIR));
	d->xopts.test_mode = o.test_mode;
	d->xopts.tls_cert = o.tls_cert;
	d->xopts.tls_key = o.tls_key;
	d->xopts.tls_ca = o.tls_ca;
	d->xopts.vsock_cids = o.cids;
	d->xopts.n_vsock_cids = o.n_cids;
	d->xopts.timeout_ms = 5000;
	for (i = 0; i < o.n_mirror; i++) {
		if (udsp_mirror_check_dir(o.mirror[i], &e)) {
			ret = die("%s", errmsg_str(&e));
			goto out_cfg;
		}
		d->mirror_dirs[d->n_mirror_dirs++] = (char *)o.mirror[i];
	}
	for (i = 0; i < o.n_shared; i++) {
		if (o.shared[i][0] != '/') {
			ret = die("--shared %s: must be an absolute path", o.shared[i]);
			goto out_cfg;
		}
		d->shared[d->n_shared++] = (char *)o.shared[i];
	}
	if (udsp_policy_init(&d->policy, o.allow, d->conf_dir, &e)) {
		ret = die("--allow %s", errmsg_str(&e));
		goto out_cfg;
	}
	if (!o.allow)
		log_warn("no --allow file: only the addresses in %s may be reached from the peer",
			 d->policy.list_file);
	if (getrandom(&d->nonce, sizeof(d->nonce), 0) != sizeof(d->nonce))
		d->nonce = now_ns() ^ ((uint64_t)getpid() << 32);
	srandom((unsigned)d->nonce);
	pthread_mutex_init(&d->mu, NULL);
	pthread_cond_init(&d->cond, NULL);
	wire_buf_init(&d->scratch);
	signal(SIGPIPE, SIG_IGN);
	{
		/* Every proxied connection costs an fd or two: take what we are allowed. */
		struct rlimit rl;

		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
			rl.rlim_cur = rl.rlim_max;
			(void)setrlimit(RLIMIT_NOFILE, &rl);
		}
	}

	ret = 1;
	d->loop = loop_new();
	if (!d->loop) {
		die("event loop: %s", strerror(errno));
		goto out_policy;
	}
	if (loop_add_signal(d->loop, SIGINT, on_stop, d) ||
	    loop_add_signal(d->loop, SIGTERM, on_stop, d)) {
		die("signals: %s", strerror(errno));
		goto out_loop;
	}
	if (udsp_ctl_start(d, &e)) {
		die("control socket %s", errmsg_str(&e));
		goto out_loop;
	}
	if (o.listen) {
		d->listener = xport_listen(o.listen, &d->xopts, &e);
		if (!d->listener) {
			die("--listen %s", errmsg_str(&e));
			goto out_ctl;
		}
	}
	if (pipe2(d->offer_pipe, O_CLOEXEC) ||
	    loop_add_fd(d->loop, d->offer_pipe[0], EPOLLIN, udsp_link_on_offer, d)) {
		die("pipe: %s", strerror(errno));
		goto out_listener;
	}
	d->tick = loop_add_timer(d->loop, 500, 500, on_tick, d);
	if (!d->tick) {
		die("timer: %s", strerror(errno));
		goto out_listener;
	}
	d->want_dial = d->peer_addr[0] != '\0';
	ret = udsp_link_start_threads(d);
	if (ret) {
		die("threads: %s", strerror(-ret));
		ret = 1;
		goto out_listener;
	}
	log_info("listening on %s, peer %s, control %s", o.listen ? o.listen : "-",
		 o.peer ? o.peer : "-", d->ctl_path);
	ret = loop_run(d->loop) ? 1 : 0;

	/* Orderly exit: proxied sockets closed, mirror sockets and the control socket removed. */
	udsp_stream_close_all(d);
	udsp_mirror_shutdown(d);
out_listener:
	/* The acceptor thread may sit in accept(); the process exits right after this. */
	if (d->listener) {
		const struct xport_addr *a = xport_listener_addr(d->listener);

		if (a->kind == XPORT_UNIX && a->path[0] == '/')
			unlink(a->path);
	}
out_ctl:
	udsp_ctl_stop(d);
out_loop:
	/* Threads may still use the loop's pipe: leave the loop to process exit. */
out_policy:
	udsp_policy_free(&d->policy);
out_cfg:
	config_free(cfg);
	return ret;
}
