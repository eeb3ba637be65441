/* acpi: the ACPI tables that let stock kernels find a microvm's devices without the
 * virtio_mmio.device= command line: RSDP, XSDT, a hardware-reduced FADT, MADT and a DSDT
 * declaring COM1 and each virtio-mmio device (LNRO0005 with its memory and IRQ). */
#ifndef SV_VMM_X86_ACPI_H
#define SV_VMM_X86_ACPI_H

#include <stddef.h>
#include <stdint.h>

#include "errmsg.h"

struct machine;

/* Where the tables go: the BIOS read-only area Linux scans for the RSDP (16-byte aligned
 * in 0xe0000..0xfffff), which the e820 map leaves out of RAM. */
#define ACPI_TABLES_ADDR 0xe0000ull
#define ACPI_TABLES_MAX	 0x10000u

struct acpi_mmio_dev {
	uint64_t base;
	uint32_t size;
	uint32_t gsi;
};

/* What the tables describe; built from the machine, or by hand in tests. */
struct acpi_desc {
	const uint32_t *apic_ids; /* one per possible CPU; the first nr_enabled are online */
	uint32_t nr_cpus;
	uint32_t nr_enabled;
	uint32_t ioapic_id;
	const struct acpi_mmio_dev *devs;
	uint32_t nr_devs;
	uint16_t pm_port;    /* hardware-reduced sleep control (+0), status (+1), reset (+2) */
	uint8_t reset_value; /* written to the reset register */
	uint16_t com1_port;  /* 0: no COM1 in the DSDT */
	uint8_t com1_irq;
	uint64_t ged_base; /* 0: no Generic Event Device (power button) in the DSDT */
	uint32_t ged_gsi;
};

/*
 * Writes RSDP, XSDT, FADT, MADT and DSDT into buf, which the guest sees at guest-physical
 * base (16-byte aligned, below 4 GiB). Returns the bytes used, or -ENOSPC (buf too small),
 * -EINVAL (a bad description: no CPUs, base misaligned, more than 255 devices).
 */
int acpi_build(const struct acpi_desc *d, uint8_t *buf, size_t len, uint64_t base);

/*
 * Builds the tables for machine m (its vCPUs and the virtio-mmio devices created so far)
 * and writes them into guest RAM at ACPI_TABLES_ADDR; they are written again at every VM
 * reset. Does nothing when -machine ...,acpi=off. 0 or -errno with a message in e.
 * Main thread, after the devices are created and before the vCPUs start.
 */
int x86_acpi_install(struct machine *m, struct errmsg *e);

/*
 * Presses the ACPI power button: sets the power-button bit in the GED event register and
 * raises the GED's interrupt line (level; the guest's _EVT read of the register clears both).
 * Does nothing with acpi=off. Any thread.
 */
void x86_acpi_power_button(struct machine *m);

#endif
