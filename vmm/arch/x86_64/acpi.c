/* acpi: builds the microvm's ACPI tables (RSDP, XSDT, hardware-reduced FADT, MADT, DSDT with
 * COM1 and one LNRO0005 device per virtio-mmio slot) and keeps them in guest RAM across
 * resets. The AML is encoded here by hand: the DSDT needs only names, integers, strings,
 * packages, buffers and devices. */
#include "acpi.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "layout.h"
#include "log.h"
#include "loop.h"
#include "vmm/arch.h"
#include "x86.h"

#define ACPI_HDR_LEN	  36u
#define ACPI_RSDP_LEN	  36u
#define ACPI_FADT_LEN	  276u /* revision 6 */
#define ACPI_MADT_HDR_LEN 44u

/* FADT flags (ACPI 6.x, 5.2.9 table 5.10). */
#define FADT_F_WBINVD	       (1u << 0)
#define FADT_F_PWR_BUTTON      (1u << 4) /* no fixed-feature power button */
#define FADT_F_SLP_BUTTON      (1u << 5)
#define FADT_F_RESET_REG_SUP   (1u << 10)
#define FADT_F_HW_REDUCED_ACPI (1u << 20)
/* IA-PC boot architecture flags. */
#define FADT_IAPC_VGA_NOT_PRESENT   (1u << 2)
#define FADT_IAPC_MSI_NOT_SUPPORTED (1u << 3)

#define GAS_SYSTEM_IO	1
#define GAS_ACCESS_BYTE 1

#define MADT_PCAT_COMPAT 1u
#define MADT_LAPIC	 0
#define MADT_IOAPIC	 1
#define MADT_LAPIC_NMI	 4
#define MADT_X2APIC	 9

/* AML opcodes (ACPI 6.x, 20.2). */
#define AML_ZERO    0x00
#define AML_ONE	    0x01
#define AML_NAME    0x08
#define AML_METHOD  0x14
#define AML_DUAL    0x2e /* DualNamePrefix */
#define AML_LOCAL0  0x60
#define AML_STORE   0x70
#define AML_AND	    0x7b
#define AML_NOTIFY  0x86
#define AML_IF	    0xa0
#define AML_OPREGION 0x80 /* after AML_EXT */
#define AML_FIELD    0x81 /* after AML_EXT */
#define AML_REGION_SYSMEM 0x00
/* Field flags: DWordAcc (3), NoLock, WriteAsZeros (2 << 5). */
#define AML_FIELD_DWORD_WAZ 0x43
#define AML_METHOD_SERIALIZED 0x08
#define AML_BYTE    0x0a
#define AML_WORD    0x0b
#define AML_DWORD   0x0c
#define AML_STRING  0x0d
#define AML_QWORD   0x0e
#define AML_SCOPE   0x10
#define AML_BUFFER  0x11
#define AML_PACKAGE 0x12
#define AML_EXT	    0x5b
#define AML_DEVICE  0x82 /* after AML_EXT */
#define AML_ROOT    '\\'

/* Resource descriptors (6.4). */
#define RES_IO		     0x47
#define RES_IRQ_NOFLAGS	     0x22
#define RES_END		     0x79
#define RES_MEM32_FIXED	     0x86
#define RES_EXT_IRQ	     0x89
#define RES_EXT_IRQ_CONSUMER 0x01 /* level-triggered, active-high, exclusive */

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

static uint8_t sum8(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	while (n--)
		s += *p++;
	return s;
}

/* The common 36-byte header; the checksum is set once the table is complete. */
static void table_header(uint8_t *t, const char *sig, uint32_t len, uint8_t rev)
{
	memcpy(t, sig, 4);
	put32(t + 4, len);
	t[8] = rev;
	t[9] = 0;
	memcpy(t + 10, "SPLITV", 6);
	memcpy(t + 16, "MICROVM ", 8);
	put32(t + 24, 1);
	memcpy(t + 28, "SVRT", 4);
	put32(t + 32, 1);
}

