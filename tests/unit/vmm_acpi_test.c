/* Unit tests for vmm/arch/x86_64/acpi: table structure, checksums and pointers, the DSDT's
 * virtio-mmio devices, bad descriptions, and (where acpica-tools is installed) iasl -d. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "vmm/arch/x86_64/acpi.h"
#include "vmm/machine.h"

/* acpi.c's x86_acpi_install registers a reset hook; these tests drive acpi_build only. */
int machine_add_reset_hook(struct machine *m, machine_reset_fn fn, void *opaque)
{
	return -ENOSYS;
}

/* and takes the next device interrupt line for the GED (vmm/arch/x86_64/machine.c). */
uint32_t arch_next_device_gsi(uint32_t gsi)
{
	return gsi <= 23 ? gsi : 0;
}

#define BASE 0xe0000u

static uint8_t buf[ACPI_TABLES_MAX];

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
	return get32(p) | (uint64_t)get32(p + 4) << 32;
}

static uint8_t sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	while (n--)
		s += *p++;
	return s;
}

static const uint8_t *table_at(uint64_t gpa)
{
	assert_true(gpa >= BASE && gpa < BASE + sizeof(buf));
	return buf + (gpa - BASE);
}

/* The DSDT of the tables in buf: RSDP -> XSDT (entry 1: the FADT) -> FADT's X_DSDT. */
static const uint8_t *built_dsdt(void)
{
	const uint8_t *xsdt = table_at(get64(buf + 24));
	const uint8_t *fadt = table_at(get64(xsdt + 36));

	return table_at(get64(fadt + 140));
}

static const struct acpi_mmio_dev three_devs[] = {
	{0xd0000000, 0x200, 5},
	{0xd0001000, 0x200, 6},
	{0xd0002000, 0x200, 7},
};
static const uint32_t two_cpus[] = {0, 1};

static struct acpi_desc desc(void)
{
	return (struct acpi_desc){
		.apic_ids = two_cpus,
		.nr_cpus = 2,
		.nr_enabled = 2,
		.ioapic_id = 2,
		.devs = three_devs,
		.nr_devs = 3,
		.pm_port = 0x600,
		.reset_value = 6,
		.com1_port = 0x3f8,
		.com1_irq = 4,
		.ged_base = 0xd1000000,
		.ged_gsi = 23,
	};
}

static size_t count(const uint8_t *hay, size_t len, const char *needle, size_t nlen)
{
	size_t i, n = 0;

	for (i = 0; i + nlen <= len; i++)
		if (!memcmp(hay + i, needle, nlen))
			n++;
	return n;
}

static void test_acpi_rsdp_points_to_a_valid_xsdt(void **state)
{
	struct acpi_desc d = desc();
	const uint8_t *x;
	int n = acpi_build(&d, buf, sizeof(buf), BASE);

	assert_true(n > 0);
	assert_memory_equal(buf, "RSD PTR ", 8);
	assert_int_equal(sum(buf, 20), 0);
	assert_int_equal(buf[15], 2);
	assert_int_equal(get32(buf + 20), 36);
	assert_int_equal(sum(buf, 36), 0);
	x = table_at(get64(buf + 24));
	assert_memory_equal(x, "XSDT", 4);
	assert_int_equal(get32(x + 4), 36 + 16);
	assert_int_equal(sum(x, get32(x + 4)), 0);
	assert_memory_equal(table_at(get64(x + 36)), "FACP", 4);
	assert_memory_equal(table_at(get64(x + 44)), "APIC", 4);
}

static void test_acpi_fadt_is_hardware_reduced_with_sleep_and_reset_registers(void **state)
{
	struct acpi_desc d = desc();
	const uint8_t *f, *x;

	assert_true(acpi_build(&d, buf, sizeof(buf), BASE) > 0);
	x = table_at(get64(buf + 24));
	f = table_at(get64(x + 36));
	assert_int_equal(get32(f + 4), 276);
	assert_int_equal(sum(f, 276), 0);
	assert_true(get32(f + 112) & (1u << 20)); /* HW_REDUCED_ACPI */
	assert_true(get32(f + 112) & (1u << 10)); /* RESET_REG_SUP */
	assert_int_equal(f[116], 1);		  /* reset register in system I/O */
	assert_int_equal(get64(f + 120), 0x602);
	assert_int_equal(f[128], 6);
	assert_int_equal(get64(f + 244 + 4), 0x600); /* sleep control */
	assert_int_equal(get64(f + 256 + 4), 0x601); /* sleep status */
	assert_memory_equal(table_at(get64(f + 140)), "DSDT", 4);
	assert_int_equal(get32(f + 40), get64(f + 140));
}

