/*
 * queue: the virtio split virtqueue, device side. Every guest address and length is checked
 * through gmem_ptr; descriptor chains are bounded in count and bytes; a malformed ring is
 * reported (the device sets DEVICE_NEEDS_RESET) and never followed outside guest RAM.
 */
#ifndef SV_VMM_VIRTIO_QUEUE_H
#define SV_VMM_VIRTIO_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "vmm/memory.h"

/* Feature bits the queue code understands (virtio 1.x numbering). */
#define VIRTIO_F_INDIRECT_DESC 28
#define VIRTIO_F_EVENT_IDX     29
#define VIRTIO_F_VERSION_1     32
#define VIRTIO_F_RING_RESET    40

#define VIRTQ_DESC_F_NEXT	   1
#define VIRTQ_DESC_F_WRITE	   2
#define VIRTQ_DESC_F_INDIRECT	   4
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1
#define VIRTQ_USED_F_NO_NOTIFY	   1

#define VIRTQ_MAX_SIZE 32768u
/* Most buffers one request may have (direct chain or indirect table). */
#define VQ_MAX_SEGS 1024u
/* Most bytes one request may describe (the sum of its lengths). */
#define VQ_MAX_CHAIN_BYTES (1ull << 32)

/*
 * One request popped from the avail ring: iov[0..n_out) are device-readable (driver to
 * device), iov[n_out..n_out+n_in) device-writable. The pointers are into guest RAM; the
 * guest may change the bytes at any time, so copy before validating.
 */
struct vq_elem {
	uint16_t head;
	uint32_t n_out;
	uint32_t n_in;
	uint64_t out_bytes;
	uint64_t in_bytes;
	struct iovec iov[VQ_MAX_SEGS];
};

/*
 * One queue. Owned by a single thread once enabled (the device's main loop or iothread);
 * vq_enable/vq_disable are called by the transport while the queue is not being
 * processed.
 */
struct virtq {
	const struct gmem *mem;
	uint16_t size; /* 0: not enabled */
	bool event_idx;
	bool indirect;
	uint64_t desc_gpa, avail_gpa, used_gpa;
	/* Host views of the rings, checked to lie in guest RAM at enable. */
	volatile uint8_t *desc;	 /* size * 16 bytes */
	volatile uint8_t *avail; /* 4 + 2 * size (+ 2 used_event) */
	volatile uint8_t *used;	 /* 4 + 8 * size (+ 2 avail_event) */
	uint16_t last_avail;	 /* next avail ring slot to consume */
	uint16_t used_idx;	 /* shadow of used->idx */
	uint16_t signalled_used;
	bool signalled_valid;
	bool broken; /* a malformed ring was seen; the device needs a reset */
};

/*
 * Enables q on the rings the driver configured. size must be a power of two in
 * [1, VIRTQ_MAX_SIZE]; desc 16-, avail 2-, used 4-byte aligned; each ring (with its
 * event field) inside guest RAM. features: the negotiated feature bits. 0 or -EINVAL.
 */
int vq_enable(struct virtq *q, const struct gmem *mem, uint16_t size, uint64_t desc_gpa,
	      uint64_t avail_gpa, uint64_t used_gpa, uint64_t features);
void vq_disable(struct virtq *q);
static inline bool vq_enabled(const struct virtq *q)
{
	return q->size != 0;
}

/*
 * Takes the next available request into e. Returns 1 with e filled, 0 when the ring is
 * empty, or -errno when the ring is malformed (avail idx too far ahead, head out of range,
 * descriptor loop, chain or indirect table too long, a buffer outside guest RAM, a
 * readable buffer after a writable one, a nested indirect table): the queue is marked
 * broken and returns that error from then on, until vq_disable.
 */
int vq_pop(struct virtq *q, struct vq_elem *e);
/* Returns a popped request to the driver with len bytes written into its in-buffers. */
void vq_push(struct virtq *q, uint16_t head, uint32_t len);
/* Whether the driver wants an interrupt for what was pushed since the last true answer
 * (EVENT_IDX used_event, else the NO_INTERRUPT flag). Call after a batch of vq_push. */
bool vq_should_notify(struct virtq *q);
/*
 * enable=false asks the driver not to kick while the device is draining the ring; true
 * asks for kicks again and returns whether requests arrived meanwhile (then pop again).
 */
bool vq_set_notification(struct virtq *q, bool enable);
/* True when the avail ring holds requests not yet popped. */
bool vq_has_avail(struct virtq *q);

/* Copies from the element's readable buffers starting at byte off; returns bytes copied. */
size_t vq_read_out(const struct vq_elem *e, size_t off, void *dst, size_t len);
/* Copies into the element's writable buffers starting at byte off; returns bytes copied. */
size_t vq_write_in(const struct vq_elem *e, size_t off, const void *src, size_t len);

#endif
