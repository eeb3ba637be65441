/* Unit tests for vmm/virtio/balloon through the virtio-mmio registers and QMP: the target
 * reaches the config space, inflated pages are given back (read as zero), actual follows
 * the driver, free page reports discard, the QMP commands. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/unit/virtio_driver.h"
#include "vmm/qmp.h"
#include "vmm/virtio/balloon.h"

struct fx {
	struct vdrv d;
	struct vm_device_config dev;
	struct virtio_balloon *b;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	vd_init(&f->d);
	f->dev.kind = VM_DEV_VIRTIO_BALLOON;
	f->dev.id = "balloon0";
	f->dev.iothread = -1;
	f->dev.balloon.deflate_on_oom = true;
	f->dev.balloon.free_page_reporting = true;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	virtio_balloon_destroy(f->b);
	vd_fini(&f->d);
	free(f);
	return 0;
}

static void create(struct fx *f)
{
	struct virtio_balloon_params p = {.mem = &f->d.mem,
					  .mmio = f->d.bus,
					  .base = VD_BASE,
					  .irq = {.vm_fd = -1},
					  .loop = f->d.l,
					  .dev = &f->dev};
	struct errmsg e;

	f->b = virtio_balloon_create(&p, &e);
	if (!f->b)
		fail_msg("virtio_balloon_create: %s", errmsg_str(&e));
}

static void test_balloon_target_reaches_the_guest_with_a_config_interrupt(void **state)
{
	struct fx *f = *state;
	uint32_t feat;

	create(f);
	assert_int_equal(vd_rd(&f->d, 0x8), VIRTIO_ID_BALLOON);
	vd_wr(&f->d, 0x14, 0);
	feat = vd_rd(&f->d, 0x10);
	assert_true(feat & (1u << 2)); /* deflate-on-oom */
	assert_true(feat & (1u << 5)); /* free page reporting */
	assert_true(vd_start(&f->d, 3) & VIRTIO_STATUS_DRIVER_OK);
	assert_int_equal(virtio_balloon_set_target(f->b, VD_RAM_SIZE - 3 * 4096), 0);
	assert_int_equal(vd_rd(&f->d, 0x100), 3); /* num_pages */
	assert_true(vd_rd(&f->d, 0x60) & VIRTIO_MMIO_INT_CONFIG);
	assert_int_equal(virtio_balloon_set_target(f->b, VD_RAM_SIZE + 1), -EINVAL);
}

static void test_balloon_inflate_gives_pages_back(void **state)
{
	struct fx *f = *state;
	uint32_t pfns[2] = {htole32(0x90), htole32(0x91)};

	create(f);
	assert_true(vd_start(&f->d, 3) & VIRTIO_STATUS_DRIVER_OK);
	memset(f->d.ram + 0x90000, 0xab, 2 * 4096);
	memcpy(f->d.ram + VD_BUF, pfns, sizeof(pfns));
	vd_desc(&f->d, 0, 0, VD_BUF, sizeof(pfns), 0, 0);
	vd_publish(&f->d, 0, 0);
	vd_wr(&f->d, 0x50, 0);
	assert_true(vd_wait_used(&f->d, 0, 1, 2000));
	assert_int_equal(f->d.ram[0x90000], 0);
	assert_int_equal(f->d.ram[0x91fff], 0);
	/* the driver reports what it holds */
	vd_wr(&f->d, 0x104, 2);
	assert_int_equal(virtio_balloon_actual(f->b), VD_RAM_SIZE - 2 * 4096);
	/* a PFN outside guest RAM is skipped, the device carries on */
	pfns[0] = htole32(0xfffff);
	memcpy(f->d.ram + VD_BUF, pfns, sizeof(pfns));
	vd_publish(&f->d, 0, 0);
	vd_wr(&f->d, 0x50, 0);
	assert_true(vd_wait_used(&f->d, 0, 2, 2000));
	assert_false(vd_rd(&f->d, 0x70) & VIRTIO_STATUS_NEEDS_RESET);
}

static void test_balloon_free_page_reports_discard(void **state)
{
	struct fx *f = *state;

	create(f);
	assert_true(vd_start(&f->d, 3) & VIRTIO_STATUS_DRIVER_OK);
	memset(f->d.ram + 0xa0000, 0xcd, 4 * 4096);
	vd_desc(&f->d, 2, 0, 0xa0000, 4 * 4096, 2, 0);
	vd_publish(&f->d, 2, 0);
	vd_wr(&f->d, 0x50, 2);
	assert_true(vd_wait_used(&f->d, 2, 1, 2000));
	assert_int_equal(f->d.ram[0xa0000], 0);
	assert_int_equal(f->d.ram[0xa3fff], 0);
}

static void test_balloon_qmp_commands(void **state)
{
	struct fx *f = *state;
	struct qmp_server *s;
	struct errmsg e;
	const char *in;
	char *out;

	create(f);
	s = qmp_server_new(NULL, NULL, NULL, NULL, &e);
	assert_non_null(s);
	in = "{\"execute\":\"balloon\",\"arguments\":{\"value\":1036288}}"
	     "{\"execute\":\"query-balloon\"}"
	     "{\"execute\":\"balloon\",\"arguments\":{\"value\":\"big\"}}"
	     "{\"execute\":\"balloon\",\"arguments\":{\"value\":0}}";
	out = qmp_server_feed_for_test(s, (const uint8_t *)in, strlen(in), true);
	assert_non_null(out);
	assert_non_null(strstr(out, "{\"return\":{}}\r\n{\"return\":{\"actual\":1048576}}"));
	assert_non_null(strstr(out, "Parameter 'value' expects an integer"));
	assert_non_null(strstr(out, "must be between 1 and the guest's RAM size"));
	assert_int_equal(vd_rd(&f->d, 0x100), 3); /* (1 MiB - 1036288) / 4096 */
	free(out);
	qmp_server_free(s);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_balloon_target_reaches_the_guest_with_a_config_interrupt),
		T(test_balloon_inflate_gives_pages_back),
		T(test_balloon_free_page_reports_discard),
		T(test_balloon_qmp_commands),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
