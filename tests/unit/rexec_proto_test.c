/* Unit tests for rexec/proto: every message round-trips and hostile payloads are refused. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rexec/proto.h"
#include "wire.h"

/* The payload of the one frame an encoder built. */
#define PAYLOAD(b) ((b).data + WIRE_HEADER_SIZE)
#define PLEN(b)	   ((b).len - WIRE_HEADER_SIZE)

static void test_exec_round_trips_arguments_byte_for_byte(void **state)
{
	char *argv[] = {"/bin/echo", "a b", "line1\nline2", "", "\xff\xfe\x80", "--", NULL};
	char *env[] = {"TERM=xterm", "EMPTY=", "X=a=b", NULL};
	struct rexec_exec x = {.flags = REXEC_F_TTY,
			       .rows = 33,
			       .cols = 101,
			       .window = REXEC_WINDOW,
			       .argc = 6,
			       .argv = argv,
			       .envc = 3,
			       .env = env,
			       .cwd = "/tmp/with space"};
	struct rexec_exec y;
	struct wire_buf b;
	struct wire_header h;
	size_t i;

	wire_buf_init(&b);
	assert_int_equal(rexec_enc_exec(&b, &x), 0);
	assert_int_equal(wire_header_decode(b.data, b.len, 0, &h), 0);
	assert_int_equal(h.type, REXEC_T_EXEC);
	assert_int_equal(h.length, PLEN(b));
	assert_int_equal(rexec_dec_exec(PAYLOAD(b), PLEN(b), &y), 0);
	assert_int_equal(y.flags, REXEC_F_TTY);
	assert_int_equal(y.rows, 33);
	assert_int_equal(y.cols, 101);
	assert_int_equal(y.argc, 6);
	for (i = 0; i < 6; i++)
		assert_string_equal(y.argv[i], argv[i]);
	assert_null(y.argv[6]);
	assert_int_equal(y.envc, 3);
	for (i = 0; i < 3; i++)
		assert_string_equal(y.env[i], env[i]);
	assert_string_equal(y.cwd, "/tmp/with space");
	rexec_exec_free(&y);
	wire_buf_free(&b);
}

/* Builds an EXEC payload by hand so that each field can be made wrong. */
static void build_exec(struct wire_buf *b, uint32_t flags, uint32_t window, uint32_t argc,
		       const char *const *argv, uint32_t envc, const char *const *env,
		       const char *cwd, bool trailing)
{
	uint32_t i;

	wire_buf_reset(b);
	wire_put_u32(b, flags);
	wire_put_u16(b, 24);
	wire_put_u16(b, 80);
	wire_put_u32(b, window);
	wire_put_u32(b, argc);
	for (i = 0; argv && argv[i]; i++)
		wire_put_bytes(b, argv[i], strlen(argv[i]));
	wire_put_u32(b, envc);
	for (i = 0; env && env[i]; i++)
		wire_put_bytes(b, env[i], strlen(env[i]));
	wire_put_bytes(b, cwd, strlen(cwd));
	if (trailing)
		wire_put_u8(b, 0);
}

static void expect_bad(struct wire_buf *b)
{
	struct rexec_exec y;

	assert_int_equal(rexec_dec_exec(b->data, b->len, &y), -EBADMSG);
}

static void test_exec_decoder_accepts_a_well_formed_hand_built_payload(void **state)
{
	const char *argv[] = {"/bin/true", NULL};
	struct rexec_exec y;
	struct wire_buf b;

	wire_buf_init(&b);
	build_exec(&b, 0, REXEC_WINDOW, 1, argv, 0, NULL, "", false);
	assert_int_equal(rexec_dec_exec(b.data, b.len, &y), 0);
	assert_string_equal(y.cwd, "");
	rexec_exec_free(&y);
	wire_buf_free(&b);
}

static void test_exec_decoder_refuses_malformed_fields(void **state)
{
	const char *argv[] = {"/bin/true", NULL};
	const char *empty0[] = {"", NULL};
	const char *badenv[] = {"NOEQUALS", NULL};
	const char *noname[] = {"=value", NULL};
	struct wire_buf b;

	wire_buf_init(&b);
	build_exec(&b, 0, REXEC_WINDOW, 1, argv, 0, NULL, "", true); /* trailing byte */
	expect_bad(&b);
	build_exec(&b, 0x80, REXEC_WINDOW, 1, argv, 0, NULL, "", false); /* unknown flag */
	expect_bad(&b);
	build_exec(&b, 0, 100, 1, argv, 0, NULL, "", false); /* window too small */
	expect_bad(&b);
	build_exec(&b, 0, REXEC_WINDOW, 0, NULL, 0, NULL, "", false); /* no argv */
	expect_bad(&b);
	build_exec(&b, 0, REXEC_WINDOW, 1, empty0, 0, NULL, "", false); /* empty program */
	expect_bad(&b);
	build_exec(&b, 0, REXEC_WINDOW, 1, argv, 1, badenv, "", false);
	expect_bad(&b);
	build_exec(&b, 0, REXEC_WINDOW, 1, argv, 1, noname, "", false);
	expect_bad(&b);
	build_exec(&b, 0, REXEC_WINDOW, 1, argv, 0, NULL, "relative/dir", false);
	expect_bad(&b);
	build_exec(&b, 0, REXEC_WINDOW, 2, argv, 0, NULL, "", false); /* count says 2, has 1 */
	expect_bad(&b);
	wire_buf_free(&b);
}

