/*
 * xport_unix: unix: addresses (paths and @abstract names): listen with stale-socket
 * replacement and a file mode, peer credentials, and SCM_RIGHTS descriptor passing.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "xport.h"
#include "xport_impl.h"

/* The kernel's limit on descriptors in one SCM_RIGHTS message (SCM_MAX_FD). */
#define XPORT_MAX_FDS 253

static socklen_t unix_sockaddr(const char *path, struct sockaddr_un *sun)
{
	size_t n = strlen(path);

	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (path[0] == '@') {
		/* Abstract: a leading NUL, then the name; the length says where it ends. */
		memcpy(sun->sun_path + 1, path + 1, n - 1);
		return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	}
	memcpy(sun->sun_path, path, n);
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
}

/*
 * Whether a listener answers at sun: a stale file (left by a crashed daemon)
 * refuses connections, a live one accepts them or has a full backlog (EAGAIN).
 */
static int unix_probe(const struct sockaddr_un *sun, socklen_t len)
{
	int fd, ret;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	ret = connect(fd, (const struct sockaddr *)sun, len) < 0 ? -errno : 0;
	close(fd);
	return ret;
}

int xport_unix_listen(struct xport_listener *l, const struct xport_opts *o, struct errmsg *e)
{
	const char *path = l->addr.path;
	bool abstract = path[0] == '@';
	mode_t mode = o->unix_mode ? (mode_t)(o->unix_mode & 07777) : 0600;
	struct sockaddr_un sun;
	socklen_t len = unix_sockaddr(path, &sun);
	struct stat st;
	int fd, ret;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		ret = -errno;
		errmsg_set(e, "unix:%s: socket: %s", path, strerror(-ret));
		return ret;
	}
	if (bind(fd, (struct sockaddr *)&sun, len) < 0) {
		ret = -errno;
		if (ret != -EADDRINUSE || abstract) {
			errmsg_set(e, "unix:%s: bind: %s", path, strerror(-ret));
			goto err;
		}
		if (lstat(path, &st) < 0 || !S_ISSOCK(st.st_mode)) {
			errmsg_set(e, "unix:%s: exists and is not a socket; not replacing it",
				   path);
			ret = -EEXIST;
			goto err;
		}
		ret = unix_probe(&sun, len);
		if (ret != -ECONNREFUSED) {
			errmsg_set(e, "unix:%s: %s", path,
				   ret == 0 || ret == -EAGAIN ? "another process is listening on it"
							      : strerror(-ret));
			ret = -EADDRINUSE;
			goto err;
		}
		if (unlink(path) < 0 && errno != ENOENT) {
			ret = -errno;
			errmsg_set(e, "unix:%s: removing the stale socket: %s", path,
				   strerror(-ret));
			goto err;
		}
		if (bind(fd, (struct sockaddr *)&sun, len) < 0) {
			ret = -errno;
			errmsg_set(e, "unix:%s: bind: %s", path, strerror(-ret));
			goto err;
		}
	}
	if (!abstract) {
		l->unlink_path = true;
		if (lstat(path, &st) == 0) {
			l->sock_dev = st.st_dev;
			l->sock_ino = st.st_ino;
		}
		/* Before listen(): until then connects are refused, so no one gets in
		 * while the file still has the umask's mode. */
		if (chmod(path, mode) < 0) {
			ret = -errno;
			errmsg_set(e, "unix:%s: chmod %04o: %s", path, (unsigned)mode,
				   strerror(-ret));
			goto err;
		}
	}
	if (listen(fd, SOMAXCONN) < 0) {
		ret = -errno;
		errmsg_set(e, "unix:%s: listen: %s", path, strerror(-ret));
		goto err;
	}
	l->fd = fd;
	return 0;
err:
	close(fd);
	return ret;
}

void xport_unix_listener_cleanup(struct xport_listener *l)
{
	struct stat st;

	if (!l->unlink_path)
		return;
	/* Only our own socket: a successor may have replaced it since. */
	if (lstat(l->addr.path, &st) == 0 && st.st_dev == l->sock_dev && st.st_ino == l->sock_ino)
		unlink(l->addr.path);
	l->unlink_path = false;
}

/* ms < 0: no timeout. */
static int unix_set_sndtimeo(int fd, int ms)
{
	struct timeval tv = {0};

	if (ms >= 0) {
		tv.tv_sec = ms / 1000;
		tv.tv_usec = (ms % 1000) * 1000;
		if (ms == 0)
			tv.tv_usec = 1; /* 0 would mean "forever" */
	}
	if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
		return -errno;
	return 0;
}

