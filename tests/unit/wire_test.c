/* Unit tests for lib/wire.c and lib/wire_io.c: header, fields, decoder, HELLO, framing I/O. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "wire.h"
#include "xport.h"

static const uint8_t hello_frame_hdr[16] = {0x53, 0x56, 1, 7, 0, 0, 0, 9, 0, 0, 1, 2, 0, 0, 0, 3};

static void test_wire_header_encodes_big_endian_fields_in_order(void **state)
{
	struct wire_header h = {
		.version = 1, .type = 7, .stream = 9, .request = 0x102, .length = 3};
	uint8_t out[WIRE_HEADER_SIZE];

	wire_header_encode(&h, out);
	assert_memory_equal(out, hello_frame_hdr, sizeof(out));
}

static void test_wire_header_decode_round_trips(void **state)
{
	struct wire_header h;

	assert_int_equal(wire_header_decode(hello_frame_hdr, 16, 0, &h), 0);
	assert_int_equal(h.version, 1);
	assert_int_equal(h.type, 7);
	assert_int_equal(h.stream, 9);
	assert_int_equal(h.request, 0x102);
	assert_int_equal(h.length, 3);
}

static void test_wire_header_decode_rejects_short_bad_magic_version_and_size(void **state)
{
	uint8_t b[16];
	struct wire_header h;

	memcpy(b, hello_frame_hdr, 16);
	assert_int_equal(wire_header_decode(b, 15, 0, &h), -EAGAIN);
	b[1] = 0x57;
	assert_int_equal(wire_header_decode(b, 16, 0, &h), -EBADMSG);
	memcpy(b, hello_frame_hdr, 16);
	b[2] = 2;
	assert_int_equal(wire_header_decode(b, 16, 0, &h), -EPROTONOSUPPORT);
	memcpy(b, hello_frame_hdr, 16);
	assert_int_equal(wire_header_decode(b, 16, 2, &h), -EMSGSIZE);
	assert_int_equal(wire_header_decode(b, 16, 3, &h), 0);
	/* length just above the hard maximum, with a bigger max_payload clamped */
	b[12] = 0x00, b[13] = 0x40, b[14] = 0x10, b[15] = 0x01;
	assert_int_equal(wire_header_decode(b, 16, UINT32_MAX, &h), -EMSGSIZE);
	b[15] = 0x00;
	assert_int_equal(wire_header_decode(b, 16, UINT32_MAX, &h), 0);
	assert_int_equal(h.length, WIRE_MAX_PAYLOAD);
}

static void test_wire_fields_round_trip_in_big_endian(void **state)
{
	struct wire_buf b;
	struct wire_reader r;
	uint8_t u8;
	uint16_t u16;
	uint32_t u32, blen;
	uint64_t u64;
	int32_t i32;
	int64_t i64;
	const uint8_t *bp, *rest;
	size_t rest_len;
	char *s, *ns;

	wire_buf_init(&b);
	wire_put_u8(&b, 0xab);
	wire_put_u16(&b, 0x1234);
	wire_put_u32(&b, 0xdeadbeef);
	wire_put_u64(&b, 0x0102030405060708ull);
	wire_put_i32(&b, -2);
	wire_put_i64(&b, -3);
	wire_put_bytes(&b, "xyz", 3);
	wire_put_str(&b, "hello");
	wire_put_str(&b, NULL);
	wire_put_raw(&b, "tail", 4);
	assert_int_equal(b.err, 0);
	assert_int_equal(b.len, 1 + 2 + 4 + 8 + 4 + 8 + 7 + 9 + 4 + 4);
	assert_int_equal(b.data[1], 0x12);
	assert_int_equal(b.data[2], 0x34);
	assert_int_equal(b.data[7], 0x01);

	wire_reader_init(&r, b.data, b.len);
	assert_int_equal(wire_get_u8(&r, &u8), 0);
	assert_int_equal(u8, 0xab);
	assert_int_equal(wire_get_u16(&r, &u16), 0);
	assert_int_equal(u16, 0x1234);
	assert_int_equal(wire_get_u32(&r, &u32), 0);
	assert_int_equal(u32, 0xdeadbeef);
	assert_int_equal(wire_get_u64(&r, &u64), 0);
	assert_true(u64 == 0x0102030405060708ull);
	assert_int_equal(wire_get_i32(&r, &i32), 0);
	assert_int_equal(i32, -2);
	assert_int_equal(wire_get_i64(&r, &i64), 0);
	assert_true(i64 == -3);
	assert_int_equal(wire_get_bytes(&r, &bp, &blen), 0);
	assert_int_equal(blen, 3);
	assert_memory_equal(bp, "xyz", 3);
	assert_int_equal(wire_get_str(&r, 0, &s), 0);
	assert_string_equal(s, "hello");
	free(s);
	assert_int_equal(wire_get_str(&r, 0, &ns), 0);
	assert_null(ns);
	assert_int_equal(wire_reader_done(&r), -EBADMSG); /* tail unread */
	assert_int_equal(wire_get_rest(&r, &rest, &rest_len), 0);
	assert_int_equal(rest_len, 4);
	assert_memory_equal(rest, "tail", 4);
	assert_int_equal(wire_reader_done(&r), 0);
	wire_buf_free(&b);
}

