/*
 * xport_vsock: vsock:CID:PORT (AF_VSOCK) with a peer CID allowlist: a listener
 * accepts only the CIDs it was given and refuses to start without any.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/vm_sockets.h>

#include "log.h"
#include "xport.h"
#include "xport_impl.h"

bool xport_vsock_cid_allowed(const struct xport_opts *opts, uint32_t cid)
{
	size_t i;

	if (!opts || !opts->vsock_cids)
		return false;
	for (i = 0; i < opts->n_vsock_cids; i++)
		if (opts->vsock_cids[i] == cid)
			return true;
	return false;
}

static void vsock_sockaddr(const struct xport_addr *a, struct sockaddr_vm *svm)
{
	memset(svm, 0, sizeof(*svm));
	svm->svm_family = AF_VSOCK;
	svm->svm_cid = a->cid;
	svm->svm_port = a->port;
}

int xport_vsock_listen(struct xport_listener *l, const struct xport_opts *o, struct errmsg *e)
{
	struct sockaddr_vm svm;
	char name[64];
	int fd, ret;

	if (xport_addr_format(&l->addr, name, sizeof(name)))
		snprintf(name, sizeof(name), "vsock:");

	if (!o->vsock_cids || o->n_vsock_cids == 0) {
		errmsg_set(e, "%s: refused: a vsock listener needs a peer CID allowlist", name);
		return -EINVAL;
	}
	l->vsock_cids = calloc(o->n_vsock_cids, sizeof(*l->vsock_cids));
	if (!l->vsock_cids) {
		errmsg_set(e, "vsock: out of memory");
		return -ENOMEM;
	}
	memcpy(l->vsock_cids, o->vsock_cids, o->n_vsock_cids * sizeof(*l->vsock_cids));
	l->n_vsock_cids = o->n_vsock_cids;

	fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		ret = -errno;
		errmsg_set(e, "%s: socket: %s (no vsock support in this kernel?)", name,
			   strerror(-ret));
		return ret;
	}
	vsock_sockaddr(&l->addr, &svm);
	if (bind(fd, (struct sockaddr *)&svm, sizeof(svm)) < 0) {
		ret = -errno;
		errmsg_set(e, "%s: bind: %s", name, strerror(-ret));
		goto err;
	}
	if (listen(fd, SOMAXCONN) < 0) {
		ret = -errno;
		errmsg_set(e, "%s: listen: %s", name, strerror(-ret));
		goto err;
	}
	l->fd = fd;
	return 0;
err:
	close(fd);
	return ret;
}

int xport_vsock_check_peer(const struct xport_listener *l, const struct sockaddr *sa, socklen_t len,
			   struct errmsg *e)
{
	const struct sockaddr_vm *svm = (const struct sockaddr_vm *)sa;
	struct xport_opts o = {.vsock_cids = l->vsock_cids, .n_vsock_cids = l->n_vsock_cids};
	char name[64];

	if (xport_addr_format(&l->addr, name, sizeof(name)))
		snprintf(name, sizeof(name), "vsock:");

	if (len < sizeof(*svm) || sa->sa_family != AF_VSOCK) {
		errmsg_set(e, "%s: refused a peer with no vsock address", name);
		log_warn("%s", errmsg_str(e));
		return -EACCES;
	}
	if (!xport_vsock_cid_allowed(&o, svm->svm_cid)) {
		errmsg_set(e, "%s: refused connection from CID %u (not in the allowlist)", name,
			   svm->svm_cid);
		log_warn("%s", errmsg_str(e));
		return -EACCES;
	}
	return 0;
}

int xport_vsock_connect(const struct xport_addr *a, const struct xport_opts *o, uint64_t deadline,
			struct errmsg *e)
{
	struct sockaddr_vm svm;
	int fd, ret;

	/* With a list, the CID dialled must be on it; without one any CID may be dialled. */
	if (o->vsock_cids && o->n_vsock_cids > 0 && !xport_vsock_cid_allowed(o, a->cid)) {
		errmsg_set(e, "refused: CID %u is not in the allowlist", a->cid);
		return -EACCES;
	}
	fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		ret = -errno;
		errmsg_set(e, "socket: %s (no vsock support in this kernel?)", strerror(-ret));
		return ret;
	}
	vsock_sockaddr(a, &svm);
	ret = xport_connect_fd(fd, (struct sockaddr *)&svm, sizeof(svm), deadline);
	if (ret) {
		errmsg_set(e, "connect: %s", strerror(-ret));
		close(fd);
		return ret;
	}
	return fd;
}
