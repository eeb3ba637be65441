/*
 * splitvirt-hostd: the host "engine". Reads /etc/splitvirt/host.conf, prepares
 * the run and image directories, pins splitvm and splitvirt-netctl in the rexec
 * allowlist, and starts and supervises its children (qtfsd, udsproxyd,
 * rexec_server), restarting a dead one with backoff and logging why.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hostd_conf.h"
#include "log.h"
#include "supervise.h"
#include "util.h"
#include "whitelist.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: splitvirt-hostd [-f CONFIG] [--check] [-D [LOGFILE]]\n"
		   "  -f, --config FILE  configuration (default " HOSTD_CONF ")\n"
		   "  --check            validate the configuration (and the programs it names)\n"
		   "  -D, --log [FILE]   log to FILE (default stderr)\n");
}

static int check_programs(const struct hostd_conf *c, const struct sup *sup, struct errmsg *e)
{
	for (size_t i = 0; i < sup->n; i++) {
		if (access(sup->c[i].argv[0], X_OK) < 0) {
			errmsg_set(e, "[child.%s] exec: %s: %s", sup->c[i].name, sup->c[i].argv[0],
				   strerror(errno));
			return -errno;
		}
	}
	if (c->whitelist[0]) {
		if (access(c->splitvm, X_OK) < 0) {
			errmsg_set(e, "[rexec] splitvm: %s: %s", c->splitvm, strerror(errno));
			return -ENOENT;
		}
		if (access(c->netctl, X_OK) < 0) {
			errmsg_set(e, "[rexec] netctl: %s: %s", c->netctl, strerror(errno));
			return -ENOENT;
		}
	}
	return 0;
}

static void update_whitelist(const struct hostd_conf *c, struct sup *sup)
{
	struct errmsg e;

	if (!c->whitelist[0])
		return;
	if (wl_update(c->whitelist, c->splitvm, c->netctl, &e)) {
		log_error("rexec allowlist: %s", errmsg_str(&e));
		return;
	}
	log_info("rexec allowlist %s: splitvm and netctl pinned by SHA-256", c->whitelist);
	for (size_t i = 0; i < sup->n; i++)
		if (strcmp(sup->c[i].name, c->reload_child) == 0 && sup->c[i].pid > 0)
			kill(sup->c[i].pid, SIGHUP);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'f'},
		{"check", no_argument, NULL, 'c'},
		{"log", optional_argument, NULL, 'D'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	static struct hostd_conf c;
	static struct sup sup;
	const char *conf = HOSTD_CONF, *logfile = NULL;
	struct errmsg e = {{0}};
	bool check = false;
	enum log_level lv;
	sigset_t set;
	int opt;

	while ((opt = getopt_long(argc, argv, "f:D::h", opts, NULL)) != -1) {
		switch (opt) {
		case 'f':
			conf = optarg;
			break;
		case 'c':
			check = true;
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
		fprintf(stderr, "splitvirt-hostd: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	log_init("splitvirt-hostd", NULL, LOG_LVL_INFO);
	sup_init(&sup);
	if (hostd_conf_load(conf, &c, &sup, &e)) {
		fprintf(stderr, "splitvirt-hostd: %s\n", errmsg_str(&e));
		return 1;
	}
	if (check) {
		if (check_programs(&c, &sup, &e)) {
			fprintf(stderr, "splitvirt-hostd: %s: %s\n", conf, errmsg_str(&e));
			return 1;
		}
		printf("%s: OK (%zu children)\n", conf, sup.n);
		return 0;
	}
	log_level_parse(c.log_level, &lv);
	if (log_init("splitvirt-hostd", logfile, lv)) {
		fprintf(stderr, "splitvirt-hostd: -D %s: %s\n", logfile, strerror(errno));
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	if (mkdir_p(c.run_dir, 0755))
		log_error("%s: cannot create: %s", c.run_dir, strerror(errno));
	for (size_t i = 0; i < c.n_image_dirs; i++)
		if (mkdir_p(c.image_dirs[i], 0755))
			log_error("%s: cannot create", c.image_dirs[i]);
	update_whitelist(&c, &sup);
	sup_poll(&sup);
	log_info("ready: supervising %zu children", sup.n);
	for (;;) {
		struct timespec ts = {.tv_sec = 0, .tv_nsec = 100 * 1000000};
		int sig = sigtimedwait(&set, NULL, &ts);

		if (sig == SIGTERM || sig == SIGINT) {
			log_info("signal %d: stopping children", sig);
			break;
		}
		if (sig == SIGHUP) {
			log_info("SIGHUP: refreshing the rexec allowlist");
			update_whitelist(&c, &sup);
		}
		sup_poll(&sup);
	}
	sup_stop_all(&sup, 5000);
	sup_free(&sup);
	return 0;
}