static void test_wire_reader_short_read_is_sticky(void **state)
{
	const uint8_t data[3] = {1, 2, 3};
	struct wire_reader r;
	uint32_t v = 77;
	uint8_t u8;

	wire_reader_init(&r, data, sizeof(data));
	assert_int_equal(wire_get_u32(&r, &v), -EBADMSG);
	assert_int_equal(v, 77);
	/* a byte is there, but the reader already failed */
	assert_int_equal(wire_get_u8(&r, &u8), -EBADMSG);
	assert_int_equal(wire_reader_done(&r), -EBADMSG);
}

static void test_wire_get_str_refuses_embedded_nul_and_overlong(void **state)
{
	struct wire_buf b;
	struct wire_reader r;
	char *s = (char *)1;

	wire_buf_init(&b);
	wire_put_bytes(&b, "ab\0cd", 5);
	wire_reader_init(&r, b.data, b.len);
	assert_int_equal(wire_get_str(&r, 0, &s), -EBADMSG);
	assert_null(s);

	wire_buf_reset(&b);
	wire_put_str(&b, "abcdef");
	wire_reader_init(&r, b.data, b.len);
	assert_int_equal(wire_get_str(&r, 5, &s), -EBADMSG);
	wire_reader_init(&r, b.data, b.len);
	assert_int_equal(wire_get_str(&r, 6, &s), 0);
	assert_string_equal(s, "abcdef");
	free(s);

	/* a length prefix claiming more than the frame holds */
	wire_buf_reset(&b);
	wire_put_u32(&b, 100);
	wire_put_raw(&b, "abc", 3);
	wire_reader_init(&r, b.data, b.len);
	assert_int_equal(wire_get_str(&r, 0, &s), -EBADMSG);
	assert_null(s);
	wire_buf_free(&b);
}

static void test_wire_frame_end_writes_header_for_payload(void **state)
{
	struct wire_buf b;
	struct wire_header h;

	wire_buf_init(&b);
	assert_int_equal(wire_frame_end(&b, 20, 1, 2), -EINVAL); /* no begin */
	wire_frame_begin(&b);
	wire_put_u32(&b, 5);
	assert_int_equal(wire_frame_end(&b, 20, 1, 2), 0);
	assert_int_equal(b.len, 20);
	assert_int_equal(wire_header_decode(b.data, b.len, 0, &h), 0);
	assert_int_equal(h.type, 20);
	assert_int_equal(h.stream, 1);
	assert_int_equal(h.request, 2);
	assert_int_equal(h.length, 4);
	wire_buf_free(&b);
}

