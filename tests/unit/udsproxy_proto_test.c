/* Unit tests for the udsproxy peer protocol: frame splitting, strict decoding, encoders,
 * address conversions and the control messages. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cmocka.h>

#include "udsproxy/addr.h"
#include "udsproxy/ctlmsg.h"
#include "udsproxy/proto.h"

/* Decodes the single frame in b. */
static int decode(struct wire_buf *b, struct udsp_msg *m)
{
	struct wire_header h;
	const uint8_t *payload;
	struct errmsg e = {""};
	ssize_t n = udsp_frame_split(b->data, b->len, &h, &payload);

	assert_int_equal(n, (ssize_t)b->len);
	return udsp_msg_decode(&h, payload, m, &e);
}

/* Builds a frame with a raw payload. */
static void raw_frame(struct wire_buf *b, uint8_t type, uint32_t stream, const void *p, size_t len)
{
	wire_frame_begin(b);
	wire_put_raw(b, p, len);
	assert_int_equal(wire_frame_end(b, type, stream, 0), 0);
}

static void test_open_round_trips(void **state)
{
	struct wire_buf b;
	struct udsp_msg m;

	wire_buf_init(&b);
	assert_int_equal(
		udsp_put_open(&b, 7, UDSP_SOCK_SEQPACKET, 1 << 20, 1000, 100, "/run/x.sock"), 0);
	assert_int_equal(decode(&b, &m), 0);
	assert_int_equal(m.type, UDSP_T_OPEN);
	assert_int_equal(m.stream, 7);
	assert_int_equal(m.socktype, UDSP_SOCK_SEQPACKET);
	assert_int_equal(m.window, 1 << 20);
	assert_int_equal(m.uid, 1000);
	assert_int_equal(m.gid, 100);
	assert_string_equal(m.path, "/run/x.sock");
	wire_buf_free(&b);
}

static void test_open_carries_supplementary_groups(void **state)
{
	uint32_t groups[3] = {10, 4242, 65534};
	struct wire_buf b;
	struct udsp_msg m;

	wire_buf_init(&b);
	assert_int_equal(udsp_put_open_groups(&b, 9, UDSP_SOCK_STREAM, 1 << 20, 1000, 100, groups,
					      3, "/run/x.sock"),
			 0);
	assert_int_equal(decode(&b, &m), 0);
	assert_int_equal(m.ngroups, 3);
	assert_int_equal(m.groups[1], 4242);
	wire_buf_free(&b);
}

static void test_open_with_too_many_groups_is_rejected(void **state)
{
	struct wire_buf b;
	struct udsp_msg m;
	uint32_t i;

	wire_buf_init(&b);
	wire_frame_begin(&b);
	wire_put_u8(&b, UDSP_SOCK_STREAM);
	wire_put_u32(&b, 1 << 20);
	wire_put_u32(&b, 1);
	wire_put_u32(&b, 1);
	wire_put_str(&b, "/x");
	wire_put_u32(&b, UDSP_MAX_GROUPS + 1);
	for (i = 0; i < UDSP_MAX_GROUPS + 1; i++)
		wire_put_u32(&b, i);
	assert_int_equal(wire_frame_end(&b, UDSP_T_OPEN, 5, 0), 0);
	assert_int_equal(decode(&b, &m), -EBADMSG);
	wire_buf_free(&b);
}

static void test_open_rejects_relative_path_and_unknown_type(void **state)
{
	struct wire_buf b;
	struct udsp_msg m;

	wire_buf_init(&b);
	assert_int_equal(udsp_put_open(&b, 7, UDSP_SOCK_STREAM, 1 << 20, 0, 0, "run/x"), 0);
	assert_int_equal(decode(&b, &m), -EBADMSG);
	assert_int_equal(udsp_put_open(&b, 7, 9, 1 << 20, 0, 0, "/run/x"), 0);
	assert_int_equal(decode(&b, &m), -EBADMSG);
	assert_int_equal(udsp_put_open(&b, 7, UDSP_SOCK_PIPE, 1 << 20, 0, 0, "/run/x"), 0);
	assert_int_equal(decode(&b, &m), -EBADMSG);
	wire_buf_free(&b);
}

