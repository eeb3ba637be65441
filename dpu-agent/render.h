/* render: a domain definition to the splitvm command line (StratoVirt-style options). */
#ifndef SV_DPUD_RENDER_H
#define SV_DPUD_RENDER_H

#include <stddef.h>

#include "domain.h"
#include "errmsg.h"

#define RENDER_RUN_DIR	  "/run/splitvirt/vms"
#define RENDER_TAP_PREFIX "sv"

struct render_opts {
	const char *splitvm;	/* program when the domain names no emulator */
	const char *run_dir;	/* parent of each VM's run directory (host path) */
	const char *tap_prefix; /* prefix of generated tap names (at most 6 bytes) */
};

/* A NULL-terminated, malloc'd argument vector. */
struct argv {
	char **v;
	size_t n;
	size_t cap;
	int err;
};

void argv_init(struct argv *a);
void argv_free(struct argv *a);
void argv_add(struct argv *a, const char *s);
void argv_addf(struct argv *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The VM's run directory and the files splitvm creates in it (host paths). */
int render_vm_path(const struct render_opts *o, const char *name, const char *file, char *buf,
		   size_t len);
/* The tap name of interface i: its target dev, or prefix + uuid bits + index. */
int render_tap_name(const struct render_opts *o, const struct domain_def *d, size_t i, char *buf,
		    size_t len);

/*
 * The full argv for `splitvm` (argv[0] is the program): started paused (-S),
 * daemonized with a pidfile, QMP and serial on sockets in the run directory.
 * 0 or -errno with a message.
 */
int render_argv(const struct domain_def *d, const struct render_opts *o, struct argv *out,
		struct errmsg *e);

#endif