static void test_wire_frame_end_rejects_payload_over_max(void **state)
{
	struct wire_buf b;
	static uint8_t big[WIRE_MAX_PAYLOAD + 1];

	wire_buf_init(&b);
	wire_frame_begin(&b);
	wire_put_raw(&b, big, sizeof(big));
	assert_int_equal(b.err, -EMSGSIZE);
	wire_put_u8(&b, 1); /* sticky: a no-op */
	assert_int_equal(wire_frame_end(&b, 20, 0, 0), -EMSGSIZE);
	/* exactly the maximum is fine */
	wire_frame_begin(&b);
	wire_put_raw(&b, big, WIRE_MAX_PAYLOAD);
	assert_int_equal(wire_frame_end(&b, 20, 0, 0), 0);
	assert_int_equal(b.len, WIRE_HEADER_SIZE + WIRE_MAX_PAYLOAD);
	wire_buf_free(&b);
}

/* Builds frame i of a test stream: type 16+i, payload of i*3 bytes of value i. */
static void build_frame(struct wire_buf *b, unsigned i)
{
	wire_frame_begin(b);
	for (unsigned k = 0; k < i * 3; k++)
		wire_put_u8(b, (uint8_t)i);
	assert_int_equal(wire_frame_end(b, (uint8_t)(16 + i), i, i * 10), 0);
}

static void check_frame(const struct wire_frame *f, unsigned i)
{
	assert_int_equal(f->h.type, 16 + i);
	assert_int_equal(f->h.stream, i);
	assert_int_equal(f->h.request, i * 10);
	assert_int_equal(f->h.length, i * 3);
	if (i == 0)
		assert_null(f->payload);
	for (unsigned k = 0; k < i * 3; k++)
		assert_int_equal(f->payload[k], i);
}

static void test_wire_decoder_handles_one_byte_at_a_time(void **state)
{
	struct wire_decoder d;
	struct wire_buf b, all;
	struct wire_frame f;
	unsigned next = 0;
	bool ready;

	wire_buf_init(&b);
	wire_buf_init(&all);
	for (unsigned i = 0; i < 5; i++) {
		build_frame(&b, i);
		wire_put_raw(&all, b.data, b.len);
	}
	wire_decoder_init(&d, 0);
	for (size_t off = 0; off < all.len; off++) {
		assert_int_equal(wire_decoder_feed(&d, all.data + off, 1, &f, &ready), 1);
		if (ready) {
			check_frame(&f, next++);
			wire_frame_free(&f);
		}
	}
	assert_int_equal(next, 5);
	wire_decoder_free(&d);
	wire_buf_free(&b);
	wire_buf_free(&all);
}

static void test_wire_decoder_splits_several_frames_in_one_buffer(void **state)
{
	struct wire_decoder d;
	struct wire_buf b, all;
	struct wire_frame f;
	unsigned next = 0;
	size_t off = 0;
	bool ready;

	wire_buf_init(&b);
	wire_buf_init(&all);
	for (unsigned i = 0; i < 4; i++) {
		build_frame(&b, i);
		wire_put_raw(&all, b.data, b.len);
	}
	wire_decoder_init(&d, 0);
	while (off < all.len) {
		ssize_t n = wire_decoder_feed(&d, all.data + off, all.len - off, &f, &ready);

		assert_true(n > 0);
		off += (size_t)n;
		assert_true(ready); /* each call stops at the end of one frame */
		check_frame(&f, next++);
		wire_frame_free(&f);
	}
	assert_int_equal(next, 4);
	wire_decoder_free(&d);
	wire_buf_free(&b);
	wire_buf_free(&all);
}

static void test_wire_decoder_rejects_oversized_length_before_payload(void **state)
{
	struct wire_decoder d;
	struct wire_frame f = {0};
	uint8_t hdr[WIRE_HEADER_SIZE];
	struct wire_header h = {.version = 1, .type = 16, .length = 101};
	bool ready;

	wire_header_encode(&h, hdr);
	wire_decoder_init(&d, 100);
	assert_int_equal(wire_decoder_feed(&d, hdr, 15, &f, &ready), 15);
	assert_int_equal(wire_decoder_feed(&d, hdr + 15, 1, &f, &ready), -EMSGSIZE);
	assert_false(ready);
	assert_null(d.payload); /* nothing was allocated for it */
	/* sticky */
	assert_int_equal(wire_decoder_feed(&d, hdr, 1, &f, &ready), -EMSGSIZE);
	wire_decoder_free(&d);
}

