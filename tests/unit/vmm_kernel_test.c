/* Unit tests of the x86 kernel image validation (bzImage setup header, ELF/PVH note), the e820
 * map and the MP table builder. */
#include <elf.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vmm/arch/x86_64/kernel.h"
#include "vmm/arch/x86_64/mptable.h"
#include "vmm/memory.h"

#define LOAD 0x100000

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

/* A minimal valid bzImage: 1 setup sector, pm bytes of kernel. */
static uint8_t *make_bz(size_t pm, size_t *len)
{
	size_t n = 1024 + pm;
	uint8_t *b = calloc(1, n);

	assert_non_null(b);
	b[0x1f1] = 1;
	put32(b + 0x1f4, (uint32_t)((pm + 15) / 16));
	put16(b + 0x1fe, 0xaa55);
	b[0x200] = 0xeb;
	b[0x201] = 0x6a; /* header ends at 0x26c */
	memcpy(b + 0x202, "HdrS", 4);
	put16(b + 0x206, 0x020f);
	b[0x211] = 0x01;
	put32(b + 0x22c, 0x7fffffff);
	put16(b + 0x236, 0x0001);
	put32(b + 0x238, 2047);
	put32(b + 0x260, 0x20000);
	*len = n;
	return b;
}

static void test_bzimage_valid_header_is_accepted(void **state)
{
	struct x86_kernel_info k;
	struct errmsg e = {{0}};
	size_t len;
	uint8_t *b = make_bz(4096, &len);

	assert_int_equal(x86_kernel_parse(b, len, LOAD, &k, &e), 0);
	assert_int_equal(k.kind, X86_KERNEL_BZIMAGE);
	assert_int_equal(k.setup_size, 1024);
	assert_int_equal(k.nr_segs, 1);
	assert_int_equal(k.segs[0].file_off, 1024);
	assert_int_equal(k.segs[0].filesz, 4096);
	assert_int_equal(k.entry, LOAD + 0x200);
	assert_int_equal(k.load_end, LOAD + 0x20000); /* init_size beyond the file */
	assert_int_equal(k.initrd_addr_max, 0x7fffffff);
	assert_int_equal(k.hdr_len, 0x26c - 0x1f1);
	free(b);
}

static void test_bzimage_zero_setup_sects_means_four(void **state)
{
	struct x86_kernel_info k;
	size_t len;
	uint8_t *b = make_bz(8192, &len);

	b[0x1f1] = 0;
	put32(b + 0x1f4, (8192 - 2048) / 16);
	assert_int_equal(x86_kernel_parse(b, len, LOAD, &k, NULL), 0);
	assert_int_equal(k.setup_size, 5 * 512);
	free(b);
}

static void test_bzimage_truncated_kernel_is_refused(void **state)
{
	struct x86_kernel_info k;
	struct errmsg e = {{0}};
	size_t len;
	uint8_t *b = make_bz(4096, &len);

	put32(b + 0x1f4, 8192 / 16);
	assert_int_equal(x86_kernel_parse(b, len, LOAD, &k, &e), -EINVAL);
	assert_non_null(strstr(errmsg_str(&e), "truncated: header says 8192 bytes of kernel"));
	free(b);
}

static void test_bzimage_syssize_rounding_slack_is_allowed(void **state)
{
	struct x86_kernel_info k;
	size_t len;
	uint8_t *b = make_bz(4100, &len); /* syssize rounds up to 4112 */

	assert_int_equal(x86_kernel_parse(b, len, LOAD, &k, NULL), 0);
	free(b);
}

static void test_bzimage_truncated_setup_is_refused(void **state)
{
	struct x86_kernel_info k;
	struct errmsg e = {{0}};
	size_t len;
	uint8_t *b = make_bz(4096, &len);

	b[0x1f1] = 30; /* 31 sectors of setup, far beyond the file */
	assert_int_equal(x86_kernel_parse(b, len, LOAD, &k, &e), -EINVAL);
	assert_non_null(strstr(errmsg_str(&e), "truncated"));
	free(b);
}

static void test_bzimage_without_64bit_entry_is_refused(void **state)
{
	struct x86_kernel_info k;
	struct errmsg e = {{0}};
	size_t len;
	uint8_t *b = make_bz(4096, &len);

	put16(b + 0x236, 0);
	assert_int_equal(x86_kernel_parse(b, len, LOAD, &k, &e), -ENOEXEC);
	assert_non_null(strstr(errmsg_str(&e), "XLF_KERNEL_64"));
	free(b);
}

