/*
 * blk: virtio-blk on a raw image file: read, write, flush, get-id, discard and write-zeroes,
 * with aio=io_uring (liburing), aio=native (libaio) or aio=off (a thread pool); requests
 * complete out of order; an iops token bucket (throttling.iops-total).
 */
#ifndef SV_VMM_VIRTIO_BLK_H
#define SV_VMM_VIRTIO_BLK_H

#include <stdint.h>

#include "errmsg.h"
#include "vmm/vm_config.h"
#include "vmm/bus.h"
#include "vmm/memory.h"

struct loop;
struct virtio_blk;
struct virtio_mmio;

struct virtio_blk_params {
	const struct gmem *mem;
	struct bus *mmio;
	uint64_t base;
	struct irq_line irq;
	struct loop *loop; /* main loop or the device's iothread loop */
	const struct vm_drive_config *drive;
	const struct vm_device_config *dev; /* kind VM_DEV_VIRTIO_BLK */
};

/*
 * Opens the image (O_DIRECT when direct=on; buffered with a warning where the filesystem
 * refuses O_DIRECT, e.g. an old tmpfs), sets up the I/O engine and registers the transport.
 * Registers the syscalls the engine needs with vmm_seccomp_allow. NULL with errno and a
 * message naming the drive on failure.
 */
struct virtio_blk *virtio_blk_create(const struct virtio_blk_params *p, struct errmsg *e);
void virtio_blk_destroy(struct virtio_blk *b);
struct virtio_mmio *virtio_blk_transport(struct virtio_blk *b);

#endif