static void test_acpi_madt_lists_every_cpu_and_the_ioapic(void **state)
{
	static const uint32_t ids[] = {0, 1, 2, 3};
	struct acpi_desc d = desc();
	const uint8_t *m, *p, *x;
	uint32_t len, lapics = 0, enabled = 0, ioapics = 0;

	d.apic_ids = ids;
	d.nr_cpus = 4;
	d.nr_enabled = 3;
	d.ioapic_id = 4;
	assert_true(acpi_build(&d, buf, sizeof(buf), BASE) > 0);
	x = table_at(get64(buf + 24));
	m = table_at(get64(x + 44));
	len = get32(m + 4);
	assert_int_equal(sum(m, len), 0);
	assert_int_equal(get32(m + 36), 0xfee00000u);
	for (p = m + 44; p < m + len; p += p[1]) {
		assert_true(p[1] >= 2);
		if (p[0] == 0) {
			assert_int_equal(p[3], ids[lapics]);
			lapics++;
			enabled += get32(p + 4) & 1;
		} else if (p[0] == 1) {
			ioapics++;
			assert_int_equal(p[2], 4);
			assert_int_equal(get32(p + 4), 0xfec00000u);
		}
	}
	assert_ptr_equal(p, m + len);
	assert_int_equal(lapics, 4);
	assert_int_equal(enabled, 3);
	assert_int_equal(ioapics, 1);
}

static void test_acpi_dsdt_declares_each_virtio_mmio_device(void **state)
{
	struct acpi_desc d = desc();
	const uint8_t *dsdt;
	uint32_t len;

	assert_true(acpi_build(&d, buf, sizeof(buf), BASE) > 0);
	dsdt = built_dsdt();
	len = get32(dsdt + 4);
	assert_int_equal(sum(dsdt, len), 0);
	assert_int_equal(count(dsdt, len, "LNRO0005", 8), 3);
	/* Memory32Fixed: tag 0x86, length 9, read-write, base, size 0x200. */
	assert_int_equal(count(dsdt, len, "\x86\x09\x00\x01\x00\x10\x00\xd0\x00\x02\x00\x00", 12),
			 1);
	/* Extended interrupt: consumer, level, active-high, one GSI (7). */
	assert_int_equal(count(dsdt, len, "\x89\x06\x00\x01\x01\x07\x00\x00\x00", 9), 1);
	assert_int_equal(count(dsdt, len, "_S5_", 4), 1);
}

/* The power button: GED (ACPI0013) with its interrupt, the EREG region at ged_base, _EVT,
 * and the PNP0C0C device it notifies; no GED at all when ged_base is 0. */
static void test_acpi_dsdt_declares_the_ged_power_button(void **state)
{
	/* OperationRegion (EREG, SystemMemory, 0xD1000000, 4) */
	static const uint8_t ereg[] = {0x5b, 0x80, 'E',	 'R',  'E',  'G',  0x00,
				       0x0c, 0x00, 0x00, 0x00, 0xd1, 0x0a, 0x04};
	struct acpi_desc d = desc();
	const uint8_t *dsdt;
	uint32_t len;

	assert_true(acpi_build(&d, buf, sizeof(buf), BASE) > 0);
	dsdt = built_dsdt();
	len = get32(dsdt + 4);
	assert_int_equal(count(dsdt, len, "ACPI0013", 8), 1);
	assert_int_equal(count(dsdt, len, "\x89\x06\x00\x01\x01\x17\x00\x00\x00", 9), 1);
	assert_int_equal(count(dsdt, len, (const char *)ereg, sizeof(ereg)), 1);
	assert_int_equal(count(dsdt, len, "_EVT", 4), 1);
	/* Notify (\_SB.PWRB, 0x80) */
	assert_int_equal(count(dsdt, len, "\x86\\\x2e_SB_PWRB\x0a\x80", 13), 1);
	/* EisaId ("PNP0C0C") = 0x0c0cd041 */
	assert_int_equal(count(dsdt, len, "\x0c\x41\xd0\x0c\x0c", 5), 1);

	d.ged_base = 0;
	assert_true(acpi_build(&d, buf, sizeof(buf), BASE) > 0);
	dsdt = built_dsdt();
	len = get32(dsdt + 4);
	assert_int_equal(count(dsdt, len, "ACPI0013", 8), 0);
	assert_int_equal(count(dsdt, len, "PWRB", 4), 0);
}