static void table_checksum(uint8_t *t, uint32_t len)
{
	t[9] = 0;
	t[9] = (uint8_t)-sum8(t, len);
}

/* ---- AML ---- */

/* An AML byte stream in a fixed buffer; over is set (and writing stops) when it is full. */
struct aml {
	uint8_t *p;
	size_t len, cap;
	bool over;
};

static void aml_bytes(struct aml *a, const void *d, size_t n)
{
	if (a->over || n > a->cap - a->len) {
		a->over = true;
		return;
	}
	memcpy(a->p + a->len, d, n);
	a->len += n;
}

static void aml_byte(struct aml *a, uint8_t b)
{
	aml_bytes(a, &b, 1);
}

static void aml_nameseg(struct aml *a, const char seg[4])
{
	aml_bytes(a, seg, 4);
}

static void aml_int(struct aml *a, uint64_t v)
{
	uint8_t b[8];

	if (v == 0) {
		aml_byte(a, AML_ZERO);
	} else if (v == 1) {
		aml_byte(a, AML_ONE);
	} else if (v <= 0xff) {
		aml_byte(a, AML_BYTE);
		aml_byte(a, (uint8_t)v);
	} else if (v <= 0xffff) {
		aml_byte(a, AML_WORD);
		put16(b, (uint16_t)v);
		aml_bytes(a, b, 2);
	} else if (v <= 0xffffffffu) {
		aml_byte(a, AML_DWORD);
		put32(b, (uint32_t)v);
		aml_bytes(a, b, 4);
	} else {
		aml_byte(a, AML_QWORD);
		put64(b, v);
		aml_bytes(a, b, 8);
	}
}

static void aml_string(struct aml *a, const char *s)
{
	aml_byte(a, AML_STRING);
	aml_bytes(a, s, strlen(s) + 1);
}

/* Opens a PkgLength-prefixed body: 4 bytes are reserved and trimmed by aml_pkg_end. */
static size_t aml_pkg_begin(struct aml *a)
{
	static const uint8_t zero[4];
	size_t pos = a->len;

	aml_bytes(a, zero, 4);
	return pos;
}

static void aml_pkg_end(struct aml *a, size_t pos)
{
	size_t body, total, n;

	if (a->over)
		return;
	body = a->len - pos - 4;
	/* PkgLength counts its own bytes: 1 byte up to 63, else 2-4 bytes of 4+8k bits. */
	for (n = 1; n <= 4; n++) {
		total = body + n;
		if ((n == 1 && total <= 0x3f) || (n > 1 && total < (1ull << (4 + 8 * (n - 1)))))
			break;
	}
	if (n > 4) {
		a->over = true;
		return;
	}
	memmove(a->p + pos + n, a->p + pos + 4, body);
	a->len -= 4 - n;
	if (n == 1) {
		a->p[pos] = (uint8_t)total;
	} else {
		size_t i;

		a->p[pos] = (uint8_t)(((n - 1) << 6) | (total & 0xf));
		for (i = 1; i < n; i++)
			a->p[pos + i] = (uint8_t)(total >> (4 + 8 * (i - 1)));
	}
}

/* Name(seg, <integer>) */
static void aml_name_int(struct aml *a, const char seg[4], uint64_t v)
{
	aml_byte(a, AML_NAME);
	aml_nameseg(a, seg);
	aml_int(a, v);
}

/* Name(seg, "string") */
static void aml_name_string(struct aml *a, const char seg[4], const char *s)
{
	aml_byte(a, AML_NAME);
	aml_nameseg(a, seg);
	aml_string(a, s);
}

/* Name(_CRS, Buffer() { resource descriptors..., EndTag }) */
static void aml_name_crs(struct aml *a, const uint8_t *res, size_t len)
{
	static const uint8_t end[2] = {RES_END, 0};
	size_t pos;

	aml_byte(a, AML_NAME);
	aml_nameseg(a, "_CRS");
	aml_byte(a, AML_BUFFER);
	pos = aml_pkg_begin(a);
	aml_int(a, len + sizeof(end));
	aml_bytes(a, res, len);
	aml_bytes(a, end, sizeof(end));
	aml_pkg_end(a, pos);
}

