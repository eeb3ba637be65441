/* hostsock: connect to a host Unix socket via udsproxy's client API or directly. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "hostsock.h"
#include "util.h"

#ifdef HAVE_UDSPROXY_CLIENT
#include "udsproxy/udsproxy_client.h"
#endif

bool hostsock_mode_available(enum hostsock_mode mode)
{
#ifdef HAVE_UDSPROXY_CLIENT
	return true;
#else
	return mode == HOSTSOCK_LOCAL;
#endif
}

static int connect_local(const char *path, struct errmsg *e)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd, ret;

	if (str_copy(sa.sun_path, sizeof(sa.sun_path), path)) {
		errmsg_set(e, "%s: socket path too long", path);
		return -ENAMETOOLONG;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		ret = -errno;
		errmsg_set(e, "%s: %s", path, strerror(errno));
		close(fd);
		return ret;
	}
	return fd;
}

int hostsock_connect(const struct hostsock *h, const char *path, struct errmsg *e)
{
	if (h->mode == HOSTSOCK_LOCAL)
		return connect_local(path, e);
#ifdef HAVE_UDSPROXY_CLIENT
	struct udsproxy_info info = {0};
	int fd = udsproxy_connect(path, SOCK_STREAM, 0, NULL, &info);

	if (fd < 0) {
		errmsg_set(e, "%s: %s%s", path, strerror(-fd),
			   info.remote ? " (on the host)" : " (local udsproxyd)");
		/*
		 * Only the host's own refusal says the socket is gone; a local
		 * failure (no link to the peer yet) says nothing about the VM.
		 */
		if (!info.remote)
			return -EHOSTUNREACH;
		return fd;
	}
	return fd;
#else
	errmsg_set(e, "%s: this build has no udsproxy client library", path);
	return -ENOTSUP;
#endif
}
