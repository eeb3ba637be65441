/*
 * vsock: virtio-vsock packets (rx, tx, event queues) bridged to host unix sockets: the
 * connection table, the CONNECT handshake on the listening socket, credit flow control,
 * and backpressure both ways.
 */
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "loop.h"
#include "util.h"
#include "vmm/seccomp.h"
#include "vmm/virtio/mmio.h"
#include "vmm/virtio/queue.h"
#include "vmm/virtio/vhost_vsock.h"
#include "vmm/virtio/vsock.h"

#define VSOCK_RX	  0
#define VSOCK_TX	  1
#define VSOCK_EVENT	  2
#define VSOCK_HOST_CID	  2
#define VSOCK_HDR	  44
#define VSOCK_TYPE_STREAM 1
#define OP_REQUEST	  1
#define OP_RESPONSE	  2
#define OP_RST		  3
#define OP_SHUTDOWN	  4
#define OP_RW		  5
#define OP_CREDIT_UPDATE  6
#define OP_CREDIT_REQUEST 7
#define SHUT_F_RCV	  1
#define SHUT_F_SEND	  2

#define VSOCK_BUF_ALLOC	      (256u * 1024) /* what we let the guest send us unforwarded */
#define VSOCK_MAX_PAYLOAD     4096u
#define VSOCK_MAX_CONNS	      256u
#define VSOCK_CTRL_MAX	      512u
#define VSOCK_LINE_MAX	      64u
#define VSOCK_EPHEMERAL_FIRST (1u << 30)

struct vsock_hdr {
	uint64_t src_cid, dst_cid;
	uint32_t src_port, dst_port, len;
	uint16_t type, op;
	uint32_t flags, buf_alloc, fwd_cnt;
};

enum conn_state {
	C_LINE,	     /* host client connected, reading "CONNECT <port>\n" */
	C_REQUESTED, /* we sent REQUEST to the guest, awaiting RESPONSE */
	C_ESTABLISHED,
};

struct vconn {
	struct virtio_vsock *v;
	struct vconn *next;
	enum conn_state state;
	int fd;
	uint32_t local_port; /* host side */
	uint32_t peer_port;  /* guest side */
	char line[VSOCK_LINE_MAX];
	size_t line_len;
	size_t early_len; /* bytes after the CONNECT line, kept at the start of line */
	uint32_t peer_buf_alloc, peer_fwd_cnt;
	uint32_t tx_cnt;		/* payload bytes we sent to the guest */
	uint32_t fwd_cnt, fwd_reported; /* payload bytes we forwarded to the socket */
	uint8_t *pend;			/* guest data the socket has not taken yet */
	size_t pend_len;
	uint32_t watched; /* epoll events registered, 0 when not registered */
	bool eof;	  /* the host side closed */
	bool want_rx;	  /* waiting for guest receive buffers */
};

struct ctrl_pkt {
	struct vsock_hdr h;
};

struct virtio_vsock {
	struct virtio_vsock_params p;
	struct virtio_dev_ops ops;
	struct virtio_mmio *vdev;
	char name[64];
	char *path;
	int listen_fd;
	uint8_t config[8];
	/* Transport lock held for all below. */
	struct vconn *conns;
	uint32_t n_conns;
	uint32_t next_port;
	struct ctrl_pkt ctrl[VSOCK_CTRL_MAX];
	uint32_t ctrl_head, ctrl_len;
	struct vq_elem *elem;
	/* Kernel backend (no uds-path): rx and tx run in vhost; the event queue stays here. */
	bool vhost;
	struct vhost_vsock vh;
	int kick_fd[VHOST_VSOCK_NR_VQS]; /* the transport's ioeventfds, owned by it */
	int call_fd[VHOST_VSOCK_NR_VQS]; /* vhost signals these; we raise the interrupt */
};

/* ---- packets to the guest ------------------------------------------------------------------ */

