/*
 * xport: address strings, the dispatch of listen/accept/connect to each transport,
 * and the connection operations every transport shares (read, write, close).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <linux/vm_sockets.h>

#include "xport.h"
#include "xport_impl.h"

/* ---- small helpers ------------------------------------------------------ */

static uint64_t xport_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t xport_deadline_ms(int timeout_ms)
{
	if (timeout_ms <= 0)
		timeout_ms = XPORT_DEFAULT_TIMEOUT_MS;
	return xport_now_ms() + (uint64_t)timeout_ms;
}

int xport_ms_left(uint64_t deadline)
{
	uint64_t now;

	if (deadline == 0)
		return -1;
	now = xport_now_ms();
	if (now >= deadline)
		return 0;
	if (deadline - now > 1000000000u)
		return 1000000000;
	return (int)(deadline - now);
}

int xport_poll_fd(int fd, short events, uint64_t deadline)
{
	struct pollfd pfd = {.fd = fd, .events = events};
	int n;

	for (;;) {
		int left = xport_ms_left(deadline);

		if (left == 0)
			return -ETIMEDOUT;
		n = poll(&pfd, 1, left);
		if (n > 0)
			return 0;
		if (n == 0)
			return -ETIMEDOUT;
		if (errno != EINTR)
			return -errno;
	}
}

int xport_connect_fd(int fd, const struct sockaddr *sa, socklen_t salen, uint64_t deadline)
{
	int flags, ret, soerr = 0;
	socklen_t sl = sizeof(soerr);

	flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
		return -errno;
	ret = connect(fd, sa, salen);
	if (ret < 0 && errno != EINPROGRESS && errno != EINTR) {
		ret = -errno;
		goto out;
	}
	if (ret < 0) {
		ret = xport_poll_fd(fd, POLLOUT, deadline);
		if (ret)
			goto out;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0) {
			ret = -errno;
			goto out;
		}
		ret = -soerr;
	}
out:
	if (fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0 && ret == 0)
		ret = -errno;
	return ret;
}

struct xport_conn *xport_conn_new(enum xport_kind kind, int fd)
{
	struct xport_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->kind = kind;
	c->fd = fd;
	snprintf(c->desc, sizeof(c->desc), "%s:fd%d", xport_kind_name(kind), fd);
	return c;
}

void xport_sockaddr_str(const struct sockaddr *sa, socklen_t len, char *buf, size_t n)
{
	char ip[INET6_ADDRSTRLEN];

	if (n == 0)
		return;
	buf[0] = '\0';
	switch (sa->sa_family) {
	case AF_INET: {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		if (inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip)))
			snprintf(buf, n, "%s:%u", ip, ntohs(in->sin_port));
		break;
	}
	case AF_INET6: {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

		if (inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip)))
			snprintf(buf, n, "[%s]:%u", ip, ntohs(in6->sin6_port));
		break;
	}
	case AF_VSOCK: {
		const struct sockaddr_vm *vm = (const struct sockaddr_vm *)sa;

		snprintf(buf, n, "%u:%u", vm->svm_cid, vm->svm_port);
		break;
	}
	case AF_UNIX: {
		const struct sockaddr_un *un = (const struct sockaddr_un *)sa;
		size_t plen = len > offsetof(struct sockaddr_un, sun_path)
				      ? len - offsetof(struct sockaddr_un, sun_path)
				      : 0;

		if (plen == 0)
			snprintf(buf, n, "(unnamed)");
		else if (un->sun_path[0] == '\0')
			snprintf(buf, n, "@%.*s", (int)(plen - 1), un->sun_path + 1);
		else
			snprintf(buf, n, "%.*s", (int)strnlen(un->sun_path, plen), un->sun_path);
		break;
	}
	default:
		snprintf(buf, n, "(family %d)", sa->sa_family);
	}
}

/* ---- addresses ---------------------------------------------------------- */

