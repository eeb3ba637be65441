/* stream: one proxied connection (or bridged pipe) multiplexed on the peer link: its
 * state machine, the local fd's I/O, and per-stream credit flow control. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"
#include "util.h"

#define CMSG_FDS_SPACE CMSG_SPACE(sizeof(int) * UDSP_MAX_FDS)

static void stream_on_io(struct loop *l, int fd, uint32_t events, void *arg);

static unsigned bucket_of(uint32_t id)
{
	return (id * 2654435761u) % UDSP_STREAM_BUCKETS;
}

struct udsp_stream *udsp_stream_find(struct udsp_daemon *d, uint32_t id)
{
	struct udsp_stream *s;

	for (s = d->buckets[bucket_of(id)]; s; s = s->hnext)
		if (s->id == id)
			return s;
	return NULL;
}

struct udsp_stream *udsp_stream_new(struct udsp_daemon *d, uint32_t id, uint8_t socktype, int fd)
{
	struct udsp_stream *s = calloc(1, sizeof(*s));
	unsigned b = bucket_of(id);

	if (!s)
		return NULL;
	s->d = d;
	s->id = id;
	s->socktype = socktype;
	s->fd = fd;
	s->app_fd = -1;
	s->rd_open = true;
	s->wr_open = true;
	udsp_flow_init(&s->flow, d->window, UDSP_DATA_MAX);
	s->hnext = d->buckets[b];
	d->buckets[b] = s;
	d->n_streams++;
	return s;
}

static void chunk_free(struct udsp_chunk *c)
{
	size_t i;

	for (i = 0; i < c->nfds; i++)
		close(c->fds[i]);
	free(c->fds);
	free(c);
}

static void blocked_remove(struct udsp_daemon *d, struct udsp_stream *s)
{
	struct udsp_stream **pp;

	for (pp = &d->blocked_head; *pp; pp = &(*pp)->bnext) {
		if (*pp == s) {
			*pp = s->bnext;
			break;
		}
	}
	s->blocked = false;
	s->bnext = NULL;
}

void udsp_stream_destroy(struct udsp_stream *s)
{
	struct udsp_daemon *d = s->d;
	struct udsp_stream **pp;
	struct udsp_chunk *c;

	for (pp = &d->buckets[bucket_of(s->id)]; *pp; pp = &(*pp)->hnext) {
		if (*pp == s) {
			*pp = s->hnext;
			break;
		}
	}
	d->n_streams--;
	if (s->blocked)
		blocked_remove(d, s);
	if (s->waiter)
		udsp_ctl_reply(s, ECONNRESET);
	if (s->events)
		loop_del_fd(d->loop, s->fd);
	if (s->retry)
		loop_del_timer(d->loop, s->retry);
	if (s->mirror)
		udsp_mirror_stream_gone(s);
	while ((c = s->up_head)) {
		s->up_head = c->next;
		chunk_free(c);
	}
	if (s->fd >= 0)
		close(s->fd);
	if (s->app_fd >= 0)
		close(s->app_fd);
	while ((c = s->q_head)) {
		s->q_head = c->next;
		chunk_free(c);
	}
	log_debug("stream %u closed (%llu bytes out, %llu in)", s->id,
		  (unsigned long long)s->bytes_tx, (unsigned long long)s->bytes_rx);
	free(s);
}

/* Both directions finished: the stream is done on this side. */
static bool stream_maybe_done(struct udsp_stream *s)
{
	if (s->rd_open || s->wr_open || s->q_head)
		return false;
	udsp_stream_destroy(s);
	return true;
}

void udsp_stream_reset(struct udsp_stream *s, int err)
{
	udsp_send_u32(s->d, UDSP_T_RESET, s->id, (uint32_t)(err > 0 && err < 4096 ? err : EIO));
	udsp_stream_destroy(s);
}

static bool stream_msg_type(const struct udsp_stream *s)
{
	return s->socktype == UDSP_SOCK_SEQPACKET || s->socktype == UDSP_SOCK_DGRAM;
}

/*
 * The kernel refuses a seqpacket/datagram message longer than the sending socket's send
 * buffer less 32 bytes (EMSGSIZE), and the default buffer (~208 KiB) is below
 * UDSP_DATA_MAX: our own sockets get room for whole messages of UDSP_DATA_MAX.
 */
