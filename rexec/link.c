/* rexec link: frames in and out of a non-blocking xport connection. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "link.h"
#include "proto.h"
#include "util.h"

#define LINK_RBUF (512u * 1024)

int rexec_link_init(struct rexec_link *lk, struct xport_conn *c)
{
	int ret;

	memset(lk, 0, sizeof(*lk));
	lk->conn = c;
	lk->fd = xport_fd(c);
	wire_decoder_init(&lk->dec, REXEC_MAX_PAYLOAD);
	wire_buf_init(&lk->scratch);
	lk->rbuf = malloc(LINK_RBUF);
	if (!lk->rbuf)
		return -ENOMEM;
	lk->rcap = LINK_RBUF;
	ret = xport_set_nonblock(c, true);
	return ret < 0 ? ret : 0;
}

void rexec_link_close(struct rexec_link *lk)
{
	wire_decoder_free(&lk->dec);
	wire_buf_free(&lk->scratch);
	free(lk->out);
	free(lk->rbuf);
	if (lk->conn)
		xport_close(lk->conn);
	memset(lk, 0, sizeof(*lk));
	lk->fd = -1;
}

/* Makes room for n more bytes at the tail, compacting the consumed head first. */
static int ensure(struct rexec_link *lk, size_t n)
{
	size_t need, ncap;
	uint8_t *p;

	if (lk->head && (lk->head == lk->len || lk->head > lk->cap / 2)) {
		memmove(lk->out, lk->out + lk->head, lk->len - lk->head);
		lk->len -= lk->head;
		lk->head = 0;
	}
	if (__builtin_add_overflow(lk->len, n, &need))
		return -ENOMEM;
	if (need <= lk->cap)
		return 0;
	ncap = lk->cap ? lk->cap : 65536;
	while (ncap < need) {
		if (__builtin_mul_overflow(ncap, 2, &ncap))
			return -ENOMEM;
	}
	p = realloc(lk->out, ncap);
	if (!p)
		return -ENOMEM;
	lk->out = p;
	lk->cap = ncap;
	return 0;
}

int rexec_link_queue(struct rexec_link *lk, const void *p, size_t len)
{
	int ret = ensure(lk, len);

	if (ret)
		return ret;
	memcpy(lk->out + lk->len, p, len);
	lk->len += len;
	return 0;
}

int rexec_link_queue_scratch(struct rexec_link *lk)
{
	if (lk->scratch.err)
		return lk->scratch.err;
	return rexec_link_queue(lk, lk->scratch.data, lk->scratch.len);
}

uint8_t *rexec_link_reserve(struct rexec_link *lk, size_t max)
{
	if (ensure(lk, WIRE_HEADER_SIZE + max))
		return NULL;
	return lk->out + lk->len + WIRE_HEADER_SIZE;
}

void rexec_link_commit(struct rexec_link *lk, uint8_t type, size_t len)
{
	struct wire_header h = {
		.version = WIRE_VERSION,
		.type = type,
		.length = (uint32_t)len,
	};

	wire_header_encode(&h, lk->out + lk->len);
	lk->len += WIRE_HEADER_SIZE + len;
}

size_t rexec_link_queued(const struct rexec_link *lk)
{
	return lk->len - lk->head;
}

int rexec_link_flush(struct rexec_link *lk)
{
	while (lk->head < lk->len) {
		ssize_t n = xport_write(lk->conn, lk->out + lk->head, lk->len - lk->head);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return -errno;
		}
		lk->head += (size_t)n;
	}
	lk->head = lk->len = 0;
	return 0;
}

int rexec_link_flush_all(struct rexec_link *lk, int timeout_ms)
{
	uint64_t deadline = now_ms() + (uint64_t)timeout_ms;
	int ret;

	for (;;) {
		struct pollfd pfd = {.fd = lk->fd, .events = POLLOUT};
		uint64_t now;

		ret = rexec_link_flush(lk);
		if (ret || !rexec_link_queued(lk))
			return ret;
		now = now_ms();
		if (now >= deadline)
			return -ETIMEDOUT;
		if (poll(&pfd, 1, (int)(deadline - now)) < 0 && errno != EINTR)
			return -errno;
	}
}

int rexec_link_read(struct rexec_link *lk, rexec_frame_cb cb, void *arg)
{
	for (;;) {
		ssize_t n = xport_read(lk->conn, lk->rbuf, lk->rcap);
		size_t off = 0;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return -errno;
		}
		if (n == 0)
			return -EPIPE;
		while (off < (size_t)n) {
			struct wire_frame f = {0};
			bool ready = false;
			ssize_t used = wire_decoder_feed(&lk->dec, lk->rbuf + off, (size_t)n - off,
							 &f, &ready);
			int ret;

			if (used < 0)
				return (int)used;
			off += (size_t)used;
			if (!ready) {
				if (used == 0)
					return -EBADMSG; /* no progress: never spin */
				continue;
			}
			ret = cb(arg, &f);
			wire_frame_free(&f);
			if (ret < 0)
				return ret;
		}
	}
}
