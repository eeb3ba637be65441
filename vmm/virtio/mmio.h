/*
 * mmio: the virtio-mmio version 2 (modern) transport: registers on the MMIO bus, feature
 * negotiation, the status state machine, queue set-up and reset; kicks through KVM
 * ioeventfds (or the register write without KVM), interrupts through a resampled irqfd
 * (or the irq line ioctl without it).
 */
#ifndef SV_VMM_VIRTIO_MMIO_H
#define SV_VMM_VIRTIO_MMIO_H

#include <stdbool.h>
#include <stdint.h>

#include "errmsg.h"
#include "vmm/bus.h"
#include "vmm/memory.h"
#include "vmm/virtio/queue.h"

struct loop;

#define VIRTIO_MMIO_SIZE       0x200u
#define VIRTIO_MMIO_MAX_QUEUES 33u /* blk: 32 request queues; net: 16 pairs + control */

/* Device status bits. */
#define VIRTIO_STATUS_ACKNOWLEDGE 1u
#define VIRTIO_STATUS_DRIVER	  2u
#define VIRTIO_STATUS_DRIVER_OK	  4u
#define VIRTIO_STATUS_FEATURES_OK 8u
#define VIRTIO_STATUS_NEEDS_RESET 0x40u
#define VIRTIO_STATUS_FAILED	  0x80u

/* Interrupt status bits. */
#define VIRTIO_MMIO_INT_VRING  1u
#define VIRTIO_MMIO_INT_CONFIG 2u

/* Device IDs. */
#define VIRTIO_ID_NET	  1
#define VIRTIO_ID_BLOCK	  2
#define VIRTIO_ID_CONSOLE 3
#define VIRTIO_ID_RNG	  4
#define VIRTIO_ID_BALLOON 5
#define VIRTIO_ID_VSOCK	  19

struct virtio_mmio;

/*
 * What a device provides. Every callback runs with the transport lock held (see
 * virtio_mmio_lock): config_*, activate and reset on a vCPU thread (register access) or the
 * main thread (VM reset); queue_notify on the device's loop thread (main loop or iothread).
 * Nothing here may wait for a loop thread: reset drains in-flight I/O itself.
 */
struct virtio_dev_ops {
	const char *name;
	uint32_t device_id;
	uint64_t features; /* device-specific feature bits (the transport adds its own) */
	uint32_t num_queues;
	uint16_t queue_max; /* largest queue size offered (power of two) */
	uint32_t config_size;
	/* Reads/writes bytes [off, off+len) of the device config space; off+len <= size. */
	void (*config_read)(void *opaque, uint32_t off, uint8_t *data, uint32_t len);
	void (*config_write)(void *opaque, uint32_t off, const uint8_t *data, uint32_t len);
	/* DRIVER_OK: queues in vdev are ready to use. 0, or -errno sets NEEDS_RESET. */
	int (*activate)(void *opaque, struct virtio_mmio *vdev);
	/* Device reset (status written 0, or VM reset): stop using the queues; any request in
	 * flight must be finished or dropped before this returns. */
	void (*reset)(void *opaque);
	/* Queue q was kicked. */
	void (*queue_notify)(void *opaque, uint32_t q);
};

struct virtio_mmio_params {
	const struct gmem *mem;
	struct bus *mmio;
	uint64_t base;	     /* VIRTIO_MMIO_SIZE bytes are claimed from here */
	struct irq_line irq; /* vm_fd -1: no KVM (unit tests) */
	struct loop *loop;   /* where kicks are handled */
	const struct virtio_dev_ops *ops;
	void *opaque;
};

/* Creates the transport and registers it on the bus. NULL with errno and e on failure. */
struct virtio_mmio *virtio_mmio_create(const struct virtio_mmio_params *p, struct errmsg *e);
/* Unregisters and frees (the device must be reset or never activated). Loop thread. */
void virtio_mmio_destroy(struct virtio_mmio *vdev);

/*
 * The transport lock guards the registers, the queues and the device's own state. A device
 * takes it around work it starts itself (I/O completions on its loop thread).
 */
void virtio_mmio_lock(struct virtio_mmio *vdev);
void virtio_mmio_unlock(struct virtio_mmio *vdev);

/* Queue q (NULL if q is out of range or not ready). Lock held. */
struct virtq *virtio_mmio_queue(struct virtio_mmio *vdev, uint32_t q);
/* The negotiated features. */
uint64_t virtio_mmio_features(const struct virtio_mmio *vdev);
/* Raises the used-buffer interrupt if the driver wants one for queue q (vq_should_notify).
 * Lock held, like the two below. */
void virtio_mmio_notify(struct virtio_mmio *vdev, uint32_t q);
/* Raises the configuration-change interrupt (config_generation advances). */
void virtio_mmio_config_changed(struct virtio_mmio *vdev);
/* Sets the used-buffer interrupt bit and raises the line, with no EVENT_IDX check: for a
 * backend (vhost) that already decided to signal. Transport lock held. */
void virtio_mmio_raise_vring(struct virtio_mmio *vdev);
/* Hands queue q's kick eventfd (the ioeventfd) to another consumer (vhost): the transport
 * stops reading it but still owns and closes it. The fd, or -errno. Main thread, before the
 * vCPUs run. */
int virtio_mmio_take_kick_fd(struct virtio_mmio *vdev, uint32_t q);
/* The device gave up on the driver (malformed ring): DEVICE_NEEDS_RESET + config interrupt. */
void virtio_mmio_needs_reset(struct virtio_mmio *vdev);
/* Resets the device as if the driver wrote status 0 (VM reset hook). */
void virtio_mmio_reset(struct virtio_mmio *vdev);
uint32_t virtio_mmio_status(const struct virtio_mmio *vdev);

#endif
