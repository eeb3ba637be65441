/* Unit tests for vmm/virtio/vsock's unix-socket backend, with this file as the guest
 * driver: a host client's CONNECT reaches a guest port and data flows both ways; a guest
 * connection to host port P reaches <uds-path>_P; refused and malformed packets get RST. */
#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/unit/virtio_driver.h"
#include "vmm/virtio/vsock.h"

#define GUEST_CID 3
#define RXBUF	  0x1100u /* bytes per receive buffer: header + 4 KiB */

struct pkt {
	uint64_t src_cid, dst_cid;
	uint32_t src_port, dst_port, len;
	uint16_t type, op;
	uint32_t flags, buf_alloc, fwd_cnt;
	uint8_t data[4096];
};

struct fx {
	struct vdrv d;
	char dir[32];
	char path[64];
	struct virtio_vsock *v;
	uint16_t rx_seen, tx_slot;
};

static void post_rx_buffers(struct fx *f, int n)
{
	for (int i = 0; i < n; i++) {
		uint16_t slot = (uint16_t)(f->d.avail_idx[0] % VD_QSIZE);

		vd_desc(&f->d, 0, slot, VD_BUF + RXBUF * slot, RXBUF, 2, 0);
		vd_publish(&f->d, 0, slot);
	}
	vd_wr(&f->d, 0x50, 0);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct virtio_vsock_params p;
	struct errmsg e;

	vd_init(&f->d);
	strcpy(f->dir, "/tmp/vsock_test.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%.31s/v.sock", f->dir);
	p = (struct virtio_vsock_params){.mem = &f->d.mem,
					 .mmio = f->d.bus,
					 .base = VD_BASE,
					 .irq = {.vm_fd = -1},
					 .loop = f->d.l,
					 .id = "vs0",
					 .guest_cid = GUEST_CID,
					 .uds_path = f->path};
	f->v = virtio_vsock_create(&p, &e);
	if (!f->v)
		fail_msg("virtio_vsock_create: %s", errmsg_str(&e));
	assert_int_equal(vd_rd(&f->d, 0x8), VIRTIO_ID_VSOCK);
	assert_int_equal(vd_rd(&f->d, 0x100), GUEST_CID);
	assert_true(vd_start(&f->d, 3) & VIRTIO_STATUS_DRIVER_OK);
	post_rx_buffers(f, 8);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[160];

	virtio_vsock_destroy(f->v);
	vd_fini(&f->d);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	if (system(cmd))
		return -1;
	free(f);
	return 0;
}

/* Waits for the next packet the device gives the guest. */
static bool guest_recv(struct fx *f, struct pkt *p)
{
	uint16_t idx = f->rx_seen, slot;
	uint32_t id;
	uint8_t *b;

	if (!vd_wait_used(&f->d, 0, (uint16_t)(idx + 1), 2000))
		return false;
	memcpy(&id, f->d.ram + VD_USED(0) + 4 + 8u * (idx % VD_QSIZE), 4);
	slot = (uint16_t)le32toh(id);
	b = f->d.ram + VD_BUF + RXBUF * slot;
	memcpy(&p->src_cid, b, 8);
	memcpy(&p->dst_cid, b + 8, 8);
	memcpy(&p->src_port, b + 16, 4);
	memcpy(&p->dst_port, b + 20, 4);
	memcpy(&p->len, b + 24, 4);
	memcpy(&p->type, b + 28, 2);
	memcpy(&p->op, b + 30, 2);
	memcpy(&p->flags, b + 32, 4);
	memcpy(&p->buf_alloc, b + 36, 4);
	memcpy(&p->fwd_cnt, b + 40, 4);
	p->src_cid = le64toh(p->src_cid);
	p->dst_cid = le64toh(p->dst_cid);
	p->src_port = le32toh(p->src_port);
	p->dst_port = le32toh(p->dst_port);
	p->len = le32toh(p->len);
	p->op = le16toh(p->op);
	p->flags = le32toh(p->flags);
	assert_true(p->len <= sizeof(p->data));
	memcpy(p->data, b + 44, p->len);
	f->rx_seen++;
	post_rx_buffers(f, 1); /* give the buffer back, as a driver does */
	return true;
}

static void guest_send(struct fx *f, uint32_t src_port, uint32_t dst_port, uint16_t op,
		       uint64_t dst_cid, const void *data, uint32_t len)
{
	uint16_t slot = f->tx_slot++ % VD_QSIZE;
	uint8_t *b = f->d.ram + VD_BUF + 0x40000 + 0x1100u * slot;
	uint64_t q;
	uint32_t w;
	uint16_t s;

	memset(b, 0, 44);
	q = htole64(GUEST_CID);
	memcpy(b, &q, 8);
	q = htole64(dst_cid);
	memcpy(b + 8, &q, 8);
	w = htole32(src_port);
	memcpy(b + 16, &w, 4);
	w = htole32(dst_port);
	memcpy(b + 20, &w, 4);
	w = htole32(len);
	memcpy(b + 24, &w, 4);
	s = htole16(1);
	memcpy(b + 28, &s, 2);
	s = htole16(op);
	memcpy(b + 30, &s, 2);
	w = htole32(64 * 1024); /* buf_alloc */
	memcpy(b + 36, &w, 4);
	if (len)
		memcpy(b + 44, data, len);
	vd_desc(&f->d, 1, slot, VD_BUF + 0x40000 + 0x1100u * slot, 44 + len, 0, 0);
	vd_publish(&f->d, 1, slot);
	vd_wr(&f->d, 0x50, 1);
	loop_run_once(f->d.l, 5);
}