static void test_open_rejects_path_longer_than_sun_path(void **state)
{
	char path[200];
	struct wire_buf b;
	struct udsp_msg m;

	memset(path, 'a', sizeof(path) - 1);
	path[0] = '/';
	path[sizeof(path) - 1] = '\0';
	wire_buf_init(&b);
	assert_int_equal(udsp_put_open(&b, 7, UDSP_SOCK_STREAM, 1 << 20, 0, 0, path), 0);
	assert_int_equal(decode(&b, &m), -EBADMSG);
	wire_buf_free(&b);
}

static void test_open_rejects_window_out_of_range(void **state)
{
	struct wire_buf b;
	struct udsp_msg m;

	wire_buf_init(&b);
	assert_int_equal(udsp_put_open(&b, 7, UDSP_SOCK_STREAM, 10, 0, 0, "/x"), 0);
	assert_int_equal(decode(&b, &m), -EBADMSG);
	assert_int_equal(udsp_put_open(&b, 7, UDSP_SOCK_STREAM, UDSP_WINDOW_MAX + 1, 0, 0, "/x"),
			 0);
	assert_int_equal(decode(&b, &m), -EBADMSG);
	wire_buf_free(&b);
}

static void test_open_on_stream_zero_is_rejected(void **state)
{
	struct wire_buf b;
	struct udsp_msg m;

	wire_buf_init(&b);
	assert_int_equal(udsp_put_open(&b, 0, UDSP_SOCK_STREAM, 1 << 20, 0, 0, "/x"), 0);
	assert_int_equal(decode(&b, &m), -EBADMSG);
	wire_buf_free(&b);
}

static void test_link_on_a_stream_is_rejected(void **state)
{
	struct wire_buf b;
	struct udsp_msg m;
	uint8_t p[12] = {0};

	wire_buf_init(&b);
	raw_frame(&b, UDSP_T_LINK, 3, p, sizeof(p));
	assert_int_equal(decode(&b, &m), -EBADMSG);
	raw_frame(&b, UDSP_T_LINK, 0, p, sizeof(p));
	assert_int_equal(decode(&b, &m), 0);
	wire_buf_free(&b);
}

static void test_link_round_trips_the_nonce_and_the_linked_peer(void **state)
{
	struct wire_buf b;
	struct udsp_msg m;

	wire_buf_init(&b);
	assert_int_equal(udsp_put_link(&b, 0x1122334455667788ull, 0), 0);
	assert_int_equal(decode(&b, &m), 0);
	assert_true(m.nonce == 0x1122334455667788ull);
	assert_int_equal(m.flags, 0);
	assert_true(m.linked == 0);
	assert_int_equal(udsp_put_link(&b, 7, 0x99), 0);
	assert_int_equal(decode(&b, &m), 0);
	assert_true(m.nonce == 7);
	assert_int_equal(m.flags, UDSP_LINK_F_LINKED);
	assert_true(m.linked == 0x99);
	wire_buf_free(&b);
}

static void test_link_with_unknown_flags_or_missing_linked_nonce_is_rejected(void **state)
{
	struct wire_buf b;
	struct udsp_msg m;
	/* nonce 1, flags LINKED, no linked nonce */
	uint8_t no_linked[12] = {0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1};
	/* nonce 1, flags 2 (unknown) */
	uint8_t unknown[12] = {0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2};
	/* nonce 1, flags LINKED, linked nonce 0 */
	uint8_t zero_linked[20] = {0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1};

	wire_buf_init(&b);
	raw_frame(&b, UDSP_T_LINK, 0, no_linked, sizeof(no_linked));
	assert_int_equal(decode(&b, &m), -EBADMSG);
	raw_frame(&b, UDSP_T_LINK, 0, unknown, sizeof(unknown));
	assert_int_equal(decode(&b, &m), -EBADMSG);
	raw_frame(&b, UDSP_T_LINK, 0, zero_linked, sizeof(zero_linked));
	assert_int_equal(decode(&b, &m), -EBADMSG);
	wire_buf_free(&b);
}