static void test_bzimage_old_protocol_is_refused(void **state)
{
	struct x86_kernel_info k;
	struct errmsg e = {{0}};
	size_t len;
	uint8_t *b = make_bz(4096, &len);

	put16(b + 0x206, 0x0204);
	assert_int_equal(x86_kernel_parse(b, len, LOAD, &k, &e), -ENOEXEC);
	assert_non_null(strstr(errmsg_str(&e), "boot protocol 2.04 too old"));
	free(b);
}

static void test_bzimage_not_loaded_high_is_refused(void **state)
{
	struct x86_kernel_info k;
	size_t len;
	uint8_t *b = make_bz(4096, &len);

	b[0x211] = 0;
	assert_int_equal(x86_kernel_parse(b, len, LOAD, &k, NULL), -ENOEXEC);
	free(b);
}

static void test_bzimage_bad_boot_flag_is_refused(void **state)
{
	struct x86_kernel_info k;
	size_t len;
	uint8_t *b = make_bz(4096, &len);

	put16(b + 0x1fe, 0x1234);
	assert_int_equal(x86_kernel_parse(b, len, LOAD, &k, NULL), -EINVAL);
	free(b);
}

static void test_bzimage_short_header_jump_is_refused(void **state)
{
	struct x86_kernel_info k;
	size_t len;
	uint8_t *b = make_bz(4096, &len);

	b[0x201] = 0x10; /* header would end before init_size */
	assert_int_equal(x86_kernel_parse(b, len, LOAD, &k, NULL), -EINVAL);
	free(b);
}

static void test_random_bytes_are_not_a_kernel(void **state)
{
	struct x86_kernel_info k;
	struct errmsg e = {{0}};
	uint8_t b[4096];

	memset(b, 0x5a, sizeof(b));
	assert_int_equal(x86_kernel_parse(b, sizeof(b), LOAD, &k, &e), -ENOEXEC);
	assert_non_null(strstr(errmsg_str(&e), "not a Linux kernel"));
	assert_int_equal(x86_kernel_parse(b, 0, LOAD, &k, &e), -EINVAL);
	assert_string_equal(errmsg_str(&e), "empty file");
}

/* An ELF64 with one PT_LOAD at 1 MiB and a PT_NOTE holding the PVH entry note. */
static uint8_t *make_elf(size_t *len, bool with_note)
{
	size_t n = 0x1000 + 0x100;
	uint8_t *b = calloc(1, n), *ph;

	assert_non_null(b);
	memcpy(b, ELFMAG, SELFMAG);
	b[EI_CLASS] = ELFCLASS64;
	b[EI_DATA] = ELFDATA2LSB;
	put16(b + offsetof(Elf64_Ehdr, e_machine), EM_X86_64);
	put64(b + offsetof(Elf64_Ehdr, e_phoff), 64);
	put16(b + offsetof(Elf64_Ehdr, e_phentsize), sizeof(Elf64_Phdr));
	put16(b + offsetof(Elf64_Ehdr, e_phnum), 2);
	ph = b + 64;
	put32(ph + offsetof(Elf64_Phdr, p_type), PT_LOAD);
	put64(ph + offsetof(Elf64_Phdr, p_offset), 0x1000);
	put64(ph + offsetof(Elf64_Phdr, p_paddr), LOAD);
	put64(ph + offsetof(Elf64_Phdr, p_filesz), 0x100);
	put64(ph + offsetof(Elf64_Phdr, p_memsz), 0x2000);
	ph += sizeof(Elf64_Phdr);
	put32(ph + offsetof(Elf64_Phdr, p_type), PT_NOTE);
	put64(ph + offsetof(Elf64_Phdr, p_offset), 0x200);
	put64(ph + offsetof(Elf64_Phdr, p_filesz), 20);
	put32(b + 0x200, 4);
	put32(b + 0x204, 4);
	put32(b + 0x208, with_note ? 18 : 17);
	memcpy(b + 0x20c, "Xen", 4);
	put32(b + 0x210, LOAD + 0x10);
	*len = n;
	return b;
}

