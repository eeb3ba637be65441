/* Unit tests for rexec/link: frames queued on one end of a socketpair arrive whole and in
 * order through partial non-blocking writes; a malformed stream and EOF are reported. */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "rexec/link.h"
#include "rexec/proto.h"

struct got {
	size_t n;
	uint8_t types[64];
	size_t lens[64];
	uint64_t sum; /* of every payload byte, position-weighted */
};

static int collect(void *arg, const struct wire_frame *f)
{
	struct got *g = arg;
	size_t i;

	if (g->n >= 64)
		return -E2BIG;
	g->types[g->n] = f->h.type;
	g->lens[g->n] = f->h.length;
	for (i = 0; f->h.type == REXEC_T_STDOUT && i < f->h.length; i++)
		g->sum += (uint64_t)f->payload[i] * (i + 1);
	g->n++;
	return 0;
}

static void pair(struct rexec_link *a, struct rexec_link *b)
{
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(rexec_link_init(a, xport_conn_from_fd(sv[0], XPORT_UNIX)), 0);
	assert_int_equal(rexec_link_init(b, xport_conn_from_fd(sv[1], XPORT_UNIX)), 0);
}

static void test_data_and_control_frames_arrive_whole_and_in_order(void **state)
{
	struct rexec_link a, b;
	struct got g = {0};
	uint64_t want = 0;
	size_t i, j;

	pair(&a, &b);
	for (i = 0; i < 6; i++) {
		size_t len = REXEC_DATA_CHUNK - i * 1000;
		uint8_t *p = rexec_link_reserve(&a, REXEC_DATA_CHUNK);

		assert_non_null(p);
		for (j = 0; j < len; j++) {
			p[j] = (uint8_t)(i * 31 + j * 7);
			want += (uint64_t)p[j] * (j + 1);
		}
		rexec_link_commit(&a, REXEC_T_STDOUT, len);
		assert_int_equal(rexec_enc_u32(&a.scratch, REXEC_T_CREDIT, (uint32_t)i + 1), 0);
		assert_int_equal(rexec_link_queue_scratch(&a), 0);
	}
	/* Far more than a socket buffer: flush and read in turns until all is across. */
	while (g.n < 12) {
		assert_int_equal(rexec_link_flush(&a), 0);
		assert_int_equal(rexec_link_read(&b, collect, &g), 0);
	}
	assert_int_equal(rexec_link_queued(&a), 0);
	for (i = 0; i < 6; i++) {
		assert_int_equal(g.types[2 * i], REXEC_T_STDOUT);
		assert_int_equal(g.lens[2 * i], REXEC_DATA_CHUNK - i * 1000);
		assert_int_equal(g.types[2 * i + 1], REXEC_T_CREDIT);
	}
	assert_true(g.sum == want);
	rexec_link_close(&a);
	rexec_link_close(&b);
}

static void test_a_malformed_stream_is_an_error_not_a_frame(void **state)
{
	struct rexec_link a, b;
	struct got g = {0};
	int ret;

	pair(&a, &b);
	assert_int_equal(write(a.fd, "this is not a frame at all", 26), 26);
	ret = rexec_link_read(&b, collect, &g);
	assert_true(ret < 0 && ret != -EPIPE);
	assert_int_equal(g.n, 0);
	rexec_link_close(&a);
	rexec_link_close(&b);
}

static void test_eof_is_reported_after_the_last_frame(void **state)
{
	struct rexec_link a, b;
	struct got g = {0};

	pair(&a, &b);
	assert_int_equal(rexec_enc_empty(&a.scratch, REXEC_T_OK), 0);
	assert_int_equal(rexec_link_queue_scratch(&a), 0);
	assert_int_equal(rexec_link_flush_all(&a, 1000), 0);
	rexec_link_close(&a);
	assert_int_equal(rexec_link_read(&b, collect, &g), -EPIPE);
	assert_int_equal(g.n, 1);
	assert_int_equal(g.types[0], REXEC_T_OK);
	rexec_link_close(&b);
}

static void test_a_frame_above_the_maximum_is_refused_before_its_payload(void **state)
{
	struct rexec_link a, b;
	struct wire_header h = {
		.version = WIRE_VERSION, .type = REXEC_T_STDIN, .length = REXEC_MAX_PAYLOAD + 1};
	uint8_t hdr[WIRE_HEADER_SIZE];
	struct got g = {0};

	pair(&a, &b);
	wire_header_encode(&h, hdr);
	assert_int_equal(write(a.fd, hdr, sizeof(hdr)), (ssize_t)sizeof(hdr));
	assert_int_equal(rexec_link_read(&b, collect, &g), -EMSGSIZE);
	rexec_link_close(&a);
	rexec_link_close(&b);
}

static void test_a_callback_error_stops_reading(void **state)
{
	struct rexec_link a, b;
	struct got g = {.n = 64};

	pair(&a, &b);
	assert_int_equal(rexec_enc_empty(&a.scratch, REXEC_T_OK), 0);
	assert_int_equal(rexec_link_queue_scratch(&a), 0);
	assert_int_equal(rexec_link_flush_all(&a, 1000), 0);
	assert_int_equal(rexec_link_read(&b, collect, &g), -E2BIG);
	rexec_link_close(&a);
	rexec_link_close(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_data_and_control_frames_arrive_whole_and_in_order),
		cmocka_unit_test(test_a_malformed_stream_is_an_error_not_a_frame),
		cmocka_unit_test(test_eof_is_reported_after_the_last_frame),
		cmocka_unit_test(test_a_frame_above_the_maximum_is_refused_before_its_payload),
		cmocka_unit_test(test_a_callback_error_stops_reading),
	};

	return cmocka_run_group_tests_name("rexec_link", tests, NULL, NULL);
}