static void test_a_dial_to_a_peer_either_side_is_linked_with_is_a_duplicate(void **state)
{
	/* Neither linked: a new link (startup, or both noticed the old one died). */
	assert_false(udsp_link_duplicate(10, 0, 20, 0));
	/* One side still has the link up with the other: a late dial, refused by both. */
	assert_true(udsp_link_duplicate(10, 20, 20, 0));
	assert_true(udsp_link_duplicate(10, 0, 20, 10));
	assert_true(udsp_link_duplicate(10, 20, 20, 10));
	/* Both ends compute the same answer (the arguments swapped). */
	assert_true(udsp_link_duplicate(20, 0, 10, 20));
	/* Linked with a previous incarnation of the peer (it restarted): not a duplicate. */
	assert_false(udsp_link_duplicate(10, 30, 20, 0));
	assert_false(udsp_link_duplicate(20, 0, 10, 30));
}

static void test_trailing_bytes_are_rejected(void **state)
{
	struct wire_buf b;
	struct udsp_msg m;
	uint8_t p[5] = {0, 0, 1, 0, 9};

	wire_buf_init(&b);
	raw_frame(&b, UDSP_T_CREDIT, 3, p, sizeof(p));
	assert_int_equal(decode(&b, &m), -EBADMSG);
	raw_frame(&b, UDSP_T_CREDIT, 3, p, 4);
	assert_int_equal(decode(&b, &m), 0);
	assert_int_equal(m.credit, 256);
	wire_buf_free(&b);
}

static void test_credit_zero_or_huge_is_rejected(void **state)
{
	struct wire_buf b;
	struct udsp_msg m;

	wire_buf_init(&b);
	assert_int_equal(udsp_put_u32_msg(&b, UDSP_T_CREDIT, 3, 0), 0);
	assert_int_equal(decode(&b, &m), -EBADMSG);
	assert_int_equal(udsp_put_u32_msg(&b, UDSP_T_CREDIT, 3, 0xffffffffu), 0);
	assert_int_equal(decode(&b, &m), -EBADMSG);
	wire_buf_free(&b);
}

static void test_reset_errno_must_be_a_real_errno(void **state)
{
	struct wire_buf b;
	struct udsp_msg m;

	wire_buf_init(&b);
	assert_int_equal(udsp_put_u32_msg(&b, UDSP_T_RESET, 3, 0), 0);
	assert_int_equal(decode(&b, &m), -EBADMSG);
	assert_int_equal(udsp_put_u32_msg(&b, UDSP_T_OPEN_ERR, 3, 5000), 0);
	assert_int_equal(decode(&b, &m), -EBADMSG);
	assert_int_equal(udsp_put_u32_msg(&b, UDSP_T_OPEN_ERR, 3, ECONNREFUSED), 0);
	assert_int_equal(decode(&b, &m), 0);
	assert_int_equal(m.err, ECONNREFUSED);
	wire_buf_free(&b);
}

static void test_unknown_type_is_rejected(void **state)
{
	struct wire_buf b;
	struct udsp_msg m;

	wire_buf_init(&b);
	raw_frame(&b, 200, 3, "", 0);
	assert_int_equal(decode(&b, &m), -EBADMSG);
	raw_frame(&b, WIRE_T_HELLO, 0, "", 0);
	assert_int_equal(decode(&b, &m), -EBADMSG);
	wire_buf_free(&b);
}

