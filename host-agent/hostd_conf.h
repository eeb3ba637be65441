/* hostd_conf: /etc/splitvirt/host.conf parsed and validated into struct hostd_conf. */
#ifndef SV_HOSTD_CONF_H
#define SV_HOSTD_CONF_H

#include <stdbool.h>
#include <stddef.h>

#include "errmsg.h"
#include "supervise.h"

#define HOSTD_CONF     "/etc/splitvirt/host.conf"
#define HOSTD_MAX_DIRS 8

struct hostd_conf {
	char log_level[16];
	char run_dir[256];
	char image_dirs[HOSTD_MAX_DIRS][256];
	size_t n_image_dirs;
	char whitelist[256]; /* "" : do not manage the rexec allowlist */
	char splitvm[256];
	char netctl[256];
	char netctl_prefix[16];
	char reload_child[32]; /* the child told (SIGHUP) when the allowlist changes */
};

/*
 * Loads the file: known keys only, absolute paths, [child.NAME] exec/ready
 * sections added to sup. 0 or -EINVAL with "file:line: [section] key: reason".
 */
int hostd_conf_load(const char *path, struct hostd_conf *c, struct sup *sup, struct errmsg *e);
int hostd_conf_parse(const char *text, size_t len, const char *name, struct hostd_conf *c,
		     struct sup *sup, struct errmsg *e);

#endif