static void test_pvh_elf_entry_comes_from_the_note(void **state)
{
	struct x86_kernel_info k;
	size_t len;
	uint8_t *b = make_elf(&len, true);

	assert_int_equal(x86_kernel_parse(b, len, LOAD, &k, NULL), 0);
	assert_int_equal(k.kind, X86_KERNEL_PVH_ELF);
	assert_int_equal(k.entry, LOAD + 0x10);
	assert_int_equal(k.nr_segs, 1);
	assert_int_equal(k.segs[0].memsz, 0x2000);
	assert_int_equal(k.load_end, LOAD + 0x2000);
	free(b);
}

static void test_elf_without_pvh_note_is_refused(void **state)
{
	struct x86_kernel_info k;
	struct errmsg e = {{0}};
	size_t len;
	uint8_t *b = make_elf(&len, false);

	assert_int_equal(x86_kernel_parse(b, len, LOAD, &k, &e), -ENOEXEC);
	assert_non_null(strstr(errmsg_str(&e), "no PVH entry note"));
	free(b);
}

static void test_elf_note_running_past_its_segment_is_refused(void **state)
{
	struct x86_kernel_info k;
	size_t len;
	uint8_t *b = make_elf(&len, true);

	put32(b + 0x204, 0x7ffffff0); /* descsz */
	assert_int_equal(x86_kernel_parse(b, len, LOAD, &k, NULL), -EINVAL);
	free(b);
}

static void test_elf_segment_past_end_of_file_is_refused(void **state)
{
	struct x86_kernel_info k;
	struct errmsg e = {{0}};
	size_t len;
	uint8_t *b = make_elf(&len, true);

	put64(b + 64 + offsetof(Elf64_Phdr, p_filesz), 0x10000);
	assert_int_equal(x86_kernel_parse(b, len, LOAD, &k, &e), -EINVAL);
	assert_non_null(strstr(errmsg_str(&e), "truncated"));
	free(b);
}

static void test_elf_filesz_above_memsz_is_refused(void **state)
{
	struct x86_kernel_info k;
	size_t len;
	uint8_t *b = make_elf(&len, true);

	put64(b + 64 + offsetof(Elf64_Phdr, p_memsz), 0x10);
	assert_int_equal(x86_kernel_parse(b, len, LOAD, &k, NULL), -EINVAL);
	free(b);
}

static void test_elf_overflowing_segment_address_is_refused(void **state)
{
	struct x86_kernel_info k;
	size_t len;
	uint8_t *b = make_elf(&len, true);

	put64(b + 64 + offsetof(Elf64_Phdr, p_paddr), UINT64_MAX - 0x100);
	assert_int_equal(x86_kernel_parse(b, len, LOAD, &k, NULL), -EINVAL);
	free(b);
}

static void test_elf32_is_not_accepted(void **state)
{
	struct x86_kernel_info k;
	size_t len;
	uint8_t *b = make_elf(&len, true);

	b[EI_CLASS] = ELFCLASS32;
	assert_int_equal(x86_kernel_parse(b, len, LOAD, &k, NULL), -ENOEXEC);
	free(b);
}

/* e820 over a fake gmem (regions only: no mapping is needed). */
static void fake_mem(struct gmem *m, uint64_t size)
{
	memset(m, 0, sizeof(*m));
	m->ram_size = size;
	m->regions[0].gpa = 0;
	m->regions[0].size = size < 0xc0000000ull ? size : 0xc0000000ull;
	m->nr_regions = 1;
	if (size > 0xc0000000ull) {
		m->regions[1].gpa = 0x100000000ull;
		m->regions[1].size = size - 0xc0000000ull;
		m->nr_regions = 2;
	}
}

static void test_e820_for_256m_has_low_ram_ebda_and_high_ram(void **state)
{
	struct x86_e820 e[8];
	struct gmem m;

	fake_mem(&m, 256ull << 20);
	assert_int_equal(x86_e820_build(&m, e, 8), 3);
	assert_int_equal(e[0].addr, 0);
	assert_int_equal(e[0].size, 0x9fc00);
	assert_int_equal(e[0].type, E820_RAM);
	assert_int_equal(e[1].addr, 0x9fc00);
	assert_int_equal(e[1].type, E820_RESERVED);
	assert_int_equal(e[2].addr, 0x100000);
	assert_int_equal(e[2].addr + e[2].size, 256ull << 20);
}