static void test_exec_decoder_refuses_huge_counts_without_allocating(void **state)
{
	struct wire_buf b;

	wire_buf_init(&b);
	wire_put_u32(&b, 0);
	wire_put_u16(&b, 0);
	wire_put_u16(&b, 0);
	wire_put_u32(&b, REXEC_WINDOW);
	wire_put_u32(&b, 0xffffffffu);
	expect_bad(&b);
	wire_buf_reset(&b);
	wire_put_u32(&b, 0);
	wire_put_u16(&b, 0);
	wire_put_u16(&b, 0);
	wire_put_u32(&b, REXEC_WINDOW);
	wire_put_u32(&b, 60000); /* within the limit, but the frame holds none of them */
	expect_bad(&b);
	wire_buf_free(&b);
}

static void test_exec_decoder_refuses_nul_inside_an_argument(void **state)
{
	struct wire_buf b;

	wire_buf_init(&b);
	wire_put_u32(&b, 0);
	wire_put_u16(&b, 0);
	wire_put_u16(&b, 0);
	wire_put_u32(&b, REXEC_WINDOW);
	wire_put_u32(&b, 1);
	wire_put_bytes(&b, "/bin/a\0b", 8);
	wire_put_u32(&b, 0);
	wire_put_bytes(&b, "", 0);
	expect_bad(&b);
	wire_buf_free(&b);
}

static void test_exec_decoder_refuses_every_truncation(void **state)
{
	char *argv[] = {"/bin/echo", "x", NULL};
	char *env[] = {"A=1", NULL};
	struct rexec_exec x = {
		.window = REXEC_WINDOW, .argc = 2, .argv = argv, .envc = 1, .env = env, .cwd = "/"};
	struct rexec_exec y;
	struct wire_buf b;
	size_t cut;

	wire_buf_init(&b);
	assert_int_equal(rexec_enc_exec(&b, &x), 0);
	for (cut = 0; cut < PLEN(b); cut++)
		assert_int_equal(rexec_dec_exec(PAYLOAD(b), cut, &y), -EBADMSG);
	wire_buf_free(&b);
}

static void test_exit_round_trips_codes_and_signals(void **state)
{
	struct rexec_exit x = {.how = REXEC_SIGNALED, .value = 9, .core = true}, y;
	struct wire_buf b;
	uint32_t code;

	wire_buf_init(&b);
	assert_int_equal(rexec_enc_exit(&b, &x), 0);
	assert_int_equal(rexec_dec_exit(PAYLOAD(b), PLEN(b), &y), 0);
	assert_int_equal(y.how, REXEC_SIGNALED);
	assert_int_equal(y.value, 9);
	assert_true(y.core);
	for (code = 0; code <= 255; code++) {
		x.how = REXEC_EXITED;
		x.value = code;
		x.core = false;
		assert_int_equal(rexec_enc_exit(&b, &x), 0);
		assert_int_equal(rexec_dec_exit(PAYLOAD(b), PLEN(b), &y), 0);
		assert_int_equal(y.value, code);
	}
	wire_buf_free(&b);
}

static void test_exit_decoder_refuses_out_of_range_values(void **state)
{
	struct rexec_exit x;
	struct wire_buf b;
	struct {
		uint8_t how;
		uint32_t v;
		uint8_t core;
	} bad[] = {
		{0, 256, 0}, {1, 0, 0}, {1, 65, 0}, {2, 0, 0}, {0, 0, 2},
	};
	size_t i;

	wire_buf_init(&b);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		wire_buf_reset(&b);
		wire_put_u8(&b, bad[i].how);
		wire_put_u32(&b, bad[i].v);
		wire_put_u8(&b, bad[i].core);
		assert_int_equal(rexec_dec_exit(b.data, b.len, &x), -EBADMSG);
	}
	wire_buf_free(&b);
}