static void test_wire_decoder_rejects_bad_magic_at_first_byte(void **state)
{
	struct wire_decoder d;
	struct wire_frame f;
	bool ready;

	wire_decoder_init(&d, 0);
	assert_int_equal(wire_decoder_feed(&d, "G", 1, &f, &ready), -EBADMSG);
	wire_decoder_free(&d);
	wire_decoder_init(&d, 0);
	assert_int_equal(wire_decoder_feed(&d, "GET / HTTP/1.1\r\n", 16, &f, &ready), -EBADMSG);
	wire_decoder_free(&d);
	wire_decoder_init(&d, 0);
	assert_int_equal(wire_decoder_feed(&d, "SV\x09", 3, &f, &ready), -EPROTONOSUPPORT);
	wire_decoder_free(&d);
}

static void test_wire_decoder_waits_on_truncated_frame(void **state)
{
	struct wire_decoder d;
	struct wire_buf b;
	struct wire_frame f;
	bool ready;

	wire_buf_init(&b);
	build_frame(&b, 3);
	wire_decoder_init(&d, 0);
	assert_int_equal(wire_decoder_feed(&d, b.data, b.len - 1, &f, &ready), b.len - 1);
	assert_false(ready);
	assert_int_equal(wire_decoder_feed(&d, NULL, 0, &f, &ready), 0);
	assert_false(ready);
	/* the connection ends here: freeing releases the partial payload */
	wire_decoder_free(&d);
	wire_buf_free(&b);
}

static void test_wire_decoder_assembles_large_payload_in_pieces(void **state)
{
	struct wire_decoder d;
	struct wire_buf b;
	struct wire_frame f;
	size_t len = 300000, off = 0;
	bool ready = false;

	wire_buf_init(&b);
	wire_frame_begin(&b);
	for (size_t i = 0; i < len; i++)
		wire_put_u8(&b, (uint8_t)(i * 7));
	assert_int_equal(wire_frame_end(&b, 30, 0, 0), 0);
	wire_decoder_init(&d, 0);
	while (!ready) {
		size_t chunk = b.len - off < 7001 ? b.len - off : 7001;
		ssize_t n = wire_decoder_feed(&d, b.data + off, chunk, &f, &ready);

		assert_true(n >= 0);
		off += (size_t)n;
	}
	assert_int_equal(off, b.len);
	assert_int_equal(f.h.length, len);
	for (size_t i = 0; i < len; i++)
		if (f.payload[i] != (uint8_t)(i * 7))
			fail_msg("payload byte %zu differs", i);
	wire_frame_free(&f);
	wire_decoder_free(&d);
	wire_buf_free(&b);
}

static struct wire_hello hello(const char *proto, uint16_t v, uint8_t role)
{
	struct wire_hello h = {.version = v, .role = role, .max_payload = 65536};

	snprintf(h.proto, sizeof(h.proto), "%s", proto);
	return h;
}

/* Turns a built frame into a decoded wire_frame (payload copied). */
static void as_frame(const struct wire_buf *b, struct wire_frame *f)
{
	assert_int_equal(wire_header_decode(b->data, b->len, 0, &f->h), 0);
	f->payload = NULL;
	if (f->h.length) {
		f->payload = malloc(f->h.length);
		memcpy(f->payload, b->data + WIRE_HEADER_SIZE, f->h.length);
	}
}

static void test_wire_hello_round_trips(void **state)
{
	struct wire_hello in = hello("rexec", 1, 2), out;
	struct wire_buf b;
	struct wire_frame f;
	struct errmsg e = {""};

	wire_buf_init(&b);
	assert_int_equal(wire_hello_encode(&b, &in), 0);
	as_frame(&b, &f);
	assert_int_equal(f.h.type, WIRE_T_HELLO);
	assert_int_equal(wire_hello_decode(&f, &out, &e), 0);
	assert_string_equal(out.proto, "rexec");
	assert_int_equal(out.version, 1);
	assert_int_equal(out.role, 2);
	assert_int_equal(out.max_payload, 65536);
	wire_frame_free(&f);
	wire_buf_free(&b);
}