const char *xport_kind_name(enum xport_kind kind)
{
	switch (kind) {
	case XPORT_UNIX:
		return "unix";
	case XPORT_TCP:
		return "tcp";
	case XPORT_TLS:
		return "tls";
	case XPORT_VSOCK:
		return "vsock";
	}
	return "?";
}

/* Strict decimal: digits only, no sign or spaces, at most max. */
static int parse_dec(const char *s, size_t n, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (n == 0 || n > 10)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

static bool host_name_ok(const char *s, size_t n)
{
	size_t i;

	if (n == 0)
		return false;
	for (i = 0; i < n; i++) {
		char ch = s[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '.' || ch == '-' || ch == '_'))
			return false;
	}
	return true;
}

static bool host_v6_ok(const char *s, size_t n)
{
	size_t i;

	if (n == 0)
		return false;
	for (i = 0; i < n; i++) {
		char ch = s[i];

		/* hex digits, ':' and '.', and after '%' a zone (interface name) */
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == ':' || ch == '.' || ch == '%' ||
		      ch == '-' || ch == '_'))
			return false;
	}
	return memchr(s, ':', n) != NULL;
}

static int parse_host_port(const char *addr, const char *rest, struct xport_addr *out,
			   struct errmsg *e)
{
	const char *colon;
	size_t hlen;
	uint64_t port;

	if (rest[0] == '[') {
		const char *close = strchr(rest, ']');

		if (!close || !host_v6_ok(rest + 1, (size_t)(close - rest - 1))) {
			errmsg_set(e, "%s: bad IPv6 literal (expected [ADDR]:PORT)", addr);
			return -EINVAL;
		}
		if (close[1] != ':') {
			errmsg_set(e, "%s: missing :PORT after the IPv6 literal", addr);
			return -EINVAL;
		}
		colon = close + 1;
		hlen = (size_t)(colon - rest);
	} else {
		colon = strchr(rest, ':');
		if (!colon) {
			errmsg_set(e, "%s: missing :PORT (expected HOST:PORT)", addr);
			return -EINVAL;
		}
		if (strchr(colon + 1, ':')) {
			errmsg_set(e, "%s: an IPv6 literal must be in [brackets]", addr);
			return -EINVAL;
		}
		hlen = (size_t)(colon - rest);
		if (!host_name_ok(rest, hlen)) {
			errmsg_set(e, "%s: bad host name", addr);
			return -EINVAL;
		}
	}
	if (hlen >= sizeof(out->host)) {
		errmsg_set(e, "%s: host name too long", addr);
		return -EINVAL;
	}
	if (parse_dec(colon + 1, strlen(colon + 1), 65535, &port)) {
		errmsg_set(e, "%s: bad port '%s' (expected 0-65535)", addr, colon + 1);
		return -EINVAL;
	}
	memcpy(out->host, rest, hlen);
	out->host[hlen] = '\0';
	out->port = (uint16_t)port;
	return 0;
}

