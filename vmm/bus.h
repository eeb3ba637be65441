/* bus: guest address-space dispatch (port I/O and MMIO exits to device callbacks), KVM
 * ioeventfds on a bus, and guest interrupt lines (KVM_IRQ_LINE and irqfd). */
#ifndef SV_VMM_BUS_H
#define SV_VMM_BUS_H

#include <stdbool.h>
#include <stdint.h>

enum bus_space {
	BUS_PIO,  /* x86 port I/O, addresses 0..0xffff */
	BUS_MMIO, /* guest-physical memory-mapped I/O */
};

/*
 * A device's handlers. offset is relative to the registered base; len is 1, 2, 4 or 8;
 * data holds the access's bytes in guest (little-endian) order. read must fill all len
 * bytes. Handlers run on vCPU threads, several at once on an SMP guest: a device locks its
 * own state. They must not block for long (a vCPU is stopped meanwhile) and must not call
 * bus_register/bus_unregister on the bus that called them.
 */
struct bus_ops {
	void (*read)(void *opaque, uint64_t offset, uint8_t *data, uint32_t len);
	void (*write)(void *opaque, uint64_t offset, const uint8_t *data, uint32_t len);
};

struct bus;

/* vm_fd is used by bus_ioeventfd only (may be -1 for a bus without KVM, as in unit tests).
 * NULL with errno on failure. */
struct bus *bus_new(enum bus_space space, int vm_fd);
void bus_free(struct bus *b);

/*
 * Claims [base, base+len) for a device; name shows up in logs. -EINVAL for len 0 or an
 * overflowing range, -EEXIST if it overlaps a registered range, -ENOMEM. May be called at
 * any time (an rwlock guards the table); ops and opaque must outlive the registration.
 */
int bus_register(struct bus *b, uint64_t base, uint64_t len, const struct bus_ops *ops,
		 void *opaque, const char *name);
/* Removes the range registered at exactly base; -ENOENT if none. When it returns, no
 * handler of that device is running or will run. */
int bus_unregister(struct bus *b, uint64_t base);

/*
 * Dispatches one access (called by the vCPU loop). The access must fall inside a single
 * registered range; otherwise reads return all-ones bytes, writes are dropped, and false is
 * returned (the caller logs it at debug level).
 */
bool bus_read(struct bus *b, uint64_t addr, uint8_t *data, uint32_t len);
bool bus_write(struct bus *b, uint64_t addr, const uint8_t *data, uint32_t len);

/*
 * KVM ioeventfd on this bus: a guest write of len bytes (1, 2, 4, 8; 0 = any length, MMIO
 * only) at addr signals efd inside the kernel without a VMM exit. datamatch: only when the
 * written value equals data (virtio-mmio QueueNotify uses the queue index). assign=false
 * removes an earlier identical registration. 0 or -errno.
 */
int bus_ioeventfd(struct bus *b, uint64_t addr, uint32_t len, int efd, bool datamatch,
		  uint64_t data, bool assign);

/*
 * A guest interrupt line: a GSI of the in-kernel irqchip. On x86 GSIs 0..15 reach both the
 * PIC and IOAPIC pins 0..15 (ISA, edge), 16..23 the IOAPIC only; the machine hands out
 * free lines for devices (machine_alloc_mmio). All functions are thread-safe (plain ioctls).
 */
struct irq_line {
	int vm_fd;
	uint32_t gsi;
};

/* Drives the line high (true) or low: level-triggered devices (virtio-mmio) keep it high
 * while their interrupt status is non-zero. 0 or -errno. */
int irq_line_set(const struct irq_line *l, bool level);
/* A rising then falling edge (edge-triggered ISA devices). */
int irq_line_pulse(const struct irq_line *l);
/*
 * Routes eventfd efd to the line (KVM_IRQFD): a write to efd injects the interrupt without
 * going through the VMM. resample_fd >= 0 makes it level-triggered: KVM deasserts the line
 * when the guest EOIs and signals resample_fd so the device can re-raise it if still
 * pending. -1 for edge. 0 or -errno.
 */
int irq_line_irqfd_attach(const struct irq_line *l, int efd, int resample_fd);
int irq_line_irqfd_detach(const struct irq_line *l, int efd);

#endif