void udsp_msg_sock_prepare(int fd, uint8_t socktype)
{
	int v = (int)UDSP_DATA_MAX; /* the kernel doubles it: two messages in flight */

	if (socktype != UDSP_SOCK_SEQPACKET && socktype != UDSP_SOCK_DGRAM)
		return;
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &v, sizeof(v)))
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof(v));
}

/*
 * The application's end of a socketpair the daemon hands out: its send buffer makes the
 * kernel refuse, with EMSGSIZE at the application's own send(), exactly the messages longer
 * than the link carries (instead of the daemon resetting the stream afterwards).
 */
void udsp_msg_sock_cap(int fd, uint8_t socktype)
{
	int v = (int)((UDSP_DATA_MAX + 32) / 2);

	if (socktype != UDSP_SOCK_SEQPACKET && socktype != UDSP_SOCK_DGRAM)
		return;
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &v, sizeof(v)))
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof(v));
}

void udsp_stream_update(struct udsp_stream *s)
{
	struct udsp_daemon *d = s->d;
	uint32_t want = 0;
	int ret;

	if (s->state == UDSP_ST_OPEN && s->rd_open && !s->blocked && s->flow.send_credit > 0 &&
	    !s->shared_fd)
		want |= EPOLLIN;
	if (s->q_head)
		want |= EPOLLOUT;
	if (want == s->events)
		return;
	/*
	 * With nothing wanted the fd leaves epoll altogether: level-triggered
	 * EPOLLHUP would otherwise fire forever for a closed peer we are not reading.
	 */
	if (!want)
		ret = loop_del_fd(d->loop, s->fd);
	else if (!s->events)
		ret = loop_add_fd(d->loop, s->fd, want, stream_on_io, s);
	else
		ret = loop_mod_fd(d->loop, s->fd, want);
	if (ret) {
		log_error("stream %u: epoll: %s", s->id, strerror(-ret));
		s->events = want ? s->events : 0;
		return;
	}
	s->events = want;
}

void udsp_stream_opened(struct udsp_stream *s)
{
	struct udsp_chunk *c;

	s->state = UDSP_ST_OPEN;
	if (s->waiter)
		udsp_ctl_reply(s, 0);
	/* Held datagrams fit the window the peer just granted (see udsp_stream_send_msg). */
	while ((c = s->up_head)) {
		s->up_head = c->next;
		if (!s->up_head)
			s->up_tail = NULL;
		s->up_bytes -= c->len;
		if (udsp_stream_send_msg(s, c->data, c->len))
			s->d->stats.dgrams_dropped++;
		chunk_free(c);
	}
	udsp_stream_update(s);
}

int udsp_stream_send_msg(struct udsp_stream *s, const uint8_t *p, size_t len)
{
	struct udsp_daemon *d = s->d;
	struct udsp_chunk *c;
	uint8_t *out;

	s->last_active_ms = now_ms();
	if (s->state != UDSP_ST_OPEN) {
		/* The first datagrams of a sender arrive before OPEN_OK: hold up to a window. */
		if (s->up_bytes + len > d->window)
			return -ENOBUFS;
		c = malloc(sizeof(*c) + len);
		if (!c)
			return -ENOBUFS;
		c->next = NULL;
		c->len = len;
		c->off = 0;
		c->fds = NULL;
		c->nfds = 0;
		memcpy(c->data, p, len);
		if (s->up_tail)
			s->up_tail->next = c;
		else
			s->up_head = c;
		s->up_tail = c;
		s->up_bytes += len;
		return 0;
	}
	/* One socket feeds every sender's stream: waiting for one would stall all. A
	 * datagram may be lost; the caller counts it. */
	if (s->flow.send_credit <= 0 || udsp_link_congested(d))
		return -ENOBUFS;
	out = udsp_link_reserve(d, len);
	if (!out)
		return -ENOBUFS;
	memcpy(out, p, len);
	s->bytes_tx += len;
	udsp_flow_sent(&s->flow, len);
	udsp_link_commit(d, UDSP_T_DATA, s->id, len);
	return 0;
}