static size_t aml_device_begin(struct aml *a, const char seg[4])
{
	size_t pos;

	aml_byte(a, AML_EXT);
	aml_byte(a, AML_DEVICE);
	pos = aml_pkg_begin(a);
	aml_nameseg(a, seg);
	return pos;
}

/* EISA ID compression of "PNPxxxx" into the 32-bit form _HID takes as an integer. */
static uint32_t eisa_id(const char *id)
{
	uint32_t v = (uint32_t)((id[0] - '@') & 0x1f) << 10 |
		     (uint32_t)((id[1] - '@') & 0x1f) << 5 | (uint32_t)((id[2] - '@') & 0x1f);
	uint32_t prod = 0;
	int i;

	for (i = 3; i < 7; i++) {
		char c = id[i];

		prod = prod << 4 | (uint32_t)(c <= '9' ? c - '0' : c - 'A' + 10);
	}
	/* Stored big-endian: vendor bytes first, then the product number. */
	return (v >> 8 & 0xff) | (v & 0xff) << 8 | (prod >> 8 & 0xff) << 16 | (prod & 0xff) << 24;
}

static void dsdt_com1(struct aml *a, const struct acpi_desc *d)
{
	uint8_t res[8 + 3];
	size_t pos = aml_device_begin(a, "COM1");

	aml_name_int(a, "_HID", eisa_id("PNP0501"));
	aml_name_int(a, "_UID", 0);
	/* IO(Decode16, port, port, 1, 8) and IRQNoFlags() {irq} */
	res[0] = RES_IO;
	res[1] = 1;
	put16(res + 2, d->com1_port);
	put16(res + 4, d->com1_port);
	res[6] = 1;
	res[7] = 8;
	res[8] = RES_IRQ_NOFLAGS;
	put16(res + 9, (uint16_t)(1u << (d->com1_irq & 15)));
	aml_name_crs(a, res, sizeof(res));
	aml_pkg_end(a, pos);
}

/* Extended Interrupt descriptor (9 bytes) for one GSI: consumer, level, active-high,
 * exclusive (an interrupt line the device keeps high while it has something pending). */
static void put_ext_irq(uint8_t *res, uint32_t gsi)
{
	res[0] = RES_EXT_IRQ;
	put16(res + 1, 6);
	res[3] = RES_EXT_IRQ_CONSUMER;
	res[4] = 1;
	put32(res + 5, gsi);
}

static void dsdt_virtio_mmio(struct aml *a, const struct acpi_mmio_dev *dev, uint32_t idx)
{
	static const char hex[] = "0123456789ABCDEF";
	char seg[4] = {'V', 'R', hex[(idx >> 4) & 15], hex[idx & 15]};
	uint8_t res[12 + 9];
	size_t pos = aml_device_begin(a, seg);

	/* Linux's virtio_mmio driver binds to LNRO0005 (drivers/virtio/virtio_mmio.c). */
	aml_name_string(a, "_HID", "LNRO0005");
	aml_name_int(a, "_UID", idx);
	/* Memory32Fixed(ReadWrite, base, size) */
	res[0] = RES_MEM32_FIXED;
	put16(res + 1, 9);
	res[3] = 1;
	put32(res + 4, (uint32_t)dev->base);
	put32(res + 8, dev->size);
	/* Interrupt(ResourceConsumer, Level, ActiveHigh, Exclusive) {gsi}: the transport keeps the
	 * line high while its interrupt status is set (resampled irqfd). */
	put_ext_irq(res + 12, dev->gsi);
	aml_name_crs(a, res, sizeof(res));
	aml_pkg_end(a, pos);
}

