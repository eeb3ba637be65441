/* vhost_vsock: drives the kernel's vhost-vsock backend (/dev/vhost-vsock) for the rx and tx
 * queues of a virtio-vsock device; the event queue stays in userspace. The ioctls go through
 * a small ops table so the set-up sequence can be tested without the device node. */
#ifndef SV_VMM_VHOST_VSOCK_H
#define SV_VMM_VHOST_VSOCK_H

#include <stdbool.h>
#include <stdint.h>

#include "errmsg.h"
#include "vmm/memory.h"

#define VHOST_VSOCK_DEV	   "/dev/vhost-vsock"
#define VHOST_VSOCK_NR_VQS 2 /* rx (0) and tx (1); the event queue (2) is ours */

struct vhost_vsock_ops {
	int (*open)(const char *path, int flags); /* fd, or -1 with errno */
	int (*ioctl)(int fd, unsigned long req, void *arg); /* >= 0, or -1 with errno */
	int (*close)(int fd);
};

/* The real system calls. */
extern const struct vhost_vsock_ops vhost_vsock_sys_ops;

/* One queue as the driver configured it, and the eventfds vhost uses for it. */
struct vhost_vsock_vq {
	uint16_t num;
	uint16_t last_avail; /* where vhost starts (VHOST_SET_VRING_BASE) */
	uint64_t desc_gpa, avail_gpa, used_gpa;
	int kick_fd; /* the guest's notify: the virtio-mmio ioeventfd */
	int call_fd; /* vhost signals used buffers here: the interrupt eventfd */
};

struct vhost_vsock {
	const struct vhost_vsock_ops *ops;
	int fd;
	uint64_t features; /* what the kernel backend offers (VHOST_GET_FEATURES) */
	bool running;
};

/*
 * Opens path (VHOST_VSOCK_DEV), takes ownership (VHOST_SET_OWNER), reads the backend's
 * features and sets the guest CID. 0, or -errno with a one-line message in e naming the step
 * (a missing node says so and that uds-path= is the alternative).
 */
int vhost_vsock_open(struct vhost_vsock *h, const struct vhost_vsock_ops *ops, const char *path,
		     uint64_t guest_cid, struct errmsg *e);

/*
 * At DRIVER_OK: acks features (the driver's, limited to what the backend offers), hands over
 * guest memory (VHOST_SET_MEM_TABLE, guest-physical -> host-virtual), sets up each of the
 * VHOST_VSOCK_NR_VQS queues (NUM, ADDR with host-virtual ring addresses, BASE, KICK, CALL)
 * and starts the backend (VHOST_VSOCK_SET_RUNNING 1). 0 or -errno with e.
 */
int vhost_vsock_start(struct vhost_vsock *h, uint64_t features, const struct gmem *mem,
		      const struct vhost_vsock_vq vqs[VHOST_VSOCK_NR_VQS], struct errmsg *e);

/* Device reset: stops the backend (SET_RUNNING 0) and detaches the eventfds. 0 or -errno. */
int vhost_vsock_stop(struct vhost_vsock *h);

/* Closes the device (stopping it first if running). Safe on a never-opened h (fd -1). */
void vhost_vsock_close(struct vhost_vsock *h);

#endif