static void hdr_encode(const struct vsock_hdr *h, uint8_t *b)
{
	uint64_t q;
	uint32_t w;
	uint16_t s;

	q = htole64(h->src_cid);
	memcpy(b, &q, 8);
	q = htole64(h->dst_cid);
	memcpy(b + 8, &q, 8);
	w = htole32(h->src_port);
	memcpy(b + 16, &w, 4);
	w = htole32(h->dst_port);
	memcpy(b + 20, &w, 4);
	w = htole32(h->len);
	memcpy(b + 24, &w, 4);
	s = htole16(h->type);
	memcpy(b + 28, &s, 2);
	s = htole16(h->op);
	memcpy(b + 30, &s, 2);
	w = htole32(h->flags);
	memcpy(b + 32, &w, 4);
	w = htole32(h->buf_alloc);
	memcpy(b + 36, &w, 4);
	w = htole32(h->fwd_cnt);
	memcpy(b + 40, &w, 4);
}

static void hdr_decode(const uint8_t *b, struct vsock_hdr *h)
{
	uint64_t q;
	uint32_t w;
	uint16_t s;

	memcpy(&q, b, 8);
	h->src_cid = le64toh(q);
	memcpy(&q, b + 8, 8);
	h->dst_cid = le64toh(q);
	memcpy(&w, b + 16, 4);
	h->src_port = le32toh(w);
	memcpy(&w, b + 20, 4);
	h->dst_port = le32toh(w);
	memcpy(&w, b + 24, 4);
	h->len = le32toh(w);
	memcpy(&s, b + 28, 2);
	h->type = le16toh(s);
	memcpy(&s, b + 30, 2);
	h->op = le16toh(s);
	memcpy(&w, b + 32, 4);
	h->flags = le32toh(w);
	memcpy(&w, b + 36, 4);
	h->buf_alloc = le32toh(w);
	memcpy(&w, b + 40, 4);
	h->fwd_cnt = le32toh(w);
}

static void make_hdr(struct virtio_vsock *v, struct vsock_hdr *h, uint32_t local, uint32_t peer,
		     uint16_t op, const struct vconn *c)
{
	memset(h, 0, sizeof(*h));
	h->src_cid = VSOCK_HOST_CID;
	h->dst_cid = v->p.guest_cid;
	h->src_port = local;
	h->dst_port = peer;
	h->type = VSOCK_TYPE_STREAM;
	h->op = op;
	h->buf_alloc = VSOCK_BUF_ALLOC;
	h->fwd_cnt = c ? c->fwd_cnt : 0;
}

/* Puts one packet in a guest receive buffer. False when the guest has none. */
static bool rx_put(struct virtio_vsock *v, const struct vsock_hdr *h, const uint8_t *data)
{
	struct virtq *vq = virtio_mmio_queue(v->vdev, VSOCK_RX);
	uint8_t raw[VSOCK_HDR];
	int ret;

	if (!vq)
		return false;
	for (;;) {
		if (!v->elem && !(v->elem = malloc(sizeof(*v->elem))))
			return false;
		ret = vq_pop(vq, v->elem);
		if (ret < 0)
			virtio_mmio_needs_reset(v->vdev);
		if (ret <= 0)
			return false;
		if (v->elem->in_bytes >= VSOCK_HDR + (uint64_t)h->len)
			break;
		/* too small for this packet: hand it back empty */
		vq_push(vq, v->elem->head, 0);
	}
	hdr_encode(h, raw);
	vq_write_in(v->elem, 0, raw, VSOCK_HDR);
	if (h->len)
		vq_write_in(v->elem, VSOCK_HDR, data, h->len);
	vq_push(vq, v->elem->head, VSOCK_HDR + h->len);
	return true;
}

/* Queues a control packet; sent as soon as the guest has buffers. */
static void ctrl_send(struct virtio_vsock *v, const struct vsock_hdr *h)
{
	if (v->ctrl_len == VSOCK_CTRL_MAX) {
		log_warn("%s: control queue full, packet dropped", v->name);
		return;
	}
	v->ctrl[(v->ctrl_head + v->ctrl_len) % VSOCK_CTRL_MAX].h = *h;
	v->ctrl_len++;
}

