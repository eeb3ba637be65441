/* mptable: the Intel MultiProcessor Specification 1.4 tables in the EBDA, so SMP guests
 * find their processors, the IOAPIC and the ISA interrupt routing without ACPI. */
#include <errno.h>
#include <string.h>

#include "layout.h"
#include "mptable.h"
#include "x86.h"

#define MP_PROC_ENTRY	   0
#define MP_BUS_ENTRY	   1
#define MP_IOAPIC_ENTRY	   2
#define MP_INTSRC_ENTRY	   3
#define MP_LINTSRC_ENTRY   4
#define MP_INT_TYPE_INT	   0
#define MP_INT_TYPE_NMI	   1
#define MP_INT_TYPE_EXTINT 3
#define MP_APIC_VERSION	   0x14
#define MP_IOAPIC_VERSION  0x11
#define MP_IOAPIC_PINS	   24

static uint8_t mp_sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	while (n--)
		s += *p++;
	return s;
}

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

size_t mptable_size(uint32_t nr_cpus)
{
	return 16 + 44 + 20 * (size_t)nr_cpus + 8 + 8 + 8 * MP_IOAPIC_PINS + 8 * 2;
}

int mptable_build(uint8_t *buf, size_t len, uint32_t base, const uint32_t *apic_ids,
		  uint32_t nr_cpus)
{
	uint8_t *fp = buf, *hdr = buf + 16, *p;
	uint32_t i, ioapic_id = 0, entries = 0;
	size_t need = mptable_size(nr_cpus);

	if (nr_cpus == 0 || need > len || need > 0xffff)
		return -ENOSPC;
	memset(buf, 0, need);
	for (i = 0; i < nr_cpus; i++)
		if (apic_ids[i] >= ioapic_id)
			ioapic_id = apic_ids[i] + 1;
	if (ioapic_id > 0xfe)
		return -ERANGE;

	p = hdr + 44;
	for (i = 0; i < nr_cpus; i++, p += 20, entries++) {
		p[0] = MP_PROC_ENTRY;
		p[1] = (uint8_t)apic_ids[i];
		p[2] = MP_APIC_VERSION;
		p[3] = 1 | (i == 0 ? 2 : 0); /* enabled, bootstrap processor */
		put32(p + 4, 0x600);	     /* family 6 signature */
		put32(p + 8, 0x201);	     /* FPU, APIC */
	}
	p[0] = MP_BUS_ENTRY;
	memcpy(p + 2, "ISA   ", 6);
	p += 8, entries++;
	p[0] = MP_IOAPIC_ENTRY;
	p[1] = (uint8_t)ioapic_id;
	p[2] = MP_IOAPIC_VERSION;
	p[3] = 1;
	put32(p + 4, (uint32_t)X86_IOAPIC_ADDR);
	p += 8, entries++;
	/* KVM's default routing sends GSI n to IOAPIC pin n (and to the PIC for n < 16). */
	for (i = 0; i < MP_IOAPIC_PINS; i++, p += 8, entries++) {
		p[0] = MP_INTSRC_ENTRY;
		p[1] = MP_INT_TYPE_INT;
		p[4] = 0;	   /* ISA bus */
		p[5] = (uint8_t)i; /* source IRQ */
		p[6] = (uint8_t)ioapic_id;
		p[7] = (uint8_t)i; /* pin */
	}
	/* LINT0: ExtINT from the PIC; LINT1: NMI, on every processor (0xff). */
	p[0] = MP_LINTSRC_ENTRY;
	p[1] = MP_INT_TYPE_EXTINT;
	p[6] = 0xff;
	p[7] = 0;
	p += 8, entries++;
	p[0] = MP_LINTSRC_ENTRY;
	p[1] = MP_INT_TYPE_NMI;
	p[6] = 0xff;
	p[7] = 1;
	p += 8, entries++;

	memcpy(hdr, "PCMP", 4);
	put16(hdr + 4, (uint16_t)(p - hdr));
	hdr[6] = 4; /* spec 1.4 */
	memcpy(hdr + 8, "SPLITVM ", 8);
	memcpy(hdr + 16, "MICROVM     ", 12);
	put16(hdr + 34, (uint16_t)entries);
	put32(hdr + 36, (uint32_t)X86_LAPIC_ADDR);
	hdr[7] = (uint8_t)-mp_sum(hdr, (size_t)(p - hdr));

	memcpy(fp, "_MP_", 4);
	put32(fp + 4, base + 16);
	fp[8] = 1; /* length in 16-byte units */
	fp[9] = 4;
	fp[10] = (uint8_t)-mp_sum(fp, 16);
	return (int)need;
}

int x86_mptable_write(struct machine *m)
{
	uint32_t ids[VMCFG_MAX_CPUS];
	uint32_t i;
	uint8_t *dst;
	size_t need = mptable_size(m->nr_vcpus);

	if (m->nr_vcpus > VMCFG_MAX_CPUS || need > 0xa0000 - X86_EBDA_START)
		return -ENOSPC;
	dst = gmem_ptr(&m->mem, X86_EBDA_START, need);
	if (!dst)
		return -EFAULT;
	for (i = 0; i < m->nr_vcpus; i++)
		ids[i] = m->vcpus[i].apic_id;
	return mptable_build(dst, need, (uint32_t)X86_EBDA_START, ids, m->nr_vcpus) < 0 ? -ENOSPC
											: 0;
}