/* The example in docs/protocols.md section 4, byte for byte. */
static void test_wire_hello_bytes_match_the_documented_example(void **state)
{
	static const uint8_t doc[] = {
		0x53, 0x56, 0x01, 0x01, 0,    0,    0,	  0,	0,    0,    0,
		0,    0,    0,	  0,	0x10, 0,    0,	  0,	5,    'r',  'e',
		'x',  'e',  'c',  0x00, 0x01, 0x01, 0x00, 0x40, 0x10, 0x00,
	};
	struct wire_hello h = {
		.proto = "rexec", .version = 1, .role = 1, .max_payload = WIRE_MAX_PAYLOAD};
	struct wire_buf b;

	wire_buf_init(&b);
	assert_int_equal(wire_hello_encode(&b, &h), 0);
	assert_int_equal(b.len, sizeof(doc));
	assert_memory_equal(b.data, doc, sizeof(doc));
	wire_buf_free(&b);
}

static void test_wire_hello_decode_rejects_malformed_payloads(void **state)
{
	struct wire_buf b;
	struct wire_frame f;
	struct wire_hello out;
	struct errmsg e = {""};
	static const char *names[] = {"", "has space", "x\ty", "123456789012345678901234567890123"};

	wire_buf_init(&b);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		wire_frame_begin(&b);
		wire_put_str(&b, names[i]);
		wire_put_u16(&b, 1);
		wire_put_u8(&b, 1);
		wire_put_u32(&b, 100);
		assert_int_equal(wire_frame_end(&b, WIRE_T_HELLO, 0, 0), 0);
		as_frame(&b, &f);
		assert_int_equal(wire_hello_decode(&f, &out, &e), -EBADMSG);
		wire_frame_free(&f);
	}
	/* trailing byte */
	wire_frame_begin(&b);
	wire_put_str(&b, "qtfs");
	wire_put_u16(&b, 1);
	wire_put_u8(&b, 1);
	wire_put_u32(&b, 100);
	wire_put_u8(&b, 0);
	assert_int_equal(wire_frame_end(&b, WIRE_T_HELLO, 0, 0), 0);
	as_frame(&b, &f);
	assert_int_equal(wire_hello_decode(&f, &out, &e), -EBADMSG);
	assert_non_null(strstr(errmsg_str(&e), "trailing"));
	wire_frame_free(&f);
	/* truncated */
	wire_frame_begin(&b);
	wire_put_str(&b, "qtfs");
	wire_put_u16(&b, 1);
	assert_int_equal(wire_frame_end(&b, WIRE_T_HELLO, 0, 0), 0);
	as_frame(&b, &f);
	assert_int_equal(wire_hello_decode(&f, &out, &e), -EBADMSG);
	wire_frame_free(&f);
	/* NULL string as the name */
	wire_frame_begin(&b);
	wire_put_str(&b, NULL);
	assert_int_equal(wire_frame_end(&b, WIRE_T_HELLO, 0, 0), 0);
	as_frame(&b, &f);
	assert_int_equal(wire_hello_decode(&f, &out, &e), -EBADMSG);
	wire_frame_free(&f);
	/* not a HELLO at all */
	wire_frame_begin(&b);
	assert_int_equal(wire_frame_end(&b, WIRE_T_PING, 0, 0), 0);
	as_frame(&b, &f);
	assert_int_equal(wire_hello_decode(&f, &out, &e), -EBADMSG);
	wire_buf_free(&b);
}

