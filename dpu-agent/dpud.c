/*
 * splitvirt-dpud: the DPU-side domain manager. Reads /etc/splitvirt/dpu.conf,
 * starts and supervises its helpers (udsproxyd, qtfs mounts), reconciles the
 * domains with the VMs that run on the host, and serves the JSON-RPC API.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api.h"
#include "config.h"
#include "host-agent/supervise.h"
#include "log.h"
#include "mgr.h"
#include "render.h"
#include "rpc.h"
#include "util.h"
#include "xport.h"

#define DPUD_CONF "/etc/splitvirt/dpu.conf"

struct dpud {
	struct mgr_config mc;
	char listen[256];
	char remote_listen[256];
	char tls_cert[256], tls_key[256], tls_ca[256];
	char udsproxy_sock[108];
	bool test_mode;
	char log_level[16];
	struct sup sup;
	struct mgr *mgr;
};

static const char *const known_keys[] = {
	"dpud.listen",
	"dpud.remote_listen",
	"dpud.store",
	"dpud.run_dir",
	"dpud.make_run_dirs",
	"dpud.shutdown_timeout",
	"dpud.start_timeout",
	"dpud.command_timeout",
	"dpud.log_level",
	"dpud.test_mode",
	"host.exec",
	"host.rexec",
	"host.rexec_server",
	"host.socket",
	"host.udsproxy_socket",
	"host.splitvm",
	"host.splitvm_args",
	"host.netctl",
	"host.tap_prefix",
	"tls.cert",
	"tls.key",
	"tls.ca",
	NULL,
};

static int get_path(const struct config *cfg, const char *sec, const char *key, const char *def,
		    char *out, size_t len, bool absolute, struct errmsg *e)
{
	const char *v;
	int r = config_get_str(cfg, sec, key, def, &v, e);

	if (r)
		return r;
	if (str_copy(out, len, v)) {
		errmsg_set(e, "%s: [%s] %s: longer than %zu bytes", config_name(cfg), sec, key,
			   len - 1);
		return -EINVAL;
	}
	if (absolute && out[0] && out[0] != '/') {
		errmsg_set(e, "%s: [%s] %s: '%s' is not an absolute path", config_name(cfg), sec,
			   key, out);
		return -EINVAL;
	}
	return 0;
}

static int load_config(struct dpud *d, const char *path, struct errmsg *e)
{
	struct config *cfg;
	struct mgr_config *mc = &d->mc;
	const char *v;
	int64_t n;
	int r = 0;

	cfg = config_load(path, e);
	if (!cfg)
		return -errno ? -errno : -EINVAL;
	/* Known keys everywhere but in [child.*] sections, which load_children checks. */
	for (size_t i = 0; i < config_count(cfg); i++) {
		const struct config_entry *ent = config_entry_at(cfg, i);
		char full[128];
		size_t k;

		if (str_has_prefix(ent->section, "child."))
			continue;
		snprintf(full, sizeof(full), "%s.%s", ent->section, ent->key);
		for (k = 0; known_keys[k]; k++)
			if (strcmp(known_keys[k], full) == 0)
				break;
		if (!known_keys[k]) {
			errmsg_set(e, "%s:%u: [%s] %s: unknown key", config_name(cfg), ent->line,
				   ent->section, ent->key);
			r = -EINVAL;
			goto out;
		}
	}
	mgr_config_defaults(mc);
	r = get_path(cfg, "dpud", "listen", "unix:" RPC_SOCKET, d->listen, sizeof(d->listen), false,
		     e);
	r = r
		    ?: get_path(cfg, "dpud", "remote_listen", "", d->remote_listen,
				sizeof(d->remote_listen), false, e);
	r = r
		    ?: get_path(cfg, "dpud", "store", STORE_DIR, mc->store_dir,
				sizeof(mc->store_dir), true, e);
	r = r
		    ?: get_path(cfg, "dpud", "run_dir", RENDER_RUN_DIR, mc->run_dir,
				sizeof(mc->run_dir), true, e);
	r = r ?: config_get_bool(cfg, "dpud", "make_run_dirs", true, &mc->make_run_dirs, e);
	r = r ?: config_get_int(cfg, "dpud", "shutdown_timeout", 1, 3600, 30, &n, e);
	if (!r)
		mc->shutdown_timeout_ms = (int)n * 1000;
	r = r ?: config_get_int(cfg, "dpud", "start_timeout", 1, 600, 10, &n, e);
	if (!r)
		mc->start_timeout_ms = (int)n * 1000;
	r = r ?: config_get_int(cfg, "dpud", "command_timeout", 1, 600, 10, &n, e);
	if (!r)
		mc->command_timeout_ms = (int)n * 1000;
	r = r
		    ?: get_path(cfg, "dpud", "log_level", "info", d->log_level,
				sizeof(d->log_level), false, e);
	r = r ?: config_get_bool(cfg, "dpud", "test_mode", false, &d->test_mode, e);
	if (r)
		goto out;
	{
		enum log_level lv;

		if (log_level_parse(d->log_level, &lv)) {
			errmsg_set(e,
				   "%s: [dpud] log_level: '%s' is not error, warn, info or debug",
				   config_name(cfg), d->log_level);
			r = -EINVAL;
			goto out;
		}
	}
	r = config_get_str(cfg, "host", "exec", "rexec", &v, e);
	if (r)
		goto out;
	if (strcmp(v, "rexec") == 0) {
		mc->exec.mode = HOSTEXEC_REXEC;
	} else if (strcmp(v, "local") == 0) {
		mc->exec.mode = HOSTEXEC_LOCAL;
	} else {
		errmsg_set(e, "%s: [host] exec: '%s' is not rexec or local", config_name(cfg), v);
		r = -EINVAL;
		goto out;
	}
	r = get_path(cfg, "host", "rexec", "/usr/bin/rexec", mc->exec.rexec, sizeof(mc->exec.rexec),
		     true, e);
	r = r
		    ?: get_path(cfg, "host", "rexec_server", "", mc->exec.server,
				sizeof(mc->exec.server), false, e);
	r = r ?: config_get_str(cfg, "host", "socket", "udsproxy", &v, e);
	if (r)
		goto out;
	if (strcmp(v, "udsproxy") == 0) {
		mc->sock.mode = HOSTSOCK_UDSPROXY;
	} else if (strcmp(v, "local") == 0) {
		mc->sock.mode = HOSTSOCK_LOCAL;
	} else {
		errmsg_set(e, "%s: [host] socket: '%s' is not udsproxy or local", config_name(cfg),
			   v);
		r = -EINVAL;
		goto out;
	}
	if (!hostsock_mode_available(mc->sock.mode)) {
		errmsg_set(e, "%s: [host] socket: udsproxy: this build has no udsproxy client",
			   config_name(cfg));
		r = -EINVAL;
		goto out;
	}
	r = get_path(cfg, "host", "udsproxy_socket", "", d->udsproxy_sock, sizeof(d->udsproxy_sock),
		     false, e);
	r = r
		    ?: get_path(cfg, "host", "splitvm", mc->splitvm, mc->splitvm,
				sizeof(mc->splitvm), true, e);
	r = r
		    ?: get_path(cfg, "host", "splitvm_args", "", mc->splitvm_args,
				sizeof(mc->splitvm_args), false, e);
	r = r
		    ?: get_path(cfg, "host", "netctl", mc->netctl, mc->netctl, sizeof(mc->netctl),
				true, e);
	r = r
		    ?: get_path(cfg, "host", "tap_prefix", RENDER_TAP_PREFIX, mc->tap_prefix,
				sizeof(mc->tap_prefix), false, e);
	if (!r && strlen(mc->tap_prefix) > 6) {
		errmsg_set(e, "%s: [host] tap_prefix: longer than 6 bytes", config_name(cfg));
		r = -EINVAL;
	}
	r = r ?: get_path(cfg, "tls", "cert", "", d->tls_cert, sizeof(d->tls_cert), true, e);
	r = r ?: get_path(cfg, "tls", "key", "", d->tls_key, sizeof(d->tls_key), true, e);
	r = r ?: get_path(cfg, "tls", "ca", "", d->tls_ca, sizeof(d->tls_ca), true, e);
	r = r ?: sup_load_config(&d->sup, cfg, e);
