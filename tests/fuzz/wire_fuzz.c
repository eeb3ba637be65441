/*
 * libFuzzer target for lib/wire.c: the header decoder, the incremental stream
 * decoder fed in input-chosen chunk sizes, and every payload reader (field
 * getters, HELLO and ERROR decoding) on the frames it produces.
 *
 * Input: byte 0 picks the decoder's max_payload, byte 1 the chunk size; the rest
 * is the byte stream.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

static void walk_payload(const uint8_t *p, size_t len)
{
	struct wire_reader r;
	size_t i;

	/* The payload's own bytes choose the sequence of getters. */
	wire_reader_init(&r, p, len);
	for (i = 0; i < 64 && r.err == 0 && r.off < r.len; i++) {
		uint8_t op = p[i % len];
		uint8_t u8;
		uint16_t u16;
		uint32_t u32;
		uint64_t u64;
		int32_t i32;
		int64_t i64;
		const uint8_t *bp;
		size_t rest;
		char *s = NULL;

		switch (op % 10) {
		case 0:
			wire_get_u8(&r, &u8);
			break;
		case 1:
			wire_get_u16(&r, &u16);
			break;
		case 2:
			wire_get_u32(&r, &u32);
			break;
		case 3:
			wire_get_u64(&r, &u64);
			break;
		case 4:
			wire_get_i32(&r, &i32);
			break;
		case 5:
			wire_get_i64(&r, &i64);
			break;
		case 6:
			if (wire_get_bytes(&r, &bp, &u32) == 0 && u32 > 0 &&
			    (bp < p || bp + u32 > p + len))
				abort(); /* must point inside the payload */
			break;
		case 7:
			if (wire_get_str(&r, op & 0x10 ? 16 : 0, &s) == 0 && s && (op & 0x10) &&
			    strlen(s) > 16)
				abort();
			free(s);
			break;
		case 8:
			wire_get_rest(&r, &bp, &rest);
			break;
		default:
			(void)wire_reader_done(&r);
		}
	}
}

static void check_frame(const struct wire_frame *f, uint32_t max)
{
	struct wire_hello h, h2;
	struct errmsg e;
	char reason[64];
	uint32_t err;

	if (f->h.length > max || (f->h.length > 0 && !f->payload))
		abort();
	if (f->payload)
		walk_payload(f->payload, f->h.length);
	if (wire_hello_decode(f, &h, &e) == 0) {
		/* whatever decodes re-encodes to something that decodes the same */
		struct wire_buf b;
		struct wire_frame g;

		wire_buf_init(&b);
		if (wire_hello_encode(&b, &h) != 0)
			abort();
		if (wire_header_decode(b.data, b.len, 0, &g.h) != 0)
			abort();
		g.payload = b.data + WIRE_HEADER_SIZE;
		if (wire_hello_decode(&g, &h2, &e) != 0 || strcmp(h.proto, h2.proto) ||
		    h.version != h2.version || h.role != h2.role || h.max_payload != h2.max_payload)
			abort();
		(void)wire_hello_check(&h, &h2, h.role, &e);
		wire_buf_free(&b);
	}
	if (f->h.type == WIRE_T_ERROR && wire_error_decode(f, &err, reason, sizeof(reason)) == 0 &&
	    strlen(reason) >= sizeof(reason))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint32_t maxes[] = {0, 16, 64, 4096, 65536, 1};
	struct wire_decoder d;
	struct wire_header h;
	uint32_t max;
	size_t chunk, off = 0;

	if (size < 2)
		return 0;
	max = maxes[data[0] % (sizeof(maxes) / sizeof(maxes[0]))];
	chunk = (size_t)data[1] + 1;
	data += 2;
	size -= 2;

	(void)wire_header_decode(data, size, max, &h);

	wire_decoder_init(&d, max);
	if (max == 0)
		max = WIRE_MAX_PAYLOAD;
	while (off < size) {
		size_t n = size - off < chunk ? size - off : chunk;
		struct wire_frame f = {0};
		bool ready = false;
		ssize_t r = wire_decoder_feed(&d, data + off, n, &f, &ready);

		if (r < 0)
			break;
		if ((size_t)r > n)
			abort();
		off += (size_t)r;
		if (ready) {
			check_frame(&f, max);
			wire_frame_free(&f);
		} else if (r == 0) {
			abort(); /* no progress on non-empty input */
		}
	}
	wire_decoder_free(&d);
	return 0;
}