static void send_rst(struct virtio_vsock *v, uint32_t local, uint32_t peer)
{
	struct vsock_hdr h;

	make_hdr(v, &h, local, peer, OP_RST, NULL);
	ctrl_send(v, &h);
}

/* ---- connections ------------------------------------------------------------------------------- */

static void conn_cb(struct loop *l, int fd, uint32_t events, void *arg);
static void conn_read(struct virtio_vsock *v, struct vconn *c);

static uint32_t peer_credit(const struct vconn *c)
{
	uint32_t inflight = c->tx_cnt - c->peer_fwd_cnt;

	return inflight >= c->peer_buf_alloc ? 0 : c->peer_buf_alloc - inflight;
}

static void conn_watch(struct vconn *c)
{
	uint32_t want = 0;
	int ret;

	if (c->fd < 0)
		return;
	if (c->state == C_LINE)
		want |= EPOLLIN;
	if (c->state == C_ESTABLISHED && !c->eof && !c->want_rx && peer_credit(c) > 0)
		want |= EPOLLIN;
	if (c->pend_len)
		want |= EPOLLOUT;
	if (want == c->watched)
		return;
	if (!want) {
		loop_del_fd(c->v->p.loop, c->fd);
	} else if (!c->watched) {
		ret = loop_add_fd(c->v->p.loop, c->fd, want, conn_cb, c);
		if (ret)
			want = 0;
	} else if (loop_mod_fd(c->v->p.loop, c->fd, want)) {
		want = c->watched;
	}
	c->watched = want;
}

static void conn_free(struct virtio_vsock *v, struct vconn *c)
{
	struct vconn **pp;

	for (pp = &v->conns; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	if (c->fd >= 0) {
		if (c->watched)
			loop_del_fd(v->p.loop, c->fd);
		close(c->fd);
	}
	v->n_conns--;
	free(c->pend);
	free(c);
}

static struct vconn *conn_new(struct virtio_vsock *v, int fd, enum conn_state st)
{
	struct vconn *c;

	if (v->n_conns >= VSOCK_MAX_CONNS)
		return NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->pend = malloc(VSOCK_BUF_ALLOC);
	if (!c->pend) {
		free(c);
		return NULL;
	}
	c->v = v;
	c->fd = fd;
	c->state = st;
	c->next = v->conns;
	v->conns = c;
	v->n_conns++;
	return c;
}

static struct vconn *conn_find(struct virtio_vsock *v, uint32_t local, uint32_t peer)
{
	struct vconn *c;

	for (c = v->conns; c; c = c->next)
		if (c->state != C_LINE && c->local_port == local && c->peer_port == peer)
			return c;
	return NULL;
}

/* Sends what is queued, then data from the sockets, while the guest has buffers. */
static void rx_pump(struct virtio_vsock *v)
{
	bool sent = false;
	struct vconn *c;

	while (v->ctrl_len) {
		if (!rx_put(v, &v->ctrl[v->ctrl_head].h, NULL))
			goto stalled;
		v->ctrl_head = (v->ctrl_head + 1) % VSOCK_CTRL_MAX;
		v->ctrl_len--;
		sent = true;
	}
	for (c = v->conns; c; c = c->next) {
		if (c->want_rx) {
			c->want_rx = false;
			if (c->early_len && c->state == C_ESTABLISHED)
				conn_read(v, c);
			conn_watch(c);
		}
	}
	if (sent)
		virtio_mmio_notify(v->vdev, VSOCK_RX);
	return;
stalled:
	if (sent)
		virtio_mmio_notify(v->vdev, VSOCK_RX);
}

/* Host socket to guest: one packet of at most the credit and a buffer's worth. */
static void conn_read(struct virtio_vsock *v, struct vconn *c)
{
	uint8_t buf[VSOCK_MAX_PAYLOAD];
	struct vsock_hdr h;
	uint32_t credit = peer_credit(c);
	size_t want = credit < sizeof(buf) ? credit : sizeof(buf);
	struct virtq *vq = virtio_mmio_queue(v->vdev, VSOCK_RX);
	ssize_t n;

	if (v->ctrl_len || !vq || !vq_has_avail(vq)) {
		c->want_rx = true; /* resume when the guest adds buffers */
		return;
	}
	if (!want)
		return;
	if (c->early_len) {
		/* what the client sent after its CONNECT line, before the guest accepted */
		n = (ssize_t)(c->early_len < want ? c->early_len : want);
		memcpy(buf, c->line, (size_t)n);
		memmove(c->line, c->line + n, c->early_len - (size_t)n);
		c->early_len -= (size_t)n;
	} else {
		n = recv(c->fd, buf, want, MSG_DONTWAIT);
	}
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		/* The host side is done sending: tell the guest. */
		c->eof = true;
		make_hdr(v, &h, c->local_port, c->peer_port, OP_SHUTDOWN, c);
		h.flags = SHUT_F_RCV | SHUT_F_SEND;
		ctrl_send(v, &h);
		rx_pump(v);
		return;
	}
	make_hdr(v, &h, c->local_port, c->peer_port, OP_RW, c);
	h.len = (uint32_t)n;
	if (!rx_put(v, &h, buf)) {
		/* cannot happen after vq_has_avail unless the ring broke */
		return;
	}
	c->tx_cnt += (uint32_t)n;
	c->fwd_reported = c->fwd_cnt;
	virtio_mmio_notify(v->vdev, VSOCK_RX);
}

