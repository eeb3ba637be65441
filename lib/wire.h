/* wire: the one length-prefixed frame format, field encoding and HELLO handshake. */
#ifndef SV_WIRE_H
#define SV_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "errmsg.h"

/*
 * Frame header, 16 bytes, all integers big-endian (see docs/protocols.md):
 *   magic u16 = 0x5356 ("SV") | version u8 | type u8 |
 *   stream u32 | request u32 | length u32 (payload bytes that follow)
 */
#define WIRE_MAGIC	 0x5356u
#define WIRE_VERSION	 1u
#define WIRE_HEADER_SIZE 16u
/* Hard limit on a payload; a decoder may be given a smaller one. */
#define WIRE_MAX_PAYLOAD (4u * 1024 * 1024 + 4096)

/* Frame types 0-15 belong to the wire layer; protocols use 16-255. */
enum wire_type {
	WIRE_T_HELLO = 1,
	WIRE_T_ERROR = 2, /* u32 errno, str reason: the sender closes after it */
	WIRE_T_PING = 3,
	WIRE_T_PONG = 4,
	WIRE_T_PROTO_FIRST = 16,
};

struct wire_header {
	uint8_t version;
	uint8_t type;
	uint32_t stream;
	uint32_t request;
	uint32_t length;
};

/* Encodes a header into 16 bytes. */
void wire_header_encode(const struct wire_header *h, uint8_t out[WIRE_HEADER_SIZE]);
/*
 * Decodes a header from len bytes. 0 on success; -EAGAIN if len < 16;
 * -EBADMSG bad magic; -EPROTONOSUPPORT unknown version; -EMSGSIZE length
 * above max_payload (0 means WIRE_MAX_PAYLOAD).
 */
int wire_header_decode(const uint8_t *buf, size_t len, uint32_t max_payload, struct wire_header *h);
const char *wire_strerror(int err);

/* ---- payload building: a growable buffer with big-endian field writers ---- */
struct wire_buf {
	uint8_t *data;
	size_t len;
	size_t cap;
	int err; /* sticky: first failure (-ENOMEM, -EMSGSIZE); later puts are no-ops */
};

void wire_buf_init(struct wire_buf *b);
void wire_buf_free(struct wire_buf *b);
void wire_buf_reset(struct wire_buf *b);
void wire_put_u8(struct wire_buf *b, uint8_t v);
void wire_put_u16(struct wire_buf *b, uint16_t v);
void wire_put_u32(struct wire_buf *b, uint32_t v);
void wire_put_u64(struct wire_buf *b, uint64_t v);
void wire_put_i32(struct wire_buf *b, int32_t v);
void wire_put_i64(struct wire_buf *b, int64_t v);
/* u32 length, then the bytes. */
void wire_put_bytes(struct wire_buf *b, const void *p, size_t len);
/* A string as bytes (without the NUL); NULL encodes as length 0xffffffff. */
void wire_put_str(struct wire_buf *b, const char *s);
/* Raw bytes with no length prefix (the tail of a payload). */
void wire_put_raw(struct wire_buf *b, const void *p, size_t len);
/*
 * Builds a whole frame in b: header for the payload bytes already written
 * after a call to wire_frame_begin(). Typical use:
 *   wire_frame_begin(&b); wire_put_u32(&b, x); ...; wire_frame_end(&b, type, stream, req);
 * then send b.data/b.len. Returns 0 or the sticky error (-EMSGSIZE if the
 * payload exceeds WIRE_MAX_PAYLOAD).
 */
void wire_frame_begin(struct wire_buf *b);
int wire_frame_end(struct wire_buf *b, uint8_t type, uint32_t stream, uint32_t request);

/* ---- payload reading: bounds-checked big-endian field readers ---- */
struct wire_reader {
	const uint8_t *p;
	size_t len;
	size_t off;
	int err; /* sticky -EBADMSG after the first short read */
};

void wire_reader_init(struct wire_reader *r, const void *p, size_t len);
int wire_get_u8(struct wire_reader *r, uint8_t *v);
int wire_get_u16(struct wire_reader *r, uint16_t *v);
int wire_get_u32(struct wire_reader *r, uint32_t *v);
int wire_get_u64(struct wire_reader *r, uint64_t *v);
int wire_get_i32(struct wire_reader *r, int32_t *v);
int wire_get_i64(struct wire_reader *r, int64_t *v);
/* Points *p into the buffer (no copy) for a length-prefixed byte string. */
int wire_get_bytes(struct wire_reader *r, const uint8_t **p, uint32_t *len);
/*
 * A length-prefixed string copied into a new NUL-terminated malloc'd buffer.
 * Refuses (-EBADMSG) strings with an embedded NUL or longer than max_len
 * (0 means no limit beyond the frame). A NULL string yields *out = NULL.
 */
