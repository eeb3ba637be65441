/* qtfsd: the host side of qtfs: serves configured export directories to qtfs clients. */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "qtfs-user/ident.h"
#include "qtfs-user/server.h"
#include "util.h"

#define QTFSD_DEFAULT_CONF "/etc/qtfs/qtfsd.conf"

static void usage(FILE *f)
{
	fprintf(f, "usage: qtfsd [-c FILE] [-l ADDR]... [-e PATH[:opts]]... [--test-mode]\n"
		   "             [--whitelist FILE] [--handle-key FILE] [--tls-cert F --tls-key F "
		   "--tls-ca F]\n"
		   "             [-w N] [-D [FILE]] [-v]\n"
		   "  -c FILE        configuration (default " QTFSD_DEFAULT_CONF " if present)\n"
		   "  -l ADDR        listen on tls:HOST:PORT, tcp:HOST:PORT (needs --test-mode),\n"
		   "                 vsock:CID:PORT or unix:/path\n"
		   "  -e PATH[:opts] export PATH; opts: ro,caller,root_squash,proc,sys,devices\n"
		   "  --test-mode    allow cleartext, unauthenticated tcp: (the offload guide's "
		   "test mode)\n"
		   "  -D [FILE]      log to FILE (stderr without one)   -v  debug logging\n");
}

static struct qtfsd g_srv;

static void *qtfsd_signal_thread(void *arg)
{
	sigset_t *set = arg;
	int sig;

	if (sigwait(set, &sig) == 0)
		log_info("signal %d: stopping", sig);
	qtfsd_stop(&g_srv);
	return NULL;
}

static int set_opt(char **dst, const char *v)
{
	free(*dst);
	*dst = str_dup(v);
	return *dst ? 0 : -ENOMEM;
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{"test-mode", no_argument, NULL, 'T'},
		{"whitelist", required_argument, NULL, 'W'},
		{"handle-key", required_argument, NULL, 'K'},
		{"tls-cert", required_argument, NULL, 1},
		{"tls-key", required_argument, NULL, 2},
		{"tls-ca", required_argument, NULL, 3},
		{"log", optional_argument, NULL, 'D'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct qtfsd_conf conf;
	struct errmsg e = {{0}};
	const char *conf_path = NULL, *log_file = NULL;
	char *cli_listen[QTFSD_MAX_LISTEN];
	size_t ncli_listen = 0, i;
	bool test_mode = false, verbose = false;
	char *wl = NULL, *key = NULL, *cert = NULL, *tkey = NULL, *ca = NULL;
	char *cli_exports[QTFSD_MAX_EXPORTS];
	size_t ncli_exports = 0;
	uint32_t workers = 0;
	pthread_t sigt;
	sigset_t set;
	int opt, ret;

	memset(&conf, 0, sizeof(conf));
	conf.log_level = -1;
	while ((opt = getopt_long(argc, argv, "c:l:e:w:D::vh", lopts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			conf_path = optarg;
			break;
		case 'l':
			if (ncli_listen == QTFSD_MAX_LISTEN) {
				fprintf(stderr, "qtfsd: -l: at most %d addresses\n",
					QTFSD_MAX_LISTEN);
				return 2;
			}
			cli_listen[ncli_listen++] = optarg;
			break;
		case 'e':
			if (ncli_exports == QTFSD_MAX_EXPORTS) {
				fprintf(stderr, "qtfsd: -e: at most %d exports\n",
					QTFSD_MAX_EXPORTS);
				return 2;
			}
			cli_exports[ncli_exports++] = optarg;
			break;
		case 'w':
			if (parse_u32(optarg, 10, &workers) || workers < 1 || workers > 256) {
				fprintf(stderr, "qtfsd: -w %s: expected 1..256 workers\n", optarg);
				return 2;
			}
			break;
		case 'T':
			test_mode = true;
			break;
		case 'W':
			wl = optarg;
			break;
		case 'K':
			key = optarg;
			break;
		case 1:
			cert = optarg;
			break;
		case 2:
			tkey = optarg;
			break;
		case 3:
			ca = optarg;
			break;
		case 'D':
			log_file = log_file_optarg(argc, argv);
			break;
		case 'v':
			verbose = true;
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
		fprintf(stderr, "qtfsd: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	log_init("qtfsd", NULL, LOG_LVL_INFO);
	if (!conf_path && ncli_exports == 0 && access(QTFSD_DEFAULT_CONF, F_OK) == 0)
		conf_path = QTFSD_DEFAULT_CONF;
	if (conf_path && qtfsd_conf_load(&conf, conf_path, &e)) {
		fprintf(stderr, "qtfsd: %s\n", errmsg_str(&e));
		return 1;
	}
	for (i = 0; i < ncli_exports; i++) {
		if (qtfsd_conf_add_export(&conf, cli_exports[i], &e)) {
			fprintf(stderr, "qtfsd: %s\n", errmsg_str(&e));
			return 2;
		}
	}
	for (i = 0; i < ncli_listen; i++) {
		if (conf.nlisten == QTFSD_MAX_LISTEN) {
			fprintf(stderr, "qtfsd: too many listen addresses\n");
			return 2;
		}
		conf.listen[conf.nlisten++] = str_dup(cli_listen[i]);
	}
	if (test_mode)
		conf.test_mode = true;
	if (workers)
		conf.workers = workers;
	if ((wl && set_opt(&conf.whitelist, wl)) || (key && set_opt(&conf.handle_key, key)) ||
	    (cert && set_opt(&conf.tls_cert, cert)) || (tkey && set_opt(&conf.tls_key, tkey)) ||
	    (ca && set_opt(&conf.tls_ca, ca))) {
		fprintf(stderr, "qtfsd: out of memory\n");
		return 1;
	}
	if (!log_file)
		log_file = conf.log_file;
	ret = log_init("qtfsd", log_file,
		       verbose		     ? LOG_LVL_DEBUG
		       : conf.log_level >= 0 ? (enum log_level)conf.log_level
					     : LOG_LVL_INFO);
	if (ret) {
		fprintf(stderr, "qtfsd: -D %s: %s\n", log_file, strerror(-ret));
		return 1;
	}
	/* requests from root run with root's ids and no supplementary groups */
	if (geteuid() == 0 && (ret = qtfs_ident_init())) {
		fprintf(stderr, "qtfsd: dropping supplementary groups: %s\n", strerror(-ret));
		return 1;
	}
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	ret = qtfsd_start(&g_srv, &conf, &e);
	if (ret) {
		fprintf(stderr, "qtfsd: %s\n", errmsg_str(&e));
		return 1;
	}
	if (pthread_create(&sigt, NULL, qtfsd_signal_thread, &set)) {
		fprintf(stderr, "qtfsd: cannot start the signal thread\n");
		return 1;
	}
	pthread_detach(sigt);
	ret = qtfsd_serve(&g_srv, &e);
	if (ret) {
		fprintf(stderr, "qtfsd: %s\n", errmsg_str(&e)[0] ? errmsg_str(&e) : strerror(-ret));
		return 1;
	}
	log_info("stopped");
	/* connections end with the process: the kernel closes their files */
	return 0;
}