/* Writes queued guest data to the socket; sends a credit update when enough drained. */
static void conn_flush(struct virtio_vsock *v, struct vconn *c)
{
	ssize_t n;

	while (c->pend_len) {
		n = send(c->fd, c->pend, c->pend_len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			/* the host side went away */
			send_rst(v, c->local_port, c->peer_port);
			conn_free(v, c);
			rx_pump(v);
			return;
		}
		memmove(c->pend, c->pend + n, c->pend_len - (size_t)n);
		c->pend_len -= (size_t)n;
		c->fwd_cnt += (uint32_t)n;
	}
	if (c->fwd_cnt - c->fwd_reported >= VSOCK_BUF_ALLOC / 4) {
		struct vsock_hdr h;

		make_hdr(v, &h, c->local_port, c->peer_port, OP_CREDIT_UPDATE, c);
		c->fwd_reported = c->fwd_cnt;
		ctrl_send(v, &h);
		rx_pump(v);
	}
	conn_watch(c);
}

/* The first line a host client sends: "CONNECT <port>\n". */
static void conn_line(struct virtio_vsock *v, struct vconn *c)
{
	char *nl;
	ssize_t n;
	uint32_t port;
	struct vsock_hdr h;

	n = recv(c->fd, c->line + c->line_len, sizeof(c->line) - 1 - c->line_len, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		conn_free(v, c);
		return;
	}
	c->line_len += (size_t)n;
	c->line[c->line_len] = '\0';
	nl = strchr(c->line, '\n');
	if (!nl) {
		if (c->line_len == sizeof(c->line) - 1)
			conn_free(v, c); /* no newline within the limit */
		return;
	}
	*nl = '\0';
	if (!str_has_prefix(c->line, "CONNECT ") || parse_u32(c->line + 8, 10, &port)) {
		log_debug("%s: bad handshake line from host client", v->name);
		conn_free(v, c);
		return;
	}
	/* Bytes after the newline are early data for the guest, sent once it accepts. */
	c->early_len = (size_t)(c->line + c->line_len - (nl + 1));
	memmove(c->line, nl + 1, c->early_len);
	c->peer_port = port;
	do
		c->local_port = v->next_port++;
	while (conn_find(v, c->local_port, port));
	if (v->next_port < VSOCK_EPHEMERAL_FIRST)
		v->next_port = VSOCK_EPHEMERAL_FIRST;
	c->state = C_REQUESTED;
	make_hdr(v, &h, c->local_port, c->peer_port, OP_REQUEST, c);
	ctrl_send(v, &h);
	conn_watch(c);
	rx_pump(v);
}

