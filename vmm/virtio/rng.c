/*
 * rng: virtio-rng: fills the guest's buffers from the rng-random file, within the
 * max-bytes/period budget (refilled by a periodic timer).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "loop.h"
#include "vmm/virtio/mmio.h"
#include "vmm/virtio/rng.h"

struct virtio_rng {
	struct virtio_rng_params p;
	struct virtio_dev_ops ops;
	struct virtio_mmio *vdev;
	char name[64];
	int fd;
	uint64_t max_bytes; /* 0: unlimited */
	/* Transport lock held for all below. */
	uint64_t budget;
	bool stalled;
	struct loop_timer *timer;
	struct vq_elem *spare;
};

/* Reads up to len bytes of entropy into p; returns bytes read (0 on error). */
static size_t fill(struct virtio_rng *r, uint8_t *p, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = read(r->fd, p + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		done += (size_t)n;
	}
	return done;
}

static void rng_process(struct virtio_rng *r)
{
	struct virtq *vq = virtio_mmio_queue(r->vdev, 0);
	bool pushed = false;
	int ret;

	if (!vq)
		return;
	for (;;) {
		vq_set_notification(vq, false);
		for (;;) {
			uint64_t total = 0;
			uint32_t i;

			if (r->max_bytes && r->budget == 0) {
				r->stalled = true; /* the timer resumes us */
				goto out;
			}
			if (!r->spare && !(r->spare = malloc(sizeof(*r->spare))))
				goto out;
			ret = vq_pop(vq, r->spare);
			if (ret == 0)
				break;
			if (ret < 0) {
				virtio_mmio_needs_reset(r->vdev);
				goto out;
			}
			for (i = r->spare->n_out; i < r->spare->n_out + r->spare->n_in; i++) {
				size_t want = r->spare->iov[i].iov_len, got;

				if (r->max_bytes && want > r->budget - total)
					want = r->budget - total;
				if (!want)
					break;
				got = fill(r, r->spare->iov[i].iov_base, want);
				total += got;
				if (got < want)
					break;
			}
			if (r->max_bytes)
				r->budget -= total;
			vq_push(vq, r->spare->head, (uint32_t)total);
			pushed = true;
		}
		if (!vq_set_notification(vq, true))
			break;
	}
out:
	if (pushed)
		virtio_mmio_notify(r->vdev, 0);
}

static void rng_queue_notify(void *opaque, uint32_t q)
{
	rng_process(opaque);
}

static void rng_reset(void *opaque)
{
	struct virtio_rng *r = opaque;

	r->stalled = false;
}

static void rng_tick(struct loop *l, struct loop_timer *t, void *arg)
{
	struct virtio_rng *r = arg;

	virtio_mmio_lock(r->vdev);
	r->budget = r->max_bytes;
	if (r->stalled && (virtio_mmio_status(r->vdev) & VIRTIO_STATUS_DRIVER_OK)) {
		r->stalled = false;
		rng_process(r);
	}
	virtio_mmio_unlock(r->vdev);
}

struct virtio_rng *virtio_rng_create(const struct virtio_rng_params *p, struct errmsg *e)
{
	struct virtio_rng *r = calloc(1, sizeof(*r));
	struct virtio_mmio_params mp;
	int ret;

	if (!r) {
		errmsg_set(e, "virtio-rng: out of memory");
		return NULL;
	}
	r->p = *p;
	snprintf(r->name, sizeof(r->name), "virtio-rng %s", p->dev->id);
	r->fd = open(p->filename, O_RDONLY | O_CLOEXEC);
	if (r->fd < 0) {
		ret = -errno;
		errmsg_set(e, "-object rng-random: %s: %s", p->filename, strerror(errno));
		goto err;
	}
	r->max_bytes = p->dev->rng.max_bytes;
	r->budget = r->max_bytes;
	if (r->max_bytes) {
		r->timer = loop_add_timer(p->loop, p->dev->rng.period_ms, p->dev->rng.period_ms,
					  rng_tick, r);
		if (!r->timer) {
			ret = -errno;
			errmsg_set(e, "%s: timer: %s", r->name, strerror(errno));
			goto err;
		}
	}
	r->ops = (struct virtio_dev_ops){
		.name = r->name,
		.device_id = VIRTIO_ID_RNG,
		.num_queues = 1,
		.queue_max = 256,
		.reset = rng_reset,
		.queue_notify = rng_queue_notify,
	};
	mp = (struct virtio_mmio_params){.mem = p->mem,
					 .mmio = p->mmio,
					 .base = p->base,
					 .irq = p->irq,
					 .loop = p->loop,
					 .ops = &r->ops,
					 .opaque = r};
	r->vdev = virtio_mmio_create(&mp, e);
	if (!r->vdev) {
		ret = -errno;
		goto err;
	}
	return r;

err:
	virtio_rng_destroy(r);
	errno = ret < 0 ? -ret : EIO;
	return NULL;
}

struct virtio_mmio *virtio_rng_transport(struct virtio_rng *r)
{
	return r->vdev;
}

void virtio_rng_destroy(struct virtio_rng *r)
{
	if (!r)
		return;
	if (r->vdev)
		virtio_mmio_destroy(r->vdev);
	if (r->timer)
		loop_del_timer(r->p.loop, r->timer);
	if (r->fd >= 0)
		close(r->fd);
	free(r->spare);
	free(r);
}
