/* ctl: udsproxyd's local control socket: clients ask for a connected fd to a remote
 * address (answered with the far side's errno or the fd by SCM_RIGHTS), or for status. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "addr.h"
#include "ctlmsg.h"
#include "daemon.h"
#include "log.h"
#include "util.h"

struct udsp_ctl_client {
	struct udsp_daemon *d;
	struct udsp_ctl_client *next, **pprev; /* d->ctl_clients */
	uint64_t deadline_ms;		       /* the whole request by then */
	int fd;
	struct ucred cred;
	uint8_t buf[WIRE_HEADER_SIZE + UDSP_CTL_MAX_PAYLOAD];
	size_t len;
	struct udsp_stream *stream; /* waiting for this stream's OPEN result */
};

uint32_t udsp_peer_groups(int fd, uint32_t *groups, uint32_t max)
{
	gid_t buf[UDSP_MAX_GROUPS * 4];
	socklen_t len = sizeof(buf);
	uint32_t i, n;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, buf, &len))
		return 0; /* more than we take, or not supported: none (stricter) */
	n = (uint32_t)(len / sizeof(gid_t));
	if (n > max)
		n = max;
	for (i = 0; i < n; i++)
		groups[i] = (uint32_t)buf[i];
	return n;
}

static void ctl_client_free(struct udsp_ctl_client *c)
{
	*c->pprev = c->next;
	if (c->next)
		c->next->pprev = c->pprev;
	loop_del_fd(c->d->loop, c->fd);
	close(c->fd);
	free(c);
}

static void shared_list(struct udsp_daemon *d, char *buf, size_t n)
{
	size_t i, off = 0;

	buf[0] = '\0';
	for (i = 0; i < d->n_shared; i++) {
		int r = snprintf(buf + off, n - off, "%s%s", i ? ":" : "", d->shared[i]);

		if (r < 0 || (size_t)r >= n - off)
			break;
		off += (size_t)r;
	}
}

/* Sends the result (and the fd) and ends the client. */
static void ctl_answer(struct udsp_ctl_client *c, int err, int fd)
{
	struct udsp_daemon *d = c->d;
	char shared[1024];
	ssize_t n;

	shared_list(d, shared, sizeof(shared));
	if (udsp_ctl_put_result(&d->scratch, (uint32_t)err, shared) == 0) {
		if (fd >= 0)
			n = xport_unix_send_fds(c->fd, d->scratch.data, d->scratch.len, &fd, 1);
		else
			n = send(c->fd, d->scratch.data, d->scratch.len,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n != (ssize_t)d->scratch.len)
			log_debug("control client went away before its answer");
	}
	ctl_client_free(c);
}

/*
 * Async connect: the client gets its fd before the far side answered. We fill the fd's send
 * buffer with junk (read back from our end later), so it is not writable: poll() waits as
 * for a TCP connect in progress. 0 or -errno (then the request is answered synchronously).
 */
static int ctl_prime_pending(struct udsp_stream *s)
{
	static const char junk[512];
	socklen_t len = sizeof(s->app_sndbuf);
	int small = 1, i;

	if (getsockopt(s->app_fd, SOL_SOCKET, SO_SNDBUF, &s->app_sndbuf, &len))
		return -errno;
	if (setsockopt(s->app_fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)))
		return -errno;
	for (i = 0; i < 1024; i++) {
		ssize_t n = send(s->app_fd, junk, sizeof(junk), MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EAGAIN)
				return 0;
			return -errno;
		}
		s->junk_bytes += (uint32_t)n;
		s->junk_msgs++;
	}
	return -ENOBUFS;
}