/*
 * The hardware-reduced power button (ACPI 6.x 5.6.9): a Generic Event Device whose interrupt
 * runs _EVT, which reads the event register (read-to-clear, which also lowers the line) and
 * notifies the PNP0C0C power button device; Linux's button driver then reports KEY_POWER.
 *
 *   Device (GED_) {
 *     Name (_HID, "ACPI0013")  Name (_UID, 0)
 *     Name (_CRS, ResourceTemplate () { Interrupt (ResourceConsumer, Level, ActiveHigh,
 *                                                  Exclusive) { gsi } })
 *     OperationRegion (EREG, SystemMemory, base, 4)
 *     Field (EREG, DWordAcc, NoLock, WriteAsZeros) { ESEL, 32 }
 *     Method (_EVT, 1, Serialized) {
 *       Local0 = ESEL
 *       If (Local0 & 1) { Notify (\_SB.PWRB, 0x80) }
 *     }
 *   }
 *   Device (PWRB) { Name (_HID, EisaId ("PNP0C0C"))  Name (_UID, 0) }
 */
static void dsdt_ged(struct aml *a, const struct acpi_desc *d)
{
	static const uint8_t pwrb_path[] = {AML_ROOT, AML_DUAL, '_', 'S', 'B', '_', 'P', 'W', 'R', 'B'};
	uint8_t res[9];
	size_t dev, fld, meth, cond;

	dev = aml_device_begin(a, "GED_");
	aml_name_string(a, "_HID", "ACPI0013");
	aml_name_int(a, "_UID", 0);
	put_ext_irq(res, d->ged_gsi);
	aml_name_crs(a, res, sizeof(res));
	aml_byte(a, AML_EXT);
	aml_byte(a, AML_OPREGION);
	aml_nameseg(a, "EREG");
	aml_byte(a, AML_REGION_SYSMEM);
	aml_int(a, d->ged_base);
	aml_int(a, 4);
	aml_byte(a, AML_EXT);
	aml_byte(a, AML_FIELD);
	fld = aml_pkg_begin(a);
	aml_nameseg(a, "EREG");
	aml_byte(a, AML_FIELD_DWORD_WAZ);
	aml_nameseg(a, "ESEL");
	aml_byte(a, 32); /* field width in bits, as a one-byte PkgLength */
	aml_pkg_end(a, fld);
	aml_byte(a, AML_METHOD);
	meth = aml_pkg_begin(a);
	aml_nameseg(a, "_EVT");
	aml_byte(a, 1 | AML_METHOD_SERIALIZED);
	aml_byte(a, AML_STORE);
	aml_nameseg(a, "ESEL");
	aml_byte(a, AML_LOCAL0);
	aml_byte(a, AML_IF);
	cond = aml_pkg_begin(a);
	aml_byte(a, AML_AND);
	aml_byte(a, AML_LOCAL0);
	aml_int(a, 1);
	aml_byte(a, AML_ZERO); /* no target */
	aml_byte(a, AML_NOTIFY);
	aml_bytes(a, pwrb_path, sizeof(pwrb_path));
	aml_int(a, 0x80);
	aml_pkg_end(a, cond);
	aml_pkg_end(a, meth);
	aml_pkg_end(a, dev);

	dev = aml_device_begin(a, "PWRB");
	aml_name_int(a, "_HID", eisa_id("PNP0C0C"));
	aml_name_int(a, "_UID", 0);
	aml_pkg_end(a, dev);
}

/* The DSDT: \_SB_ with COM1, the virtio-mmio devices and the power button (GED), and \_S5_
 * for soft-off. */