out:
	config_free(cfg);
	return r;
}

struct listener_arg {
	struct dpud *d;
	struct xport_listener *l;
};

static void *conn_thread(void *arg)
{
	void **a = arg;

	api_serve(a[0], a[1]);
	free(a);
	return NULL;
}

static void *accept_thread(void *arg)
{
	struct listener_arg *la = arg;

	for (;;) {
		struct errmsg e;
		struct xport_conn *c = xport_accept(la->l, &e);
		pthread_t t;
		void **a;

		if (!c) {
			if (errno != EINTR && errno != ECONNABORTED)
				log_warn("accept: %s", errmsg_str(&e));
			if (errno == EBADF || errno == EINVAL)
				return NULL;
			continue;
		}
		a = malloc(2 * sizeof(void *));
		if (!a) {
			xport_close(c);
			continue;
		}
		a[0] = la->d->mgr;
		a[1] = c;
		if (pthread_create(&t, NULL, conn_thread, a)) {
			log_warn("cannot start a connection thread");
			xport_close(c);
			free(a);
			continue;
		}
		pthread_detach(t);
	}
	return NULL;
}

static int start_listener(struct dpud *d, const char *addr, struct listener_arg *la,
			  struct errmsg *e)
{
	struct xport_opts o = {
		.test_mode = d->test_mode,
		.tls_cert = d->tls_cert[0] ? d->tls_cert : NULL,
		.tls_key = d->tls_key[0] ? d->tls_key : NULL,
		.tls_ca = d->tls_ca[0] ? d->tls_ca : NULL,
		.unix_mode = 0600,
	};
	pthread_t t;

