/*
 * wire: the frame header, big-endian field writers and bounds-checked readers,
 * the incremental stream decoder, and the HELLO and ERROR payloads.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

/* ---- byte order ---------------------------------------------------------- */

static void be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)((uint16_t)p[0] << 8 | p[1]);
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* ---- header -------------------------------------------------------------- */

void wire_header_encode(const struct wire_header *h, uint8_t out[WIRE_HEADER_SIZE])
{
	be16(out, WIRE_MAGIC);
	out[2] = h->version;
	out[3] = h->type;
	be32(out + 4, h->stream);
	be32(out + 8, h->request);
	be32(out + 12, h->length);
}

static uint32_t clamp_max(uint32_t max_payload)
{
	return max_payload == 0 || max_payload > WIRE_MAX_PAYLOAD ? WIRE_MAX_PAYLOAD : max_payload;
}

/* Checks the fields a prefix of len bytes already holds (used by the decoder early). */
static int header_check_prefix(const uint8_t *buf, size_t len)
{
	if (len >= 1 && buf[0] != (uint8_t)(WIRE_MAGIC >> 8))
		return -EBADMSG;
	if (len >= 2 && rd16(buf) != WIRE_MAGIC)
		return -EBADMSG;
	if (len >= 3 && buf[2] != WIRE_VERSION)
		return -EPROTONOSUPPORT;
	return 0;
}

int wire_header_decode(const uint8_t *buf, size_t len, uint32_t max_payload, struct wire_header *h)
{
	int ret;

	if (!buf || len < WIRE_HEADER_SIZE)
		return -EAGAIN;
	ret = header_check_prefix(buf, WIRE_HEADER_SIZE);
	if (ret)
		return ret;
	if (rd32(buf + 12) > clamp_max(max_payload))
		return -EMSGSIZE;
	h->version = buf[2];
	h->type = buf[3];
	h->stream = rd32(buf + 4);
	h->request = rd32(buf + 8);
	h->length = rd32(buf + 12);
	return 0;
}

const char *wire_strerror(int err)
{
	if (err < 0)
		err = -err;
	switch (err) {
	case 0:
		return "success";
	case EAGAIN:
		return "incomplete frame header";
	case EBADMSG:
		return "malformed frame (bad magic or payload)";
	case EPROTONOSUPPORT:
		return "unsupported wire version";
	case EMSGSIZE:
		return "frame larger than the maximum payload";
	case EPIPE:
		return "connection closed in the middle of a frame";
	case EPROTO:
		return "protocol mismatch";
	default:
		return strerror(err);
	}
}

/* ---- building ------------------------------------------------------------ */

/* A buffer never grows past one whole frame of the largest payload. */
#define WIRE_BUF_LIMIT ((size_t)WIRE_HEADER_SIZE + WIRE_MAX_PAYLOAD)

void wire_buf_init(struct wire_buf *b)
{
	memset(b, 0, sizeof(*b));
}

