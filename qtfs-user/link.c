/* link: a connection's reads happen on its I/O thread; a sender with nothing queued ahead
 * writes itself (saving a wake-up and a thread hop per frame). Other frames wait in a
 * queue the thread drains. Every write holds the link's lock; for TLS every read and
 * SSL_pending does too, since an SSL object must not be used from two threads at once. */
#include "qtfs-user/link.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "log.h"

#define QTFS_LINK_RBUF (256 * 1024)

static void qtfs_link_wake(struct qtfs_link *l)
{
	uint64_t one = 1;

	if (write(l->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_debug("qtfs link: wake: %s", strerror(errno));
}

int qtfs_link_send(struct qtfs_link *l, uint8_t *frame, size_t len)
{
	struct qtfs_out *o;
	bool was_empty;
	size_t off = 0;

	pthread_mutex_lock(&l->lock);
	if (l->closed) {
		pthread_mutex_unlock(&l->lock);
		free(frame);
		return -EPIPE;
	}
	was_empty = !l->head;
	if (was_empty && l->direct) {
		/* saves waking the I/O thread for the common small frame */
		ssize_t n = xport_write(l->conn, frame, len);

		if (n == (ssize_t)len) {
			pthread_mutex_unlock(&l->lock);
			free(frame);
			return 0;
		}
		if (n > 0)
			off = (size_t)n;
		/* EAGAIN or an error: the I/O thread finishes or finds the error */
	}
	o = malloc(sizeof(*o));
	if (!o) {
		pthread_mutex_unlock(&l->lock);
		free(frame);
		/* a partly written frame cannot be dropped: end the connection */
		if (off)
			qtfs_link_close_async(l);
		return -ENOMEM;
	}
	o->next = NULL;
	o->data = frame;
	o->len = len;
	o->off = off;
	if (l->tail)
		l->tail->next = o;
	else
		l->head = o;
	l->tail = o;
	l->queued += len;
	atomic_store(&l->has_out, true);
	pthread_mutex_unlock(&l->lock);
	if (was_empty)
		qtfs_link_wake(l);
	return 0;
}

int qtfs_link_send_buf(struct qtfs_link *l, struct wire_buf *b, uint8_t type, uint32_t req)
{
	int ret = wire_frame_end(b, type, 0, req);

	if (ret) {
		wire_buf_free(b);
		return ret;
	}
	ret = qtfs_link_send(l, b->data, b->len);
	/* the frame now belongs to the queue */
	b->data = NULL;
	b->len = b->cap = 0;
	return ret;
}

/* Writes queued output until done or EAGAIN. 0, or -errno on a broken connection. */
static int qtfs_link_flush(struct qtfs_link *l)
{
	int ret = 0;

	/* only senders add output, and each wakes us after doing so: nothing is missed */
	if (!atomic_load(&l->has_out))
		return 0;
	pthread_mutex_lock(&l->lock);
	while (l->head) {
		struct qtfs_out *o = l->head;
		ssize_t n = xport_write(l->conn, o->data + o->off, o->len - o->off);

		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				ret = -errno;
			break;
		}
		o->off += (size_t)n;
		if (o->off < o->len)
			continue;
		l->head = o->next;
		if (!l->head) {
			l->tail = NULL;
			atomic_store(&l->has_out, false);
		}
		l->queued -= o->len;
		free(o->data);
		free(o);
	}
	pthread_mutex_unlock(&l->lock);
	return ret;
}

/* xport_read, serialised with the senders' writes for TLS (see the top of the file) */
static ssize_t qtfs_link_xread(struct qtfs_link *l, uint8_t *buf, size_t len)
{
	ssize_t n;
	int err;

	if (!l->ssl_lock)
		return xport_read(l->conn, buf, len);
	pthread_mutex_lock(&l->lock);
	n = xport_read(l->conn, buf, len);
	err = errno;
	pthread_mutex_unlock(&l->lock);
	errno = err;
	return n;
}

static size_t qtfs_link_pending(struct qtfs_link *l)
{
	size_t n;

	if (!l->ssl_lock)
		return xport_pending(l->conn);
	pthread_mutex_lock(&l->lock);
	n = xport_pending(l->conn);
	pthread_mutex_unlock(&l->lock);
	return n;
}

static int qtfs_link_read(struct qtfs_link *l, struct wire_decoder *d, uint8_t *buf)
{
	for (;;) {
		ssize_t n = qtfs_link_xread(l, buf, QTFS_LINK_RBUF);
		size_t off = 0;

		if (n == 0)
			return -EPIPE;
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return 0;
			return -errno;
		}
		while (off < (size_t)n) {
			struct wire_frame f;
			bool ready = false;
			ssize_t used = wire_decoder_feed(d, buf + off, (size_t)n - off, &f, &ready);

			if (used < 0) {
				log_warn("%s: malformed frame: %s; closing",
					 xport_peer_desc(l->conn), wire_strerror((int)used));
				return (int)used;
			}
			off += (size_t)used;
			if (ready)
				l->on_frame(l, &f, l->arg);
			if (atomic_load(&l->stop))
				return 0;
		}
		/* a short read of a plain socket drained it: poll, rather than a read that
		 * would only say EAGAIN (TLS may hold more than the socket shows) */
		if ((size_t)n < QTFS_LINK_RBUF && !l->ssl_lock)
			return 0;
	}
}

