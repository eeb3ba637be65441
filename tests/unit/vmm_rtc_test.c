/* Unit tests of the CMOS RTC model: time registers in BCD and binary follow the host clock,
 * a guest write moves the guest's clock, status registers, memory-size bytes, NVRAM. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "vmm/arch/x86_64/x86.h"
#include "vmm/machine.h"

struct fixture {
	struct machine m;
	struct x86_rtc *r;
};

/* 5 GiB of "RAM": 3 GiB low, 2 GiB above 4 GiB (regions only, never mapped). */
static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	f->m.vm_fd = -1;
	f->m.pio = bus_new(BUS_PIO, -1);
	f->m.mem.ram_size = 5ull << 30;
	f->m.mem.regions[0] = (struct gmem_region){0, 3ull << 30, NULL};
	f->m.mem.regions[1] = (struct gmem_region){4ull << 30, 2ull << 30, NULL};
	f->m.mem.nr_regions = 2;
	assert_int_equal(x86_rtc_create(&f->m, &f->r), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	x86_rtc_destroy(f->r);
	bus_free(f->m.pio);
	free(f);
	return 0;
}

static uint8_t cmos(struct fixture *f, uint8_t reg)
{
	uint8_t v = reg;

	assert_true(bus_write(f->m.pio, 0x70, &v, 1));
	assert_true(bus_read(f->m.pio, 0x71, &v, 1));
	return v;
}

static void cmos_set(struct fixture *f, uint8_t reg, uint8_t val)
{
	assert_true(bus_write(f->m.pio, 0x70, &reg, 1));
	assert_true(bus_write(f->m.pio, 0x71, &val, 1));
}

static int bcd(uint8_t v)
{
	return (v >> 4) * 10 + (v & 0xf);
}

static void test_rtc_reports_host_utc_in_bcd(void **state)
{
	struct fixture *f = *state;
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	assert_int_equal(bcd(cmos(f, 0x09)), tm.tm_year % 100);
	assert_int_equal(bcd(cmos(f, 0x08)), tm.tm_mon + 1);
	assert_int_equal(bcd(cmos(f, 0x32)), (tm.tm_year + 1900) / 100);
	assert_int_equal(cmos(f, 0x0b) & 0x06, 0x02); /* BCD, 24 h */
}

static void test_rtc_binary_mode(void **state)
{
	struct fixture *f = *state;
	time_t now = time(NULL);
	struct tm tm;

	cmos_set(f, 0x0b, 0x06);
	gmtime_r(&now, &tm);
	assert_int_equal(cmos(f, 0x09), tm.tm_year % 100);
}

static void test_rtc_guest_can_set_the_year(void **state)
{
	struct fixture *f = *state;

	cmos_set(f, 0x09, 0x42); /* BCD 42 */
	assert_int_equal(cmos(f, 0x09), 0x42);
}

static void test_rtc_status_registers(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(cmos(f, 0x0a) & 0x80, 0); /* never "update in progress" */
	assert_int_equal(cmos(f, 0x0d), 0x80);	   /* valid RAM and time */
	cmos_set(f, 0x0d, 0);			   /* read-only */
	assert_int_equal(cmos(f, 0x0d), 0x80);
}

static void test_rtc_memory_size_bytes(void **state)
{
	struct fixture *f = *state;
	uint32_t ext16 = cmos(f, 0x34) | cmos(f, 0x35) << 8;
	uint32_t above4g = cmos(f, 0x5b) | cmos(f, 0x5c) << 8 | (uint32_t)cmos(f, 0x5d) << 16;

	assert_int_equal(cmos(f, 0x15) | cmos(f, 0x16) << 8, 640);
	assert_int_equal(cmos(f, 0x30) | cmos(f, 0x31) << 8, 0xffff); /* capped */
	assert_int_equal(ext16, ((3u << 30) - (16u << 20)) >> 16);
	assert_int_equal(above4g, (2u << 30) >> 16);
}

static void test_rtc_nvram_keeps_bytes_and_index_ignores_nmi_bit(void **state)
{
	struct fixture *f = *state;

	cmos_set(f, 0x50, 0x99);
	assert_int_equal(cmos(f, 0x50), 0x99);
	assert_int_equal(cmos(f, 0x80 | 0x50), 0x99);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_rtc_reports_host_utc_in_bcd),
		T(test_rtc_binary_mode),
		T(test_rtc_guest_can_set_the_year),
		T(test_rtc_status_registers),
		T(test_rtc_memory_size_bytes),
		T(test_rtc_nvram_keeps_bytes_and_index_ignores_nmi_bit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