	la->d = d;
	la->l = xport_listen(addr, &o, e);
	if (!la->l)
		return -errno ? -errno : -EINVAL;
	if (pthread_create(&t, NULL, accept_thread, la)) {
		errmsg_set(e, "%s: cannot start the accept thread", addr);
		return -EAGAIN;
	}
	pthread_detach(t);
	log_info("listening on %s", addr);
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: splitvirt-dpud [-f CONFIG] [--check] [--test-mode] [-D [LOGFILE]]\n"
		   "  -f, --config FILE  configuration (default " DPUD_CONF ")\n"
		   "  --check            validate the configuration and exit\n"
		   "  --test-mode        allow tcp: addresses (cleartext, unauthenticated)\n"
		   "  -D, --log [FILE]   log to FILE (default stderr)\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'f'}, {"check", no_argument, NULL, 'c'},
		{"test-mode", no_argument, NULL, 't'},	  {"log", optional_argument, NULL, 'D'},
		{"help", no_argument, NULL, 'h'},	  {NULL, 0, NULL, 0},
	};
	static struct dpud d;
	struct listener_arg la_local, la_remote;
	const char *conf = DPUD_CONF, *logfile = NULL;
	bool check = false, test_mode = false;
	struct errmsg e = {{0}};
	enum log_level lv;
	sigset_t set;
	int opt, r;

	while ((opt = getopt_long(argc, argv, "f:D::h", opts, NULL)) != -1) {
		switch (opt) {
		case 'f':
			conf = optarg;
			break;
		case 'c':
			check = true;
			break;
		case 't':
			test_mode = true;
			break;
		case 'D':
			logfile = log_file_optarg(argc, argv);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "splitvirt-dpud: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	log_init("splitvirt-dpud", NULL, LOG_LVL_INFO);
	sup_init(&d.sup);
	r = load_config(&d, conf, &e);
	if (r) {
		fprintf(stderr, "splitvirt-dpud: %s\n", errmsg_str(&e));
		return 1;
	}
	if (test_mode)
		d.test_mode = true;
	if (check) {
		/* What can be checked from here: local programs and files (host paths cannot). */
		for (size_t i = 0; i < d.sup.n; i++) {
			if (access(d.sup.c[i].argv[0], X_OK) < 0) {
				fprintf(stderr, "splitvirt-dpud: %s: [child.%s] exec: %s: %s\n",
					conf, d.sup.c[i].name, d.sup.c[i].argv[0], strerror(errno));
				return 1;
			}
		}
		if (d.mc.exec.mode == HOSTEXEC_REXEC && access(d.mc.exec.rexec, X_OK) < 0) {
			fprintf(stderr, "splitvirt-dpud: %s: [host] rexec: %s: %s\n", conf,
				d.mc.exec.rexec, strerror(errno));
			return 1;
		}
		const char *files[] = {d.tls_cert, d.tls_key, d.tls_ca};
		for (size_t i = 0; i < 3; i++) {
			if (files[i][0] && access(files[i], R_OK) < 0) {
				fprintf(stderr, "splitvirt-dpud: %s: [tls] %s: %s\n", conf,
					files[i], strerror(errno));
				return 1;
			}
		}
		printf("%s: OK (%zu children)\n", conf, d.sup.n);
		return 0;
	}
	log_level_parse(d.log_level, &lv);
	if (log_init("splitvirt-dpud", logfile, lv)) {
		fprintf(stderr, "splitvirt-dpud: -D %s: %s\n", logfile, strerror(errno));
		return 1;
	}
	if (d.udsproxy_sock[0])
		setenv("UDSPROXY_SOCK", d.udsproxy_sock, 1);
	if (d.mc.exec.mode == HOSTEXEC_REXEC) {
		/* The rexec client takes its address, mode and certificates from here. */
		if (d.mc.exec.server[0])
			setenv("REXEC_SERVER", d.mc.exec.server, 1);
		if (d.test_mode)
			setenv("REXEC_TEST_MODE", "1", 1);
		if (d.tls_cert[0])
			setenv("REXEC_TLS_CERT", d.tls_cert, 1);
		if (d.tls_key[0])
			setenv("REXEC_TLS_KEY", d.tls_key, 1);
		if (d.tls_ca[0])
			setenv("REXEC_TLS_CA", d.tls_ca, 1);
	}
	signal(SIGPIPE, SIG_IGN);
	/* Handled synchronously below; every thread inherits the mask. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	mkdir_p("/run/splitvirt", 0755);
	if (d.sup.n) {
		if (sup_wait_ready(&d.sup, 10000))
			log_warn("not every helper became ready within 10 s; continuing");
	}
	r = mgr_new(&d.mc, &d.mgr, &e);
	if (r) {
		log_error("%s", errmsg_str(&e));
		sup_stop_all(&d.sup, 2000);
		return 1;
	}
	mgr_reconcile(d.mgr);
	if (start_listener(&d, d.listen, &la_local, &e)) {
		log_error("%s", errmsg_str(&e));
		sup_stop_all(&d.sup, 2000);
		return 1;
	}
	if (d.remote_listen[0] && start_listener(&d, d.remote_listen, &la_remote, &e)) {
		log_error("%s", errmsg_str(&e));
		sup_stop_all(&d.sup, 2000);
		return 1;
	}
	log_info("ready");
	for (;;) {
		struct timespec ts = {.tv_sec = 0, .tv_nsec = 200 * 1000000};
		int sig = sigtimedwait(&set, NULL, &ts);

		if (sig == SIGTERM || sig == SIGINT) {
			log_info("signal %d: exiting; running VMs keep running", sig);
			break;
		}
		sup_poll(&d.sup);
	}
	xport_listener_close(la_local.l);
	sup_stop_all(&d.sup, 3000);
	/* Monitor threads still use the manager: leave it to the exit. */
	return 0;
}