/* The far side connected: the client's fd gets its buffer back and becomes writable. */
static void ctl_release_pending(struct udsp_stream *s)
{
	char buf[4096];
	int sndbuf = s->app_sndbuf / 2; /* the kernel doubles what it is given */
	uint32_t i;

	(void)setsockopt(s->app_fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	if (s->socktype == UDSP_SOCK_STREAM) {
		while (s->junk_bytes) {
			ssize_t n = recv(s->fd, buf,
					 s->junk_bytes < sizeof(buf) ? s->junk_bytes : sizeof(buf),
					 MSG_DONTWAIT);

			if (n <= 0)
				break;
			s->junk_bytes -= (uint32_t)n;
		}
	} else {
		for (i = 0; i < s->junk_msgs; i++)
			if (recv(s->fd, buf, sizeof(buf), MSG_DONTWAIT) < 0)
				break;
	}
	s->junk_bytes = s->junk_msgs = 0;
}

void udsp_ctl_reply(struct udsp_stream *s, int err)
{
	struct udsp_ctl_client *c = s->waiter;

	s->waiter = NULL;
	if (!c)
		return;
	c->stream = NULL;
	if (s->async) {
		/* The result goes first, so a client that saw its fd change finds it. */
		ctl_answer(c, err, -1);
		if (!err)
			ctl_release_pending(s);
		/* On failure our end closes with the junk unread: the client's fd gets
		 * ECONNRESET, and the errno itself was in the answer. */
	} else {
		ctl_answer(c, err, err ? -1 : s->app_fd);
	}
	if (s->app_fd >= 0) {
		close(s->app_fd);
		s->app_fd = -1;
	}
}

static void ctl_connect(struct udsp_ctl_client *c, const uint8_t *p, size_t len)
{
	struct udsp_daemon *d = c->d;
	struct udsp_ctl_connect req;
	struct errmsg e = {""};
	struct udsp_stream *s;
	int sv[2], type;
	uint32_t id;

	if (udsp_ctl_decode_connect(p, len, &req, &e)) {
		log_warn("control client pid %d: %s", (int)c->cred.pid, errmsg_str(&e));
		ctl_answer(c, EINVAL, -1);
		return;
	}
	if (!d->link.up || d->link.dead) {
		ctl_answer(c, EHOSTUNREACH, -1);
		return;
	}
	type = udsp_socktype_to_sys(req.socktype);
	if (socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, sv)) {
		ctl_answer(c, errno, -1);
		return;
	}
	udsp_msg_sock_cap(sv[0], req.socktype);
	udsp_msg_sock_prepare(sv[1], req.socktype);
	if (fd_set_nonblock(sv[1], true)) {
		close(sv[0]);
		close(sv[1]);
		ctl_answer(c, EIO, -1);
		return;
	}
	id = udsp_link_new_stream_id(d);
	s = udsp_stream_new(d, id, req.socktype, sv[1]);
	if (!s) {
		close(sv[0]);
		close(sv[1]);
		ctl_answer(c, ENOMEM, -1);
		return;
	}
	s->app_fd = sv[0];
	s->state = UDSP_ST_OPENING;
	if (req.socktype == UDSP_SOCK_DGRAM) {
		struct stat st;

		/* Nothing tells us when the client closes a datagram socket: remember it. */
		if (fstat(sv[0], &st) == 0)
			s->app_ino = st.st_ino;
		s->last_active_ms = now_ms();
	}
	s->uid = c->cred.uid;
	s->gid = c->cred.gid;
	snprintf(s->path, sizeof(s->path), "%s", req.path);
	if (req.reply_to[0] && udsp_addr_to_sockaddr(req.reply_to, &s->reply_to, &s->reply_len)) {
		udsp_stream_destroy(s);
		ctl_answer(c, EINVAL, -1);
		return;
	}
	s->waiter = c;
	c->stream = s;
	if ((req.flags & UDSP_CTL_F_ASYNC) && ctl_prime_pending(s)) {
		/* Could not make it wait: answer synchronously, with the junk taken back. */
		ctl_release_pending(s);
	} else if (req.flags & UDSP_CTL_F_ASYNC) {
		char shared[1024];

		shared_list(d, shared, sizeof(shared));
		if (udsp_ctl_put_pending(&d->scratch, shared) == 0 &&
		    xport_unix_send_fds(c->fd, d->scratch.data, d->scratch.len, &s->app_fd, 1) ==
			    (ssize_t)d->scratch.len) {
			s->async = true;
		} else {
			s->waiter = NULL;
			c->stream = NULL;
			udsp_stream_destroy(s);
			ctl_answer(c, EIO, -1);
			return;
		}
	}
	{
		uint32_t groups[UDSP_MAX_GROUPS];
		uint32_t n = udsp_peer_groups(c->fd, groups, UDSP_MAX_GROUPS);

		if (udsp_put_open_groups(&d->scratch, id, req.socktype, d->window, c->cred.uid,
					 c->cred.gid, groups, n, req.path) == 0)
			udsp_link_send(d, d->scratch.data, d->scratch.len);
	}
	/* Keep watching the client: if it goes away first, the stream is dropped. */
}

/*
 * The status names every proxied address and mirror of every user: for root (or the
 * daemon's own user) only. Connect requests need no privilege: the far side connects with
 * the requester's own uid, gid and groups (see docs/udsproxy.md, "Control socket").
 */
static void ctl_status(struct udsp_ctl_client *c)
{
	struct udsp_daemon *d = c->d;
	char *text;
	struct wire_buf b;
	ssize_t n;

	if (c->cred.uid != 0 && c->cred.uid != geteuid()) {
		log_info("control client pid %d uid %u: status refused (root only)",
			 (int)c->cred.pid, (unsigned)c->cred.uid);
		ctl_answer(c, EACCES, -1);
		return;
	}
	text = malloc(UDSP_CTL_STATUS_MAX);
	if (!text) {
		ctl_client_free(c);
		return;
	}
	udsp_status_format(d, text, UDSP_CTL_STATUS_MAX);
	wire_buf_init(&b);
	wire_frame_begin(&b);
	wire_put_str(&b, text);
	if (wire_frame_end(&b, UDSP_CTL_STATUS_TEXT, 0, 0) == 0) {
		/* A fresh socket's buffer takes the whole text; a client that shrank its
		 * receive side only loses its answer (the loop never waits on it). */
		n = send(c->fd, b.data, b.len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n != (ssize_t)b.len)
			log_debug("control client pid %d: status answer not sent whole",
				  (int)c->cred.pid);
	}
	wire_buf_free(&b);
	free(text);
	ctl_client_free(c);
}