static void test_wire_hello_check_names_protocol_and_version(void **state)
{
	struct wire_hello mine = hello("rexec", 1, 1), peer = hello("rexec", 2, 2);
	struct errmsg e = {""};

	assert_int_equal(wire_hello_check(&mine, &peer, 2, &e), -EPROTO);
	assert_string_equal(errmsg_str(&e), "peer speaks rexec v2, expected rexec v1");
	peer = hello("qtfs", 1, 2);
	assert_int_equal(wire_hello_check(&mine, &peer, 2, &e), -EPROTO);
	assert_string_equal(errmsg_str(&e), "peer speaks qtfs v1, expected rexec v1");
	peer = hello("rexec", 1, 1);
	assert_int_equal(wire_hello_check(&mine, &peer, 2, &e), -EPROTO);
	assert_non_null(strstr(errmsg_str(&e), "role 1, expected role 2"));
	peer = hello("rexec", 1, 2);
	assert_int_equal(wire_hello_check(&mine, &peer, 2, &e), 0);
}

static void test_wire_error_frame_round_trips_and_rejects_garbage(void **state)
{
	struct wire_buf b;
	struct wire_frame f;
	char reason[64];
	uint32_t err;

	wire_buf_init(&b);
	assert_int_equal(wire_error_encode(&b, 3, 4, ENOENT, "no such\x01 thing"), 0);
	as_frame(&b, &f);
	assert_int_equal(f.h.stream, 3);
	assert_int_equal(wire_error_decode(&f, &err, reason, sizeof(reason)), 0);
	assert_int_equal(err, ENOENT);
	assert_string_equal(reason, "no such? thing");
	/* cut to the caller's buffer */
	assert_int_equal(wire_error_decode(&f, &err, reason, 5), 0);
	assert_string_equal(reason, "no s");
	wire_frame_free(&f);
	wire_frame_begin(&b);
	wire_put_u32(&b, 1);
	wire_put_bytes(&b, "a\0b", 3);
	assert_int_equal(wire_frame_end(&b, WIRE_T_ERROR, 0, 0), 0);
	as_frame(&b, &f);
	assert_int_equal(wire_error_decode(&f, &err, reason, sizeof(reason)), -EBADMSG);
	wire_frame_free(&f);
	wire_buf_free(&b);
}

/* ---- framing over real sockets ---- */

struct pair {
	struct xport_conn *a, *b;
};

static void socket_pair(struct pair *p)
{
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	p->a = xport_conn_from_fd(sv[0], XPORT_UNIX);
	p->b = xport_conn_from_fd(sv[1], XPORT_UNIX);
	assert_non_null(p->a);
	assert_non_null(p->b);
}

static void test_wire_send_recv_round_trip_over_socket(void **state)
{
	struct pair p;
	struct wire_frame f;

	socket_pair(&p);
	assert_int_equal(wire_send(p.a, 40, 1, 2, "payload", 7), 0);
	assert_int_equal(wire_send(p.a, 41, 0, 0, NULL, 0), 0);
	assert_int_equal(wire_recv(p.b, 0, &f), 0);
	assert_int_equal(f.h.type, 40);
	assert_int_equal(f.h.length, 7);
	assert_memory_equal(f.payload, "payload", 7);
	wire_frame_free(&f);
	assert_int_equal(wire_recv(p.b, 0, &f), 0);
	assert_int_equal(f.h.type, 41);
	assert_null(f.payload);
	xport_close(p.a);
	assert_int_equal(wire_recv(p.b, 0, &f), -EPIPE);
	xport_close(p.b);
}

/* A writer that dribbles a frame out one byte per write. */
static void *dribble(void *arg)
{
	struct xport_conn *c = arg;
	struct wire_buf b;

	wire_buf_init(&b);
	wire_frame_begin(&b);
	wire_put_str(&b, "partial reads");
	if (wire_frame_end(&b, 50, 5, 6) == 0)
		for (size_t i = 0; i < b.len; i++) {
			if (xport_write_all(c, b.data + i, 1))
				break;
			usleep(200);
		}
	wire_buf_free(&b);
	return NULL;
}

static void test_wire_recv_assembles_frame_from_partial_reads(void **state)
{
	struct pair p;
	struct wire_frame f;
	struct wire_reader r;
	pthread_t t;
	char *s;

	socket_pair(&p);
	assert_int_equal(pthread_create(&t, NULL, dribble, p.a), 0);
	assert_int_equal(wire_recv(p.b, 0, &f), 0);
	pthread_join(t, NULL);
	assert_int_equal(f.h.type, 50);
	wire_reader_init(&r, f.payload, f.h.length);
	assert_int_equal(wire_get_str(&r, 0, &s), 0);
	assert_string_equal(s, "partial reads");
	free(s);
	wire_frame_free(&f);
	xport_close(p.a);
	xport_close(p.b);
}

