/* Unit tests for vmm/virtio/rng through the virtio-mmio registers: bytes from the rng file,
 * the max-bytes/period budget, a bad file. */
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
#include "vmm/virtio/rng.h"

struct fx {
	struct vdrv d;
	struct vm_device_config dev;
	struct virtio_rng *rng;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	vd_init(&f->d);
	f->dev.kind = VM_DEV_VIRTIO_RNG;
	f->dev.id = "rng0";
	f->dev.iothread = -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	virtio_rng_destroy(f->rng);
	vd_fini(&f->d);
	free(f);
	return 0;
}

static void create(struct fx *f, const char *file)
{
	struct virtio_rng_params p = {.mem = &f->d.mem,
				      .mmio = f->d.bus,
				      .base = VD_BASE,
				      .irq = {.vm_fd = -1},
				      .loop = f->d.l,
				      .filename = file,
				      .dev = &f->dev};
	struct errmsg e;

	f->rng = virtio_rng_create(&p, &e);
	if (!f->rng)
		fail_msg("virtio_rng_create: %s", errmsg_str(&e));
}

static void request(struct fx *f, uint16_t slot, uint32_t len)
{
	vd_desc(&f->d, 0, slot, VD_BUF + 0x1000u * slot, len, 2, 0);
	vd_publish(&f->d, 0, slot);
	vd_wr(&f->d, 0x50, 0);
}

static void test_rng_fills_the_buffer_with_entropy(void **state)
{
	struct fx *f = *state;
	size_t i, zeros = 0;

	create(f, "/dev/urandom");
	assert_int_equal(vd_rd(&f->d, 0x8), VIRTIO_ID_RNG);
	assert_true(vd_start(&f->d, 1) & VIRTIO_STATUS_DRIVER_OK);
	request(f, 0, 256);
	assert_true(vd_wait_used(&f->d, 0, 1, 2000));
	assert_int_equal(vd_used_len(&f->d, 0, 0), 256);
	for (i = 0; i < 256; i++)
		zeros += f->d.ram[VD_BUF + i] == 0;
	assert_true(zeros < 16);
}

static void test_rng_respects_the_byte_budget(void **state)
{
	struct fx *f = *state;

	f->dev.rng.max_bytes = 64;
	f->dev.rng.period_ms = 300;
	create(f, "/dev/urandom");
	assert_true(vd_start(&f->d, 1) & VIRTIO_STATUS_DRIVER_OK);
	request(f, 0, 512);
	assert_true(vd_wait_used(&f->d, 0, 1, 2000));
	assert_int_equal(vd_used_len(&f->d, 0, 0), 64); /* only the period's budget */
	request(f, 1, 512);
	loop_run_once(f->d.l, 0);
	assert_int_equal(vd_used_idx(&f->d, 0), 1); /* budget spent: waits for the next period */
	assert_true(vd_wait_used(&f->d, 0, 2, 3000));
	assert_int_equal(vd_used_len(&f->d, 0, 1), 64);
}

static void test_rng_bad_file_is_refused(void **state)
{
	struct fx *f = *state;
	struct virtio_rng_params p = {.mem = &f->d.mem,
				      .mmio = f->d.bus,
				      .base = VD_BASE,
				      .irq = {.vm_fd = -1},
				      .loop = f->d.l,
				      .filename = "/nonexistent/random",
				      .dev = &f->dev};
	struct errmsg e;

	assert_null(virtio_rng_create(&p, &e));
	assert_string_equal(errmsg_str(&e),
			    "-object rng-random: /nonexistent/random: No such file or directory");
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_rng_fills_the_buffer_with_entropy),
		T(test_rng_respects_the_byte_budget),
		T(test_rng_bad_file_is_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
