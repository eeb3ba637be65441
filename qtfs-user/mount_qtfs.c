/* mount.qtfs: the mount(8) helper: "mount -t qtfs SRC DST -o server=..." runs qtfs. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "qtfs-user/client_opts.h"
#include "util.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: mount.qtfs SRC DST [-o OPTIONS] [-s] [-f] [-n] [-v]\n"
		   "  (called by mount -t qtfs SRC DST; OPTIONS as for qtfs -o)\n");
}

int main(int argc, char **argv)
{
	const char *src = NULL, *dst = NULL, *opts = NULL;
	char self[PATH_MAX], qtfs[PATH_MAX + 8], *slash;
	struct errmsg e = {{0}};
	struct qc_opts o;
	bool verbose = false;
	char *args[8];
	int i, n = 0;
	ssize_t len;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-o") && i + 1 < argc) {
			opts = argv[++i];
		} else if (!strncmp(argv[i], "-o", 2) && argv[i][2]) {
			opts = argv[i] + 2;
		} else if (!strcmp(argv[i], "-v")) {
			verbose = true;
		} else if (!strcmp(argv[i], "-s") || !strcmp(argv[i], "-f") ||
			   !strcmp(argv[i], "-n")) {
			/* sloppy, fake, no-mtab: nothing to do for a FUSE mount */
		} else if (!strcmp(argv[i], "-t") && i + 1 < argc) {
			i++;
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else if (argv[i][0] == '-') {
			fprintf(stderr, "mount.qtfs: unknown option '%s'\n", argv[i]);
			return 1;
		} else if (!src) {
			src = argv[i];
		} else if (!dst) {
			dst = argv[i];
		} else {
			fprintf(stderr, "mount.qtfs: unexpected argument '%s'\n", argv[i]);
			return 1;
		}
	}
	if (!src || !dst) {
		usage(stderr);
		return 1;
	}
	/* check the options here too so that mount(8) reports a bad one clearly */
	qc_opts_init(&o);
	if (opts && qc_opts_parse(&o, opts, &e)) {
		fprintf(stderr, "mount.qtfs: %s\n", errmsg_str(&e));
		return 1;
	}
	/* qtfs next to this helper (a build tree or /sbin), else /usr/sbin/qtfs */
	len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (len > 0) {
		self[len] = 0;
		slash = strrchr(self, '/');
		if (slash)
			slash[1] = 0;
		snprintf(qtfs, sizeof(qtfs), "%sqtfs", self);
	}
	if (len <= 0 || access(qtfs, X_OK) != 0)
		snprintf(qtfs, sizeof(qtfs), "/usr/sbin/qtfs");
	args[n++] = qtfs;
	if (opts) {
		args[n++] = "-o";
		args[n++] = (char *)opts;
	}
	if (verbose)
		args[n++] = "-v";
	args[n++] = (char *)src;
	args[n++] = (char *)dst;
	args[n] = NULL;
	execv(qtfs, args);
	fprintf(stderr, "mount.qtfs: %s: %s\n", qtfs, strerror(errno));
	return 1;
}
