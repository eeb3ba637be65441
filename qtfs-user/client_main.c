/* qtfs: the DPU side of qtfs: mounts a directory exported by qtfsd with FUSE. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "qtfs-user/client.h"
#include "util.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: qtfs [-o OPTIONS] [-f] [-D [FILE]] [-v] SRC MOUNTPOINT\n"
		"  SRC       the exported host path (e.g. /home/VMs)\n"
		"  -o        server=ADDR,ro,kind=proc|sys,cache=none|auto|always,attr_timeout=S,\n"
		"            "
		"entry_timeout=S,writeback,allow_other,test_mode,tls_cert=F,tls_key=F,\n"
		"            tls_ca=F,conf=FILE (server and TLS files default "
		"from " QTFS_CLIENT_CONF ")\n"
		"  -f        stay in the foreground\n");
}

static struct qc g_qc;

static int qc_run(struct qc *qc, const char *mnt, int status_fd, bool verbose)
{
	char fsopts[1024];
	char *fargv[4];
	struct fuse_args args;
	struct fuse_loop_config lc = {.clone_fd = 0, .max_idle_threads = 16};
	struct errmsg e = {{0}};
	int ret, n;
	char st;

	ret = qc_nodes_init(&qc->nodes);
	if (ret)
		return ret;
	ret = qc_start(qc, &e);
	if (ret) {
		fprintf(stderr, "qtfs: %s\n", errmsg_str(&e));
		return ret;
	}
	if (qc->attach_flags & QTFS_ATTACH_KIND_PROC)
		qc->opts.kind = QC_KIND_PROC;
	if (qc->attach_flags & QTFS_ATTACH_KIND_SYS)
		qc->opts.kind = QC_KIND_SYS;
	if (qc->attach_flags & QTFS_ATTACH_RDONLY)
		qc->opts.ro = true;
	if (qc->opts.kind != QC_KIND_NORMAL || qc->opts.cache == QC_CACHE_NONE) {
		qc->attr_timeout = qc->opts.attr_timeout >= 0 ? qc->opts.attr_timeout : 0;
		qc->entry_timeout = qc->opts.entry_timeout >= 0 ? qc->opts.entry_timeout : 0;
	} else {
		/*
		 * Normal exports: 20 s like sshfs. Changes made through this mount are seen
		 * at once (the kernel updates its cache from the replies); changes made on the
		 * host directly show after up to this long (docs/qtfs.md, "Caching").
		 */
		qc->attr_timeout = qc->opts.attr_timeout >= 0 ? qc->opts.attr_timeout : 20.0;
		qc->entry_timeout = qc->opts.entry_timeout >= 0 ? qc->opts.entry_timeout : 20.0;
	}
	/* a name created on the host should not stay invisible for long */
	qc->neg_timeout = qc->entry_timeout < 1.0 ? qc->entry_timeout : 1.0;
	/* a system mount: every local user reaches it, the kernel checks permissions
	 * (default_permissions) and the server checks them again in identity=caller mode */
	n = snprintf(fsopts, sizeof(fsopts), "fsname=%s,subtype=qtfs,default_permissions%s%s%s%s",
		     qc->src, qc->opts.allow_other || getuid() == 0 ? ",allow_other" : "",
		     qc->opts.ro ? ",ro" : "", qc->opts.passthrough[0] ? "," : "",
		     qc->opts.passthrough);
	if (n < 0 || (size_t)n >= sizeof(fsopts)) {
		fprintf(stderr, "qtfs: mount options too long\n");
		ret = -E2BIG;
		goto out_stop;
	}
	fargv[0] = "qtfs";
	fargv[1] = "-o";
	fargv[2] = fsopts;
	fargv[3] = NULL;
	args.argc = 3;
	args.argv = fargv;
	args.allocated = 0;
	if (verbose) {
		/* FUSE's own request trace */
		fargv[3] = "-d";
		args.argc = 4;
	}
	qc->se = fuse_session_new(&args, &qc_ops, sizeof(qc_ops), qc);
	/* libfuse may have copied the list to add its own arguments */
	fuse_opt_free_args(&args);
	if (!qc->se) {
		fprintf(stderr, "qtfs: cannot create the FUSE session\n");
		ret = -EIO;
		goto out_stop;
	}
	if (fuse_set_signal_handlers(qc->se)) {
		ret = -EIO;
		goto out_destroy;
	}
	if (fuse_session_mount(qc->se, mnt)) {
		fprintf(stderr, "qtfs: %s: cannot mount\n", mnt);
		ret = -EIO;
		goto out_signals;
	}
	log_info("mounted %s from %s on %s", qc->src, qc->opts.server, mnt);
	if (status_fd >= 0) {
		st = 0;
		if (write(status_fd, &st, 1) < 0)
			log_warn("status pipe: %s", strerror(errno));
		close(status_fd);
		status_fd = -1;
	}
	ret = fuse_session_loop_mt(qc->se, &lc);
	fuse_session_unmount(qc->se);
	log_info("unmounted %s", mnt);
