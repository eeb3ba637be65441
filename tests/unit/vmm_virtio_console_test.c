/* Unit tests for vmm/virtio/console on a unix-socket chardev: guest output reaches the
 * client, client input fills the guest's receive buffers, nothing is lost while the guest
 * has no buffer posted. */
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
#include "vmm/chardev.h"
#include "vmm/virtio/console.h"

struct fx {
	struct vdrv d;
	char dir[64];
	char path[128];
	struct chardev *chr;
	struct virtio_console *con;
	int client;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct vm_chardev_config cc = {
		.id = "con0", .backend = VM_CHARDEV_SOCKET, .server = true, .nowait = true};
	struct virtio_console_params p;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct errmsg e;

	vd_init(&f->d);
	strcpy(f->dir, "/tmp/console_test.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/con.sock", f->dir);
	cc.path = f->path;
	f->chr = chardev_open(f->d.l, &cc, &e);
	assert_non_null(f->chr);
	assert_ptr_equal(chardev_lookup("con0"), f->chr);
	p = (struct virtio_console_params){.mem = &f->d.mem,
					   .mmio = f->d.bus,
					   .base = VD_BASE,
					   .irq = {.vm_fd = -1},
					   .loop = f->d.l,
					   .id = "con0",
					   .chr = f->chr};
	f->con = virtio_console_create(&p, &e);
	assert_non_null(f->con);
	f->client = socket(AF_UNIX, SOCK_STREAM, 0);
	strcpy(sa.sun_path, f->path);
	assert_int_equal(connect(f->client, (struct sockaddr *)&sa, sizeof(sa)), 0);
	for (int i = 0; i < 5; i++)
		loop_run_once(f->d.l, 5);
	assert_true(chardev_connected(f->chr));
	assert_true(vd_start(&f->d, 2) & VIRTIO_STATUS_DRIVER_OK);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	close(f->client);
	virtio_console_destroy(f->con);
	chardev_close(f->chr);
	assert_null(chardev_lookup("con0"));
	vd_fini(&f->d);
	rmdir(f->dir);
	free(f);
	return 0;
}

static void post_rx(struct fx *f, uint16_t slot, uint32_t len)
{
	vd_desc(&f->d, 0, slot, VD_BUF + 0x100u * slot, len, 2, 0);
	vd_publish(&f->d, 0, slot);
	vd_wr(&f->d, 0x50, 0);
}

static void test_console_guest_output_reaches_the_client(void **state)
{
	struct fx *f = *state;
	struct pollfd pfd = {.fd = f->client, .events = POLLIN};
	char buf[32] = {0};

	assert_int_equal(vd_rd(&f->d, 0x8), VIRTIO_ID_CONSOLE);
	memcpy(f->d.ram + VD_BUF + 0x8000, "hello ", 6);
	memcpy(f->d.ram + VD_BUF + 0x8100, "world", 5);
	vd_desc(&f->d, 1, 0, VD_BUF + 0x8000, 6, 1, 1);
	vd_desc(&f->d, 1, 1, VD_BUF + 0x8100, 5, 0, 0);
	vd_publish(&f->d, 1, 0);
	vd_wr(&f->d, 0x50, 1);
	assert_true(vd_wait_used(&f->d, 1, 1, 2000));
	assert_int_equal(poll(&pfd, 1, 2000), 1);
	assert_int_equal(read(f->client, buf, sizeof(buf)), 11);
	assert_string_equal(buf, "hello world");
}

static void test_console_client_input_fills_receive_buffers(void **state)
{
	struct fx *f = *state;

	post_rx(f, 0, 64);
	assert_int_equal(write(f->client, "typed", 5), 5);
	assert_true(vd_wait_used(&f->d, 0, 1, 2000));
	assert_int_equal(vd_used_len(&f->d, 0, 0), 5);
	assert_memory_equal(f->d.ram + VD_BUF, "typed", 5);
}

static void test_console_input_waits_for_a_buffer_and_is_not_lost(void **state)
{
	struct fx *f = *state;

	assert_int_equal(write(f->client, "early bytes", 11), 11);
	for (int i = 0; i < 10; i++)
		loop_run_once(f->d.l, 5);
	assert_int_equal(vd_used_idx(&f->d, 0), 0);
	/* a small buffer takes part, the next one the rest */
	post_rx(f, 0, 4);
	assert_true(vd_wait_used(&f->d, 0, 1, 2000));
	assert_int_equal(vd_used_len(&f->d, 0, 0), 4);
	post_rx(f, 1, 64);
	assert_true(vd_wait_used(&f->d, 0, 2, 2000));
	assert_int_equal(vd_used_len(&f->d, 0, 1), 7);
	assert_memory_equal(f->d.ram + VD_BUF, "earl", 4);
	assert_memory_equal(f->d.ram + VD_BUF + 0x100, "y bytes", 7);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_console_guest_output_reaches_the_client),
		T(test_console_client_input_fills_receive_buffers),
		T(test_console_input_waits_for_a_buffer_and_is_not_lost),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
