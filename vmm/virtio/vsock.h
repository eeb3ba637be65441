/*
 * vsock: virtio-vsock with a userspace backend mapping guest vsock to host unix sockets
 * (Firecracker's model): a host program connects to the device's socket at uds-path and
 * writes "CONNECT <port>\n" to reach guest port <port> (answered "OK <hostport>\n");
 * guest connections to host (CID 2) port P go to the unix socket "<uds-path>_P".
 * Stream sockets with virtio-vsock credit flow control.
 */
#ifndef SV_VMM_VIRTIO_VSOCK_H
#define SV_VMM_VIRTIO_VSOCK_H

#include <stdint.h>

#include "errmsg.h"
#include "vmm/bus.h"
#include "vmm/memory.h"

struct loop;
struct virtio_vsock;
struct virtio_mmio;

struct virtio_vsock_params {
	const struct gmem *mem;
	struct bus *mmio;
	uint64_t base;
	struct irq_line irq;
	struct loop *loop;
	const char *id;
	uint64_t guest_cid;
	const char *uds_path;
};

struct virtio_vsock *virtio_vsock_create(const struct virtio_vsock_params *p, struct errmsg *e);
void virtio_vsock_destroy(struct virtio_vsock *v);
struct virtio_mmio *virtio_vsock_transport(struct virtio_vsock *v);

#endif
