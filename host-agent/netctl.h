/* netctl: host tap devices for VMs (create multi-queue, bridge, MTU, up/down, delete) via libnl. */
#ifndef SV_NETCTL_H
#define SV_NETCTL_H

#include <stdbool.h>
#include <stdint.h>

#include "errmsg.h"

#define NETCTL_PREFIX_DEFAULT "sv"
#define NETCTL_MAX_QUEUES     16

enum netctl_verb {
	NETCTL_ADD = 0, /* create if absent, then apply the options (idempotent) */
	NETCTL_DEL,	/* delete if present (idempotent) */
	NETCTL_UP,
	NETCTL_DOWN,
	NETCTL_SET, /* apply the options to an existing tap */
	NETCTL_SHOW,
};

struct netctl_req {
	enum netctl_verb verb;
	char name[16];
	char bridge[16]; /* "" none */
	bool nobridge;	 /* set: detach from its bridge */
	uint32_t mtu;	 /* 0: leave */
	uint32_t queues; /* add: 1 = single queue */
	int up;		 /* -1 leave, 0 down, 1 up */
	int64_t owner;	 /* -1: leave; else the uid that may open the tap */
};

/* Parses argv (after the program name). -EINVAL with a usage message. */
int netctl_parse_args(int argc, char **argv, struct netctl_req *req, struct errmsg *e);
/* True if name is a valid interface name starting with prefix. */
bool netctl_name_allowed(const char *prefix, const char *name);
/* Reads [netctl] prefix from the host config (absent file: the default). */
int netctl_load_prefix(const char *conf, char *prefix, size_t len, struct errmsg *e);

/* Performs the request. 0 or -errno with a message naming the device. */
int netctl_apply(const struct netctl_req *req, const char *prefix, char *out, size_t outlen,
		 struct errmsg *e);

#endif
