/* Unit tests for qtfs-user/proto: request/reply round trips and hostile payloads. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "qtfs-user/proto.h"

static void encode(const struct qtfs_req *rq, struct wire_buf *b)
{
	wire_buf_init(b);
	assert_int_equal(qtfs_req_encode(b, rq), 0);
}

static void test_qtfs_lookup_request_round_trips(void **state)
{
	struct qtfs_req rq = {0}, *out = malloc(sizeof(*out));
	struct wire_buf b;

	rq.op = QTFS_OP_LOOKUP;
	rq.cred.uid = 1000;
	rq.cred.gid = 100;
	rq.cred.pid = 42;
	rq.cred.ngroups = 2;
	rq.cred.groups[0] = 10;
	rq.cred.groups[1] = 20;
	rq.node.len = 3;
	memcpy(rq.node.data, "abc", 3);
	strcpy(rq.name, "file.txt");
	encode(&rq, &b);
	assert_int_equal(qtfs_req_decode(b.data, b.len, out), 0);
	assert_int_equal(out->op, QTFS_OP_LOOKUP);
	assert_int_equal(out->cred.uid, 1000);
	assert_int_equal(out->cred.ngroups, 2);
	assert_int_equal(out->cred.groups[1], 20);
	assert_int_equal(out->node.len, 3);
	assert_memory_equal(out->node.data, "abc", 3);
	assert_string_equal(out->name, "file.txt");
	wire_buf_free(&b);
	free(out);
}

static void test_qtfs_write_request_carries_data_and_fh(void **state)
{
	struct qtfs_req rq = {0}, *out = malloc(sizeof(*out));
	struct wire_buf b;
	static const char data[] = "payload bytes";

	rq.op = QTFS_OP_WRITE;
	rq.fh.id = 77;
	rq.fh.flags = O_RDWR;
	rq.fh.node.len = 1;
	rq.fh.node.data[0] = 'x';
	rq.off = 1ull << 40;
	rq.data = (const uint8_t *)data;
	rq.data_len = sizeof(data);
	encode(&rq, &b);
	assert_int_equal(qtfs_req_decode(b.data, b.len, out), 0);
	assert_int_equal(out->fh.id, 77);
	assert_int_equal(out->fh.flags, O_RDWR);
	assert_int_equal(out->off, 1ull << 40);
	assert_int_equal(out->data_len, sizeof(data));
	assert_memory_equal(out->data, data, sizeof(data));
	wire_buf_free(&b);
	free(out);
}

static void test_qtfs_decoder_rejects_dotdot_and_slash_names(void **state)
{
	static const char *const bad[] = {"..", ".", "a/b", "/", ""};
	struct qtfs_req rq = {0}, *out = malloc(sizeof(*out));
	struct wire_buf b;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&rq, 0, sizeof(rq));
		rq.op = QTFS_OP_LOOKUP;
		strcpy(rq.name, bad[i]);
		encode(&rq, &b);
		assert_int_equal(qtfs_req_decode(b.data, b.len, out), -EBADMSG);
		wire_buf_free(&b);
	}
	free(out);
}

static void test_qtfs_decoder_rejects_every_truncation(void **state)
{
	struct qtfs_req rq = {0}, *out = malloc(sizeof(*out));
	struct wire_buf b;
	size_t n;

	rq.op = QTFS_OP_RENAME;
	rq.node.len = 4;
	rq.node2.len = 4;
	strcpy(rq.name, "a");
	strcpy(rq.name2, "b");
	rq.flags = 1;
	encode(&rq, &b);
	assert_int_equal(qtfs_req_decode(b.data, b.len, out), 0);
	for (n = 0; n < b.len; n++)
		assert_int_equal(qtfs_req_decode(b.data, n, out), -EBADMSG);
	wire_buf_free(&b);
	free(out);
}

static void test_qtfs_decoder_rejects_trailing_bytes_and_unknown_ops(void **state)
{
	struct qtfs_req rq = {0}, *out = malloc(sizeof(*out));
	struct wire_buf b;

	rq.op = QTFS_OP_GETATTR;
	encode(&rq, &b);
	wire_put_u8(&b, 0);
	assert_int_equal(qtfs_req_decode(b.data, b.len, out), -EBADMSG);
	wire_buf_free(&b);
	wire_buf_init(&b);
	wire_put_u16(&b, QTFS_OP_COUNT);
	wire_put_u32(&b, 0);
	wire_put_u32(&b, 0);
	wire_put_u32(&b, 0);
	wire_put_u32(&b, 0);
	assert_int_equal(qtfs_req_decode(b.data, b.len, out), -EBADMSG);
	wire_buf_free(&b);
	free(out);
}

static void test_qtfs_decoder_rejects_oversized_fields(void **state)
{
	struct qtfs_req *out = malloc(sizeof(*out));
	uint8_t big[QTFS_BLOB_MAX + 1] = {0};
	struct wire_buf b;

	/* a blob longer than the maximum */
	wire_buf_init(&b);
	wire_put_u16(&b, QTFS_OP_GETATTR);
	wire_put_u32(&b, 0);
	wire_put_u32(&b, 0);
	wire_put_u32(&b, 0);
	wire_put_u32(&b, 0);
	wire_put_bytes(&b, big, sizeof(big));
	assert_int_equal(qtfs_req_decode(b.data, b.len, out), -EBADMSG);
	wire_buf_free(&b);
	/* too many groups */
	wire_buf_init(&b);
	wire_put_u16(&b, QTFS_OP_GETATTR);
	wire_put_u32(&b, 0);
	wire_put_u32(&b, 0);
	wire_put_u32(&b, 0);
	wire_put_u32(&b, QTFS_GROUPS_MAX + 1);
	assert_int_equal(qtfs_req_decode(b.data, b.len, out), -EBADMSG);
	wire_buf_free(&b);
	free(out);
}