static void test_data_points_into_the_payload(void **state)
{
	struct wire_buf b;
	struct udsp_msg m;

	wire_buf_init(&b);
	raw_frame(&b, UDSP_T_DATA, 9, "hello", 5);
	assert_int_equal(decode(&b, &m), 0);
	assert_int_equal(m.data_len, 5);
	assert_memory_equal(m.data, "hello", 5);
	wire_buf_free(&b);
}

static void test_data_fds_round_trips(void **state)
{
	struct udsp_fd_desc d[3] = {
		{.kind = UDSP_FD_PIPE_READ, .stream = 11},
		{.kind = UDSP_FD_STREAM, .stream = 13},
		{.kind = UDSP_FD_FILE,
		 .path = "/srv/shared/f",
		 .flags = O_RDWR | O_APPEND,
		 .offset = 1234},
	};
	struct wire_buf b;
	struct udsp_msg m;

	wire_buf_init(&b);
	udsp_put_fds_begin(&b, d, 3);
	wire_put_raw(&b, "x", 1);
	assert_int_equal(wire_frame_end(&b, UDSP_T_DATA_FDS, 5, 0), 0);
	assert_int_equal(decode(&b, &m), 0);
	assert_int_equal(m.nfds, 3);
	assert_int_equal(m.fds[0].kind, UDSP_FD_PIPE_READ);
	assert_int_equal(m.fds[0].stream, 11);
	assert_int_equal(m.fds[1].stream, 13);
	assert_string_equal(m.fds[2].path, "/srv/shared/f");
	assert_int_equal(m.fds[2].flags, O_RDWR | O_APPEND);
	assert_int_equal(m.fds[2].offset, 1234);
	assert_int_equal(m.data_len, 1);
	udsp_msg_release(&m);
	wire_buf_free(&b);
}

static void test_data_fds_refuses_creat_flags_and_zero_fds(void **state)
{
	struct udsp_fd_desc d = {.kind = UDSP_FD_FILE, .path = "/f", .flags = O_WRONLY | O_CREAT};
	struct wire_buf b;
	struct udsp_msg m;

	wire_buf_init(&b);
	udsp_put_fds_begin(&b, &d, 1);
	wire_put_raw(&b, "x", 1);
	assert_int_equal(wire_frame_end(&b, UDSP_T_DATA_FDS, 5, 0), 0);
	assert_int_equal(decode(&b, &m), -EBADMSG);
	udsp_put_fds_begin(&b, &d, 0);
	wire_put_raw(&b, "x", 1);
	assert_int_equal(wire_frame_end(&b, UDSP_T_DATA_FDS, 5, 0), 0);
	assert_int_equal(decode(&b, &m), -EBADMSG);
	wire_buf_free(&b);
}

static void test_data_fds_without_a_data_byte_is_rejected(void **state)
{
	struct udsp_fd_desc d = {.kind = UDSP_FD_PIPE_WRITE, .stream = 4};
	struct wire_buf b;
	struct udsp_msg m;

	wire_buf_init(&b);
	udsp_put_fds_begin(&b, &d, 1);
	assert_int_equal(wire_frame_end(&b, UDSP_T_DATA_FDS, 5, 0), 0);
	assert_int_equal(decode(&b, &m), -EBADMSG);
	wire_buf_free(&b);
}

static void test_frame_split_waits_for_the_whole_frame(void **state)
{
	struct wire_buf b;
	struct wire_header h;
	const uint8_t *p;

	wire_buf_init(&b);
	raw_frame(&b, UDSP_T_DATA, 9, "hello", 5);
	assert_int_equal(udsp_frame_split(b.data, 3, &h, &p), 0);
	assert_int_equal(udsp_frame_split(b.data, b.len - 1, &h, &p), 0);
	assert_int_equal(udsp_frame_split(b.data, b.len, &h, &p), (ssize_t)b.len);
	wire_buf_free(&b);
}

