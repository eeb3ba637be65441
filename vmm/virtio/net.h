/*
 * net: virtio-net on a tap device (-netdev tap,ifname=|fd=): vnet headers with checksum and
 * TSO offloads passed through, mergeable receive buffers, and receive backpressure (the tap
 * is not read while the guest has no buffers, so no frame is dropped by the VMM).
 */
#ifndef SV_VMM_VIRTIO_NET_H
#define SV_VMM_VIRTIO_NET_H

#include "errmsg.h"
#include "vmm/bus.h"
#include "vmm/memory.h"
#include "vmm/vm_config.h"

struct loop;
struct virtio_net;
struct virtio_mmio;

struct virtio_net_params {
	const struct gmem *mem;
	struct bus *mmio;
	uint64_t base;
	struct irq_line irq;
	struct loop *loop;
	const struct vm_netdev_config *netdev;
	const struct vm_device_config *dev; /* kind VM_DEV_VIRTIO_NET */
};

struct virtio_net *virtio_net_create(const struct virtio_net_params *p, struct errmsg *e);
void virtio_net_destroy(struct virtio_net *n);
struct virtio_mmio *virtio_net_transport(struct virtio_net *n);

#endif
