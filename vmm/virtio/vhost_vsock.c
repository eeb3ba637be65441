/* vhost_vsock: the set-up sequence of the kernel vhost-vsock backend (see vhost_vsock.h). */
#include "vhost_vsock.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/vhost.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static int sys_open(const char *path, int flags)
{
	return open(path, flags);
}

static int sys_ioctl(int fd, unsigned long req, void *arg)
{
	return ioctl(fd, req, arg);
}

const struct vhost_vsock_ops vhost_vsock_sys_ops = {
	.open = sys_open,
	.ioctl = sys_ioctl,
	.close = close,
};

/* One ioctl; on failure e names it. */
static int vh_ioctl(struct vhost_vsock *h, unsigned long req, void *arg, const char *what,
		    struct errmsg *e)
{
	if (h->ops->ioctl(h->fd, req, arg) >= 0)
		return 0;
	{
		int err = errno ? errno : EIO;

		if (e)
			errmsg_set(e, "vhost-vsock: %s: %s", what, strerror(err));
		return -err;
	}
}

int vhost_vsock_open(struct vhost_vsock *h, const struct vhost_vsock_ops *ops, const char *path,
		     uint64_t guest_cid, struct errmsg *e)
{
	uint64_t cid = guest_cid;
	int ret;

	memset(h, 0, sizeof(*h));
	h->ops = ops;
	h->fd = ops->open(path, O_RDWR | O_CLOEXEC);
	if (h->fd < 0) {
		int err = errno ? errno : EIO;

		if (err == ENOENT || err == ENODEV || err == ENXIO)
			errmsg_set(e,
				   "%s: %s (the kernel backend needs vhost_vsock; uds-path= selects "
				   "the unix-socket backend)",
				   path, strerror(err));
		else
			errmsg_set(e, "%s: %s", path, strerror(err));
		h->fd = -1;
		return -err;
	}
	ret = vh_ioctl(h, VHOST_SET_OWNER, NULL, "VHOST_SET_OWNER", e);
	if (!ret)
		ret = vh_ioctl(h, VHOST_GET_FEATURES, &h->features, "VHOST_GET_FEATURES", e);
	if (!ret)
		ret = vh_ioctl(h, VHOST_VSOCK_SET_GUEST_CID, &cid,
			       "VHOST_VSOCK_SET_GUEST_CID (is the CID in use by another VM?)", e);
	if (ret) {
		h->ops->close(h->fd);
		h->fd = -1;
	}
	return ret;
}

static int set_mem_table(struct vhost_vsock *h, const struct gmem *mem, struct errmsg *e)
{
	struct vhost_memory *vm;
	size_t sz;
	unsigned int i;
	int ret;

	if (__builtin_mul_overflow((size_t)mem->nr_regions, sizeof(vm->regions[0]), &sz) ||
	    __builtin_add_overflow(sz, sizeof(*vm), &sz))
		return -EOVERFLOW;
	vm = calloc(1, sz);
	if (!vm) {
		errmsg_set(e, "vhost-vsock: out of memory");
		return -ENOMEM;
	}
	vm->nregions = mem->nr_regions;
	for (i = 0; i < mem->nr_regions; i++) {
		vm->regions[i].guest_phys_addr = mem->regions[i].gpa;
		vm->regions[i].memory_size = mem->regions[i].size;
		vm->regions[i].userspace_addr = (uint64_t)(uintptr_t)mem->regions[i].hva;
	}
	ret = vh_ioctl(h, VHOST_SET_MEM_TABLE, vm, "VHOST_SET_MEM_TABLE", e);
	free(vm);
	return ret;
}

/* A ring's host address; the transport checked the rings lie in RAM, but check again. */
static int ring_hva(const struct gmem *mem, uint64_t gpa, uint64_t len, uint64_t *hva)
{
	void *p = gmem_ptr(mem, gpa, len);

	if (!p)
		return -EFAULT;
	*hva = (uint64_t)(uintptr_t)p;
	return 0;
}

