/*
 * balloon: virtio-balloon: the host sets a target (QMP balloon), the guest inflates (its
 * pages are given back to the host with gmem_discard) or deflates; deflate-on-oom and free
 * page reporting as the guidebook describes; QMP balloon and query-balloon.
 */
#ifndef SV_VMM_VIRTIO_BALLOON_H
#define SV_VMM_VIRTIO_BALLOON_H

#include <stdint.h>

#include "errmsg.h"
#include "vmm/bus.h"
#include "vmm/memory.h"
#include "vmm/vm_config.h"

struct loop;
struct virtio_balloon;
struct virtio_mmio;

struct virtio_balloon_params {
	const struct gmem *mem;
	struct bus *mmio;
	uint64_t base;
	struct irq_line irq;
	struct loop *loop;
	const struct vm_device_config *dev; /* kind VM_DEV_VIRTIO_BALLOON */
};

/* Creates the device and pre-registers the QMP commands balloon and query-balloon. */
struct virtio_balloon *virtio_balloon_create(const struct virtio_balloon_params *p,
					     struct errmsg *e);
void virtio_balloon_destroy(struct virtio_balloon *b);
struct virtio_mmio *virtio_balloon_transport(struct virtio_balloon *b);

/* The guest's memory size the host asks for (bytes); 0 or -EINVAL beyond RAM. */
int virtio_balloon_set_target(struct virtio_balloon *b, uint64_t bytes);
/* RAM minus what the guest has put in the balloon (bytes). */
uint64_t virtio_balloon_actual(struct virtio_balloon *b);

#endif