static int build_dsdt(const struct acpi_desc *d, uint8_t *t, size_t cap)
{
	struct aml a = {.p = t, .len = ACPI_HDR_LEN, .cap = cap};
	size_t scope, pkg;
	uint32_t i;

	if (cap < ACPI_HDR_LEN)
		return -ENOSPC;
	aml_byte(&a, AML_SCOPE);
	scope = aml_pkg_begin(&a);
	aml_byte(&a, AML_ROOT);
	aml_nameseg(&a, "_SB_");
	if (d->com1_port)
		dsdt_com1(&a, d);
	for (i = 0; i < d->nr_devs; i++)
		dsdt_virtio_mmio(&a, &d->devs[i], i);
	if (d->ged_base)
		dsdt_ged(&a, d);
	aml_pkg_end(&a, scope);
	/* Name(\_S5_, Package() {5, 0, 0, 0}): SLP_TYP for the sleep control register. */
	aml_byte(&a, AML_NAME);
	aml_byte(&a, AML_ROOT);
	aml_nameseg(&a, "_S5_");
	aml_byte(&a, AML_PACKAGE);
	pkg = aml_pkg_begin(&a);
	aml_byte(&a, 4);
	aml_int(&a, X86_PM_SLP_TYP_S5);
	aml_int(&a, 0);
	aml_int(&a, 0);
	aml_int(&a, 0);
	aml_pkg_end(&a, pkg);
	if (a.over || a.len > UINT32_MAX)
		return -ENOSPC;
	/* Revision 2: integers are 64 bits. */
	table_header(t, "DSDT", (uint32_t)a.len, 2);
	table_checksum(t, (uint32_t)a.len);
	return (int)a.len;
}

static void gas_io(uint8_t *g, uint16_t port)
{
	g[0] = GAS_SYSTEM_IO;
	g[1] = 8;
	g[2] = 0;
	g[3] = GAS_ACCESS_BYTE;
	put64(g + 4, port);
}

static void build_fadt(const struct acpi_desc *d, uint8_t *t, uint64_t dsdt)
{
	memset(t, 0, ACPI_FADT_LEN);
	table_header(t, "FACP", ACPI_FADT_LEN, 6);
	put32(t + 40, (uint32_t)dsdt);
	put16(t + 109, FADT_IAPC_VGA_NOT_PRESENT | FADT_IAPC_MSI_NOT_SUPPORTED);
	put32(t + 112, FADT_F_WBINVD | FADT_F_PWR_BUTTON | FADT_F_SLP_BUTTON |
			       FADT_F_RESET_REG_SUP | FADT_F_HW_REDUCED_ACPI);
	gas_io(t + 116, (uint16_t)(d->pm_port + 2));
	t[128] = d->reset_value;
	t[131] = 0; /* FADT minor version: 6.0 */
	put64(t + 140, dsdt);
	gas_io(t + 244, d->pm_port);		     /* SLEEP_CONTROL_REG */
	gas_io(t + 256, (uint16_t)(d->pm_port + 1)); /* SLEEP_STATUS_REG */
	memcpy(t + 268, "SPLITVM ", 8);		     /* hypervisor vendor identity */
	table_checksum(t, ACPI_FADT_LEN);
}

static size_t madt_size(const struct acpi_desc *d)
{
	size_t n = ACPI_MADT_HDR_LEN + 12 + 6;
	uint32_t i;

	for (i = 0; i < d->nr_cpus; i++)
		n += d->apic_ids[i] < 0xff ? 8 : 16;
	return n;
}

static void build_madt(const struct acpi_desc *d, uint8_t *t, size_t len)
{
	uint8_t *p = t + ACPI_MADT_HDR_LEN;
	uint32_t i;

	memset(t, 0, len);
	table_header(t, "APIC", (uint32_t)len, 4);
	put32(t + 36, (uint32_t)X86_LAPIC_ADDR);
	put32(t + 40, MADT_PCAT_COMPAT); /* the 8259s are there (KVM's in-kernel PIC) */
	for (i = 0; i < d->nr_cpus; i++) {
		uint32_t enabled = i < d->nr_enabled ? 1 : 0;

		if (d->apic_ids[i] < 0xff) {
			p[0] = MADT_LAPIC;
			p[1] = 8;
			p[2] = (uint8_t)i; /* ACPI processor UID */
			p[3] = (uint8_t)d->apic_ids[i];
			put32(p + 4, enabled);
			p += 8;
		} else {
			p[0] = MADT_X2APIC;
			p[1] = 16;
			put32(p + 4, d->apic_ids[i]);
			put32(p + 8, enabled);
			put32(p + 12, i);
			p += 16;
		}
	}
	p[0] = MADT_IOAPIC;
	p[1] = 12;
	p[2] = (uint8_t)d->ioapic_id;
	put32(p + 4, (uint32_t)X86_IOAPIC_ADDR);
	put32(p + 8, 0);
	p += 12;
	/* LINT1 is NMI on every processor, as in the MP table. */
	p[0] = MADT_LAPIC_NMI;
	p[1] = 6;
	p[2] = 0xff;
	put16(p + 3, 0);
	p[5] = 1;
	table_checksum(t, (uint32_t)len);
}