int xport_addr_parse(const char *s, struct xport_addr *out, struct errmsg *e)
{
	const char *rest;
	struct xport_addr a;
	int ret;

	memset(&a, 0, sizeof(a));
	if (!s) {
		errmsg_set(e, "(null): no address");
		return -EINVAL;
	}
	if (strncmp(s, "unix:", 5) == 0) {
		rest = s + 5;
		a.kind = XPORT_UNIX;
		if (rest[0] == '\0' || (rest[0] == '@' && rest[1] == '\0')) {
			errmsg_set(e, "%s: empty socket path", s);
			return -EINVAL;
		}
		if (strlen(rest) >= sizeof(a.path)) {
			errmsg_set(e, "%s: socket path longer than %zu bytes", s,
				   sizeof(a.path) - 1);
			return -EINVAL;
		}
		memcpy(a.path, rest, strlen(rest) + 1);
	} else if (strncmp(s, "tcp:", 4) == 0 || strncmp(s, "tls:", 4) == 0) {
		a.kind = s[1] == 'c' ? XPORT_TCP : XPORT_TLS;
		ret = parse_host_port(s, s + 4, &a, e);
		if (ret)
			return ret;
	} else if (strncmp(s, "vsock:", 6) == 0) {
		const char *colon;
		uint64_t v;

		a.kind = XPORT_VSOCK;
		rest = s + 6;
		colon = strchr(rest, ':');
		if (!colon) {
			errmsg_set(e, "%s: missing :PORT (expected vsock:CID:PORT)", s);
			return -EINVAL;
		}
		if ((size_t)(colon - rest) == 3 && strncmp(rest, "any", 3) == 0) {
			a.cid = VMADDR_CID_ANY;
		} else if (parse_dec(rest, (size_t)(colon - rest), UINT32_MAX, &v) == 0) {
			a.cid = (uint32_t)v;
		} else {
			errmsg_set(e, "%s: bad CID (expected a number or 'any')", s);
			return -EINVAL;
		}
		if (parse_dec(colon + 1, strlen(colon + 1), 65535, &v)) {
			errmsg_set(e, "%s: bad port '%s' (expected 0-65535)", s, colon + 1);
			return -EINVAL;
		}
		a.port = (uint16_t)v;
	} else {
		errmsg_set(e, "%s: unknown transport (expected unix:, tcp:, tls: or vsock:)", s);
		return -EINVAL;
	}
	*out = a;
	return 0;
}

int xport_addr_format(const struct xport_addr *a, char *buf, size_t len)
{
	int n;

	switch (a->kind) {
	case XPORT_UNIX:
		n = snprintf(buf, len, "unix:%s", a->path);
		break;
	case XPORT_TCP:
	case XPORT_TLS:
		n = snprintf(buf, len, "%s:%s:%u", xport_kind_name(a->kind), a->host, a->port);
		break;
	case XPORT_VSOCK:
		if (a->cid == VMADDR_CID_ANY)
			n = snprintf(buf, len, "vsock:any:%u", a->port);
		else
			n = snprintf(buf, len, "vsock:%u:%u", a->cid, a->port);
		break;
	default:
		return -EINVAL;
	}
	if (n < 0)
		return -EINVAL;
	if ((size_t)n >= len)
		return -ENAMETOOLONG;
	return 0;
}

/* ---- listen / accept / connect ------------------------------------------ */

static const struct xport_opts xport_no_opts;

struct xport_listener *xport_listen(const char *addr, const struct xport_opts *opts,
				    struct errmsg *e)
{
	struct xport_listener *l;
	int ret = 0;

	if (!opts)
		opts = &xport_no_opts;
	l = calloc(1, sizeof(*l));
	if (!l) {
		errmsg_set(e, "%s: out of memory", addr ? addr : "(null)");
		errno = ENOMEM;
		return NULL;
	}
	l->fd = -1;
	l->timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : XPORT_DEFAULT_TIMEOUT_MS;
	ret = xport_addr_parse(addr, &l->addr, e);
	if (ret)
		goto err;

	switch (l->addr.kind) {
	case XPORT_UNIX:
		ret = xport_unix_listen(l, opts, e);
		break;
	case XPORT_TCP:
		ret = xport_tcp_check_mode(addr, opts, e);
		if (ret)
			break;
		ret = xport_tcp_listen(&l->addr, e);
		if (ret < 0)
			errmsg_prefix(e, "%s", addr);
		break;
	case XPORT_TLS:
		l->ssl_ctx = xport_tls_ctx_new(opts, true, e);
		if (!l->ssl_ctx) {
			ret = -errno;
			errmsg_prefix(e, "%s", addr);
			break;
		}
		ret = xport_tcp_listen(&l->addr, e);
		if (ret < 0)
			errmsg_prefix(e, "%s", addr);
		break;
	case XPORT_VSOCK:
		ret = xport_vsock_listen(l, opts, e);
		break;
	}
	if (ret < 0)
		goto err;
	if (l->addr.kind == XPORT_TCP || l->addr.kind == XPORT_TLS) {
		l->fd = ret;
		/* Report the port the kernel chose when asked for port 0. */
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);