int wire_get_str(struct wire_reader *r, size_t max_len, char **out);
/* The unread tail, without a length prefix. */
int wire_get_rest(struct wire_reader *r, const uint8_t **p, size_t *len);
/* 0 if every byte was consumed and no error occurred, else -EBADMSG. */
int wire_reader_done(const struct wire_reader *r);

/* ---- incremental decoding of a byte stream into frames ---- */
struct wire_frame {
	struct wire_header h;
	uint8_t *payload; /* malloc'd, h.length bytes (NULL when 0); owned by the caller */
};

void wire_frame_free(struct wire_frame *f);

struct wire_decoder {
	uint32_t max_payload;
	uint8_t hdr[WIRE_HEADER_SIZE];
	size_t hdr_got;
	bool have_header;
	struct wire_header h;
	uint8_t *payload;
	size_t payload_got;
	int err; /* sticky: once malformed, the connection must be closed */
};

/* max_payload 0 means WIRE_MAX_PAYLOAD; larger values are clamped to it. */
void wire_decoder_init(struct wire_decoder *d, uint32_t max_payload);
void wire_decoder_free(struct wire_decoder *d);
/*
 * Consumes bytes from data. Returns the number consumed (>= 0) and sets
 * *ready when a whole frame was completed into *out (the caller then feeds
 * the rest of the data again). A negative return is a framing error
 * (see wire_header_decode) and is sticky.
 */
ssize_t wire_decoder_feed(struct wire_decoder *d, const void *data, size_t len,
			  struct wire_frame *out, bool *ready);

/* ---- HELLO: protocol name, version and role, exchanged at connect ---- */
#define WIRE_PROTO_NAME_MAX 32

struct wire_hello {
	char proto[WIRE_PROTO_NAME_MAX + 1]; /* "udsproxy", "rexec", "qtfs", ... */
	uint16_t version;		     /* the protocol's own version */
	uint8_t role;			     /* protocol-defined, e.g. client/server */
	uint32_t max_payload;		     /* largest payload this side accepts */
};

int wire_hello_encode(struct wire_buf *b, const struct wire_hello *h);
/* Validates field by field; -EBADMSG with a message on anything malformed. */
int wire_hello_decode(const struct wire_frame *f, struct wire_hello *h, struct errmsg *e);
/*
 * Checks that the peer speaks the same protocol and version and has the
 * expected role. -EPROTO with a message such as
 * "peer speaks rexec v2, expected rexec v1" otherwise.
 */
int wire_hello_check(const struct wire_hello *mine, const struct wire_hello *peer,
		     uint8_t expect_role, struct errmsg *e);

/* ---- ERROR: u32 errno (positive), bytes reason; the sender closes after it ---- */
#define WIRE_ERROR_REASON_MAX 480

/* Builds a whole ERROR frame in b; a longer reason is cut to WIRE_ERROR_REASON_MAX. */
int wire_error_encode(struct wire_buf *b, uint32_t stream, uint32_t request, uint32_t err,
		      const char *reason);
/*
 * Decodes an ERROR frame: *err and the reason (NUL-terminated, cut to len - 1,
 * non-printable bytes replaced by '?'). -EINVAL if f is not an ERROR frame,
 * -EBADMSG if it is malformed.
 */
int wire_error_decode(const struct wire_frame *f, uint32_t *err, char *reason, size_t len);

struct xport_conn;
/* Blocking helpers over an xport connection. */
int wire_send(struct xport_conn *c, uint8_t type, uint32_t stream, uint32_t request,
	      const void *payload, size_t len);
/*
 * Reads exactly one frame (blocking; never reads past its end, so it can be
 * mixed with other readers). 0, -EPIPE on EOF before a whole frame, a
 * wire_header_decode error, or -errno.
 */
int wire_recv(struct xport_conn *c, uint32_t max_payload, struct wire_frame *out);
/* Sends an ERROR frame (err > 0 or < 0, sent as positive) with the reason. 0 or -errno. */
int wire_send_error(struct xport_conn *c, uint32_t stream, uint32_t request, int err,
		    const char *reason);
/*
 * Sends our HELLO, reads and checks the peer's (within timeout_ms; 0 = 10 s).
 * On failure sends a WIRE_T_ERROR frame with the reason when it can.
 */
int wire_handshake(struct xport_conn *c, const struct wire_hello *mine, uint8_t expect_role,
		   struct wire_hello *peer, int timeout_ms, struct errmsg *e);

#endif
