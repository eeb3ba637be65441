/* ctlmsg: encoding and strict decoding of the control-socket messages. */
#include <errno.h>
#include <string.h>

#include "ctlmsg.h"
#include "proto.h"

/* allow_empty: "" stands for none. */
static int get_str_into(struct wire_reader *r, char *dst, size_t n, int allow_empty)
{
	const uint8_t *p;
	uint32_t len;

	if (wire_get_bytes(r, &p, &len))
		return -EBADMSG;
	if (len == 0 && !allow_empty)
		return -EBADMSG;
	if (len >= n || memchr(p, 0, len))
		return -EBADMSG;
	memcpy(dst, p, len);
	dst[len] = '\0';
	return 0;
}

int udsp_ctl_put_connect(struct wire_buf *b, const struct udsp_ctl_connect *c)
{
	wire_frame_begin(b);
	wire_put_u8(b, c->socktype);
	wire_put_u32(b, c->flags);
	wire_put_str(b, c->path);
	wire_put_str(b, c->reply_to); /* "": none */
	return wire_frame_end(b, UDSP_CTL_CONNECT, 0, 0);
}

int udsp_ctl_decode_connect(const uint8_t *p, size_t len, struct udsp_ctl_connect *c,
			    struct errmsg *e)
{
	struct wire_reader r;

	memset(c, 0, sizeof(*c));
	wire_reader_init(&r, p, len);
	if (wire_get_u8(&r, &c->socktype) || wire_get_u32(&r, &c->flags) ||
	    get_str_into(&r, c->path, sizeof(c->path), 0) ||
	    get_str_into(&r, c->reply_to, sizeof(c->reply_to), 1) || wire_reader_done(&r)) {
		errmsg_set(e, "CONNECT: malformed request");
		return -EBADMSG;
	}
	if (c->socktype < UDSP_SOCK_STREAM || c->socktype > UDSP_SOCK_DGRAM) {
		errmsg_set(e, "CONNECT: unknown socket type %u", c->socktype);
		return -EBADMSG;
	}
	if (udsp_path_check(c->path) || (c->reply_to[0] && udsp_path_check(c->reply_to))) {
		errmsg_set(e, "CONNECT: bad socket address");
		return -EBADMSG;
	}
	if (c->flags & ~UDSP_CTL_F_ASYNC) {
		errmsg_set(e, "CONNECT: unknown flags 0x%x", c->flags);
		return -EBADMSG;
	}
	return 0;
}

int udsp_ctl_put_result(struct wire_buf *b, uint32_t err, const char *shared)
{
	wire_frame_begin(b);
	wire_put_u32(b, err);
	wire_put_str(b, shared ? shared : "");
	return wire_frame_end(b, UDSP_CTL_RESULT, 0, 0);
}

int udsp_ctl_put_pending(struct wire_buf *b, const char *shared)
{
	wire_frame_begin(b);
	wire_put_str(b, shared ? shared : "");
	return wire_frame_end(b, UDSP_CTL_PENDING, 0, 0);
}

int udsp_ctl_decode_result(const uint8_t *p, size_t len, uint32_t *err, char *shared, size_t n)
{
	struct wire_reader r;

	wire_reader_init(&r, p, len);
	if (wire_get_u32(&r, err) || get_str_into(&r, shared, n, 1) || wire_reader_done(&r))
		return -EBADMSG;
	if (*err > 4095)
		return -EBADMSG;
	return 0;
}