static void test_e820_splits_ram_around_the_hole(void **state)
{
	struct x86_e820 e[8];
	struct gmem m;

	fake_mem(&m, 5ull << 30);
	assert_int_equal(x86_e820_build(&m, e, 8), 4);
	assert_int_equal(e[2].addr + e[2].size, 0xc0000000ull);
	assert_int_equal(e[3].addr, 0x100000000ull);
	assert_int_equal(e[3].size, 2ull << 30);
}

static void test_e820_reports_a_full_table(void **state)
{
	struct x86_e820 e[2];
	struct gmem m;

	fake_mem(&m, 256ull << 20);
	assert_int_equal(x86_e820_build(&m, e, 2), -ENOSPC);
}

static uint8_t sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	while (n--)
		s += *p++;
	return s;
}

static void test_mptable_checksums_and_entries(void **state)
{
	uint32_t ids[4] = {0, 1, 2, 3};
	uint8_t buf[1024];
	int n = mptable_build(buf, sizeof(buf), 0x9fc00, ids, 4);
	const uint8_t *t = buf + 16;
	uint16_t len = (uint16_t)(t[4] | t[5] << 8);

	assert_true(n > 0);
	assert_memory_equal(buf, "_MP_", 4);
	assert_int_equal(sum(buf, 16), 0);
	assert_int_equal(buf[4] | buf[5] << 8 | buf[6] << 16, 0x9fc00 + 16);
	assert_memory_equal(t, "PCMP", 4);
	assert_int_equal(sum(t, len), 0);
	/* 4 processors + bus + IOAPIC + 24 interrupts + 2 local interrupts */
	assert_int_equal(t[34] | t[35] << 8, 4 + 1 + 1 + 24 + 2);
	assert_int_equal(t[44], 0);		 /* processor */
	assert_int_equal(t[44 + 3], 3);		 /* enabled | BSP */
	assert_int_equal(t[64 + 3], 1);		 /* AP: enabled only */
	assert_int_equal(t[44 + 80 + 8 + 1], 4); /* IOAPIC id above the APIC IDs */
}

static void test_mptable_refuses_a_small_buffer_and_high_ids(void **state)
{
	uint32_t ids[2] = {0, 0xfe};
	uint8_t buf[1024];

	assert_int_equal(mptable_build(buf, 64, 0, ids, 1), -ENOSPC);
	assert_int_equal(mptable_build(buf, sizeof(buf), 0, ids, 2), -ERANGE);
	assert_int_equal(mptable_build(buf, sizeof(buf), 0, ids, 0), -ENOSPC);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bzimage_valid_header_is_accepted),
		cmocka_unit_test(test_bzimage_zero_setup_sects_means_four),
		cmocka_unit_test(test_bzimage_truncated_kernel_is_refused),
		cmocka_unit_test(test_bzimage_syssize_rounding_slack_is_allowed),
		cmocka_unit_test(test_bzimage_truncated_setup_is_refused),
		cmocka_unit_test(test_bzimage_without_64bit_entry_is_refused),
		cmocka_unit_test(test_bzimage_old_protocol_is_refused),
		cmocka_unit_test(test_bzimage_not_loaded_high_is_refused),
		cmocka_unit_test(test_bzimage_bad_boot_flag_is_refused),
		cmocka_unit_test(test_bzimage_short_header_jump_is_refused),
		cmocka_unit_test(test_random_bytes_are_not_a_kernel),
		cmocka_unit_test(test_pvh_elf_entry_comes_from_the_note),
		cmocka_unit_test(test_elf_without_pvh_note_is_refused),
		cmocka_unit_test(test_elf_note_running_past_its_segment_is_refused),
		cmocka_unit_test(test_elf_segment_past_end_of_file_is_refused),
		cmocka_unit_test(test_elf_filesz_above_memsz_is_refused),
		cmocka_unit_test(test_elf_overflowing_segment_address_is_refused),
		cmocka_unit_test(test_elf32_is_not_accepted),
		cmocka_unit_test(test_e820_for_256m_has_low_ram_ebda_and_high_ram),
		cmocka_unit_test(test_e820_splits_ram_around_the_hole),
		cmocka_unit_test(test_e820_reports_a_full_table),
		cmocka_unit_test(test_mptable_checksums_and_entries),
		cmocka_unit_test(test_mptable_refuses_a_small_buffer_and_high_ids),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