static void ctl_on_client(struct loop *l, int fd, uint32_t events, void *arg)
{
	struct udsp_ctl_client *c = arg;
	struct udsp_daemon *d = c->d;
	struct wire_header h;
	ssize_t n;
	int ret;

	if (c->stream) {
		/* Only EOF/errors can come now: the client gave up waiting. */
		char tmp[64];

		n = recv(fd, tmp, sizeof(tmp), MSG_DONTWAIT);
		if (n < 0 && errno == EAGAIN)
			return;
		c->stream->waiter = NULL;
		udsp_stream_reset(c->stream, ECONNABORTED);
		ctl_client_free(c);
		udsp_link_reap(d);
		return;
	}
	n = recv(fd, c->buf + c->len, sizeof(c->buf) - c->len, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		ctl_client_free(c);
		return;
	}
	c->len += (size_t)n;
	ret = wire_header_decode(c->buf, c->len, UDSP_CTL_MAX_PAYLOAD, &h);
	if (ret == -EAGAIN || (ret == 0 && c->len < WIRE_HEADER_SIZE + h.length))
		return;
	if (ret) {
		log_warn("control client pid %d: %s", (int)c->cred.pid, wire_strerror(ret));
		ctl_client_free(c);
		return;
	}
	switch (h.type) {
	case UDSP_CTL_CONNECT:
		ctl_connect(c, c->buf + WIRE_HEADER_SIZE, h.length);
		break;
	case UDSP_CTL_STATUS:
		ctl_status(c);
		break;
	default:
		log_warn("control client pid %d: unknown request %u", (int)c->cred.pid, h.type);
		ctl_client_free(c);
		break;
	}
	udsp_link_reap(d);
}

static void ctl_on_accept(struct loop *l, int fd, uint32_t events, void *arg)
{
	struct udsp_daemon *d = arg;
	int i;

	/* A burst of connects (1,000 clients) is taken in batches, not one per wakeup. */
	for (i = 0; i < 64; i++) {
		struct udsp_ctl_client *c;
		socklen_t len = sizeof(c->cred);
		int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (cfd < 0) {
			if (errno != EAGAIN && errno != EINTR)
				log_warn("control socket: accept: %s", strerror(errno));
			return;
		}
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(cfd);
			continue;
		}
		c->d = d;
		c->fd = cfd;
		if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &c->cred, &len)) {
			c->cred.uid = 65534;
			c->cred.gid = 65534;
		}
		if (loop_add_fd(d->loop, cfd, EPOLLIN, ctl_on_client, c)) {
			close(cfd);
			free(c);
			continue;
		}
		c->deadline_ms = now_ms() + UDSP_CTL_REQUEST_MS;
		c->next = d->ctl_clients;
		if (c->next)
			c->next->pprev = &c->next;
		c->pprev = &d->ctl_clients;
		d->ctl_clients = c;
	}
}

void udsp_ctl_sweep(struct udsp_daemon *d)
{
	struct udsp_ctl_client *c, *next;
	uint64_t now = now_ms();

	for (c = d->ctl_clients; c; c = next) {
		next = c->next;
		/* A client waiting for its OPEN result is bounded by the link instead. */
		if (c->stream || now < c->deadline_ms)
			continue;
		log_info("control client pid %d: no complete request in %u s: closed",
			 (int)c->cred.pid, UDSP_CTL_REQUEST_MS / 1000);
		ctl_client_free(c);
	}
}

int udsp_ctl_start(struct udsp_daemon *d, struct errmsg *e)
{
	struct xport_opts o = {.unix_mode = 0666};
	char addr[UDSP_PATH_MAX + 8], dir[UDSP_PATH_MAX];
	int ret;

	snprintf(dir, sizeof(dir), "%s", d->ctl_path);
	ret = mkdir_p(dirname(dir), 0755);
	if (ret) {
		errmsg_set(e, "%s: cannot create its directory: %s", d->ctl_path, strerror(-ret));
		return ret;
	}
	snprintf(addr, sizeof(addr), "unix:%s", d->ctl_path);
	d->ctl = xport_listen(addr, &o, e);
	if (!d->ctl)
		return -errno;
	ret = fd_set_nonblock(xport_listener_fd(d->ctl), true);
	if (!ret)
		ret = loop_add_fd(d->loop, xport_listener_fd(d->ctl), EPOLLIN, ctl_on_accept, d);
	if (ret) {
		errmsg_set(e, "%s: %s", d->ctl_path, strerror(-ret));
		xport_listener_close(d->ctl);
		d->ctl = NULL;
	}
	return ret;
}

void udsp_ctl_stop(struct udsp_daemon *d)
{
	if (!d->ctl)
		return;
	loop_del_fd(d->loop, xport_listener_fd(d->ctl));
	xport_listener_close(d->ctl);
	d->ctl = NULL;
}