static size_t align16(size_t v)
{
	return (v + 15) & ~(size_t)15;
}

int acpi_build(const struct acpi_desc *d, uint8_t *buf, size_t len, uint64_t base)
{
	size_t rsdp = 0, xsdt = 48, fadt, madt, dsdt, madt_len, xsdt_len = ACPI_HDR_LEN + 2 * 8;
	int dsdt_len;
	uint8_t *r;

	if (!d->nr_cpus || d->nr_enabled > d->nr_cpus || d->nr_devs > 255 || (base & 15) ||
	    base > UINT32_MAX || len > UINT32_MAX - base || d->ioapic_id > 0xff)
		return -EINVAL;
	fadt = align16(xsdt + xsdt_len);
	madt = align16(fadt + ACPI_FADT_LEN);
	madt_len = madt_size(d);
	dsdt = align16(madt + madt_len);
	if (dsdt >= len)
		return -ENOSPC;
	memset(buf, 0, dsdt);
	dsdt_len = build_dsdt(d, buf + dsdt, len - dsdt);
	if (dsdt_len < 0)
		return dsdt_len;
	build_madt(d, buf + madt, madt_len);
	build_fadt(d, buf + fadt, base + dsdt);

	table_header(buf + xsdt, "XSDT", (uint32_t)xsdt_len, 1);
	put64(buf + xsdt + ACPI_HDR_LEN, base + fadt);
	put64(buf + xsdt + ACPI_HDR_LEN + 8, base + madt);
	table_checksum(buf + xsdt, (uint32_t)xsdt_len);

	/* RSDP revision 2: the first 20 bytes have their own checksum, all 36 another. */
	r = buf + rsdp;
	memcpy(r, "RSD PTR ", 8);
	memcpy(r + 9, "SPLITV", 6);
	r[15] = 2;
	put32(r + 16, 0); /* no RSDT: ACPI 2.0+ kernels use the XSDT */
	put32(r + 20, ACPI_RSDP_LEN);
	put64(r + 24, base + xsdt);
	r[8] = (uint8_t)-sum8(r, 20);
	r[32] = (uint8_t)-sum8(r, ACPI_RSDP_LEN);
	return (int)(dsdt + (size_t)dsdt_len);
}

/* ---- the machine's tables ---- */

struct acpi_blob {
	struct machine *m;
	uint8_t buf[ACPI_TABLES_MAX];
	size_t len;
};

/* ---- Generic Event Device: the event register ---- */

static struct irq_line ged_line(const struct machine *m)
{
	return (struct irq_line){.vm_fd = m->vm_fd, .gsi = m->arch->ged_gsi};
}

/* Asserts the level line (ports_lock held). Through the resampled irqfd KVM lowers it at the
 * guest's EOI and asks again (ged_resample_cb); without one, KVM_IRQ_LINE. */
static void ged_assert(struct machine *m)
{
	struct arch_machine *a = m->arch;
	struct irq_line l = ged_line(m);
	uint64_t one = 1;

	if (a->ged_irq_fd >= 0) {
		if (write(a->ged_irq_fd, &one, sizeof(one)) < 0)
			log_error("acpi: event device irqfd: %s", strerror(errno));
	} else if (irq_line_set(&l, true)) {
		log_error("acpi: cannot raise the event device's interrupt line");
	}
}