static void test_acpi_many_devices_use_long_package_lengths(void **state)
{
	struct acpi_mmio_dev devs[200];
	struct acpi_desc d = desc();
	const uint8_t *dsdt;
	uint32_t i;

	for (i = 0; i < 200; i++)
		devs[i] = (struct acpi_mmio_dev){0xd0000000u + 0x1000u * i, 0x200, 5 + i % 19};
	d.devs = devs;
	d.nr_devs = 200;
	assert_true(acpi_build(&d, buf, sizeof(buf), BASE) > 0);
	dsdt = built_dsdt();
	assert_true(get32(dsdt + 4) > 4096);
	assert_int_equal(sum(dsdt, get32(dsdt + 4)), 0);
	assert_int_equal(count(dsdt, get32(dsdt + 4), "LNRO0005", 8), 200);
}

static void test_acpi_refuses_bad_descriptions(void **state)
{
	struct acpi_desc d = desc();

	d.nr_cpus = 0;
	assert_int_equal(acpi_build(&d, buf, sizeof(buf), BASE), -EINVAL);
	d = desc();
	assert_int_equal(acpi_build(&d, buf, sizeof(buf), BASE + 4), -EINVAL);
	d.nr_enabled = 3;
	assert_int_equal(acpi_build(&d, buf, sizeof(buf), BASE), -EINVAL);
	d = desc();
	assert_int_equal(acpi_build(&d, buf, 64, BASE), -ENOSPC);
	assert_int_equal(acpi_build(&d, buf, 700, BASE), -ENOSPC);
}

/* Random machines (deterministic seed): every table checksums, the MADT walks to its end
 * with one entry per CPU (x2APIC entries for APIC IDs >= 255), and the DSDT names every
 * device, whatever the counts. */
static void test_acpi_random_machines_build_consistent_tables(void **state)
{
	static uint32_t ids[254];
	static struct acpi_mmio_dev devs[64];
	uint64_t seed = 0x5eed;
	int iter;

	for (iter = 0; iter < 300; iter++) {
		struct acpi_desc d = desc();
		const uint8_t *x, *f, *m, *dsdt, *p;
		uint32_t i, cpus = 0, len;

#define RND() \
	(seed = seed * 6364136223846793005ull + 1442695040888963407ull, (uint32_t)(seed >> 33))
		d.nr_cpus = 1 + RND() % 254;
		d.nr_enabled = 1 + RND() % d.nr_cpus;
		for (i = 0; i < d.nr_cpus; i++)
			ids[i] = (RND() % 4) ? i : 200 + RND() % 1000;
		d.apic_ids = ids;
		d.ioapic_id = RND() % 255;
		d.nr_devs = RND() % 65;
		for (i = 0; i < d.nr_devs; i++)
			devs[i] = (struct acpi_mmio_dev){0xd0000000u + 0x1000u * i, 0x200,
							 RND() % 24};
		d.devs = devs;
		d.com1_port = (RND() % 2) ? 0x3f8 : 0;
#undef RND
		assert_true(acpi_build(&d, buf, sizeof(buf), BASE) > 0);
		assert_int_equal(sum(buf, 20), 0);
		assert_int_equal(sum(buf, 36), 0);
		x = table_at(get64(buf + 24));
		assert_int_equal(sum(x, get32(x + 4)), 0);
		f = table_at(get64(x + 36));
		assert_int_equal(sum(f, get32(f + 4)), 0);
		m = table_at(get64(x + 44));
		len = get32(m + 4);
		assert_int_equal(sum(m, len), 0);
		for (p = m + 44; p < m + len; p += p[1]) {
			assert_true(p[1] >= 6);
			if (p[0] == 0 || p[0] == 9)
				cpus++;
		}
		assert_ptr_equal(p, m + len);
		assert_int_equal(cpus, d.nr_cpus);
		dsdt = table_at(get64(f + 140));
		assert_int_equal(sum(dsdt, get32(dsdt + 4)), 0);
		assert_int_equal(count(dsdt, get32(dsdt + 4), "LNRO0005", 8), d.nr_devs);
	}
}

