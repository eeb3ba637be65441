/* Unit tests of the VMM bus (range registration, dispatch, overlaps) and guest memory bounds
 * (gmem_ptr never returns a pointer for a range that is not entirely guest RAM). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vmm/bus.h"
#include "vmm/memory.h"

struct dev {
	uint64_t last_off;
	uint32_t last_len;
	uint8_t last_val;
	int reads, writes;
};

static void dev_read(void *opaque, uint64_t off, uint8_t *data, uint32_t len)
{
	struct dev *d = opaque;

	d->reads++;
	d->last_off = off;
	d->last_len = len;
	memset(data, 0xa5, len);
}

static void dev_write(void *opaque, uint64_t off, const uint8_t *data, uint32_t len)
{
	struct dev *d = opaque;

	d->writes++;
	d->last_off = off;
	d->last_len = len;
	d->last_val = data[0];
}

static const struct bus_ops dev_ops = {.read = dev_read, .write = dev_write};

static void test_bus_dispatches_with_offset_relative_to_base(void **state)
{
	struct bus *b = bus_new(BUS_MMIO, -1);
	struct dev d = {0};
	uint8_t v[4] = {7, 0, 0, 0};

	assert_non_null(b);
	assert_int_equal(bus_register(b, 0xd0000000, 0x1000, &dev_ops, &d, "dev"), 0);
	assert_true(bus_write(b, 0xd0000010, v, 4));
	assert_int_equal(d.last_off, 0x10);
	assert_int_equal(d.last_len, 4);
	assert_int_equal(d.last_val, 7);
	assert_true(bus_read(b, 0xd0000ffc, v, 4));
	assert_int_equal(v[3], 0xa5);
	bus_free(b);
}

static void test_bus_unclaimed_read_returns_all_ones(void **state)
{
	struct bus *b = bus_new(BUS_PIO, -1);
	uint8_t v[2] = {0, 0};

	assert_false(bus_read(b, 0x2f8, v, 2));
	assert_int_equal(v[0], 0xff);
	assert_int_equal(v[1], 0xff);
	assert_false(bus_write(b, 0x2f8, v, 1));
	bus_free(b);
}

static void test_bus_access_straddling_the_end_is_not_dispatched(void **state)
{
	struct bus *b = bus_new(BUS_PIO, -1);
	struct dev d = {0};
	uint8_t v[4];

	assert_int_equal(bus_register(b, 0x3f8, 8, &dev_ops, &d, "serial"), 0);
	assert_false(bus_read(b, 0x3fe, v, 4));
	assert_int_equal(d.reads, 0);
	assert_true(bus_read(b, 0x3fc, v, 4));
	assert_int_equal(d.reads, 1);
	bus_free(b);
}

static void test_bus_refuses_overlapping_ranges(void **state)
{
	struct bus *b = bus_new(BUS_MMIO, -1);
	struct dev d = {0};

	assert_int_equal(bus_register(b, 0x1000, 0x100, &dev_ops, &d, "a"), 0);
	assert_int_equal(bus_register(b, 0x10ff, 0x10, &dev_ops, &d, "b"), -EEXIST);
	assert_int_equal(bus_register(b, 0xf00, 0x101, &dev_ops, &d, "c"), -EEXIST);
	assert_int_equal(bus_register(b, 0xf00, 0x100, &dev_ops, &d, "d"), 0);
	assert_int_equal(bus_register(b, 0x1100, 0x100, &dev_ops, &d, "e"), 0);
	bus_free(b);
}

static void test_bus_refuses_empty_and_overflowing_ranges(void **state)
{
	struct bus *m = bus_new(BUS_MMIO, -1), *p = bus_new(BUS_PIO, -1);
	struct dev d = {0};

	assert_int_equal(bus_register(m, 0x1000, 0, &dev_ops, &d, "a"), -EINVAL);
	assert_int_equal(bus_register(m, UINT64_MAX - 1, 4, &dev_ops, &d, "a"), -EINVAL);
	assert_int_equal(bus_register(p, 0xfffe, 4, &dev_ops, &d, "a"), -EINVAL);
	bus_free(m);
	bus_free(p);
}

static void test_bus_unregister_stops_dispatch(void **state)
{
	struct bus *b = bus_new(BUS_MMIO, -1);
	struct dev d = {0};
	uint8_t v = 1;

	assert_int_equal(bus_register(b, 0x2000, 0x10, &dev_ops, &d, "a"), 0);
	assert_int_equal(bus_unregister(b, 0x2000), 0);
	assert_false(bus_write(b, 0x2000, &v, 1));
	assert_int_equal(d.writes, 0);
	assert_int_equal(bus_unregister(b, 0x2000), -ENOENT);
	bus_free(b);
}

static void test_bus_many_ranges_stay_sorted(void **state)
{
	struct bus *b = bus_new(BUS_MMIO, -1);
	struct dev d[40];
	uint8_t v = 0;
	int i;

	memset(d, 0, sizeof(d));
	/* Registered out of order, more than the initial table size. */
	for (i = 39; i >= 0; i--)
		assert_int_equal(
			bus_register(b, 0x10000 + (uint64_t)i * 0x100, 0x100, &dev_ops, &d[i], "x"),
			0);
	for (i = 0; i < 40; i++)
		assert_true(bus_write(b, 0x10000 + (uint64_t)i * 0x100 + 0x80, &v, 1));
	for (i = 0; i < 40; i++)
		assert_int_equal(d[i].writes, 1);
	bus_free(b);
}