void udsp_stream_wake_blocked(struct udsp_daemon *d)
{
	struct udsp_stream *s;

	while ((s = d->blocked_head) && !udsp_link_congested(d)) {
		d->blocked_head = s->bnext;
		s->bnext = NULL;
		s->blocked = false;
		udsp_stream_update(s);
	}
}

void udsp_stream_close_all(struct udsp_daemon *d)
{
	unsigned b;

	d->blocked_head = NULL;
	for (b = 0; b < UDSP_STREAM_BUCKETS; b++) {
		while (d->buckets[b]) {
			struct udsp_stream *s = d->buckets[b];

			s->blocked = false;
			udsp_stream_destroy(s);
		}
	}
}

static void collect_fds(struct msghdr *mh, int *fds, size_t *nfds)
{
	struct cmsghdr *c;

	*nfds = 0;
	for (c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		size_t n, i;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < n; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (*nfds < UDSP_MAX_FDS)
				fds[(*nfds)++] = fd;
			else
				close(fd);
		}
	}
}

/* The local fd is readable: one read, one DATA frame straight into the link's queue. */
static void stream_on_readable(struct udsp_stream *s)
{
	struct udsp_daemon *d = s->d;
	union {
		struct cmsghdr align;
		uint8_t buf[CMSG_FDS_SPACE];
	} cbuf;
	int fds[UDSP_MAX_FDS];
	size_t nfds = 0, room;
	struct msghdr mh = {0};
	struct iovec iov;
	uint8_t *p;
	ssize_t n;

	if (udsp_link_congested(d)) {
		s->blocked = true;
		s->bnext = d->blocked_head;
		d->blocked_head = s;
		udsp_stream_update(s);
		return;
	}
	room = udsp_flow_send_room(&s->flow, UDSP_DATA_MAX);
	if (stream_msg_type(s) && room)
		room = UDSP_DATA_MAX; /* a message goes whole; credit may dip by one */
	if (!room) {
		udsp_stream_update(s);
		return;
	}
	p = udsp_link_reserve(d, room);
	if (!p)
		return;
	if (s->is_file_fd) {
		n = read(s->fd, p, room);
	} else {
		iov.iov_base = p;
		iov.iov_len = room;
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		mh.msg_control = cbuf.buf;
		mh.msg_controllen = sizeof(cbuf.buf);
		n = recvmsg(s->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (n >= 0 && mh.msg_controllen)
			collect_fds(&mh, fds, &nfds);
	}
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		udsp_stream_reset(s, errno);
		return;
	}
	if (n > 0 && (mh.msg_flags & MSG_TRUNC)) {
		size_t i;

		/* Only a sender that raised its own send buffer gets here (see
		 * udsp_msg_sock_cap). A datagram may be lost: drop it, say so. A seqpacket
		 * stream must not lose one silently: reset it. */
		for (i = 0; i < nfds; i++)
			close(fds[i]);
		d->stats.msgs_too_big++;
		if (s->socktype == UDSP_SOCK_DGRAM) {
			log_warn("stream %u: a datagram over %u bytes dropped", s->id,
				 UDSP_DATA_MAX);
			return;
		}
		log_warn("stream %u: a %s message exceeds %u bytes", s->id,
			 udsp_socktype_name(s->socktype), UDSP_DATA_MAX);
		udsp_stream_reset(s, EMSGSIZE);
		return;
	}
	if (n == 0 && s->socktype != UDSP_SOCK_DGRAM && !nfds) {
		/* EOF: the peer shuts its target's write side once the data drains. */
		s->rd_open = false;
		if (udsp_put_empty(&d->scratch, UDSP_T_SHUT, s->id) == 0)
			udsp_link_send(d, d->scratch.data, d->scratch.len);
		if (!stream_maybe_done(s))
			udsp_stream_update(s);
		return;
	}
	s->bytes_tx += (uint64_t)n;
	s->last_active_ms = now_ms();
	udsp_flow_sent(&s->flow, (size_t)n);
	if (nfds) {
		int ret = udsp_fdpass_send(s, p, (size_t)n, fds, nfds);

		if (ret) {
			udsp_stream_reset(s, -ret);
			return;
		}
	} else {
		udsp_link_commit(d, UDSP_T_DATA, s->id, (size_t)n);
	}
	if (s->flow.send_credit <= 0)
		udsp_stream_update(s);
}

