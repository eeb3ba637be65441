/* qtcfg: manage the udsproxy lists (openEuler-compatible): -x PATH adds, -z lists with
 * indices, -y IDX deletes; -w TYPE selects a list (default udsconnect). The daemons and the
 * preload shim notice a changed list on their next connect: no restart. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "qtlist.h"
#include "util.h"

#define DEFAULT_CONF_DIR "/etc/udsproxy"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: qtcfg [-w TYPE] -x PATH | -z | -y INDEX\n"
		"  -x PATH   add PATH (an absolute path prefix or @abstract name)\n"
		"  -z        list the entries with their indices\n"
		"  -y INDEX  delete the entry at INDEX\n"
		"  -w TYPE   the list to work on (default %s)\n"
		"lists live in $UDSPROXY_CONF_DIR (default %s)\n",
		QTLIST_DEFAULT_TYPE, DEFAULT_CONF_DIR);
}

int main(int argc, char **argv)
{
	const char *type = QTLIST_DEFAULT_TYPE, *add = NULL, *dir;
	bool list = false, del = false;
	uint64_t idx = 0;
	struct errmsg e = {""};
	struct qtlist l;
	char path[4200], lock[4300];
	int c, ret, lfd;

	while ((c = getopt(argc, argv, "w:x:zy:h")) != -1) {
		switch (c) {
		case 'w':
			type = optarg;
			break;
		case 'x':
			add = optarg;
			break;
		case 'z':
			list = true;
			break;
		case 'y':
			if (parse_u64(optarg, 10, &idx)) {
				fprintf(stderr, "qtcfg: -y %s: not an index\n", optarg);
				return 2;
			}
			del = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc || (!!add + list + del) != 1) {
		if (optind < argc)
			fprintf(stderr, "qtcfg: unexpected argument '%s'\n", argv[optind]);
		else
			fprintf(stderr, "qtcfg: give exactly one of -x, -z, -y\n");
		usage(stderr);
		return 2;
	}
	dir = getenv("UDSPROXY_CONF_DIR");
	if (!dir || !dir[0])
		dir = DEFAULT_CONF_DIR;
	if (qtlist_file(dir, type, path, sizeof(path), &e)) {
		fprintf(stderr, "qtcfg: %s\n", errmsg_str(&e));
		return 2;
	}
	if (add) {
		ret = qtlist_entry_check(add);
		if (ret) {
			fprintf(stderr, "qtcfg: -x %s: %s\n", add,
				ret == -ENAMETOOLONG ? "longer than a unix socket address"
						     : "not an absolute path (without . or ..) or "
						       "@abstract name");
			return 2;
		}
		ret = mkdir_p(dir, 0755);
		if (ret) {
			fprintf(stderr, "qtcfg: %s: %s\n", dir, strerror(-ret));
			return 1;
		}
	}
	/* Serialise read-modify-write against other qtcfg runs. */
	snprintf(lock, sizeof(lock), "%s/.qtcfg.lock", dir);
	lfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lfd >= 0)
		(void)flock(lfd, list ? LOCK_SH : LOCK_EX);
	else if (!list) {
		fprintf(stderr, "qtcfg: %s: %s\n", lock, strerror(errno));
		return 1;
	}
	ret = qtlist_load(path, &l, &e);
	if (ret) {
		fprintf(stderr, "qtcfg: %s\n", errmsg_str(&e));
		return 1;
	}
	if (list) {
		size_t i;

		for (i = 0; i < l.n; i++)
			printf("%zu: %s\n", i, l.entries[i]);
		ret = 0;
	} else {
		if (add) {
			ret = qtlist_add(&l, add);
			if (ret == -EEXIST) {
				fprintf(stderr, "qtcfg: %s: already listed\n", add);
				qtlist_free(&l);
				return 0;
			}
			if (ret) {
				fprintf(stderr, "qtcfg: %s: %s\n", add,
					ret == -ENOSPC ? "the list is full" : strerror(-ret));
				qtlist_free(&l);
				return 1;
			}
		} else if (qtlist_del(&l, (size_t)idx)) {
			fprintf(stderr,
				"qtcfg: -y %llu: no such index (the list has %zu entries)\n",
				(unsigned long long)idx, l.n);
			qtlist_free(&l);
			return 1;
		}
		ret = qtlist_save(path, &l, &e) ? 1 : 0;
		if (ret)
			fprintf(stderr, "qtcfg: %s\n", errmsg_str(&e));
	}
	qtlist_free(&l);
	if (lfd >= 0)
		close(lfd);
	return ret;
}