static void conn_cb(struct loop *l, int fd, uint32_t events, void *arg)
{
	struct vconn *c = arg;
	struct virtio_vsock *v = c->v;

	virtio_mmio_lock(v->vdev);
	if (c->state == C_LINE) {
		conn_line(v, c);
	} else if ((events & (EPOLLERR | EPOLLHUP)) && !(c->watched & EPOLLIN)) {
		if (c->pend_len) {
			conn_flush(v, c); /* fails on the dead socket and resets; c may be gone */
		} else {
			/* hang-up while we do not read: stop watching until we want to read */
			loop_del_fd(v->p.loop, c->fd);
			c->watched = 0;
		}
	} else if ((events & EPOLLOUT) && c->pend_len) {
		conn_flush(v, c); /* c may be gone */
	} else if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		conn_read(v, c);
		conn_watch(c);
	}
	virtio_mmio_unlock(v->vdev);
}

static void listen_cb(struct loop *l, int fd, uint32_t events, void *arg)
{
	struct virtio_vsock *v = arg;
	struct vconn *c;
	int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (cfd < 0)
		return;
	virtio_mmio_lock(v->vdev);
	if (!(virtio_mmio_status(v->vdev) & VIRTIO_STATUS_DRIVER_OK) ||
	    !(c = conn_new(v, cfd, C_LINE))) {
		close(cfd); /* no driver yet, or too many connections */
	} else {
		conn_watch(c);
	}
	virtio_mmio_unlock(v->vdev);
}

/* ---- packets from the guest ---------------------------------------------------------------- */

static int connect_host(struct virtio_vsock *v, uint32_t port)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd, n;

	n = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s_%u", v->path, port);
	if (n < 0 || (size_t)n >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		n = -errno;
		close(fd);
		return n;
	}
	return fd;
}

static void guest_packet(struct virtio_vsock *v, const struct vsock_hdr *h, const struct vq_elem *e)
{
	struct vconn *c;
	struct vsock_hdr r;
	int fd;

	if (h->src_cid != v->p.guest_cid || h->dst_cid != VSOCK_HOST_CID ||
	    h->type != VSOCK_TYPE_STREAM) {
		if (h->op != OP_RST)
			send_rst(v, h->dst_port, h->src_port);
		return;
	}
	c = conn_find(v, h->dst_port, h->src_port);
	if (c) {
		c->peer_buf_alloc = h->buf_alloc;
		c->peer_fwd_cnt = h->fwd_cnt;
	}
	switch (h->op) {
	case OP_REQUEST:
		if (c) {
			send_rst(v, h->dst_port, h->src_port);
			return;
		}
		fd = connect_host(v, h->dst_port);
		if (fd < 0 || !(c = conn_new(v, fd, C_ESTABLISHED))) {
			if (fd >= 0)
				close(fd);
			send_rst(v, h->dst_port, h->src_port);
			return;
		}
		c->local_port = h->dst_port;
		c->peer_port = h->src_port;
		c->peer_buf_alloc = h->buf_alloc;
		c->peer_fwd_cnt = h->fwd_cnt;
		make_hdr(v, &r, c->local_port, c->peer_port, OP_RESPONSE, c);
		ctrl_send(v, &r);
		conn_watch(c);
		break;
	case OP_RESPONSE:
		if (!c || c->state != C_REQUESTED) {
			send_rst(v, h->dst_port, h->src_port);
			return;
		}
		c->state = C_ESTABLISHED;
		{
			char ok[32];
			int n = snprintf(ok, sizeof(ok), "OK %u\n", c->local_port);

			if (send(c->fd, ok, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) != n) {
				send_rst(v, c->local_port, c->peer_port);
				conn_free(v, c);
				return;
			}
		}
		if (c->early_len)
			conn_read(v, c);
		conn_watch(c);
		break;
	case OP_RW:
		if (!c || c->state != C_ESTABLISHED) {
			send_rst(v, h->dst_port, h->src_port);
			return;
		}
		/* The guest must stay within the credit we gave. */
		if (h->len > VSOCK_BUF_ALLOC - c->pend_len) {
			send_rst(v, c->local_port, c->peer_port);
			conn_free(v, c);
			return;
		}
		c->pend_len += vq_read_out(e, VSOCK_HDR, c->pend + c->pend_len, h->len);
		conn_flush(v, c);
		break;
	case OP_CREDIT_REQUEST:
		if (c) {
			make_hdr(v, &r, c->local_port, c->peer_port, OP_CREDIT_UPDATE, c);
			c->fwd_reported = c->fwd_cnt;
			ctrl_send(v, &r);
		}
		break;
	case OP_CREDIT_UPDATE:
		if (c)
			conn_watch(c); /* more credit: read the socket again */
		break;
	case OP_SHUTDOWN:
		if (!c)
			break;
		if ((h->flags & (SHUT_F_RCV | SHUT_F_SEND)) == (SHUT_F_RCV | SHUT_F_SEND)) {
			send_rst(v, c->local_port, c->peer_port);
			conn_free(v, c);
		} else if (h->flags & SHUT_F_SEND) {
			shutdown(c->fd, SHUT_WR);
		}
		break;
	case OP_RST:
		if (c)
			conn_free(v, c);
		break;
	default:
		send_rst(v, h->dst_port, h->src_port);
		break;
	}
}