out_signals:
	fuse_remove_signal_handlers(qc->se);
out_destroy:
	/* requests still pending are answered (EIO) while the session exists */
	qc_stop(qc);
	fuse_session_destroy(qc->se);
	goto out_nodes;
out_stop:
	qc_stop(qc);
out_nodes:
	qc_nodes_fini(&qc->nodes);
	return ret;
}

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{"log", optional_argument, NULL, 'D'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct errmsg e = {{0}};
	const char *log_file = NULL, *mnt;
	bool foreground = false, verbose = false;
	int opt, ret, pfd[2];
	struct qc *qc = &g_qc;
	pid_t pid;

	memset(qc, 0, sizeof(*qc));
	qc_opts_init(&qc->opts);
	while ((opt = getopt_long(argc, argv, "o:fD::vh", lopts, NULL)) != -1) {
		switch (opt) {
		case 'o':
			if (qc_opts_parse(&qc->opts, optarg, &e)) {
				fprintf(stderr, "qtfs: %s\n", errmsg_str(&e));
				return 2;
			}
			break;
		case 'f':
			foreground = true;
			break;
		case 'D':
			/* the last two words are SRC and DST, never the log file */
			log_file = log_file_optarg(argc - 2, argv);
			if (!log_file)
				log_file = "";
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
	if (argc - optind != 2) {
		usage(stderr);
		return 2;
	}
	if (str_copy(qc->src, sizeof(qc->src), argv[optind]) || qc->src[0] != '/') {
		fprintf(stderr, "qtfs: %s: the source must be an absolute host path\n",
			argv[optind]);
		return 2;
	}
	mnt = argv[optind + 1];
	if (qc_opts_load_conf(&qc->opts, &e)) {
		fprintf(stderr, "qtfs: %s\n", errmsg_str(&e));
		return 2;
	}
	if (!qc->opts.server[0]) {
		fprintf(stderr, "qtfs: no server: give -o server=ADDR or Server= in %s\n",
			qc->opts.conf[0] ? qc->opts.conf : QTFS_CLIENT_CONF);
		return 2;
	}
	ret = log_init("qtfs", log_file && log_file[0] ? log_file : NULL,
		       verbose ? LOG_LVL_DEBUG : LOG_LVL_INFO);
	if (ret) {
		fprintf(stderr, "qtfs: -D %s: %s\n", log_file, strerror(-ret));
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	if (foreground)
		return qc_run(qc, mnt, -1, verbose) ? 1 : 0;

	/* background: the parent exits once the child has mounted (or failed) */
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		perror("qtfs: pipe");
		return 1;
	}
	pid = fork();
	if (pid < 0) {
		perror("qtfs: fork");
		return 1;
	}
	if (pid > 0) {
		char st = 1;

		close(pfd[1]);
		if (read(pfd[0], &st, 1) != 1)
			st = 1;
		return st ? 1 : 0;
	}
	close(pfd[0]);
	setsid();
	if (chdir("/") < 0)
		return 1;
	if (!log_file) {
		/* after the mount, errors go nowhere a terminal would see anyway */
		int nfd = open("/dev/null", O_RDWR | O_CLOEXEC);

		if (nfd >= 0) {
			dup2(nfd, STDIN_FILENO);
			dup2(nfd, STDOUT_FILENO);
			close(nfd);
		}
	}
	ret = qc_run(qc, mnt, pfd[1], verbose);
	return ret ? 1 : 0;
}