static void test_frame_split_rejects_oversized_and_bad_magic(void **state)
{
	uint8_t hdr[WIRE_HEADER_SIZE];
	struct wire_header h = {.version = WIRE_VERSION,
				.type = UDSP_T_DATA,
				.stream = 1,
				.length = UDSP_MAX_PAYLOAD + 1};
	const uint8_t *p;

	wire_header_encode(&h, hdr);
	assert_int_equal(udsp_frame_split(hdr, sizeof(hdr), &h, &p), -EMSGSIZE);
	hdr[0] ^= 0xff;
	assert_true(udsp_frame_split(hdr, sizeof(hdr), &h, &p) < 0);
}

static void test_mirror_round_trips_and_rejects_bad_op(void **state)
{
	struct wire_buf b;
	struct udsp_msg m;

	wire_buf_init(&b);
	assert_int_equal(udsp_put_mirror(&b, UDSP_MIRROR_ADD, UDSP_SOCK_STREAM, "/run/m/a.sock"),
			 0);
	assert_int_equal(decode(&b, &m), 0);
	assert_int_equal(m.op, UDSP_MIRROR_ADD);
	assert_string_equal(m.path, "/run/m/a.sock");
	assert_int_equal(udsp_put_mirror(&b, 7, UDSP_SOCK_STREAM, "/run/m/a.sock"), 0);
	assert_int_equal(decode(&b, &m), -EBADMSG);
	assert_int_equal(udsp_put_mirror(&b, UDSP_MIRROR_DEL, UDSP_SOCK_STREAM, "@abs"), 0);
	assert_int_equal(decode(&b, &m), -EBADMSG);
	wire_buf_free(&b);
}

static void test_addr_round_trips_paths_and_abstract_names(void **state)
{
	struct sockaddr_un sa;
	socklen_t len;
	char out[108];

	assert_int_equal(udsp_addr_to_sockaddr("/run/a.sock", &sa, &len), 0);
	assert_int_equal(udsp_addr_from_sockaddr((struct sockaddr *)&sa, len, out, sizeof(out)), 0);
	assert_string_equal(out, "/run/a.sock");
	assert_int_equal(udsp_addr_to_sockaddr("@name", &sa, &len), 0);
	assert_int_equal(sa.sun_path[0], '\0');
	assert_int_equal(len, offsetof(struct sockaddr_un, sun_path) + 5);
	assert_int_equal(udsp_addr_from_sockaddr((struct sockaddr *)&sa, len, out, sizeof(out)), 0);
	assert_string_equal(out, "@name");
	assert_int_equal(udsp_addr_to_sockaddr("relative", &sa, &len), -EINVAL);
}

static void test_addr_refuses_unnamed_and_nul_in_abstract(void **state)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char out[108];

	assert_int_equal(udsp_addr_from_sockaddr((struct sockaddr *)&sa, sizeof(sa_family_t), out,
						 sizeof(out)),
			 -EINVAL);
	memcpy(sa.sun_path, "\0a\0b", 4);
	assert_int_equal(udsp_addr_from_sockaddr((struct sockaddr *)&sa,
						 offsetof(struct sockaddr_un, sun_path) + 4, out,
						 sizeof(out)),
			 -EINVAL);
}