static int unix_connect(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	strcpy(sa.sun_path, path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

static ssize_t read_pumped(struct fx *f, int fd, char *buf, size_t len)
{
	uint64_t end = now_ms() + 2000;

	while (now_ms() < end) {
		struct pollfd p = {.fd = fd, .events = POLLIN};

		loop_run_once(f->d.l, 5);
		if (poll(&p, 1, 0) == 1)
			return read(fd, buf, len);
	}
	return -ETIMEDOUT;
}

static void test_vsock_host_connect_reaches_the_guest_and_data_flows(void **state)
{
	struct fx *f = *state;
	char buf[64] = {0};
	struct pkt p;
	uint32_t hostport;
	int c = unix_connect(f->path);

	for (int i = 0; i < 5; i++)
		loop_run_once(f->d.l, 5);
	/* bytes right after the line wait for the guest to accept */
	assert_int_equal(write(c, "CONNECT 1234\nearly", 18), 18);
	assert_true(guest_recv(f, &p));
	assert_int_equal(p.op, 1); /* REQUEST */
	assert_int_equal(p.src_cid, 2);
	assert_int_equal(p.dst_cid, GUEST_CID);
	assert_int_equal(p.dst_port, 1234);
	hostport = p.src_port;
	/* the guest accepts */
	guest_send(f, 1234, hostport, 2, 2, NULL, 0);
	assert_true(read_pumped(f, c, buf, sizeof(buf)) > 0);
	assert_int_equal(strncmp(buf, "OK ", 3), 0);
	assert_int_equal((uint32_t)atol(buf + 3), hostport);
	assert_true(guest_recv(f, &p));
	assert_int_equal(p.op, 5);
	assert_int_equal(p.len, 5);
	assert_memory_equal(p.data, "early", 5);
	/* host to guest */
	assert_int_equal(write(c, "ping", 4), 4);
	assert_true(guest_recv(f, &p));
	assert_int_equal(p.op, 5);
	assert_int_equal(p.len, 4);
	assert_memory_equal(p.data, "ping", 4);
	/* guest to host */
	guest_send(f, 1234, hostport, 5, 2, "pong", 4);
	memset(buf, 0, sizeof(buf));
	assert_int_equal(read_pumped(f, c, buf, sizeof(buf)), 4);
	assert_string_equal(buf, "pong");
	/* the host closes: the guest is told */
	close(c);
	assert_true(guest_recv(f, &p));
	assert_int_equal(p.op, 4); /* SHUTDOWN */
	assert_int_equal(p.flags, 3);
	guest_send(f, 1234, hostport, 3, 2, NULL, 0); /* guest RST frees it */
}

static void test_vsock_guest_connect_reaches_the_host_socket(void **state)
{
	struct fx *f = *state;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char buf[16] = {0};
	struct pkt p;
	int l, s;

	l = socket(AF_UNIX, SOCK_STREAM, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s_5000", f->path);
	assert_int_equal(bind(l, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(l, 1), 0);
	guest_send(f, 40000, 5000, 1, 2, NULL, 0); /* REQUEST */
	assert_true(guest_recv(f, &p));
	assert_int_equal(p.op, 2); /* RESPONSE */
	assert_int_equal(p.src_port, 5000);
	assert_int_equal(p.dst_port, 40000);
	s = accept(l, NULL, NULL);
	assert_true(s >= 0);
	guest_send(f, 40000, 5000, 5, 2, "hi", 2);
	assert_int_equal(read_pumped(f, s, buf, sizeof(buf)), 2);
	assert_string_equal(buf, "hi");
	assert_int_equal(write(s, "yo", 2), 2);
	assert_true(guest_recv(f, &p));
	assert_int_equal(p.op, 5);
	assert_memory_equal(p.data, "yo", 2);
	/* the guest shuts down both ways: RST back, the host socket sees EOF */
	guest_send(f, 40000, 5000, 4, 2, "\0", 0);
	close(s);
	close(l);
}

static void test_vsock_refused_and_malformed_packets_get_rst(void **state)
{
	struct fx *f = *state;
	struct pkt p;

	/* nobody listens at <path>_6000 */
	guest_send(f, 40001, 6000, 1, 2, NULL, 0);
	assert_true(guest_recv(f, &p));
	assert_int_equal(p.op, 3);
	assert_int_equal(p.dst_port, 40001);
	/* data for a connection that does not exist */
	guest_send(f, 40002, 7000, 5, 2, "x", 1);
	assert_true(guest_recv(f, &p));
	assert_int_equal(p.op, 3);
	/* to a CID that is not the host */
	guest_send(f, 40003, 7000, 1, 99, NULL, 0);
	assert_true(guest_recv(f, &p));
	assert_int_equal(p.op, 3);
	assert_false(vd_rd(&f->d, 0x70) & VIRTIO_STATUS_NEEDS_RESET);
}

static void test_vsock_bad_handshake_line_closes_the_client(void **state)
{
	struct fx *f = *state;
	char buf[8];
	int c = unix_connect(f->path);

	for (int i = 0; i < 5; i++)
		loop_run_once(f->d.l, 5);
	assert_int_equal(write(c, "HELLO\n", 6), 6);
	assert_int_equal(read_pumped(f, c, buf, sizeof(buf)), 0); /* closed */
	close(c);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_vsock_host_connect_reaches_the_guest_and_data_flows),
		T(test_vsock_guest_connect_reaches_the_host_socket),
		T(test_vsock_refused_and_malformed_packets_get_rst),
		T(test_vsock_bad_handshake_line_closes_the_client),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
