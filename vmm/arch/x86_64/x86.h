/* x86: state and helpers shared by the x86_64 machine files (not used outside arch/x86_64). */
#ifndef SV_VMM_X86_H
#define SV_VMM_X86_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "errmsg.h"
#include "vmm/machine.h"

struct serial8250;
struct x86_rtc;

enum x86_boot_kind {
	X86_BOOT_LINUX64, /* bzImage: 64-bit entry at load address + 0x200, RSI = boot_params */
	X86_BOOT_PVH,	  /* ELF PVH note: 32-bit entry, EBX = hvm_start_info */
};

struct arch_machine {
	struct serial8250 *serial;
	struct x86_rtc *rtc;
	/* Power-on state of the in-kernel irqchip and PIT, put back at reset. */
	struct kvm_irqchip pic[2];
	struct kvm_irqchip ioapic;
	struct kvm_pit_state2 pit;
	struct kvm_cpuid2 *cpuid; /* KVM_GET_SUPPORTED_CPUID, shared template */
	/* Set by arch_load_kernel. */
	enum x86_boot_kind boot_kind;
	uint64_t entry; /* guest-physical entry point */
	uint8_t pm_sleep_ctl;
	uint8_t i8042_cmd;	    /* last command written to port 0x64 awaiting its data byte */
	pthread_mutex_t ports_lock; /* pm_sleep_ctl, i8042_cmd, ged_events */
	uint32_t ged_events;	    /* ACPI GED event register (X86_GED_EVT_*), read-to-clear */
	bool ged_on;		    /* the GED exists (acpi=on); set before the vCPUs start */
	uint32_t ged_gsi;	    /* the GED's interrupt line */
	int ged_irq_fd;		    /* resampled irqfd of the GED line, or -1 (KVM_IRQ_LINE) */
	int ged_resample_fd;
	/* Kernel and initrd files, mapped read-only once and copied in at every (re)boot. */
	const uint8_t *kimg;
	size_t kimg_len;
	const uint8_t *initrd;
	size_t initrd_len;
	uint64_t initrd_addr; /* where the last boot put it */
};

struct arch_vcpu {
	struct kvm_lapic_state lapic; /* after LINT0/LINT1 set-up: restored at reset */
};

/* Legacy devices (each registers its ports on m->pio). */
int serial8250_create(struct machine *m, uint16_t port, uint32_t gsi, struct serial8250 **out);
void serial8250_destroy(struct serial8250 *s);
void serial8250_reset(void *opaque);
int x86_rtc_create(struct machine *m, struct x86_rtc **out);
void x86_rtc_destroy(struct x86_rtc *r);
int x86_ports_create(struct machine *m);

/* Boot tables. */
int x86_mptable_write(struct machine *m);
void x86_boot_free(struct machine *m);

#endif