static void test_wire_recv_reports_truncated_and_oversized_frames(void **state)
{
	struct pair p;
	struct wire_frame f;
	struct wire_header h = {.version = 1, .type = 16, .length = 10};
	uint8_t hdr[16];

	socket_pair(&p);
	wire_header_encode(&h, hdr);
	assert_int_equal(xport_write_all(p.a, hdr, 16), 0);
	assert_int_equal(xport_write_all(p.a, "12345", 5), 0);
	assert_int_equal(xport_shutdown_write(p.a), 0);
	assert_int_equal(wire_recv(p.b, 0, &f), -EPIPE);
	xport_close(p.a);
	xport_close(p.b);

	socket_pair(&p);
	h.length = 1000;
	wire_header_encode(&h, hdr);
	assert_int_equal(xport_write_all(p.a, hdr, 16), 0);
	assert_int_equal(wire_recv(p.b, 999, &f), -EMSGSIZE);
	assert_int_equal(wire_send(p.a, 16, 0, 0, hdr, WIRE_MAX_PAYLOAD + 1), -EMSGSIZE);
	xport_close(p.a);
	xport_close(p.b);
}

struct hs_arg {
	struct xport_conn *c;
	struct wire_hello mine;
	uint8_t expect;
	int ret;
	struct errmsg e;
	struct wire_hello peer;
};

static void *hs_thread(void *arg)
{
	struct hs_arg *a = arg;

	a->ret = wire_handshake(a->c, &a->mine, a->expect, &a->peer, 5000, &a->e);
	return NULL;
}

static void test_wire_handshake_agrees_on_matching_hello(void **state)
{
	struct pair p;
	struct hs_arg s = {.mine = hello("udsproxy", 3, 2), .expect = 1};
	struct hs_arg c = {.mine = hello("udsproxy", 3, 1), .expect = 2};
	pthread_t t;

	socket_pair(&p);
	s.c = p.a;
	c.c = p.b;
	assert_int_equal(pthread_create(&t, NULL, hs_thread, &s), 0);
	hs_thread(&c);
	pthread_join(t, NULL);
	assert_int_equal(s.ret, 0);
	assert_int_equal(c.ret, 0);
	assert_int_equal(s.peer.role, 1);
	assert_int_equal(c.peer.role, 2);
	assert_string_equal(c.peer.proto, "udsproxy");
	/* a frame after the handshake still arrives intact */
	assert_int_equal(wire_send(p.a, 16, 0, 0, "x", 1), 0);
	struct wire_frame f;
	assert_int_equal(wire_recv(p.b, 0, &f), 0);
	assert_int_equal(f.h.type, 16);
	wire_frame_free(&f);
	xport_close(p.a);
	xport_close(p.b);
}

static void test_wire_handshake_mismatch_tells_the_peer_why(void **state)
{
	struct pair p;
	struct hs_arg s = {.mine = hello("rexec", 1, 2), .expect = 1};
	struct hs_arg c = {.mine = hello("rexec", 2, 1), .expect = 2};
	struct wire_frame f;
	char reason[128];
	uint32_t err;
	pthread_t t;

	socket_pair(&p);
	s.c = p.a;
	/* The client side is driven by hand: send a v2 HELLO, read the replies. */
	assert_int_equal(pthread_create(&t, NULL, hs_thread, &s), 0);
	struct wire_buf b;
	wire_buf_init(&b);
	assert_int_equal(wire_hello_encode(&b, &c.mine), 0);
	assert_int_equal(xport_write_all(p.b, b.data, b.len), 0);
	wire_buf_free(&b);
	pthread_join(t, NULL);
	assert_int_equal(s.ret, -EPROTO);
	assert_non_null(strstr(errmsg_str(&s.e), "peer speaks rexec v2, expected rexec v1"));
	assert_int_equal(wire_recv(p.b, 0, &f), 0);
	assert_int_equal(f.h.type, WIRE_T_HELLO);
	wire_frame_free(&f);
	assert_int_equal(wire_recv(p.b, 0, &f), 0);
	assert_int_equal(f.h.type, WIRE_T_ERROR);
	assert_int_equal(wire_error_decode(&f, &err, reason, sizeof(reason)), 0);
	assert_int_equal(err, EPROTO);
	assert_string_equal(reason, "peer speaks rexec v2, expected rexec v1");
	wire_frame_free(&f);
	xport_close(p.a);
	xport_close(p.b);
}

