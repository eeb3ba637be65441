/* wire_io: sending and receiving frames over an xport connection, and the HELLO handshake. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"
#include "xport.h"
#include "xport_impl.h"

/* Frames up to this size go out in one write (one TCP segment, one TLS record). */
#define WIRE_COALESCE_MAX 65536u
/* HELLO and ERROR frames are small; a handshake reads nothing bigger. */
#define WIRE_HANDSHAKE_MAX 4096u

static int send_until(struct xport_conn *c, uint8_t type, uint32_t stream, uint32_t request,
		      const void *payload, size_t len, uint64_t deadline)
{
	struct wire_header h = {
		.version = WIRE_VERSION,
		.type = type,
		.stream = stream,
		.request = request,
		.length = (uint32_t)len,
	};
	uint8_t small[4096];
	uint8_t *buf;
	int ret;

	if (len > WIRE_MAX_PAYLOAD)
		return -EMSGSIZE;
	if (len > 0 && !payload)
		return -EINVAL;
	if (len > WIRE_COALESCE_MAX) {
		wire_header_encode(&h, small);
		ret = xport_write_all_until(c, small, WIRE_HEADER_SIZE, deadline);
		if (!ret)
			ret = xport_write_all_until(c, payload, len, deadline);
		return ret;
	}
	buf = len + WIRE_HEADER_SIZE <= sizeof(small) ? small : malloc(len + WIRE_HEADER_SIZE);
	if (!buf)
		return -ENOMEM;
	wire_header_encode(&h, buf);
	if (len)
		memcpy(buf + WIRE_HEADER_SIZE, payload, len);
	ret = xport_write_all_until(c, buf, len + WIRE_HEADER_SIZE, deadline);
	if (buf != small)
		free(buf);
	return ret;
}

int wire_send(struct xport_conn *c, uint8_t type, uint32_t stream, uint32_t request,
	      const void *payload, size_t len)
{
	return send_until(c, type, stream, request, payload, len, 0);
}

static int recv_until(struct xport_conn *c, uint32_t max_payload, struct wire_frame *out,
		      uint64_t deadline)
{
	uint8_t hdr[WIRE_HEADER_SIZE];
	struct wire_header h;
	uint8_t *payload = NULL;
	int ret;

	memset(out, 0, sizeof(*out));
	/* Exactly the header, then exactly the payload: never past the frame's end. */
	ret = xport_read_full_until(c, hdr, sizeof(hdr), deadline);
	if (ret)
		return ret;
	ret = wire_header_decode(hdr, sizeof(hdr), max_payload, &h);
	if (ret)
		return ret;
	if (h.length > 0) {
		payload = malloc(h.length);
		if (!payload)
			return -ENOMEM;
		ret = xport_read_full_until(c, payload, h.length, deadline);
		if (ret) {
			free(payload);
			return ret;
		}
	}
	out->h = h;
	out->payload = payload;
	return 0;
}

int wire_recv(struct xport_conn *c, uint32_t max_payload, struct wire_frame *out)
{
	return recv_until(c, max_payload, out, 0);
}

static int send_error_until(struct xport_conn *c, uint32_t stream, uint32_t request, int err,
			    const char *reason, uint64_t deadline)
{
	struct wire_buf b;
	int ret;

	wire_buf_init(&b);
	ret = wire_error_encode(&b, stream, request, (uint32_t)(err < 0 ? -err : err), reason);
	if (!ret)
		ret = xport_write_all_until(c, b.data, b.len, deadline);
	wire_buf_free(&b);
	return ret;
}

int wire_send_error(struct xport_conn *c, uint32_t stream, uint32_t request, int err,
		    const char *reason)
{
	return send_error_until(c, stream, request, err, reason, 0);
}

static int handshake(struct xport_conn *c, const struct wire_hello *mine, uint8_t expect_role,
		     struct wire_hello *peer, int timeout_ms, uint64_t deadline, struct errmsg *e)
{
	struct wire_frame f = {0};
	struct wire_buf b;
	int ret;

	wire_buf_init(&b);
	ret = wire_hello_encode(&b, mine);
	if (ret) {
		errmsg_set(e, "handshake: cannot encode our HELLO (protocol '%.*s'): %s",
			   WIRE_PROTO_NAME_MAX, mine->proto, strerror(-ret));
		goto out;
	}
	ret = xport_write_all_until(c, b.data, b.len, deadline);
	if (ret) {
		errmsg_set(e, "handshake: sending HELLO: %s",
			   ret == -ETIMEDOUT ? "timed out" : strerror(-ret));
		goto out;
	}
	ret = recv_until(c, WIRE_HANDSHAKE_MAX, &f, deadline);
	if (ret == -ETIMEDOUT) {
		errmsg_set(e, "handshake: no HELLO from the peer within %d ms", timeout_ms);
		goto out;
	}
	if (ret == -EPIPE) {
		errmsg_set(e, "handshake: the peer closed the connection before its HELLO");
		goto out;
	}
	if (ret) {
		errmsg_set(e, "handshake: reading HELLO: %s", wire_strerror(ret));
		goto out;
	}
	if (f.h.type == WIRE_T_ERROR) {
		char reason[WIRE_ERROR_REASON_MAX + 1];
		uint32_t perr;

		if (wire_error_decode(&f, &perr, reason, sizeof(reason)))
			errmsg_set(e, "handshake: the peer sent a malformed ERROR frame");
		else
			errmsg_set(e, "handshake: the peer refused: %s", reason);
		ret = -EPROTO;
		goto out;
	}
	ret = wire_hello_decode(&f, peer, e);
	if (!ret)
		ret = wire_hello_check(mine, peer, expect_role, e);
	if (ret) {
		/* Tell the peer why, so both sides log the same reason. Best effort. */
		(void)send_error_until(c, 0, 0, ret, errmsg_str(e), deadline);
		errmsg_prefix(e, "handshake");
	}
out:
	wire_frame_free(&f);
	wire_buf_free(&b);
	return ret;
}

int wire_handshake(struct xport_conn *c, const struct wire_hello *mine, uint8_t expect_role,
		   struct wire_hello *peer, int timeout_ms, struct errmsg *e)
{
	struct wire_hello tmp;
	uint64_t deadline;
	int flags, ret;

	if (timeout_ms <= 0)
		timeout_ms = XPORT_DEFAULT_TIMEOUT_MS;
	deadline = xport_deadline_ms(timeout_ms);
	if (!peer)
		peer = &tmp;
	/* Non-blocking underneath so the deadline holds; the caller's mode is restored. */
	flags = fcntl(xport_fd(c), F_GETFL);
	if (flags < 0 || xport_set_nonblock(c, true)) {
		ret = -errno;
		errmsg_set(e, "handshake: fcntl: %s", strerror(errno));
		return ret;
	}
	ret = handshake(c, mine, expect_role, peer, timeout_ms, deadline, e);
	if (!(flags & O_NONBLOCK) && xport_set_nonblock(c, false) && !ret) {
		ret = -errno;
		errmsg_set(e, "handshake: fcntl: %s", strerror(errno));
	}
	return ret;
}
