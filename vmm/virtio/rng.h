/*
 * rng: virtio-rng fed from a host file (-object rng-random,filename=), optionally limited
 * to max-bytes per period milliseconds.
 */
#ifndef SV_VMM_VIRTIO_RNG_H
#define SV_VMM_VIRTIO_RNG_H

#include "errmsg.h"
#include "vmm/bus.h"
#include "vmm/memory.h"
#include "vmm/vm_config.h"

struct loop;
struct virtio_rng;
struct virtio_mmio;

struct virtio_rng_params {
	const struct gmem *mem;
	struct bus *mmio;
	uint64_t base;
	struct irq_line irq;
	struct loop *loop;
	const char *filename;
	const struct vm_device_config *dev; /* kind VM_DEV_VIRTIO_RNG */
};

struct virtio_rng *virtio_rng_create(const struct virtio_rng_params *p, struct errmsg *e);
void virtio_rng_destroy(struct virtio_rng *r);
struct virtio_mmio *virtio_rng_transport(struct virtio_rng *r);

#endif
