/*
 * console: virtio-serial-device with one port (virtconsole or virtserialport, as in
 * StratoVirt's microvm) on a chardev: guest output to the chardev, chardev input into the
 * guest's receive buffers with flow control.
 */
#ifndef SV_VMM_VIRTIO_CONSOLE_H
#define SV_VMM_VIRTIO_CONSOLE_H

#include "errmsg.h"
#include "vmm/bus.h"
#include "vmm/memory.h"

struct loop;
struct chardev;
struct virtio_console;
struct virtio_mmio;

struct virtio_console_params {
	const struct gmem *mem;
	struct bus *mmio;
	uint64_t base;
	struct irq_line irq;
	struct loop *loop; /* must be the chardev's loop */
	const char *id;
	struct chardev *chr; /* the port's backend, or NULL for a device without a port */
};

struct virtio_console *virtio_console_create(const struct virtio_console_params *p,
					     struct errmsg *e);
void virtio_console_destroy(struct virtio_console *c);
struct virtio_mmio *virtio_console_transport(struct virtio_console *c);

#endif
