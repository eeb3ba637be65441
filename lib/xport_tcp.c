/*
 * xport_tcp: tcp:HOST:PORT, the cleartext test-mode transport, and the TCP socket
 * layer underneath tls:. IPv4, IPv6 and host names through getaddrinfo.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "xport.h"
#include "xport_impl.h"

static atomic_bool tcp_warned;

int xport_tcp_check_mode(const char *addr, const struct xport_opts *o, struct errmsg *e)
{
	if (!o->test_mode) {
		errmsg_set(e,
			   "%s: refused: tcp: is cleartext and unauthenticated and needs test mode "
			   "(use tls: otherwise)",
			   addr);
		return -EPERM;
	}
	if (!atomic_exchange(&tcp_warned, true))
		log_warn("test mode: %s is cleartext and unauthenticated; use tls: outside tests",
			 addr);
	return 0;
}

void xport_tcp_setup_conn(int fd)
{
	int one = 1;

	/* Frames are written whole; waiting to coalesce only adds latency. Failure is harmless. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static int tcp_resolve(const struct xport_addr *a, bool passive, struct addrinfo **res,
		       struct errmsg *e)
{
	struct addrinfo hints = {
		.ai_family = AF_UNSPEC,
		.ai_socktype = SOCK_STREAM,
		.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0),
	};
	char host[sizeof(a->host)];
	char port[8];
	size_t n = strlen(a->host);
	int ret;

	/* The address keeps IPv6 literals in brackets; getaddrinfo wants them bare. */
	if (a->host[0] == '[' && n >= 2 && a->host[n - 1] == ']') {
		memcpy(host, a->host + 1, n - 2);
		host[n - 2] = '\0';
		hints.ai_flags |= AI_NUMERICHOST;
	} else {
		memcpy(host, a->host, n + 1);
	}
	snprintf(port, sizeof(port), "%u", a->port);
	ret = getaddrinfo(host, port, &hints, res);
	if (ret) {
		errmsg_set(e, "cannot resolve '%s': %s", host,
			   ret == EAI_SYSTEM ? strerror(errno) : gai_strerror(ret));
		return -EHOSTUNREACH;
	}
	return 0;
}

int xport_tcp_listen(const struct xport_addr *a, struct errmsg *e)
{
	struct addrinfo *res, *ai;
	int fd = -1, ret, one = 1;

	ret = tcp_resolve(a, true, &res, e);
	if (ret)
		return ret;
	ret = -EADDRNOTAVAIL;
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0) {
			ret = -errno;
			errmsg_set(e, "socket: %s", strerror(-ret));
			continue;
		}
		/* A restarted daemon must be able to bind while old connections sit in TIME_WAIT. */
		if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
		    bind(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
			ret = -errno;
			errmsg_set(e, "bind: %s", strerror(-ret));
			close(fd);
			fd = -1;
			continue;
		}
		if (listen(fd, SOMAXCONN) < 0) {
			ret = -errno;
			errmsg_set(e, "listen: %s", strerror(-ret));
			close(fd);
			fd = -1;
			continue;
		}
		break;
	}
	freeaddrinfo(res);
	return fd >= 0 ? fd : ret;
}

int xport_tcp_connect(const struct xport_addr *a, uint64_t deadline, struct errmsg *e)
{
	struct addrinfo *res, *ai;
	int fd = -1, ret;

	if (a->port == 0) {
		errmsg_set(e, "port 0 cannot be dialled");
		return -EINVAL;
	}
	ret = tcp_resolve(a, false, &res, e);
	if (ret)
		return ret;
	ret = -EHOSTUNREACH;
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0) {
			ret = -errno;
			errmsg_set(e, "socket: %s", strerror(-ret));
			continue;
		}
		ret = xport_connect_fd(fd, ai->ai_addr, ai->ai_addrlen, deadline);
		if (ret == 0)
			break;
		errmsg_set(e, "connect: %s", strerror(-ret));
		close(fd);
		fd = -1;
		if (ret == -ETIMEDOUT)
			break;
	}
	freeaddrinfo(res);
	if (fd < 0)
		return ret;
	xport_tcp_setup_conn(fd);
	return fd;
}