/* Offset 0, 32 bits: pending events, cleared by the read. Other offsets and sizes read 0 and
 * do not clear, so a stray access loses no button press. */
static void ged_read(void *opaque, uint64_t off, uint8_t *data, uint32_t len)
{
	struct machine *m = opaque;
	struct arch_machine *a = m->arch;
	struct irq_line l = ged_line(m);
	uint32_t ev;

	memset(data, 0, len);
	if (off != 0 || len != 4)
		return;
	pthread_mutex_lock(&a->ports_lock);
	ev = a->ged_events;
	a->ged_events = 0;
	if (ev && a->ged_irq_fd < 0 && irq_line_set(&l, false))
		log_error("acpi: cannot lower the event device's interrupt line");
	pthread_mutex_unlock(&a->ports_lock);
	put32(data, ev);
}

static void ged_write(void *opaque, uint64_t off, const uint8_t *data, uint32_t len)
{
	/* WriteAsZeros: the register is read-only. */
}

static const struct bus_ops ged_ops = {.read = ged_read, .write = ged_write};

/* KVM lowered the line at the guest's EOI: raise it again if events are still unread. */
static void ged_resample_cb(struct loop *l, int fd, uint32_t events, void *arg)
{
	struct machine *m = arg;
	uint64_t v;

	if (read(fd, &v, sizeof(v)) < 0)
		return;
	pthread_mutex_lock(&m->arch->ports_lock);
	if (m->arch->ged_events)
		ged_assert(m);
	pthread_mutex_unlock(&m->arch->ports_lock);
}

static int ged_create(struct machine *m)
{
	struct arch_machine *a = m->arch;
	struct irq_line l = ged_line(m);
	int ret;

	a->ged_irq_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	a->ged_resample_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (a->ged_irq_fd < 0 || a->ged_resample_fd < 0)
		goto no_irqfd;
	if (irq_line_irqfd_attach(&l, a->ged_irq_fd, a->ged_resample_fd))
		goto no_irqfd;
	if (loop_add_fd(m->loop, a->ged_resample_fd, EPOLLIN, ged_resample_cb, m)) {
		irq_line_irqfd_detach(&l, a->ged_irq_fd);
		goto no_irqfd;
	}
	goto regs;
no_irqfd:
	log_info("acpi: no resampling irqfd for the event device, using KVM_IRQ_LINE");
	if (a->ged_irq_fd >= 0)
		close(a->ged_irq_fd);
	if (a->ged_resample_fd >= 0)
		close(a->ged_resample_fd);
	a->ged_irq_fd = a->ged_resample_fd = -1;
regs:
	ret = bus_register(m->mmio, X86_GED_ADDR, X86_GED_SIZE, &ged_ops, m, "acpi-ged");
	if (ret)
		return ret;
	pthread_mutex_lock(&a->ports_lock);
	a->ged_on = true;
	pthread_mutex_unlock(&a->ports_lock);
	return 0;
}

void x86_acpi_power_button(struct machine *m)
{
	pthread_mutex_lock(&m->arch->ports_lock);
	if (m->arch->ged_on) {
		m->arch->ged_events |= X86_GED_EVT_PWR;
		ged_assert(m);
	}
	pthread_mutex_unlock(&m->arch->ports_lock);
}

/* The guest may have scribbled over the tables before it reset: put them back. A press the
 * old guest never read is dropped with the irqchip state. */
static void acpi_reset_hook(void *opaque)
{
	struct acpi_blob *b = opaque;
	struct irq_line l = ged_line(b->m);

	pthread_mutex_lock(&b->m->arch->ports_lock);
	if (b->m->arch->ged_events && b->m->arch->ged_irq_fd < 0 && irq_line_set(&l, false))
		log_error("acpi: cannot lower the event device's interrupt line");
	b->m->arch->ged_events = 0;
	pthread_mutex_unlock(&b->m->arch->ports_lock);

	if (gmem_write(&b->m->mem, ACPI_TABLES_ADDR, b->buf, b->len))
		log_error("acpi: cannot rewrite the tables at reset");
}