void wire_buf_free(struct wire_buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

void wire_buf_reset(struct wire_buf *b)
{
	b->len = 0;
	b->err = 0;
}

/* Room for n more bytes, or the sticky error. Returns the write position or NULL. */
static uint8_t *buf_reserve(struct wire_buf *b, size_t n)
{
	size_t need, cap;
	uint8_t *p;

	if (b->err)
		return NULL;
	if (__builtin_add_overflow(b->len, n, &need) || need > WIRE_BUF_LIMIT) {
		b->err = -EMSGSIZE;
		return NULL;
	}
	if (need > b->cap) {
		cap = b->cap ? b->cap : 256;
		while (cap < need)
			cap *= 2; /* cannot overflow: need <= WIRE_BUF_LIMIT */
		if (cap > WIRE_BUF_LIMIT)
			cap = WIRE_BUF_LIMIT;
		p = realloc(b->data, cap);
		if (!p) {
			b->err = -ENOMEM;
			return NULL;
		}
		b->data = p;
		b->cap = cap;
	}
	p = b->data + b->len;
	b->len = need;
	return p;
}

void wire_put_u8(struct wire_buf *b, uint8_t v)
{
	uint8_t *p = buf_reserve(b, 1);

	if (p)
		p[0] = v;
}

void wire_put_u16(struct wire_buf *b, uint16_t v)
{
	uint8_t *p = buf_reserve(b, 2);

	if (p)
		be16(p, v);
}

void wire_put_u32(struct wire_buf *b, uint32_t v)
{
	uint8_t *p = buf_reserve(b, 4);

	if (p)
		be32(p, v);
}

void wire_put_u64(struct wire_buf *b, uint64_t v)
{
	uint8_t *p = buf_reserve(b, 8);

	if (p) {
		be32(p, (uint32_t)(v >> 32));
		be32(p + 4, (uint32_t)v);
	}
}

void wire_put_i32(struct wire_buf *b, int32_t v)
{
	wire_put_u32(b, (uint32_t)v);
}

void wire_put_i64(struct wire_buf *b, int64_t v)
{
	wire_put_u64(b, (uint64_t)v);
}

void wire_put_bytes(struct wire_buf *b, const void *p, size_t len)
{
	/* 0xffffffff is the NULL-string marker, so a byte string stays below it. */
	if (len >= UINT32_MAX) {
		if (!b->err)
			b->err = -EMSGSIZE;
		return;
	}
	wire_put_u32(b, (uint32_t)len);
	wire_put_raw(b, p, len);
}

void wire_put_str(struct wire_buf *b, const char *s)
{
	if (!s) {
		wire_put_u32(b, UINT32_MAX);
		return;
	}
	wire_put_bytes(b, s, strlen(s));
}

void wire_put_raw(struct wire_buf *b, const void *p, size_t len)
{
	uint8_t *dst;

	if (len == 0)
		return;
	dst = buf_reserve(b, len);
	if (dst)
		memcpy(dst, p, len);
}

void wire_frame_begin(struct wire_buf *b)
{
	uint8_t *p;

	/* A frame is always the whole buffer: the header goes at offset 0. */
	wire_buf_reset(b);
	p = buf_reserve(b, WIRE_HEADER_SIZE);
	if (p)
		memset(p, 0, WIRE_HEADER_SIZE);
}

int wire_frame_end(struct wire_buf *b, uint8_t type, uint32_t stream, uint32_t request)
{
	struct wire_header h;

	if (b->err)
		return b->err;
	if (b->len < WIRE_HEADER_SIZE) {
		b->err = -EINVAL; /* wire_frame_begin was not called */
		return b->err;
	}
	if (b->len - WIRE_HEADER_SIZE > WIRE_MAX_PAYLOAD) {
		b->err = -EMSGSIZE;
		return b->err;
	}
	h.version = WIRE_VERSION;
	h.type = type;
	h.stream = stream;
	h.request = request;
	h.length = (uint32_t)(b->len - WIRE_HEADER_SIZE);
	wire_header_encode(&h, b->data);
	return 0;
}

/* ---- reading ------------------------------------------------------------- */

void wire_reader_init(struct wire_reader *r, const void *p, size_t len)
{
	static const uint8_t empty[1];

	/* An empty payload may be NULL; never do arithmetic on a NULL pointer. */
	r->p = p ? p : empty;
	r->len = p ? len : 0;
	r->off = 0;
	r->err = 0;
}

/* The next n bytes, or NULL (and the sticky error) if fewer remain. */
static const uint8_t *rd_take(struct wire_reader *r, size_t n)
{
	const uint8_t *p;

	if (r->err)
		return NULL;
	if (n > r->len - r->off) {
		r->err = -EBADMSG;
		return NULL;
	}
	p = r->p + r->off;
	r->off += n;
	return p;
}

int wire_get_u8(struct wire_reader *r, uint8_t *v)
{
	const uint8_t *p = rd_take(r, 1);

	if (!p)
		return -EBADMSG;
	*v = p[0];
	return 0;
}

int wire_get_u16(struct wire_reader *r, uint16_t *v)
{
	const uint8_t *p = rd_take(r, 2);

	if (!p)
		return -EBADMSG;
	*v = rd16(p);
	return 0;
}

int wire_get_u32(struct wire_reader *r, uint32_t *v)
{
	const uint8_t *p = rd_take(r, 4);

	if (!p)
		return -EBADMSG;
	*v = rd32(p);
	return 0;
}

int wire_get_u64(struct wire_reader *r, uint64_t *v)
{
	const uint8_t *p = rd_take(r, 8);

	if (!p)
		return -EBADMSG;
	*v = (uint64_t)rd32(p) << 32 | rd32(p + 4);
	return 0;
}

int wire_get_i32(struct wire_reader *r, int32_t *v)
{
	uint32_t u;
	int ret = wire_get_u32(r, &u);

	if (!ret)
		*v = (int32_t)u;
	return ret;
}

int wire_get_i64(struct wire_reader *r, int64_t *v)
{
	uint64_t u;
	int ret = wire_get_u64(r, &u);

	if (!ret)
		*v = (int64_t)u;
	return ret;
}

int wire_get_bytes(struct wire_reader *r, const uint8_t **p, uint32_t *len)
{
	uint32_t n;
	const uint8_t *q;

	if (wire_get_u32(r, &n))
		return -EBADMSG;
	q = rd_take(r, n);
	if (!q)
		return -EBADMSG;
	*p = q;
	*len = n;
	return 0;
}

int wire_get_str(struct wire_reader *r, size_t max_len, char **out)
{
	uint32_t n;
	const uint8_t *q;
	char *s;

	*out = NULL;
	if (wire_get_u32(r, &n))
		return -EBADMSG;
	if (n == UINT32_MAX)
		return 0; /* a NULL string */
	if (max_len && n > max_len) {
		r->err = -EBADMSG;
		return -EBADMSG;
	}
	q = rd_take(r, n);
	if (!q)
		return -EBADMSG;
	if (memchr(q, '\0', n)) {
		r->err = -EBADMSG;
		return -EBADMSG;
	}
	s = malloc((size_t)n + 1);
	if (!s)
		return -ENOMEM;
	memcpy(s, q, n);
	s[n] = '\0';
	*out = s;
	return 0;
}

int wire_get_rest(struct wire_reader *r, const uint8_t **p, size_t *len)
{
	if (r->err)
		return -EBADMSG;
	*p = r->p + r->off;
	*len = r->len - r->off;
	r->off = r->len;
	return 0;
}

int wire_reader_done(const struct wire_reader *r)
{
	return r->err || r->off != r->len ? -EBADMSG : 0;
}

/* ---- incremental decoder ------------------------------------------------- */

void wire_frame_free(struct wire_frame *f)
{
	if (!f)
		return;
	free(f->payload);
	f->payload = NULL;
}

void wire_decoder_init(struct wire_decoder *d, uint32_t max_payload)
{
	memset(d, 0, sizeof(*d));
	d->max_payload = clamp_max(max_payload);
}

void wire_decoder_free(struct wire_decoder *d)
{
	free(d->payload);
	d->payload = NULL;
	d->payload_got = 0;
	d->have_header = false;
	d->hdr_got = 0;
}

/*
 * The payload buffer grows as bytes arrive (64 KiB, then doubling, capped at the
 * frame length) rather than being allocated at the length the header claims, so a
 * peer has to send the bytes to make us hold the memory. The allocated size is a
 * function of payload_got alone: copies stop at each step boundary, so with g
 * bytes held the buffer is cap_for(g - 1) (cap_for(0) when empty).
 */
static size_t cap_for(size_t got, size_t len)
{
	size_t c = 65536;

	while (c <= got && c < len)
		c *= 2;
	return c < len ? c : len;
}

/* Makes room for at least one more byte; 0 or -ENOMEM. *cap is the usable size. */
static int payload_room(struct wire_decoder *d, size_t *cap)
{
	size_t g = d->payload_got, have = cap_for(g ? g - 1 : 0, d->h.length);
	uint8_t *p;

	*cap = cap_for(g, d->h.length);
	if (*cap <= have)
		return 0;
	p = realloc(d->payload, *cap);
	if (!p)
		return -ENOMEM;
	d->payload = p;
	return 0;
}

ssize_t wire_decoder_feed(struct wire_decoder *d, const void *data, size_t len,
			  struct wire_frame *out, bool *ready)
{
	const uint8_t *in = data;
	size_t used = 0, n, cap;
	int ret;

	*ready = false;
	if (d->err)
		return d->err;
	/* Nothing can complete without a byte: a frame ends in the call that feeds its last one. */
	if (!in || len == 0)
		return 0;
	if (!d->have_header) {
		n = WIRE_HEADER_SIZE - d->hdr_got;
		if (n > len)
			n = len;
		memcpy(d->hdr + d->hdr_got, in, n);
		d->hdr_got += n;
		used += n;
		/* Reject a bad magic or version as soon as its bytes are in. */
		ret = header_check_prefix(d->hdr, d->hdr_got);
		if (!ret && d->hdr_got == WIRE_HEADER_SIZE)
			ret = wire_header_decode(d->hdr, WIRE_HEADER_SIZE, d->max_payload, &d->h);
		if (ret) {
			d->err = ret;
			return ret;
		}
		if (d->hdr_got < WIRE_HEADER_SIZE)
			return (ssize_t)used;
		d->have_header = true;
		d->payload_got = 0;
		if (d->h.length > 0) {
			d->payload = malloc(cap_for(0, d->h.length));
			if (!d->payload) {
				d->err = -ENOMEM;
				return d->err;
			}
		}
	}
	while (d->payload_got < d->h.length && used < len) {
		ret = payload_room(d, &cap);
		if (ret) {
			d->err = ret;
			return ret;
		}
		n = cap - d->payload_got;
		if (n > len - used)
			n = len - used;
		memcpy(d->payload + d->payload_got, in + used, n);
		d->payload_got += n;
		used += n;
	}
	if (d->payload_got == d->h.length) {
		out->h = d->h;
		out->payload = d->payload;
		d->payload = NULL;
		d->payload_got = 0;
		d->have_header = false;
		d->hdr_got = 0;
		*ready = true;
	}
	return (ssize_t)used;
}

/* ---- HELLO and ERROR ----------------------------------------------------- */

static bool proto_name_ok(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > WIRE_PROTO_NAME_MAX)
		return false;
	for (i = 0; i < n; i++) {
		char ch = s[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.'))
			return false;
	}
	return true;
}

int wire_hello_encode(struct wire_buf *b, const struct wire_hello *h)
{
	size_t n = strnlen(h->proto, sizeof(h->proto));

	if (!proto_name_ok(h->proto, n) || n == sizeof(h->proto) || h->max_payload == 0)
		return -EINVAL;
	wire_frame_begin(b);
	wire_put_str(b, h->proto);
	wire_put_u16(b, h->version);
	wire_put_u8(b, h->role);
	wire_put_u32(b, h->max_payload);
	return wire_frame_end(b, WIRE_T_HELLO, 0, 0);
}

int wire_hello_decode(const struct wire_frame *f, struct wire_hello *h, struct errmsg *e)
{
	struct wire_reader r;
	const uint8_t *name;
	uint32_t n;

	if (f->h.type != WIRE_T_HELLO) {
		errmsg_set(e, "expected a HELLO frame, got type %u", f->h.type);
		return -EBADMSG;
	}
	memset(h, 0, sizeof(*h));
	wire_reader_init(&r, f->payload, f->h.length);
	if (wire_get_bytes(&r, &name, &n) || n == UINT32_MAX) {
		errmsg_set(e, "malformed HELLO: no protocol name");
		return -EBADMSG;
	}
	if (!proto_name_ok((const char *)name, n)) {
		errmsg_set(e, "malformed HELLO: bad protocol name (1-%d of [A-Za-z0-9._-])",
			   WIRE_PROTO_NAME_MAX);
		return -EBADMSG;
	}
	memcpy(h->proto, name, n);
	h->proto[n] = '\0';
	if (wire_get_u16(&r, &h->version) || wire_get_u8(&r, &h->role) ||
	    wire_get_u32(&r, &h->max_payload)) {
		errmsg_set(e, "malformed HELLO from %s: truncated", h->proto);
		return -EBADMSG;
	}
	if (wire_reader_done(&r)) {
		errmsg_set(e, "malformed HELLO from %s: %zu trailing bytes", h->proto,
			   r.len - r.off);
		return -EBADMSG;
	}
	if (h->max_payload == 0) {
		errmsg_set(e, "malformed HELLO from %s: max_payload 0", h->proto);
		return -EBADMSG;
	}
	return 0;
}

int wire_hello_check(const struct wire_hello *mine, const struct wire_hello *peer,
		     uint8_t expect_role, struct errmsg *e)
{
	if (strcmp(mine->proto, peer->proto) != 0 || mine->version != peer->version) {
		errmsg_set(e, "peer speaks %s v%u, expected %s v%u", peer->proto, peer->version,
			   mine->proto, mine->version);
		return -EPROTO;
	}
	if (peer->role != expect_role) {
		errmsg_set(e, "peer %s v%u has role %u, expected role %u", peer->proto,
			   peer->version, peer->role, expect_role);
		return -EPROTO;
	}
	return 0;
}

int wire_error_encode(struct wire_buf *b, uint32_t stream, uint32_t request, uint32_t err,
		      const char *reason)
{
	size_t n = reason ? strnlen(reason, WIRE_ERROR_REASON_MAX) : 0;

	wire_frame_begin(b);
	wire_put_u32(b, err);
	/* Longer reasons are cut to the limit the decoder enforces. */
	wire_put_bytes(b, reason ? reason : "", n);
	return wire_frame_end(b, WIRE_T_ERROR, stream, request);
}

int wire_error_decode(const struct wire_frame *f, uint32_t *err, char *reason, size_t len)
{
	struct wire_reader r;
	const uint8_t *p;
	uint32_t n;

	if (f->h.type != WIRE_T_ERROR || !reason || len == 0)
		return -EINVAL;
	wire_reader_init(&r, f->payload, f->h.length);
	if (wire_get_u32(&r, err) || wire_get_bytes(&r, &p, &n) || wire_reader_done(&r) ||
	    n > WIRE_ERROR_REASON_MAX || memchr(p, '\0', n))
		return -EBADMSG;
	if (n >= len)
		n = (uint32_t)(len - 1);
	memcpy(reason, p, n);
	reason[n] = '\0';
	/* The reason ends up in log lines: printable ASCII only. */
	for (uint32_t i = 0; i < n; i++)
		if ((unsigned char)reason[i] < 0x20 || (unsigned char)reason[i] > 0x7e)
			reason[i] = '?';
	return 0;
}