static void test_qtfs_read_size_above_limit_is_refused(void **state)
{
	struct qtfs_req rq = {0}, *out = malloc(sizeof(*out));
	struct wire_buf b;

	rq.op = QTFS_OP_READ;
	rq.len = QTFS_IO_MAX + 1;
	encode(&rq, &b);
	assert_int_equal(qtfs_req_decode(b.data, b.len, out), -EBADMSG);
	wire_buf_free(&b);
	free(out);
}

static void test_qtfs_name_with_embedded_nul_is_refused(void **state)
{
	struct qtfs_req *out = malloc(sizeof(*out));
	struct wire_buf b;

	wire_buf_init(&b);
	wire_put_u16(&b, QTFS_OP_LOOKUP);
	wire_put_u32(&b, 0);
	wire_put_u32(&b, 0);
	wire_put_u32(&b, 0);
	wire_put_u32(&b, 0);
	wire_put_bytes(&b, "n", 1);
	wire_put_bytes(&b, "a\0b", 3);
	assert_int_equal(qtfs_req_decode(b.data, b.len, out), -EBADMSG);
	wire_buf_free(&b);
	free(out);
}

static void test_qtfs_entry_reply_round_trips(void **state)
{
	struct qtfs_rep rp = {0}, out;
	struct wire_buf b;

	rp.op = QTFS_OP_LOOKUP;
	rp.node.len = 2;
	rp.node.data[0] = 1;
	rp.attr.ino = 99;
	rp.attr.mode = 0100644;
	rp.attr.size = 12345;
	rp.attr.mtime = -5;
	rp.attr.mtime_ns = 999999999;
	wire_buf_init(&b);
	assert_int_equal(qtfs_rep_encode(&b, &rp), 0);
	assert_int_equal(qtfs_rep_decode(QTFS_OP_LOOKUP, b.data, b.len, &out), 0);
	assert_int_equal(out.status, 0);
	assert_int_equal(out.attr.ino, 99);
	assert_int_equal(out.attr.size, 12345);
	assert_int_equal(out.attr.mtime, -5);
	assert_true(out.has_entry);
	wire_buf_free(&b);
}

static void test_qtfs_error_reply_has_nothing_after_status(void **state)
{
	struct qtfs_rep rp = {0}, out;
	struct wire_buf b;

	rp.op = QTFS_OP_READ;
	rp.status = -ENOENT;
	wire_buf_init(&b);
	assert_int_equal(qtfs_rep_encode(&b, &rp), 0);
	assert_int_equal(b.len, 4);
	assert_int_equal(qtfs_rep_decode(QTFS_OP_READ, b.data, b.len, &out), 0);
	assert_int_equal(out.status, -ENOENT);
	wire_put_u8(&b, 1);
	assert_int_equal(qtfs_rep_decode(QTFS_OP_READ, b.data, b.len, &out), -EBADMSG);
	wire_buf_free(&b);
}