static void vsock_tx(struct virtio_vsock *v)
{
	struct virtq *vq = virtio_mmio_queue(v->vdev, VSOCK_TX);
	uint8_t raw[VSOCK_HDR];
	struct vsock_hdr h;
	bool pushed = false;
	int ret;

	if (!vq)
		return;
	for (;;) {
		if (!v->elem && !(v->elem = malloc(sizeof(*v->elem))))
			break;
		ret = vq_pop(vq, v->elem);
		if (ret == 0)
			break;
		if (ret < 0) {
			virtio_mmio_needs_reset(v->vdev);
			break;
		}
		if (vq_read_out(v->elem, 0, raw, VSOCK_HDR) == VSOCK_HDR) {
			hdr_decode(raw, &h);
			/* the payload must be what the header says */
			if (h.len <= VSOCK_BUF_ALLOC && v->elem->out_bytes == VSOCK_HDR + h.len)
				guest_packet(v, &h, v->elem);
			else if (h.op != OP_RST)
				send_rst(v, h.dst_port, h.src_port);
		}
		vq_push(vq, v->elem->head, 0);
		pushed = true;
	}
	if (pushed)
		virtio_mmio_notify(v->vdev, VSOCK_TX);
	rx_pump(v);
}

/* ---- transport callbacks ------------------------------------------------------------------------ */

static void vsock_queue_notify(void *opaque, uint32_t q)
{
	struct virtio_vsock *v = opaque;

	if (v->vhost) /* rx and tx kicks go to vhost through the ioeventfds */
		return;
	if (q == VSOCK_TX)
		vsock_tx(v);
	else if (q == VSOCK_RX)
		rx_pump(v);
}

static void vsock_config_read(void *opaque, uint32_t off, uint8_t *data, uint32_t len)
{
	struct virtio_vsock *v = opaque;

	memcpy(data, v->config + off, len);
}

/* vhost used buffers on a queue: the transport sets its interrupt status and raises the
 * line (the guest's virtio-mmio handler reads the status, so a bare irqfd would not do). */
static void vhost_call_cb(struct loop *l, int fd, uint32_t events, void *arg)
{
	struct virtio_vsock *v = arg;
	uint64_t n;

	if (read(fd, &n, sizeof(n)) < 0)
		return;
	virtio_mmio_lock(v->vdev);
	virtio_mmio_raise_vring(v->vdev);
	virtio_mmio_unlock(v->vdev);
}