static void *qtfs_link_thread(void *arg)
{
	struct qtfs_link *l = arg;
	struct wire_decoder d;
	uint8_t *buf = malloc(QTFS_LINK_RBUF);
	int err = 0;

	wire_decoder_init(&d, l->max_payload);
	if (!buf)
		err = -ENOMEM;
	while (!err && !atomic_load(&l->stop)) {
		struct pollfd p[2];
		bool out;

		out = atomic_load(&l->has_out);
		p[0].fd = xport_fd(l->conn);
		p[0].events = POLLIN | (out ? POLLOUT : 0);
		p[1].fd = l->wake_fd;
		p[1].events = POLLIN;
		/* TLS may hold decrypted bytes the socket no longer shows */
		if (qtfs_link_pending(l) == 0 && poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			break;
		}
		if (p[1].revents & POLLIN) {
			uint64_t v;

			if (read(l->wake_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
				err = -errno;
		}
		if (atomic_load(&l->stop))
			break;
		err = qtfs_link_read(l, &d, buf);
		if (!err)
			err = qtfs_link_flush(l);
	}
	pthread_mutex_lock(&l->lock);
	l->closed = true;
	pthread_mutex_unlock(&l->lock);
	wire_decoder_free(&d);
	free(buf);
	if (l->on_close)
		l->on_close(l, err == -EPIPE ? 0 : err, l->arg);
	return NULL;
}

int qtfs_link_start(struct qtfs_link *l, struct xport_conn *conn, uint32_t max_payload,
		    qtfs_link_frame_cb on_frame, qtfs_link_close_cb on_close, void *arg)
{
	int ret;

	memset(l, 0, sizeof(*l));
	l->conn = conn;
	l->max_payload = max_payload;
	l->on_frame = on_frame;
	l->on_close = on_close;
	l->arg = arg;
	atomic_init(&l->stop, false);
	atomic_init(&l->has_out, false);
	pthread_mutex_init(&l->lock, NULL);
	l->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (l->wake_fd < 0) {
		pthread_mutex_destroy(&l->lock);
		return -errno;
	}
	l->inited = true;
	ret = xport_set_nonblock(conn, true);
	if (ret)
		goto err;
	l->direct = true;
	l->ssl_lock = xport_conn_kind(conn) == XPORT_TLS;
	ret = -pthread_create(&l->thread, NULL, qtfs_link_thread, l);
	if (ret)
		goto err;
	l->started = true;
	return 0;
err:
	close(l->wake_fd);
	l->wake_fd = -1;
	pthread_mutex_destroy(&l->lock);
	l->inited = false;
	l->conn = NULL; /* still the caller's */
	return ret;
}

void qtfs_link_stop(struct qtfs_link *l)
{
	struct qtfs_out *o, *n;

	if (!l->inited)
		return;
	if (l->started) {
		atomic_store(&l->stop, true);
		qtfs_link_wake(l);
		pthread_join(l->thread, NULL);
		l->started = false;
	}
	if (l->conn) {
		xport_close(l->conn);
		l->conn = NULL;
	}
	for (o = l->head; o; o = n) {
		n = o->next;
		free(o->data);
		free(o);
	}
	l->head = l->tail = NULL;
	if (l->wake_fd >= 0)
		close(l->wake_fd);
	l->wake_fd = -1;
	pthread_mutex_destroy(&l->lock);
	l->inited = false;
}

void qtfs_link_close_async(struct qtfs_link *l)
{
	atomic_store(&l->stop, true);
	qtfs_link_wake(l);
}