		if (getsockname(l->fd, (struct sockaddr *)&ss, &sl) == 0) {
			if (ss.ss_family == AF_INET)
				l->addr.port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
			else if (ss.ss_family == AF_INET6)
				l->addr.port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
		}
	}
	return l;
err:
	xport_listener_close(l);
	errno = ret < 0 ? -ret : EINVAL;
	return NULL;
}

int xport_listener_fd(const struct xport_listener *l)
{
	return l->fd;
}

const struct xport_addr *xport_listener_addr(const struct xport_listener *l)
{
	return &l->addr;
}

void xport_listener_close(struct xport_listener *l)
{
	if (!l)
		return;
	if (l->addr.kind == XPORT_UNIX)
		xport_unix_listener_cleanup(l);
	if (l->fd >= 0)
		close(l->fd);
	xport_tls_ctx_free(l->ssl_ctx);
	free(l->vsock_cids);
	free(l);
}

static void describe_inet(struct xport_conn *c)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char peer[128];

	if (getpeername(c->fd, (struct sockaddr *)&ss, &sl) < 0)
		snprintf(peer, sizeof(peer), "(unknown peer)");
	else
		xport_sockaddr_str((struct sockaddr *)&ss, sl, peer, sizeof(peer));
	snprintf(c->desc, sizeof(c->desc), "%s:%s", xport_kind_name(c->kind), peer);
}

static struct xport_conn *accept_common(struct xport_listener *l, bool nb, struct errmsg *e)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	struct xport_conn *c;
	char addr[200];
	int fd, ret;

	if (xport_addr_format(&l->addr, addr, sizeof(addr)))
		snprintf(addr, sizeof(addr), "%s:(long address)", xport_kind_name(l->addr.kind));
	do
		fd = accept4(l->fd, (struct sockaddr *)&ss, &sl,
			     SOCK_CLOEXEC | (nb ? SOCK_NONBLOCK : 0));
	while (fd < 0 && errno == EINTR);
	if (fd < 0) {
		ret = errno;
		errmsg_set(e, "%s: accept: %s", addr, strerror(ret));
		errno = ret;
		return NULL;
	}
	if (l->addr.kind == XPORT_VSOCK) {
		ret = xport_vsock_check_peer(l, (struct sockaddr *)&ss, sl, e);
		if (ret) {
			close(fd);
			errno = -ret;
			return NULL;
		}
	}
	c = xport_conn_new(l->addr.kind, fd);
	if (!c) {
		close(fd);
		errmsg_set(e, "%s: out of memory", addr);
		errno = ENOMEM;
		return NULL;
	}
	switch (l->addr.kind) {
	case XPORT_UNIX:
		xport_unix_describe(c, l->addr.path);
		break;
	case XPORT_TCP:
	case XPORT_VSOCK:
		if (l->addr.kind == XPORT_TCP)
			xport_tcp_setup_conn(fd);
		describe_inet(c);
		break;
	case XPORT_TLS:
		xport_tcp_setup_conn(fd);
		describe_inet(c);
		if (nb) {
			ret = xport_tls_begin(c, l->ssl_ctx, e);
			if (ret) {
				errmsg_prefix(e, "%s: handshake with %s", addr, c->desc);
				xport_close(c);
				errno = -ret;
				return NULL;
			}
			c->hs_pending = true;
			c->hs_deadline = xport_deadline_ms(l->timeout_ms);
			snprintf(c->hs_listen, sizeof(c->hs_listen), "%s", addr);
			break;
		}
		ret = xport_tls_handshake(c, l->ssl_ctx, true, xport_deadline_ms(l->timeout_ms), e);
		if (ret) {
			errmsg_prefix(e, "%s: handshake with %s", addr, c->desc);
			xport_close(c);
			errno = -ret;
			return NULL;
		}
		xport_tls_describe(c);
		break;
	}
	return c;
}