static void test_ioeventfd_without_a_vm_is_refused(void **state)
{
	struct bus *b = bus_new(BUS_MMIO, -1);

	assert_int_equal(bus_ioeventfd(b, 0xd0000050, 4, 3, true, 0, true), -ENODEV);
	bus_free(b);
}

/* 3 MiB of RAM with a "hole" from 2 MiB to 4 MiB: [0,2M) and [4M,5M). */
static void make_mem(struct gmem *m)
{
	struct gmem_opts o = {.size = 3 << 20, .dump_core = true};
	struct gmem_layout l = {.ram_base = 0, .hole_start = 2 << 20, .hole_end = 4 << 20};
	struct errmsg e;

	assert_int_equal(gmem_init(m, &o, &l, &e), 0);
	assert_int_equal(m->nr_regions, 2);
}

static void test_gmem_ptr_accepts_ranges_inside_one_region(void **state)
{
	struct gmem m;

	make_mem(&m);
	assert_non_null(gmem_ptr(&m, 0, 1));
	assert_non_null(gmem_ptr(&m, (2 << 20) - 8, 8));
	assert_non_null(gmem_ptr(&m, 4 << 20, 1 << 20));
	assert_ptr_equal(gmem_ptr(&m, 4 << 20, 1), m.base + (2 << 20));
	gmem_free(&m);
}

static void test_gmem_ptr_refuses_ranges_leaving_ram(void **state)
{
	struct gmem m;

	make_mem(&m);
	assert_null(gmem_ptr(&m, (2 << 20) - 8, 9));		 /* into the hole */
	assert_null(gmem_ptr(&m, 3 << 20, 1));			 /* in the hole */
	assert_null(gmem_ptr(&m, (2 << 20) - 4, (2 << 20) + 8)); /* across the hole */
	assert_null(gmem_ptr(&m, (5 << 20) - 1, 2));		 /* past the end */
	assert_null(gmem_ptr(&m, 5 << 20, 0));			 /* at the end, len 0 */
	assert_null(gmem_ptr(&m, UINT64_MAX - 1, 4));		 /* overflowing */
	assert_null(gmem_ptr(&m, 16, UINT64_MAX));
	assert_non_null(gmem_ptr(&m, 16, 0));
	gmem_free(&m);
}

static void test_gmem_read_write_are_checked(void **state)
{
	struct gmem m;
	uint8_t buf[16] = "0123456789abcde";

	make_mem(&m);
	assert_int_equal(gmem_write(&m, 0x1000, buf, 16), 0);
	memset(buf, 0, sizeof(buf));
	assert_int_equal(gmem_read(&m, 0x1000, buf, 16), 0);
	assert_string_equal((char *)buf, "0123456789abcde");
	assert_int_equal(gmem_write(&m, (2 << 20) - 8, buf, 16), -EFAULT);
	assert_int_equal(gmem_read(&m, 3 << 20, buf, 1), -EFAULT);
	gmem_free(&m);
}

static void test_gmem_discard_zeroes_whole_pages_only(void **state)
{
	struct gmem m;
	uint8_t *p;

	make_mem(&m);
	p = gmem_ptr(&m, 0x10000, 0x3000);
	memset(p, 0x77, 0x3000);
	/* Rounded inward: only the middle page goes. */
	assert_int_equal(gmem_discard(&m, 0x10010, 0x2ff0 - 0x10), 0);
	assert_int_equal(p[0x0fff], 0x77);
	assert_int_equal(p[0x1000], 0);
	assert_int_equal(p[0x1fff], 0);
	assert_int_equal(p[0x2000], 0x77);
	assert_int_equal(gmem_discard(&m, 3 << 20, 4096), -EFAULT);
	gmem_free(&m);
}

static void test_gmem_size_below_counts_low_ram(void **state)
{
	struct gmem m;

	make_mem(&m);
	assert_int_equal(gmem_size_below(&m, 4 << 20), 2 << 20);
	assert_int_equal(gmem_size_below(&m, UINT64_MAX), 3 << 20);
	assert_int_equal(gmem_size_below(&m, 1 << 20), 1 << 20);
	gmem_free(&m);
}

static void test_gmem_refuses_unaligned_sizes(void **state)
{
	struct gmem m;
	struct gmem_opts o = {.size = 4097};
	struct gmem_layout l = {0, 1ull << 30, 1ull << 31};
	struct errmsg e = {{0}};

	assert_int_equal(gmem_init(&m, &o, &l, &e), -EINVAL);
	assert_non_null(strstr(errmsg_str(&e), "4097"));
	gmem_free(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bus_dispatches_with_offset_relative_to_base),
		cmocka_unit_test(test_bus_unclaimed_read_returns_all_ones),
		cmocka_unit_test(test_bus_access_straddling_the_end_is_not_dispatched),
		cmocka_unit_test(test_bus_refuses_overlapping_ranges),
		cmocka_unit_test(test_bus_refuses_empty_and_overflowing_ranges),
		cmocka_unit_test(test_bus_unregister_stops_dispatch),
		cmocka_unit_test(test_bus_many_ranges_stay_sorted),
		cmocka_unit_test(test_ioeventfd_without_a_vm_is_refused),
		cmocka_unit_test(test_gmem_ptr_accepts_ranges_inside_one_region),
		cmocka_unit_test(test_gmem_ptr_refuses_ranges_leaving_ram),
		cmocka_unit_test(test_gmem_read_write_are_checked),
		cmocka_unit_test(test_gmem_discard_zeroes_whole_pages_only),
		cmocka_unit_test(test_gmem_size_below_counts_low_ram),
		cmocka_unit_test(test_gmem_refuses_unaligned_sizes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