static void test_ctl_connect_round_trips_and_validates(void **state)
{
	struct udsp_ctl_connect c = {.socktype = UDSP_SOCK_DGRAM,
				     .path = "/run/d.sock",
				     .reply_to = "/run/me.sock"},
				out;
	struct wire_buf b;
	struct errmsg e = {""};

	wire_buf_init(&b);
	assert_int_equal(udsp_ctl_put_connect(&b, &c), 0);
	assert_int_equal(udsp_ctl_decode_connect(b.data + WIRE_HEADER_SIZE,
						 b.len - WIRE_HEADER_SIZE, &out, &e),
			 0);
	assert_string_equal(out.path, "/run/d.sock");
	assert_string_equal(out.reply_to, "/run/me.sock");
	c.socktype = 0;
	assert_int_equal(udsp_ctl_put_connect(&b, &c), 0);
	assert_int_equal(udsp_ctl_decode_connect(b.data + WIRE_HEADER_SIZE,
						 b.len - WIRE_HEADER_SIZE, &out, &e),
			 -EBADMSG);
	c.socktype = UDSP_SOCK_STREAM;
	c.flags = 4;
	assert_int_equal(udsp_ctl_put_connect(&b, &c), 0);
	assert_int_equal(udsp_ctl_decode_connect(b.data + WIRE_HEADER_SIZE,
						 b.len - WIRE_HEADER_SIZE, &out, &e),
			 -EBADMSG);
	wire_buf_free(&b);
}

static void test_ctl_result_rejects_out_of_range_errno(void **state)
{
	struct wire_buf b;
	uint32_t err;
	char shared[64];

	wire_buf_init(&b);
	assert_int_equal(udsp_ctl_put_result(&b, EACCES, "/srv"), 0);
	assert_int_equal(udsp_ctl_decode_result(b.data + WIRE_HEADER_SIZE, b.len - WIRE_HEADER_SIZE,
						&err, shared, sizeof(shared)),
			 0);
	assert_int_equal(err, EACCES);
	assert_string_equal(shared, "/srv");
	assert_int_equal(udsp_ctl_put_result(&b, 99999, ""), 0);
	assert_int_equal(udsp_ctl_decode_result(b.data + WIRE_HEADER_SIZE, b.len - WIRE_HEADER_SIZE,
						&err, shared, sizeof(shared)),
			 -EBADMSG);
	wire_buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open_round_trips),
		cmocka_unit_test(test_open_carries_supplementary_groups),
		cmocka_unit_test(test_open_with_too_many_groups_is_rejected),
		cmocka_unit_test(test_open_rejects_relative_path_and_unknown_type),
		cmocka_unit_test(test_open_rejects_path_longer_than_sun_path),
		cmocka_unit_test(test_open_rejects_window_out_of_range),
		cmocka_unit_test(test_open_on_stream_zero_is_rejected),
		cmocka_unit_test(test_link_on_a_stream_is_rejected),
		cmocka_unit_test(test_link_round_trips_the_nonce_and_the_linked_peer),
		cmocka_unit_test(test_link_with_unknown_flags_or_missing_linked_nonce_is_rejected),
		cmocka_unit_test(test_a_dial_to_a_peer_either_side_is_linked_with_is_a_duplicate),
		cmocka_unit_test(test_trailing_bytes_are_rejected),
		cmocka_unit_test(test_credit_zero_or_huge_is_rejected),
		cmocka_unit_test(test_reset_errno_must_be_a_real_errno),
		cmocka_unit_test(test_unknown_type_is_rejected),
		cmocka_unit_test(test_data_points_into_the_payload),
		cmocka_unit_test(test_data_fds_round_trips),
		cmocka_unit_test(test_data_fds_refuses_creat_flags_and_zero_fds),
		cmocka_unit_test(test_data_fds_without_a_data_byte_is_rejected),
		cmocka_unit_test(test_frame_split_waits_for_the_whole_frame),
		cmocka_unit_test(test_frame_split_rejects_oversized_and_bad_magic),
		cmocka_unit_test(test_mirror_round_trips_and_rejects_bad_op),
		cmocka_unit_test(test_addr_round_trips_paths_and_abstract_names),
		cmocka_unit_test(test_addr_refuses_unnamed_and_nul_in_abstract),
		cmocka_unit_test(test_ctl_connect_round_trips_and_validates),
		cmocka_unit_test(test_ctl_result_rejects_out_of_range_errno),
	};

	return cmocka_run_group_tests_name("udsproxy_proto", tests, NULL, NULL);
}