/* DRIVER_OK with the kernel backend: hand rx and tx to vhost. */
static int vsock_vhost_activate(void *opaque, struct virtio_mmio *vdev)
{
	struct virtio_vsock *v = opaque;
	struct vhost_vsock_vq vqs[VHOST_VSOCK_NR_VQS];
	struct errmsg e = {0};
	uint32_t i;
	int ret;

	for (i = 0; i < VHOST_VSOCK_NR_VQS; i++) {
		const struct virtq *q = virtio_mmio_queue(vdev, i);

		if (!q || !vq_enabled(q))
			return -EINVAL;
		vqs[i] = (struct vhost_vsock_vq){.num = q->size,
						 .last_avail = q->last_avail,
						 .desc_gpa = q->desc_gpa,
						 .avail_gpa = q->avail_gpa,
						 .used_gpa = q->used_gpa,
						 .kick_fd = v->kick_fd[i],
						 .call_fd = v->call_fd[i]};
	}
	ret = vhost_vsock_start(&v->vh, virtio_mmio_features(vdev), v->p.mem, vqs, &e);
	if (ret)
		log_error("%s: %s", v->name, errmsg_str(&e));
	return ret;
}

static void vsock_reset(void *opaque)
{
	struct virtio_vsock *v = opaque;

	if (v->vhost && vhost_vsock_stop(&v->vh))
		log_error("%s: VHOST_VSOCK_SET_RUNNING 0: %s", v->name, strerror(errno));

	while (v->conns)
		conn_free(v, v->conns);
	v->ctrl_len = 0;
}

/* ---- set-up --------------------------------------------------------------------------------------- */

static int listen_uds(struct virtio_vsock *v, struct errmsg *e)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct stat st;
	int ret;

	if (strlen(v->path) >= sizeof(sa.sun_path) - 12) {
		errmsg_set(e, "%s: uds-path %s is too long", v->name, v->path);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, v->path);
	if (lstat(v->path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			errmsg_set(e, "%s: %s exists and is not a socket", v->name, v->path);
			return -EEXIST;
		}
		unlink(v->path);
	}
	v->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (v->listen_fd < 0 || bind(v->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    chmod(v->path, 0600) < 0 || listen(v->listen_fd, 16) < 0) {
		ret = -errno;
		errmsg_set(e, "%s: listen on %s: %s", v->name, v->path, strerror(errno));
		return ret;
	}
	ret = loop_add_fd(v->p.loop, v->listen_fd, EPOLLIN, listen_cb, v);
	if (ret)
		errmsg_set(e, "%s: event loop: %s", v->name, strerror(-ret));
	return ret;
}

/* The guest CID in config space and the virtio-mmio transport, for either backend
 * (activate: the kernel backend's, NULL for the user-space one). 0 or -errno. */
static int vsock_transport_create(struct virtio_vsock *v,
				  int (*activate)(void *opaque, struct virtio_mmio *vdev),
				  struct errmsg *e)
{
	const struct virtio_vsock_params *p = &v->p;
	struct virtio_mmio_params mp;
	uint64_t cid = htole64(p->guest_cid);

	memcpy(v->config, &cid, 8);
	v->ops = (struct virtio_dev_ops){
		.name = v->name,
		.device_id = VIRTIO_ID_VSOCK,
		.num_queues = 3,
		.queue_max = 256,
		.config_size = 8,
		.config_read = vsock_config_read,
		.activate = activate,
		.reset = vsock_reset,
		.queue_notify = vsock_queue_notify,
	};
	mp = (struct virtio_mmio_params){.mem = p->mem,
					 .mmio = p->mmio,
					 .base = p->base,
					 .irq = p->irq,
					 .loop = p->loop,
					 .ops = &v->ops,
					 .opaque = v};
	v->vdev = virtio_mmio_create(&mp, e);
	return v->vdev ? 0 : -errno;
}