struct xport_conn *xport_accept(struct xport_listener *l, struct errmsg *e)
{
	return accept_common(l, false, e);
}

struct xport_conn *xport_accept_nb(struct xport_listener *l, struct errmsg *e)
{
	return accept_common(l, true, e);
}

int xport_handshake_step(struct xport_conn *c, short *events, struct errmsg *e)
{
	int ret;

	*events = 0;
	if (!c->hs_pending)
		return 0;
	if (xport_ms_left(c->hs_deadline) == 0) {
		errmsg_set(e, "%s: handshake with %s: timed out", c->hs_listen, c->desc);
		return -ETIMEDOUT;
	}
	ret = xport_tls_step(c, true, events, e);
	if (ret == -EAGAIN)
		return ret;
	if (ret) {
		errmsg_prefix(e, "%s: handshake with %s", c->hs_listen, c->desc);
		return ret;
	}
	c->hs_pending = false;
	xport_tls_describe(c);
	return 0;
}

int xport_handshake_ms_left(const struct xport_conn *c)
{
	return c->hs_pending ? xport_ms_left(c->hs_deadline) : -1;
}

struct xport_conn *xport_connect(const char *addr, const struct xport_opts *opts, struct errmsg *e)
{
	struct xport_addr a;
	struct xport_conn *c = NULL;
	SSL_CTX *ctx = NULL;
	uint64_t deadline;
	int fd = -1, ret;

	if (!opts)
		opts = &xport_no_opts;
	ret = xport_addr_parse(addr, &a, e);
	if (ret)
		goto err;
	deadline = xport_deadline_ms(opts->timeout_ms);
	switch (a.kind) {
	case XPORT_UNIX:
		fd = xport_unix_connect(&a, deadline, e);
		break;
	case XPORT_TCP:
		ret = xport_tcp_check_mode(addr, opts, e);
		if (ret)
			goto err;
		fd = xport_tcp_connect(&a, deadline, e);
		break;
	case XPORT_TLS:
		ctx = xport_tls_ctx_new(opts, false, e);
		if (!ctx) {
			ret = -errno;
			errmsg_prefix(e, "%s", addr);
			goto err;
		}
		fd = xport_tcp_connect(&a, deadline, e);
		break;
	case XPORT_VSOCK:
		fd = xport_vsock_connect(&a, opts, deadline, e);
		break;
	}
	if (fd < 0) {
		ret = fd;
		errmsg_prefix(e, "%s", addr);
		goto err;
	}
	c = xport_conn_new(a.kind, fd);
	if (!c) {
		close(fd);
		ret = -ENOMEM;
		errmsg_set(e, "%s: out of memory", addr);
		goto err;
	}
	switch (a.kind) {
	case XPORT_UNIX:
		xport_unix_describe(c, a.path);
		break;
	case XPORT_TCP:
	case XPORT_VSOCK:
		describe_inet(c);
		break;
	case XPORT_TLS:
		describe_inet(c);
		ret = xport_tls_handshake(c, ctx, false, deadline, e);
		if (ret) {
			errmsg_prefix(e, "%s: handshake", addr);
			goto err;
		}
		xport_tls_describe(c);
		break;
	}
	xport_tls_ctx_free(ctx);
	return c;
err:
	xport_close(c);
	xport_tls_ctx_free(ctx);
	errno = ret < 0 ? -ret : EINVAL;
	return NULL;
}

struct xport_conn *xport_conn_from_fd(int fd, enum xport_kind kind)
{
	struct xport_conn *c;

	if (fd < 0 || (kind != XPORT_UNIX && kind != XPORT_TCP)) {
		errno = EINVAL;
		return NULL;
	}
	c = xport_conn_new(kind, fd);
	if (!c)
		return NULL;
	if (kind == XPORT_UNIX)
		xport_unix_describe(c, NULL);
	else
		describe_inet(c);
	return c;
}

/* ---- connection operations ---------------------------------------------- */