static void test_qtfs_reply_with_bad_status_or_nsec_is_refused(void **state)
{
	struct qtfs_rep rp = {0}, out;
	struct wire_buf b;

	wire_buf_init(&b);
	wire_put_i32(&b, 5); /* positive status */
	assert_int_equal(qtfs_rep_decode(QTFS_OP_GETATTR, b.data, b.len, &out), -EBADMSG);
	wire_buf_free(&b);
	rp.op = QTFS_OP_GETATTR;
	rp.attr.atime_ns = 1000000000u;
	wire_buf_init(&b);
	assert_int_equal(qtfs_rep_encode(&b, &rp), 0);
	assert_int_equal(qtfs_rep_decode(QTFS_OP_GETATTR, b.data, b.len, &out), -EBADMSG);
	wire_buf_free(&b);
}

static void test_qtfs_dirents_round_trip_and_reject_bad_names(void **state)
{
	struct qtfs_dirent d = {0}, o;
	struct wire_reader r;
	struct wire_buf b;

	wire_buf_init(&b);
	strcpy(d.name, "..");
	d.next_off = 1;
	qtfs_dirent_put(&b, &d);
	strcpy(d.name, "x");
	d.next_off = 2;
	d.node.len = 1;
	qtfs_dirent_put(&b, &d);
	wire_reader_init(&r, b.data, b.len);
	assert_int_equal(qtfs_dirent_next(&r, &o), 1);
	assert_string_equal(o.name, "..");
	assert_int_equal(qtfs_dirent_next(&r, &o), 1);
	assert_string_equal(o.name, "x");
	assert_int_equal(o.next_off, 2);
	assert_int_equal(qtfs_dirent_next(&r, &o), 0);
	wire_buf_free(&b);

	wire_buf_init(&b);
	strcpy(d.name, "a/b");
	qtfs_dirent_put(&b, &d);
	wire_reader_init(&r, b.data, b.len);
	assert_int_equal(qtfs_dirent_next(&r, &o), -EBADMSG);
	wire_buf_free(&b);
}

static void test_qtfs_appending_writes_are_not_idempotent(void **state)
{
	struct qtfs_req rq = {0};

	rq.op = QTFS_OP_WRITE;
	assert_true(qtfs_op_idempotent(&rq));
	rq.fh.flags = O_WRONLY | O_APPEND;
	assert_false(qtfs_op_idempotent(&rq));
	rq.op = QTFS_OP_CREATE;
	assert_false(qtfs_op_idempotent(&rq));
	rq.op = QTFS_OP_UNLINK;
	assert_false(qtfs_op_idempotent(&rq));
	rq.op = QTFS_OP_GETATTR;
	assert_true(qtfs_op_idempotent(&rq));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_qtfs_lookup_request_round_trips),
		cmocka_unit_test(test_qtfs_write_request_carries_data_and_fh),
		cmocka_unit_test(test_qtfs_decoder_rejects_dotdot_and_slash_names),
		cmocka_unit_test(test_qtfs_decoder_rejects_every_truncation),
		cmocka_unit_test(test_qtfs_decoder_rejects_trailing_bytes_and_unknown_ops),
		cmocka_unit_test(test_qtfs_decoder_rejects_oversized_fields),
		cmocka_unit_test(test_qtfs_read_size_above_limit_is_refused),
		cmocka_unit_test(test_qtfs_name_with_embedded_nul_is_refused),
		cmocka_unit_test(test_qtfs_entry_reply_round_trips),
		cmocka_unit_test(test_qtfs_error_reply_has_nothing_after_status),
		cmocka_unit_test(test_qtfs_reply_with_bad_status_or_nsec_is_refused),
		cmocka_unit_test(test_qtfs_dirents_round_trip_and_reject_bad_names),
		cmocka_unit_test(test_qtfs_appending_writes_are_not_idempotent),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
