/* x86 machine: memory layout, in-kernel irqchip and PIT, legacy devices, VM-wide reset. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "vmm/arch.h"
#include "acpi.h"
#include "layout.h"
#include "log.h"
#include "x86.h"

void arch_gmem_layout(struct gmem_layout *lay)
{
	lay->ram_base = 0;
	lay->hole_start = X86_HOLE_START;
	lay->hole_end = X86_HOLE_END;
}

void arch_mmio_window(uint64_t *base, uint64_t *stride, uint64_t *end)
{
	*base = X86_MMIO_BASE;
	*stride = X86_MMIO_STRIDE;
	*end = X86_MMIO_END;
}

void arch_power_button(struct machine *m)
{
	x86_acpi_power_button(m);
}

uint32_t arch_next_device_gsi(uint32_t gsi)
{
	if (gsi < X86_DEV_GSI_FIRST)
		gsi = X86_DEV_GSI_FIRST;
	/* 8 is the RTC's line. */
	if (gsi == X86_IRQ_RTC)
		gsi++;
	return gsi <= X86_DEV_GSI_LAST ? gsi : 0;
}

static int x86_get_chip(int vm_fd, uint32_t id, struct kvm_irqchip *c)
{
	memset(c, 0, sizeof(*c));
	c->chip_id = id;
	return ioctl(vm_fd, KVM_GET_IRQCHIP, c) < 0 ? -errno : 0;
}

static int x86_get_cpuid(struct machine *m, struct errmsg *e)
{
	uint32_t n = 128;

	for (;;) {
		struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + n * sizeof(c->entries[0]));

		if (!c)
			return -ENOMEM;
		c->nent = n;
		if (ioctl(m->kvm_fd, KVM_GET_SUPPORTED_CPUID, c) == 0) {
			m->arch->cpuid = c;
			return 0;
		}
		free(c);
		if (errno != E2BIG || n >= 4096) {
			errmsg_set(e, "KVM_GET_SUPPORTED_CPUID: %s", strerror(errno));
			return -errno;
		}
		n *= 2;
	}
}

int arch_machine_init(struct machine *m, struct errmsg *e)
{
	struct kvm_pit_config pit = {.flags = KVM_PIT_SPEAKER_DUMMY};
	uint64_t ident = X86_KVM_IDENTITY_MAP;
	int ret;

	m->arch = calloc(1, sizeof(*m->arch));
	if (!m->arch) {
		errmsg_set(e, "out of memory");
		return -ENOMEM;
	}
	if (ioctl(m->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &ident) < 0 ||
	    ioctl(m->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)X86_KVM_TSS_ADDR) < 0) {
		errmsg_set(e, "KVM TSS/identity map set-up: %s", strerror(errno));
		return -errno;
	}
	if (ioctl(m->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0) {
		errmsg_set(e, "KVM_CREATE_IRQCHIP: %s", strerror(errno));
		return -errno;
	}
	if (ioctl(m->vm_fd, KVM_CREATE_PIT2, &pit) < 0) {
		errmsg_set(e, "KVM_CREATE_PIT2: %s", strerror(errno));
		return -errno;
	}
	ret = x86_get_chip(m->vm_fd, KVM_IRQCHIP_PIC_MASTER, &m->arch->pic[0]);
	if (!ret)
		ret = x86_get_chip(m->vm_fd, KVM_IRQCHIP_PIC_SLAVE, &m->arch->pic[1]);
	if (!ret)
		ret = x86_get_chip(m->vm_fd, KVM_IRQCHIP_IOAPIC, &m->arch->ioapic);
	if (!ret && ioctl(m->vm_fd, KVM_GET_PIT2, &m->arch->pit) < 0)
		ret = -errno;
	if (ret) {
		errmsg_set(e, "saving irqchip state: %s", strerror(-ret));
		return ret;
	}
	ret = x86_get_cpuid(m, e);
	if (ret)
		return ret;
	ret = serial8250_create(m, X86_PORT_COM1, X86_IRQ_COM1, &m->arch->serial);
	if (!ret)
		ret = x86_rtc_create(m, &m->arch->rtc);
	if (!ret)
		ret = x86_ports_create(m);
	if (ret) {
		errmsg_set(e, "legacy devices: %s", strerror(-ret));
		return ret;
	}
	return 0;
}

int arch_machine_reset(struct machine *m)
{
	struct arch_machine *a = m->arch;

	if (ioctl(m->vm_fd, KVM_SET_IRQCHIP, &a->pic[0]) < 0 ||
	    ioctl(m->vm_fd, KVM_SET_IRQCHIP, &a->pic[1]) < 0 ||
	    ioctl(m->vm_fd, KVM_SET_IRQCHIP, &a->ioapic) < 0 ||
	    ioctl(m->vm_fd, KVM_SET_PIT2, &a->pit) < 0)
		return -errno;
	serial8250_reset(a->serial);
	a->pm_sleep_ctl = 0;
	return 0;
}

void arch_machine_free(struct machine *m)
{
	if (!m->arch)
		return;
	if (m->arch->serial)
		serial8250_destroy(m->arch->serial);
	if (m->arch->rtc)
		x86_rtc_destroy(m->arch->rtc);
	x86_boot_free(m);
	free(m->arch->cpuid);
	free(m->arch);
	m->arch = NULL;
}
