/* arch: what the generic machine (vmm/machine.c, vmm/vcpu.c) asks of the guest architecture.
 * x86_64 implements it in vmm/arch/x86_64/; an aarch64 "virt" machine would add
 * vmm/arch/aarch64/ with the same functions (GICv3, PL011, PSCI, libfdt device tree). */
#ifndef SV_VMM_ARCH_H
#define SV_VMM_ARCH_H

#include <stdbool.h>
#include <stdint.h>

#include "errmsg.h"
#include "memory.h"

struct machine;
struct vcpu;

/* Guest-physical layout of RAM around the MMIO hole. */
void arch_gmem_layout(struct gmem_layout *lay);
/* First virtio-mmio slot, the slot stride and the window's end; the first and last free
 * device interrupt line. */
void arch_mmio_window(uint64_t *base, uint64_t *stride, uint64_t *end);
/* Next usable device GSI at or after gsi, or 0 when none is left. */
uint32_t arch_next_device_gsi(uint32_t gsi);

/* VM-wide set-up after KVM_CREATE_VM and memory: irqchip, timers, legacy devices on the
 * buses. 0 or -errno with e. */
int arch_machine_init(struct machine *m, struct errmsg *e);
void arch_machine_free(struct machine *m);
/* The KVM vcpu id (x86: initial APIC ID) for the vCPU's topology coordinates, or -ERANGE. */
int64_t arch_vcpu_id(const struct machine *m, const struct vcpu *v);
/* Per-vCPU set-up after KVM_CREATE_VCPU: CPUID, MSRs, FPU, LAPIC. */
int arch_vcpu_init(struct vcpu *v, struct errmsg *e);
void arch_vcpu_free(struct vcpu *v);
/* Loads kernel, initrd, command line and boot tables into guest memory (also on reset). */
int arch_load_kernel(struct machine *m, struct errmsg *e);
/* Puts a vCPU into its power-on state: the boot processor at the kernel entry, the others
 * waiting for INIT/SIPI. Called on the vCPU's own thread or with it parked. */
int arch_vcpu_reset(struct vcpu *v);
/* VM-wide reset of arch state (irqchip, timers, legacy devices) with every vCPU parked. */
int arch_machine_reset(struct machine *m);
/* QMP system_powerdown: presses the guest's ACPI power button (GED event and interrupt) where
 * the machine has one. Main thread. */
void arch_power_button(struct machine *m);
/* Handles a KVM exit reason the generic loop does not know. 0: continue, <0: fatal. */
int arch_vcpu_exit(struct vcpu *v, unsigned int reason);

#endif