static void grant_credit(struct udsp_stream *s, size_t delivered)
{
	uint32_t grant = udsp_flow_delivered(&s->flow, delivered);

	if (grant)
		udsp_send_u32(s->d, UDSP_T_CREDIT, s->id, grant);
}

/* Writes (part of) a buffer to the local fd. >=0 bytes written, or -errno. */
static ssize_t stream_write(struct udsp_stream *s, const uint8_t *p, size_t len, int *fds,
			    size_t nfds)
{
	union {
		struct cmsghdr align;
		uint8_t buf[CMSG_FDS_SPACE];
	} cbuf;
	struct msghdr mh = {0};
	struct iovec iov = {(void *)p, len};
	ssize_t n;

	if (s->is_file_fd) {
		n = write(s->fd, p, len);
		return n < 0 ? -errno : n;
	}
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	if (s->reply_len) {
		mh.msg_name = &s->reply_to;
		mh.msg_namelen = s->reply_len;
	}
	if (nfds) {
		struct cmsghdr *c;

		mh.msg_control = cbuf.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	n = sendmsg(s->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
	return n < 0 ? -errno : n;
}

/* The peer sent SHUT and everything was written: pass the EOF on. False if s is gone. */
static bool stream_shut_local(struct udsp_stream *s)
{
	s->wr_open = false;
	if (s->is_file_fd) {
		/* A pipe we write to: closing our end is the EOF the reader waits for. */
		if (!s->rd_open) {
			udsp_stream_destroy(s);
			return false;
		}
	} else if (s->socktype != UDSP_SOCK_DGRAM) {
		(void)shutdown(s->fd, SHUT_WR);
	}
	if (stream_maybe_done(s))
		return false;
	udsp_stream_update(s);
	return true;
}

/* Drains the queue; false if the stream was destroyed. */
static bool stream_flush(struct udsp_stream *s)
{
	struct udsp_chunk *c;

	while ((c = s->q_head)) {
		ssize_t n = stream_write(s, c->data + c->off, c->len - c->off, c->fds, c->nfds);

		if (n == -EAGAIN || n == -EINTR)
			break;
		if (n < 0) {
			udsp_stream_reset(s, (int)-n);
			return false;
		}
		if (c->nfds) {
			/* The kernel holds its own references now. */
			size_t i;

			for (i = 0; i < c->nfds; i++)
				close(c->fds[i]);
			c->nfds = 0;
		}
		if (stream_msg_type(s))
			n = (ssize_t)(c->len - c->off); /* a message goes whole */
		c->off += (size_t)n;
		s->q_bytes -= (size_t)n;
		s->bytes_rx += (uint64_t)n;
		grant_credit(s, (size_t)n);
		if (c->off < c->len)
			break;
		s->q_head = c->next;
		if (!s->q_head)
			s->q_tail = NULL;
		chunk_free(c);
	}
	if (!s->q_head && s->peer_shut && s->wr_open)
		return stream_shut_local(s);
	udsp_stream_update(s);
	return true;
}

static int stream_queue(struct udsp_stream *s, const uint8_t *p, size_t len, int *fds, size_t nfds)
{
	struct udsp_chunk *c;
	size_t sz;

	if (__builtin_add_overflow(sizeof(*c), len, &sz))
		return -ENOMEM;
	c = malloc(sz);
	if (!c)
		return -ENOMEM;
	c->next = NULL;
	c->len = len;
	c->off = 0;
	c->fds = NULL;
	c->nfds = 0;
	if (nfds) {
		c->fds = malloc(nfds * sizeof(int));
		if (!c->fds) {
			free(c);
			return -ENOMEM;
		}
		memcpy(c->fds, fds, nfds * sizeof(int));
		c->nfds = nfds;
	}
	memcpy(c->data, p, len);
	if (s->q_tail)
		s->q_tail->next = c;
	else
		s->q_head = c;
	s->q_tail = c;
	s->q_bytes += len;
	return 0;
}

/* Data from the peer: write what the fd takes now, queue the rest (bounded by credit). */
static void stream_deliver(struct udsp_stream *s, const uint8_t *p, size_t len, int *fds,
			   size_t nfds)
{
	size_t done = 0, i;
	ssize_t n;
	int ret;

	/* Not writable, or a reply for an unnamed mirrored sender (undeliverable, as it
	 * would be locally): consumed. */
	if (!s->wr_open || (s->shared_fd && !s->reply_len)) {
		for (i = 0; i < nfds; i++)
			close(fds[i]);
		grant_credit(s, len);
		return;
	}
	if (!s->q_head) {
		n = stream_write(s, p, len, fds, nfds);
		if (n >= 0) {
			for (i = 0; i < nfds; i++)
				close(fds[i]);
			nfds = 0;
			done = stream_msg_type(s) ? len : (size_t)n;
			s->bytes_rx += done;
			grant_credit(s, done);
		} else if (n != -EAGAIN && n != -EINTR) {
			for (i = 0; i < nfds; i++)
				close(fds[i]);
			udsp_stream_reset(s, (int)-n);
			return;
		}
	}
	if (done == len)
		return;
	ret = stream_queue(s, p + done, len - done, fds, nfds);
	if (ret) {
		for (i = 0; i < nfds; i++)
			close(fds[i]);
		udsp_stream_reset(s, -ret);
		return;
	}
	udsp_stream_update(s);
}

static void stream_on_io(struct loop *l, int fd, uint32_t events, void *arg)
{
	struct udsp_stream *s = arg;
	struct udsp_daemon *d = s->d;

	if (events & EPOLLOUT) {
		if (!stream_flush(s))
			goto out;
	}
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		if (s->events & EPOLLIN) {
			stream_on_readable(s);
		} else if ((events & (EPOLLHUP | EPOLLERR)) && !(s->events & EPOLLOUT)) {
			/* Not reading and nothing to write, yet the fd is gone. */
			udsp_stream_reset(s, ECONNRESET);
		}
	}
out:
	udsp_link_reap(d);
}

void udsp_stream_on_frame(struct udsp_daemon *d, const struct udsp_msg *m)
{
	struct udsp_stream *s = udsp_stream_find(d, m->stream);
	int *fds = NULL;
	int ret;

	if (!s) {
		/* Frames can cross a RESET on the wire; anything else is harmless too. */
		log_debug("%s for unknown stream %u ignored", udsp_type_name(m->type), m->stream);
		if (m->type == UDSP_T_DATA_FDS)
			udsp_fdpass_refuse(d, m);
		return;
	}
	switch (m->type) {
	case UDSP_T_OPEN_OK:
		if (s->state != UDSP_ST_OPENING)
			goto proto;
		udsp_flow_set_send_window(&s->flow, m->window);
		d->stats.streams_opened++;
		udsp_stream_opened(s);
		break;
	case UDSP_T_OPEN_ERR:
		if (s->state != UDSP_ST_OPENING)
			goto proto;
		d->stats.streams_refused++;
		if (s->waiter)
			udsp_ctl_reply(s, (int)m->err);
		udsp_stream_destroy(s);
		break;
	case UDSP_T_DATA:
	case UDSP_T_DATA_FDS:
		if (s->state != UDSP_ST_OPEN || udsp_flow_received(&s->flow, m->data_len))
			goto proto;
		if (m->type == UDSP_T_DATA_FDS) {
			ret = udsp_fdpass_recv(s, m, &fds);
			if (ret) {
				udsp_stream_reset(s, -ret);
				break;
			}
		}
		stream_deliver(s, m->data, m->data_len, fds,
			       m->type == UDSP_T_DATA_FDS ? m->nfds : 0);
		free(fds);
		break;
	case UDSP_T_CREDIT:
		if (udsp_flow_credit(&s->flow, m->credit))
			goto proto;
		udsp_stream_update(s);
		break;
	case UDSP_T_SHUT:
		if (s->state != UDSP_ST_OPEN || s->peer_shut)
			goto proto;
		s->peer_shut = true;
		if (!s->q_head && s->wr_open)
			(void)stream_shut_local(s);
		break;
	case UDSP_T_RESET:
		udsp_stream_destroy(s);
		break;
	default:
		goto proto;
	}
	return;
proto : {
	char why[128];

	d->stats.proto_errors++;
	snprintf(why, sizeof(why), "%s not valid for stream %u now", udsp_type_name(m->type),
		 m->stream);
	udsp_link_fail(d, why);
}
}
