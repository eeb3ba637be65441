/* Unit tests for udsproxy's per-stream credit flow control. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "udsproxy/flow.h"

#define WIN 65536u
#define MSG 4096u

/* Receives total bytes in frames of at most MSG. */
static int recv_in_frames(struct udsp_flow *f, size_t total)
{
	while (total) {
		size_t n = total < MSG ? total : MSG;
		int ret = udsp_flow_received(f, n);

		if (ret)
			return ret;
		total -= n;
	}
	return 0;
}

static void test_sender_may_not_send_before_the_peer_window_is_known(void **state)
{
	struct udsp_flow f;

	udsp_flow_init(&f, WIN, MSG);
	assert_int_equal(udsp_flow_send_room(&f, 1000), 0);
	udsp_flow_set_send_window(&f, 300);
	assert_int_equal(udsp_flow_send_room(&f, 1000), 300);
}

static void test_sending_consumes_credit_and_credit_restores_it(void **state)
{
	struct udsp_flow f;

	udsp_flow_init(&f, WIN, MSG);
	udsp_flow_set_send_window(&f, 1000);
	udsp_flow_sent(&f, 1000);
	assert_int_equal(udsp_flow_send_room(&f, 500), 0);
	assert_int_equal(udsp_flow_credit(&f, 400), 0);
	assert_int_equal(udsp_flow_send_room(&f, 500), 400);
}

static void test_credit_beyond_the_window_is_a_protocol_error(void **state)
{
	struct udsp_flow f;

	udsp_flow_init(&f, WIN, MSG);
	udsp_flow_set_send_window(&f, 1000);
	udsp_flow_sent(&f, 100);
	assert_int_equal(udsp_flow_credit(&f, 101), -EPROTO);
	assert_int_equal(udsp_flow_credit(&f, 100), 0);
	assert_int_equal(udsp_flow_credit(&f, 0xffffffffu), -EPROTO);
}

static void test_receiver_refuses_data_beyond_the_granted_window(void **state)
{
	struct udsp_flow f;

	udsp_flow_init(&f, WIN, MSG);
	assert_int_equal(recv_in_frames(&f, WIN - 1), 0);
	/* One message may overdraw what is left ... */
	assert_int_equal(udsp_flow_received(&f, MSG), 0);
	/* ... but nothing more until credit went back. */
	assert_int_equal(udsp_flow_received(&f, 1), -EPROTO);
}

static void test_a_message_larger_than_the_maximum_is_refused(void **state)
{
	struct udsp_flow f;

	udsp_flow_init(&f, WIN, MSG);
	assert_int_equal(udsp_flow_received(&f, MSG + 1), -EPROTO);
}

static void test_credit_is_returned_in_batches_of_a_quarter_window(void **state)
{
	struct udsp_flow f;

	udsp_flow_init(&f, WIN, MSG);
	assert_int_equal(recv_in_frames(&f, WIN / 8), 0);
	assert_int_equal(udsp_flow_delivered(&f, WIN / 8), 0);
	assert_int_equal(recv_in_frames(&f, WIN / 8), 0);
	assert_int_equal(udsp_flow_delivered(&f, WIN / 8), WIN / 4);
}

static void test_undelivered_bytes_hold_the_window_closed(void **state)
{
	struct udsp_flow f;

	/* A stalled local reader: everything received, nothing delivered. */
	udsp_flow_init(&f, WIN, MSG);
	assert_int_equal(recv_in_frames(&f, WIN), 0);
	assert_int_equal(f.recv_held, WIN);
	assert_int_equal(udsp_flow_received(&f, 1), -EPROTO);
	/* Delivering lets exactly that much back in. */
	assert_int_equal(udsp_flow_delivered(&f, WIN), WIN);
	assert_int_equal(recv_in_frames(&f, WIN), 0);
}

static void test_sender_and_receiver_agree_over_a_long_exchange(void **state)
{
	struct udsp_flow tx, rx;
	uint64_t moved = 0;
	unsigned i;

	udsp_flow_init(&tx, WIN, MSG);
	udsp_flow_init(&rx, WIN, MSG);
	udsp_flow_set_send_window(&tx, WIN);
	for (i = 0; i < 10000; i++) {
		size_t n = udsp_flow_send_room(&tx, 1 + (i * 7919) % MSG);
		uint32_t grant;

		if (n) {
			udsp_flow_sent(&tx, n);
			assert_int_equal(udsp_flow_received(&rx, n), 0);
			moved += n;
		}
		grant = udsp_flow_delivered(&rx, (i % 3) ? n : rx.recv_held);
		if (grant)
			assert_int_equal(udsp_flow_credit(&tx, grant), 0);
		assert_true(rx.recv_held <= WIN + MSG);
	}
	assert_true(moved > 10 * WIN);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sender_may_not_send_before_the_peer_window_is_known),
		cmocka_unit_test(test_sending_consumes_credit_and_credit_restores_it),
		cmocka_unit_test(test_credit_beyond_the_window_is_a_protocol_error),
		cmocka_unit_test(test_receiver_refuses_data_beyond_the_granted_window),
		cmocka_unit_test(test_a_message_larger_than_the_maximum_is_refused),
		cmocka_unit_test(test_credit_is_returned_in_batches_of_a_quarter_window),
		cmocka_unit_test(test_undelivered_bytes_hold_the_window_closed),
		cmocka_unit_test(test_sender_and_receiver_agree_over_a_long_exchange),
	};

	return cmocka_run_group_tests_name("udsproxy_flow", tests, NULL, NULL);
}