int x86_acpi_install(struct machine *m, struct errmsg *e)
{
	uint32_t ids[VMCFG_MAX_CPUS], ioapic_id = 0, i;
	struct acpi_mmio_dev devs[MACHINE_MAX_MMIO_DEVS];
	struct acpi_desc d = {
		.apic_ids = ids,
		.devs = devs,
		.pm_port = X86_PORT_PM_BASE,
		.reset_value = X86_PM_RESET_VALUE,
		.com1_port = X86_PORT_COM1,
		.com1_irq = X86_IRQ_COM1,
		.ged_base = X86_GED_ADDR,
	};
	struct acpi_blob *b;
	int ret;

	if (!m->cfg->machine.acpi)
		return 0;
	if (m->nr_vcpus > VMCFG_MAX_CPUS || m->nr_mmio_devs > MACHINE_MAX_MMIO_DEVS) {
		errmsg_set(e, "acpi: too many CPUs or devices for the tables");
		return -E2BIG;
	}
	for (i = 0; i < m->nr_vcpus; i++) {
		ids[i] = m->vcpus[i].apic_id;
		/* The IOAPIC's ID follows the APIC IDs, as in the MP table. */
		if (ids[i] >= ioapic_id)
			ioapic_id = ids[i] + 1;
	}
	d.nr_cpus = d.nr_enabled = m->nr_vcpus;
	d.ioapic_id = ioapic_id > 0xfe ? 0xfe : ioapic_id;
	for (i = 0; i < m->nr_mmio_devs; i++) {
		devs[i].base = m->mmio_devs[i].base;
		devs[i].size = (uint32_t)m->mmio_devs[i].size;
		devs[i].gsi = m->mmio_devs[i].gsi;
	}
	d.nr_devs = m->nr_mmio_devs;
	/* The GED takes the first line the devices left: lines past 15 reach only the IOAPIC, and
	 * there this nested KVM delivered a level interrupt a second time after the line was
	 * lowered (seen with both KVM_IRQ_LINE and a resampled irqfd). */
	if (!m->gsi_next) {
		errmsg_set(e, "acpi: no interrupt line left for the power button (event device)");
		return -ENOSPC;
	}
	d.ged_gsi = m->arch->ged_gsi = m->gsi_next;
	m->gsi_next = arch_next_device_gsi(m->gsi_next + 1);
	b = calloc(1, sizeof(*b));
	if (!b) {
		errmsg_set(e, "acpi: out of memory");
		return -ENOMEM;
	}
	b->m = m;
	ret = acpi_build(&d, b->buf, sizeof(b->buf), ACPI_TABLES_ADDR);
	if (ret < 0) {
		errmsg_set(e, "acpi: cannot build the tables: %s", strerror(-ret));
		free(b);
		return ret;
	}
	b->len = (size_t)ret;
	ret = ged_create(m);
	if (ret) {
		errmsg_set(e, "acpi: cannot place the event device at %#llx: %s",
			   (unsigned long long)X86_GED_ADDR, strerror(-ret));
		free(b);
		return ret;
	}
	if (gmem_write(&m->mem, ACPI_TABLES_ADDR, b->buf, b->len)) {
		errmsg_set(e, "acpi: 0x%llx is not guest RAM (-m too small?)",
			   (unsigned long long)ACPI_TABLES_ADDR);
		free(b);
		return -EFAULT;
	}
	ret = machine_add_reset_hook(m, acpi_reset_hook, b);
	if (ret) {
		errmsg_set(e, "acpi: too many reset hooks");
		free(b);
		return ret;
	}
	/* b lives as long as the machine (the reset hook holds it); the process frees it. */
	log_debug("acpi: %zu bytes of tables at 0x%llx, %u devices", b->len,
		  (unsigned long long)ACPI_TABLES_ADDR, d.nr_devs);
	return 0;
}