static void test_wire_handshake_reports_peer_refusal(void **state)
{
	struct pair p;
	struct hs_arg c = {.mine = hello("qtfs", 1, 1), .expect = 2};

	socket_pair(&p);
	c.c = p.b;
	assert_int_equal(wire_send_error(p.a, 0, 0, EACCES, "not on the allowlist"), 0);
	hs_thread(&c);
	assert_int_equal(c.ret, -EPROTO);
	assert_non_null(strstr(errmsg_str(&c.e), "the peer refused: not on the allowlist"));
	xport_close(p.a);
	xport_close(p.b);
}

static void test_wire_handshake_times_out_on_silent_peer(void **state)
{
	struct pair p;
	struct wire_hello mine = hello("qtfs", 1, 1), peer;
	struct errmsg e = {""};

	socket_pair(&p);
	assert_int_equal(wire_handshake(p.b, &mine, 2, &peer, 200, &e), -ETIMEDOUT);
	assert_non_null(strstr(errmsg_str(&e), "no HELLO"));
	/* the connection is back to blocking mode */
	assert_int_equal(wire_send(p.a, 16, 0, 0, "z", 1), 0);
	xport_close(p.a);
	xport_close(p.b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wire_header_encodes_big_endian_fields_in_order),
		cmocka_unit_test(test_wire_header_decode_round_trips),
		cmocka_unit_test(test_wire_header_decode_rejects_short_bad_magic_version_and_size),
		cmocka_unit_test(test_wire_fields_round_trip_in_big_endian),
		cmocka_unit_test(test_wire_reader_short_read_is_sticky),
		cmocka_unit_test(test_wire_get_str_refuses_embedded_nul_and_overlong),
		cmocka_unit_test(test_wire_frame_end_writes_header_for_payload),
		cmocka_unit_test(test_wire_frame_end_rejects_payload_over_max),
		cmocka_unit_test(test_wire_decoder_handles_one_byte_at_a_time),
		cmocka_unit_test(test_wire_decoder_splits_several_frames_in_one_buffer),
		cmocka_unit_test(test_wire_decoder_rejects_oversized_length_before_payload),
		cmocka_unit_test(test_wire_decoder_rejects_bad_magic_at_first_byte),
		cmocka_unit_test(test_wire_decoder_waits_on_truncated_frame),
		cmocka_unit_test(test_wire_decoder_assembles_large_payload_in_pieces),
		cmocka_unit_test(test_wire_hello_round_trips),
		cmocka_unit_test(test_wire_hello_bytes_match_the_documented_example),
		cmocka_unit_test(test_wire_hello_decode_rejects_malformed_payloads),
		cmocka_unit_test(test_wire_hello_check_names_protocol_and_version),
		cmocka_unit_test(test_wire_error_frame_round_trips_and_rejects_garbage),
		cmocka_unit_test(test_wire_send_recv_round_trip_over_socket),
		cmocka_unit_test(test_wire_recv_assembles_frame_from_partial_reads),
		cmocka_unit_test(test_wire_recv_reports_truncated_and_oversized_frames),
		cmocka_unit_test(test_wire_handshake_agrees_on_matching_hello),
		cmocka_unit_test(test_wire_handshake_mismatch_tells_the_peer_why),
		cmocka_unit_test(test_wire_handshake_reports_peer_refusal),
		cmocka_unit_test(test_wire_handshake_times_out_on_silent_peer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