int xport_unix_connect(const struct xport_addr *a, uint64_t deadline, struct errmsg *e)
{
	struct sockaddr_un sun;
	socklen_t len = unix_sockaddr(a->path, &sun);
	int fd, ret;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		ret = -errno;
		errmsg_set(e, "socket: %s", strerror(-ret));
		return ret;
	}
	/*
	 * A unix connect waits only when the listener's backlog is full, and a
	 * non-blocking one then fails with EAGAIN instead of waiting; so connect
	 * blocking, bounded by SO_SNDTIMEO, which unix sockets apply to that wait.
	 */
	ret = unix_set_sndtimeo(fd, xport_ms_left(deadline));
	if (!ret) {
		do
			ret = connect(fd, (struct sockaddr *)&sun, len) < 0 ? -errno : 0;
		while (ret == -EINTR && xport_ms_left(deadline) != 0);
		if (ret == -EAGAIN || ret == -EINTR)
			ret = -ETIMEDOUT;
	}
	if (!ret)
		ret = unix_set_sndtimeo(fd, -1);
	if (ret) {
		errmsg_set(e, "connect: %s", strerror(-ret));
		close(fd);
		return ret;
	}
	return fd;
}

void xport_unix_describe(struct xport_conn *c, const char *path)
{
	struct ucred cr;
	socklen_t cl = sizeof(cr);
	char name[120];

	if (path) {
		snprintf(name, sizeof(name), "%s", path);
	} else {
		struct sockaddr_un sun;
		socklen_t sl = sizeof(sun);

		if (getpeername(c->fd, (struct sockaddr *)&sun, &sl) == 0)
			xport_sockaddr_str((struct sockaddr *)&sun, sl, name, sizeof(name));
		else
			snprintf(name, sizeof(name), "(fd %d)", c->fd);
	}
	if (getsockopt(c->fd, SOL_SOCKET, SO_PEERCRED, &cr, &cl) == 0)
		snprintf(c->desc, sizeof(c->desc), "unix:%s pid=%d uid=%u gid=%u", name,
			 (int)cr.pid, (unsigned)cr.uid, (unsigned)cr.gid);
	else
		snprintf(c->desc, sizeof(c->desc), "unix:%s", name);
}

/* ---- SCM_RIGHTS ---------------------------------------------------------- */

union xport_cmsg_buf {
	char buf[CMSG_SPACE(XPORT_MAX_FDS * sizeof(int))];
	struct cmsghdr align;
};

ssize_t xport_unix_send_fds(int fd, const void *buf, size_t len, const int *fds, size_t nfds)
{
	union xport_cmsg_buf ctrl;
	struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
	ssize_t n;

	/* At least one data byte: descriptors ride on data, none arrive without it. */
	if (!buf || len == 0 || nfds > XPORT_MAX_FDS || (nfds > 0 && !fds)) {
		errno = EINVAL;
		return -1;
	}
	if (nfds > 0) {
		struct cmsghdr *cm;

		memset(&ctrl, 0, sizeof(ctrl));
		msg.msg_control = ctrl.buf;
		msg.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(cm), fds, nfds * sizeof(int));
	}
	do
		n = sendmsg(fd, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	return n;
}

ssize_t xport_unix_recv_fds(int fd, void *buf, size_t len, int *fds, size_t *nfds)
{
	union xport_cmsg_buf ctrl;
	struct iovec iov = {.iov_base = buf, .iov_len = len};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
	struct cmsghdr *cm;
	size_t cap, got = 0, i;
	bool overflow = false;
	ssize_t n;

	if (!nfds || (*nfds > 0 && !fds)) {
		errno = EINVAL;
		return -1;
	}
	cap = *nfds;
	*nfds = 0;
	/* Room for the most the kernel can send, so excess arrives here and we close it. */
	msg.msg_control = ctrl.buf;
	msg.msg_controllen = sizeof(ctrl.buf);
	do
		n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	for (cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
		size_t count;

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS ||
		    cm->cmsg_len < CMSG_LEN(0))
			continue;
		count = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < count; i++) {
			int rfd;

			memcpy(&rfd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
			if (got < cap) {
				fds[got++] = rfd;
			} else {
				close(rfd);
				overflow = true;
			}
		}
	}
	if (msg.msg_flags & MSG_CTRUNC)
		overflow = true;
	if (overflow) {
		for (i = 0; i < got; i++)
			close(fds[i]);
		errno = EMSGSIZE;
		return -1;
	}
	*nfds = got;
	return n;
}