static void test_pid_kill_wait_winch_credit_round_trip(void **state)
{
	struct rexec_pid p = {.pid = 1234, .start_time = 987654321, .window = REXEC_WINDOW}, q;
	struct rexec_kill k = {.pid = 77, .signo = 15}, k2;
	struct wire_buf b;
	uint16_t r, c;
	uint32_t v;
	int32_t pid;

	wire_buf_init(&b);
	assert_int_equal(rexec_enc_pid(&b, &p), 0);
	assert_int_equal(rexec_dec_pid(PAYLOAD(b), PLEN(b), &q), 0);
	assert_int_equal(q.pid, 1234);
	assert_true(q.start_time == 987654321);
	assert_int_equal(rexec_enc_kill(&b, &k), 0);
	assert_int_equal(rexec_dec_kill(PAYLOAD(b), PLEN(b), &k2), 0);
	assert_int_equal(k2.pid, 77);
	assert_int_equal(k2.signo, 15);
	assert_int_equal(rexec_enc_wait(&b, 42), 0);
	assert_int_equal(rexec_dec_wait(PAYLOAD(b), PLEN(b), &pid), 0);
	assert_int_equal(pid, 42);
	assert_int_equal(rexec_enc_winch(&b, 50, 132), 0);
	assert_int_equal(rexec_dec_winch(PAYLOAD(b), PLEN(b), &r, &c), 0);
	assert_int_equal(r, 50);
	assert_int_equal(c, 132);
	assert_int_equal(rexec_enc_u32(&b, REXEC_T_CREDIT, 65536), 0);
	assert_int_equal(rexec_dec_u32(PAYLOAD(b), PLEN(b), &v), 0);
	assert_int_equal(v, 65536);
	assert_int_equal(rexec_dec_u32(PAYLOAD(b), PLEN(b) - 1, &v), -EBADMSG);
	assert_int_equal(rexec_enc_empty(&b, REXEC_T_OK), 0);
	assert_int_equal(PLEN(b), 0);
	assert_int_equal(rexec_dec_empty("x", 1), -EBADMSG);
	wire_buf_free(&b);
}

static void test_pid_and_kill_decoders_refuse_nonpositive_pids(void **state)
{
	struct rexec_kill k;
	struct rexec_pid p;
	struct wire_buf b;
	int32_t pid;

	wire_buf_init(&b);
	wire_put_i32(&b, 0);
	wire_put_u64(&b, 1);
	wire_put_u32(&b, REXEC_WINDOW);
	assert_int_equal(rexec_dec_pid(b.data, b.len, &p), -EBADMSG);
	wire_buf_reset(&b);
	wire_put_i32(&b, -5);
	wire_put_u32(&b, 9);
	assert_int_equal(rexec_dec_kill(b.data, b.len, &k), -EBADMSG);
	wire_buf_reset(&b);
	wire_put_i32(&b, 5);
	wire_put_u32(&b, 65);
	assert_int_equal(rexec_dec_kill(b.data, b.len, &k), -EBADMSG);
	wire_buf_reset(&b);
	wire_put_i32(&b, -1);
	assert_int_equal(rexec_dec_wait(b.data, b.len, &pid), -EBADMSG);
	wire_buf_free(&b);
}

static void test_error_decoder_keeps_messages_printable_and_bounded(void **state)
{
	struct wire_buf b;
	char msg[8];
	uint32_t err;

	wire_buf_init(&b);
	assert_int_equal(rexec_enc_error(&b, EACCES, "ab\ncd\x1b[31mlong message"), 0);
	assert_int_equal(rexec_dec_error(PAYLOAD(b), PLEN(b), &err, msg, sizeof(msg)), 0);
	assert_int_equal(err, EACCES);
	assert_string_equal(msg, "ab?cd?[");
	wire_buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exec_round_trips_arguments_byte_for_byte),
		cmocka_unit_test(test_exec_decoder_accepts_a_well_formed_hand_built_payload),
		cmocka_unit_test(test_exec_decoder_refuses_malformed_fields),
		cmocka_unit_test(test_exec_decoder_refuses_huge_counts_without_allocating),
		cmocka_unit_test(test_exec_decoder_refuses_nul_inside_an_argument),
		cmocka_unit_test(test_exec_decoder_refuses_every_truncation),
		cmocka_unit_test(test_exit_round_trips_codes_and_signals),
		cmocka_unit_test(test_exit_decoder_refuses_out_of_range_values),
		cmocka_unit_test(test_pid_kill_wait_winch_credit_round_trip),
		cmocka_unit_test(test_pid_and_kill_decoders_refuse_nonpositive_pids),
		cmocka_unit_test(test_error_decoder_keeps_messages_printable_and_bounded),
	};

	return cmocka_run_group_tests_name("rexec_proto", tests, NULL, NULL);
}
