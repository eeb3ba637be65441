/* mptable: MP specification 1.4 table builder (floating pointer + configuration table). */
#ifndef SV_VMM_X86_MPTABLE_H
#define SV_VMM_X86_MPTABLE_H

#include <stddef.h>
#include <stdint.h>

/* Bytes the tables take for nr_cpus processors. */
size_t mptable_size(uint32_t nr_cpus);
/*
 * Writes the floating pointer at buf (guest-physical base) followed by the configuration
 * table: one processor entry per APIC ID (the first is the BSP), the ISA bus, the IOAPIC
 * (ID above every APIC ID), 24 identity-routed interrupt entries, LINT0 ExtINT and LINT1 NMI.
 * Returns the bytes written, or -ENOSPC (buf too small) / -ERANGE (APIC IDs too high).
 */
int mptable_build(uint8_t *buf, size_t len, uint32_t base, const uint32_t *apic_ids,
		  uint32_t nr_cpus);

#endif