int xport_fd(const struct xport_conn *c)
{
	return c->fd;
}

enum xport_kind xport_conn_kind(const struct xport_conn *c)
{
	return c->kind;
}

int xport_set_nonblock(struct xport_conn *c, bool on)
{
	int flags = fcntl(c->fd, F_GETFL);

	if (flags < 0)
		return -errno;
	flags = on ? flags | O_NONBLOCK : flags & ~O_NONBLOCK;
	if (fcntl(c->fd, F_SETFL, flags) < 0)
		return -errno;
	return 0;
}

const char *xport_peer_desc(const struct xport_conn *c)
{
	return c->desc;
}

ssize_t xport_read(struct xport_conn *c, void *buf, size_t len)
{
	ssize_t n;

	if (c->hs_pending) {
		errno = ENOTCONN;
		return -1;
	}
	if (c->ssl)
		return xport_tls_read(c, buf, len);
	do
		n = read(c->fd, buf, len);
	while (n < 0 && errno == EINTR);
	return n;
}

ssize_t xport_write(struct xport_conn *c, const void *buf, size_t len)
{
	ssize_t n;

	if (c->hs_pending) {
		errno = ENOTCONN;
		return -1;
	}
	if (c->ssl)
		return xport_tls_write(c, buf, len);
	do {
		/* MSG_NOSIGNAL: a peer that went away is EPIPE, not a dead process. */
		n = send(c->fd, buf, len, MSG_NOSIGNAL);
		if (n < 0 && errno == ENOTSOCK)
			n = write(c->fd, buf, len);
	} while (n < 0 && errno == EINTR);
	return n;
}

/* Waits until the operation that just returned EAGAIN can make progress. */
static int xport_wait(struct xport_conn *c, bool writing, uint64_t deadline)
{
	short ev;

	if (c->ssl)
		ev = c->want_write ? POLLOUT : POLLIN;
	else
		ev = writing ? POLLOUT : POLLIN;
	return xport_poll_fd(c->fd, ev, deadline);
}

/* write_all/read_full bounded by a deadline (0: none); used by wire_io too. */
int xport_write_all_until(struct xport_conn *c, const void *buf, size_t len, uint64_t deadline)
{
	const uint8_t *p = buf;
	int ret;

	while (len > 0) {
		ssize_t n = xport_write(c, p, len);

		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n == 0)
			return -EIO;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -errno;
		ret = xport_wait(c, true, deadline);
		if (ret)
			return ret;
	}
	return 0;
}

int xport_read_full_until(struct xport_conn *c, void *buf, size_t len, uint64_t deadline)
{
	uint8_t *p = buf;
	int ret;

	while (len > 0) {
		ssize_t n = xport_read(c, p, len);

		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n == 0)
			return -EPIPE;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -errno;
		ret = xport_wait(c, false, deadline);
		if (ret)
			return ret;
	}
	return 0;
}

int xport_write_all(struct xport_conn *c, const void *buf, size_t len)
{
	return xport_write_all_until(c, buf, len, 0);
}

int xport_read_full(struct xport_conn *c, void *buf, size_t len)
{
	return xport_read_full_until(c, buf, len, 0);
}

size_t xport_pending(const struct xport_conn *c)
{
	int n;

	if (!c->ssl)
		return 0;
	n = SSL_pending(c->ssl);
	return n > 0 ? (size_t)n : 0;
}

int xport_shutdown_write(struct xport_conn *c)
{
	int ret = 0;

	if (c->hs_pending)
		return -ENOTCONN;
	if (c->ssl) {
		ret = xport_tls_shutdown(c);
		if (ret)
			return ret;
	}
	c->wr_shut = true;
	if (shutdown(c->fd, SHUT_WR) < 0)
		return -errno;
	return 0;
}

void xport_close(struct xport_conn *c)
{
	if (!c)
		return;
	if (c->ssl)
		xport_tls_free(c);
	if (c->fd >= 0)
		close(c->fd);
	free(c);
}