/* iasl -d on each table: the disassembler reports no errors and sees every device. */
static void test_acpi_tables_disassemble_with_iasl(void **state)
{
	static const char *const sigs[] = {"FACP", "APIC", "DSDT"};
	char dir[] = "/tmp/sv-acpi-XXXXXX", cmd[512], path[256];
	struct acpi_desc d = desc();
	const uint8_t *x, *f;
	size_t i;

	static const uint32_t x2_ids[] = {0, 300}; /* the second needs an x2APIC entry */

	if (access("/usr/bin/iasl", X_OK) != 0) {
		skip();
		return;
	}
	d.apic_ids = x2_ids;
	assert_true(acpi_build(&d, buf, sizeof(buf), BASE) > 0);
	assert_non_null(mkdtemp(dir));
	x = table_at(get64(buf + 24));
	f = table_at(get64(x + 36));
	for (i = 0; i < 3; i++) {
		const uint8_t *t = i == 0   ? f
				   : i == 1 ? table_at(get64(x + 44))
					    : table_at(get64(f + 140));
		FILE *fp;

		assert_memory_equal(t, sigs[i], 4);
		snprintf(path, sizeof(path), "%s/%s.dat", dir, sigs[i]);
		fp = fopen(path, "wb");
		assert_non_null(fp);
		assert_int_equal(fwrite(t, 1, get32(t + 4), fp), get32(t + 4));
		assert_int_equal(fclose(fp), 0);
		snprintf(cmd, sizeof(cmd),
			 "cd %s && iasl -d %s.dat >%s.log 2>&1 && test -s %s.dsl && "
			 "! grep -qiE 'error|warning' %s.log",
			 dir, sigs[i], sigs[i], sigs[i], sigs[i]);
		assert_int_equal(system(cmd), 0);
	}
	snprintf(cmd, sizeof(cmd), "test $(grep -c '_HID, \"LNRO0005\"' %s/DSDT.dsl) -eq 3", dir);
	assert_int_equal(system(cmd), 0);
	snprintf(cmd, sizeof(cmd),
		 "grep -q 'Memory32Fixed (ReadWrite,' %s/DSDT.dsl && "
		 "grep -q '0xD0002000' %s/DSDT.dsl && grep -q 'PNP0501' %s/DSDT.dsl",
		 dir, dir, dir);
	assert_int_equal(system(cmd), 0);
	snprintf(cmd, sizeof(cmd),
		 "grep -q 'Name (_HID, \"ACPI0013\"' %s/DSDT.dsl && "
		 "grep -q 'Method (_EVT, 1, Serialized)' %s/DSDT.dsl && "
		 "grep -q 'Notify (\\\\_SB.PWRB, 0x80)' %s/DSDT.dsl && "
		 "grep -q 'EisaId (\"PNP0C0C\")' %s/DSDT.dsl",
		 dir, dir, dir, dir);
	assert_int_equal(system(cmd), 0);
	snprintf(cmd, sizeof(cmd), "grep -q 'Processor Local x2APIC' %s/APIC.dsl", dir);
	assert_int_equal(system(cmd), 0);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_acpi_rsdp_points_to_a_valid_xsdt),
		cmocka_unit_test(test_acpi_fadt_is_hardware_reduced_with_sleep_and_reset_registers),
		cmocka_unit_test(test_acpi_madt_lists_every_cpu_and_the_ioapic),
		cmocka_unit_test(test_acpi_dsdt_declares_each_virtio_mmio_device),
		cmocka_unit_test(test_acpi_dsdt_declares_the_ged_power_button),
		cmocka_unit_test(test_acpi_many_devices_use_long_package_lengths),
		cmocka_unit_test(test_acpi_refuses_bad_descriptions),
		cmocka_unit_test(test_acpi_random_machines_build_consistent_tables),
		cmocka_unit_test(test_acpi_tables_disassemble_with_iasl),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