static int setup_vq(struct vhost_vsock *h, unsigned int idx, const struct gmem *mem,
		    const struct vhost_vsock_vq *q, struct errmsg *e)
{
	struct vhost_vring_state num = {.index = idx, .num = q->num};
	struct vhost_vring_state base = {.index = idx, .num = q->last_avail};
	struct vhost_vring_file kick = {.index = idx, .fd = q->kick_fd};
	struct vhost_vring_file call = {.index = idx, .fd = q->call_fd};
	struct vhost_vring_addr addr = {.index = idx};
	uint64_t d, a, u;
	int ret;

	if (!q->num || (q->num & (q->num - 1)) || q->kick_fd < 0 || q->call_fd < 0) {
		errmsg_set(e, "vhost-vsock: queue %u is not set up (size %u)", idx, q->num);
		return -EINVAL;
	}
	if (ring_hva(mem, q->desc_gpa, 16ull * q->num, &d) ||
	    ring_hva(mem, q->avail_gpa, 6ull + 2ull * q->num, &a) ||
	    ring_hva(mem, q->used_gpa, 6ull + 8ull * q->num, &u)) {
		errmsg_set(e, "vhost-vsock: queue %u rings are outside guest RAM", idx);
		return -EFAULT;
	}
	addr.desc_user_addr = d;
	addr.avail_user_addr = a;
	addr.used_user_addr = u;
	ret = vh_ioctl(h, VHOST_SET_VRING_NUM, &num, "VHOST_SET_VRING_NUM", e);
	if (!ret)
		ret = vh_ioctl(h, VHOST_SET_VRING_ADDR, &addr, "VHOST_SET_VRING_ADDR", e);
	if (!ret)
		ret = vh_ioctl(h, VHOST_SET_VRING_BASE, &base, "VHOST_SET_VRING_BASE", e);
	if (!ret)
		ret = vh_ioctl(h, VHOST_SET_VRING_KICK, &kick, "VHOST_SET_VRING_KICK", e);
	if (!ret)
		ret = vh_ioctl(h, VHOST_SET_VRING_CALL, &call, "VHOST_SET_VRING_CALL", e);
	return ret;
}

/* Detaches the eventfds of every vhost queue (fd -1), best effort. */
static void detach_vqs(struct vhost_vsock *h)
{
	unsigned int i;

	for (i = 0; i < VHOST_VSOCK_NR_VQS; i++) {
		struct vhost_vring_file f = {.index = i, .fd = -1};

		h->ops->ioctl(h->fd, VHOST_SET_VRING_KICK, &f);
		h->ops->ioctl(h->fd, VHOST_SET_VRING_CALL, &f);
	}
}

int vhost_vsock_start(struct vhost_vsock *h, uint64_t features, const struct gmem *mem,
		      const struct vhost_vsock_vq vqs[VHOST_VSOCK_NR_VQS], struct errmsg *e)
{
	uint64_t acked = features & h->features;
	int running = 1;
	unsigned int i;
	int ret;

	if (h->fd < 0 || h->running)
		return -EINVAL;
	ret = vh_ioctl(h, VHOST_SET_FEATURES, &acked, "VHOST_SET_FEATURES", e);
	if (!ret)
		ret = set_mem_table(h, mem, e);
	for (i = 0; !ret && i < VHOST_VSOCK_NR_VQS; i++)
		ret = setup_vq(h, i, mem, &vqs[i], e);
	if (!ret)
		ret = vh_ioctl(h, VHOST_VSOCK_SET_RUNNING, &running, "VHOST_VSOCK_SET_RUNNING", e);
	if (ret) {
		detach_vqs(h);
		return ret;
	}
	h->running = true;
	return 0;
}

int vhost_vsock_stop(struct vhost_vsock *h)
{
	int running = 0, ret = 0;

	if (h->fd < 0 || !h->running)
		return 0;
	if (h->ops->ioctl(h->fd, VHOST_VSOCK_SET_RUNNING, &running) < 0)
		ret = -(errno ? errno : EIO);
	detach_vqs(h);
	h->running = false;
	return ret;
}

void vhost_vsock_close(struct vhost_vsock *h)
{
	if (h->fd < 0)
		return;
	vhost_vsock_stop(h);
	h->ops->close(h->fd);
	h->fd = -1;
}
