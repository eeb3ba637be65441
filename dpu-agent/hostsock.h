/*
 * hostsock: a connected fd to a Unix socket on the host (a VM's QMP or serial
 * socket): through the local udsproxyd's client API (the split deployment,
 * where the run directory is a plain qtfs mount) or by a direct connect
 * (agent and VMs on one machine, or a udsproxy mirror of the directory).
 */
#ifndef SV_DPUD_HOSTSOCK_H
#define SV_DPUD_HOSTSOCK_H

#include <stdbool.h>

#include "errmsg.h"

enum hostsock_mode {
	HOSTSOCK_LOCAL = 0,
	HOSTSOCK_UDSPROXY,
};

struct hostsock {
	enum hostsock_mode mode;
	char udsproxy[108]; /* the local udsproxyd's client socket; "" for its default */
};

/* True if this build can use mode (udsproxy needs its client library). */
bool hostsock_mode_available(enum hostsock_mode mode);

/*
 * A connected, blocking, close-on-exec stream fd to path on the host, or
 * -errno with a message. Errors from the host itself (-ENOENT no such socket,
 * -ECONNREFUSED nothing listens, -EACCES not allowed, ...) say the socket is
 * not usable; not reaching the host at all is always -EHOSTUNREACH, which says
 * nothing about the socket.
 */
int hostsock_connect(const struct hostsock *h, const char *path, struct errmsg *e);

#endif