/* The kernel backend: /dev/vhost-vsock owns rx and tx, the guest CID is set at once (so a
 * CID in use fails at start-up); kicks are the transport's ioeventfds, and vhost's call
 * eventfds raise the transport's interrupt. */
static struct virtio_vsock *vhost_create(struct virtio_vsock *v, struct errmsg *e)
{
	const struct virtio_vsock_params *p = &v->p;
	uint32_t i;
	int ret;

	ret = vhost_vsock_open(&v->vh, &vhost_vsock_sys_ops, VHOST_VSOCK_DEV, p->guest_cid, e);
	if (ret) {
		errmsg_prefix(e, "-device vhost-vsock-device %s", p->id);
		v->vh.fd = -1;
		goto err;
	}
	v->vhost = true;
	ret = vsock_transport_create(v, vsock_vhost_activate, e);
	if (ret)
		goto err;
	for (i = 0; i < VHOST_VSOCK_NR_VQS; i++) {
		ret = virtio_mmio_take_kick_fd(v->vdev, i);
		if (ret < 0) {
			errmsg_set(e, "%s: queue %u has no kick eventfd", v->name, i);
			goto err;
		}
		v->kick_fd[i] = ret;
		v->call_fd[i] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (v->call_fd[i] < 0) {
			ret = -errno;
			errmsg_set(e, "%s: eventfd: %s", v->name, strerror(errno));
			goto err;
		}
		ret = loop_add_fd(p->loop, v->call_fd[i], EPOLLIN, vhost_call_cb, v);
		if (ret) {
			close(v->call_fd[i]);
			v->call_fd[i] = -1;
			errmsg_set(e, "%s: event loop: %s", v->name, strerror(-ret));
			goto err;
		}
	}
	return v;

err:
	virtio_vsock_destroy(v);
	errno = ret < 0 ? -ret : EIO;
	return NULL;
}

struct virtio_vsock *virtio_vsock_create(const struct virtio_vsock_params *p, struct errmsg *e)
{
	struct virtio_vsock *v = calloc(1, sizeof(*v));
	int ret;

	if (!v) {
		errmsg_set(e, "vsock: out of memory");
		return NULL;
	}
	v->p = *p;
	v->listen_fd = -1;
	v->next_port = VSOCK_EPHEMERAL_FIRST;
	snprintf(v->name, sizeof(v->name), "vhost-vsock %s", p->id);
	v->kick_fd[0] = v->kick_fd[1] = v->call_fd[0] = v->call_fd[1] = -1;
	v->vh.fd = -1;
	if (!p->uds_path)
		return vhost_create(v, e);
	v->path = str_dup(p->uds_path);
	if (!v->path) {
		ret = -ENOMEM;
		goto err;
	}
	ret = listen_uds(v, e);
	if (ret)
		goto err;
	ret = vsock_transport_create(v, NULL, e);
	if (ret)
		goto err;
	/* Guest-initiated connections open unix sockets at run time. */
	vmm_seccomp_allow("socket");
	vmm_seccomp_allow("connect");
	vmm_seccomp_allow("shutdown");
	return v;

err:
	virtio_vsock_destroy(v);
	errno = ret < 0 ? -ret : EIO;
	return NULL;
}

struct virtio_mmio *virtio_vsock_transport(struct virtio_vsock *v)
{
	return v->vdev;
}

void virtio_vsock_destroy(struct virtio_vsock *v)
{
	uint32_t i;

	if (!v)
		return;
	if (v->vdev)
		virtio_mmio_destroy(v->vdev); /* resets: closes every connection, stops vhost */
	for (i = 0; i < VHOST_VSOCK_NR_VQS; i++) {
		if (v->call_fd[i] < 0)
			continue;
		loop_del_fd(v->p.loop, v->call_fd[i]);
		close(v->call_fd[i]);
	}
	vhost_vsock_close(&v->vh);
	if (v->listen_fd >= 0) {
		loop_del_fd(v->p.loop, v->listen_fd);
		close(v->listen_fd);
		unlink(v->path);
	}
	free(v->path);
	free(v->elem);
	free(v);
}
