/*
 * mmio: virtio-mmio v2 registers, feature negotiation and status machine, queue set-up,
 * ioeventfd kicks and resampled-irqfd interrupts.
 */
#include <endian.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "log.h"
#include "loop.h"
#include "vmm/virtio/mmio.h"

/* Register offsets (virtio 1.2, 4.2.2). */
#define REG_MAGIC		0x000
#define REG_VERSION		0x004
#define REG_DEVICE_ID		0x008
#define REG_VENDOR_ID		0x00c
#define REG_DEVICE_FEATURES	0x010
#define REG_DEVICE_FEATURES_SEL 0x014
#define REG_DRIVER_FEATURES	0x020
#define REG_DRIVER_FEATURES_SEL 0x024
#define REG_QUEUE_SEL		0x030
#define REG_QUEUE_NUM_MAX	0x034
#define REG_QUEUE_NUM		0x038
#define REG_QUEUE_READY		0x044
#define REG_QUEUE_NOTIFY	0x050
#define REG_INTERRUPT_STATUS	0x060
#define REG_INTERRUPT_ACK	0x064
#define REG_STATUS		0x070
#define REG_QUEUE_DESC_LOW	0x080
#define REG_QUEUE_DESC_HIGH	0x084
#define REG_QUEUE_DRIVER_LOW	0x090
#define REG_QUEUE_DRIVER_HIGH	0x094
#define REG_QUEUE_DEVICE_LOW	0x0a0
#define REG_QUEUE_DEVICE_HIGH	0x0a4
#define REG_SHM_LEN_LOW		0x0b0
#define REG_SHM_LEN_HIGH	0x0b4
#define REG_SHM_BASE_LOW	0x0b8
#define REG_SHM_BASE_HIGH	0x0bc
#define REG_CONFIG_GENERATION	0x0fc
#define REG_CONFIG		0x100

#define VIRTIO_MMIO_MAGIC  0x74726976u /* "virt" */
#define VIRTIO_MMIO_VENDOR 0x54525653u /* "SVRT" */

/* What the transport itself offers on top of the device's bits. */
#define TRANSPORT_FEATURES                                             \
	((1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_F_EVENT_IDX) | \
	 (1ull << VIRTIO_F_INDIRECT_DESC))

struct mmio_queue {
	uint16_t num;
	bool ready;
	uint64_t desc, avail, used;
	struct virtq vq;
	int kick_fd;
	bool kick_watched;
	bool ioeventfd;
	struct virtio_mmio *vdev;
	uint32_t index;
};

struct virtio_mmio {
	struct virtio_mmio_params p;
	/* Guards everything below and the device's state (see mmio.h). */
	pthread_mutex_t lock;
	uint32_t status;
	uint32_t dev_features_sel;
	uint32_t drv_features_sel;
	uint32_t queue_sel;
	uint64_t dev_features;
	uint64_t drv_features;
	uint32_t int_status;
	uint32_t config_generation;
	struct mmio_queue queues[VIRTIO_MMIO_MAX_QUEUES];
	int irq_fd;	 /* irqfd, -1 without KVM */
	int resample_fd; /* KVM signals it at EOI of the level interrupt */
	bool registered;
};

void virtio_mmio_lock(struct virtio_mmio *vdev)
{
	pthread_mutex_lock(&vdev->lock);
}

void virtio_mmio_unlock(struct virtio_mmio *vdev)
{
	pthread_mutex_unlock(&vdev->lock);
}

uint64_t virtio_mmio_features(const struct virtio_mmio *vdev)
{
	return vdev->drv_features;
}

uint32_t virtio_mmio_status(const struct virtio_mmio *vdev)
{
	return vdev->status;
}

struct virtq *virtio_mmio_queue(struct virtio_mmio *vdev, uint32_t q)
{
	if (q >= vdev->p.ops->num_queues || !vdev->queues[q].ready)
		return NULL;
	return &vdev->queues[q].vq;
}

/* ---- interrupts ----------------------------------------------------------------------------- */

static void irq_raise(struct virtio_mmio *vdev, uint32_t bits)
{
	uint64_t one = 1;

	vdev->int_status |= bits;
	if (vdev->irq_fd >= 0) {
		if (write(vdev->irq_fd, &one, sizeof(one)) < 0)
			log_debug("%s: irqfd write: %s", vdev->p.ops->name, strerror(errno));
	} else if (vdev->p.irq.vm_fd >= 0) {
		irq_line_set(&vdev->p.irq, true);
	}
}

static void irq_update_after_ack(struct virtio_mmio *vdev)
{
	/* With a resampled irqfd KVM lowers the line at EOI and asks us (resample_cb). */
	if (vdev->irq_fd < 0 && vdev->p.irq.vm_fd >= 0 && vdev->int_status == 0)
		irq_line_set(&vdev->p.irq, false);
}

static void resample_cb(struct loop *l, int fd, uint32_t events, void *arg)
{
	struct virtio_mmio *vdev = arg;
	uint64_t v;

	if (read(fd, &v, sizeof(v)) < 0)
		return;
	virtio_mmio_lock(vdev);
	/* Still pending after the guest's EOI: the line must stay up. */
	if (vdev->int_status)
		irq_raise(vdev, 0);
	virtio_mmio_unlock(vdev);
}

void virtio_mmio_notify(struct virtio_mmio *vdev, uint32_t q)
{
	if (q >= vdev->p.ops->num_queues || !vdev->queues[q].ready)
		return;
	if (vq_should_notify(&vdev->queues[q].vq))
		irq_raise(vdev, VIRTIO_MMIO_INT_VRING);
}

void virtio_mmio_raise_vring(struct virtio_mmio *vdev)
{
	if (vdev->status & VIRTIO_STATUS_DRIVER_OK)
		irq_raise(vdev, VIRTIO_MMIO_INT_VRING);
}

int virtio_mmio_take_kick_fd(struct virtio_mmio *vdev, uint32_t q)
{
	struct mmio_queue *mq;

	if (q >= vdev->p.ops->num_queues)
		return -EINVAL;
	mq = &vdev->queues[q];
	if (mq->kick_fd < 0)
		return -ENODEV;
	if (mq->kick_watched) {
		loop_del_fd(vdev->p.loop, mq->kick_fd);
		mq->kick_watched = false;
	}
	return mq->kick_fd;
}

void virtio_mmio_config_changed(struct virtio_mmio *vdev)
{
	vdev->config_generation++;
	if (vdev->status & VIRTIO_STATUS_DRIVER_OK)
		irq_raise(vdev, VIRTIO_MMIO_INT_CONFIG);
}

void virtio_mmio_needs_reset(struct virtio_mmio *vdev)
{
	if (vdev->status & VIRTIO_STATUS_NEEDS_RESET)
		return;
	log_warn("%s: the driver broke the protocol; device needs a reset", vdev->p.ops->name);
	vdev->status |= VIRTIO_STATUS_NEEDS_RESET;
	if (vdev->status & VIRTIO_STATUS_DRIVER_OK)
		irq_raise(vdev, VIRTIO_MMIO_INT_CONFIG);
}

/* ---- reset and kicks ------------------------------------------------------------------------- */

static void reset_locked(struct virtio_mmio *vdev)
{
	uint32_t i;

	if (vdev->status & VIRTIO_STATUS_DRIVER_OK || vdev->status)
		vdev->p.ops->reset(vdev->p.opaque);
	for (i = 0; i < vdev->p.ops->num_queues; i++) {
		struct mmio_queue *q = &vdev->queues[i];

		vq_disable(&q->vq);
		q->ready = false;
		q->num = 0;
		q->desc = q->avail = q->used = 0;
	}
	vdev->status = 0;
	vdev->drv_features = 0;
	vdev->dev_features_sel = vdev->drv_features_sel = vdev->queue_sel = 0;
	vdev->int_status = 0;
	irq_update_after_ack(vdev);
}

void virtio_mmio_reset(struct virtio_mmio *vdev)
{
	virtio_mmio_lock(vdev);
	reset_locked(vdev);
	virtio_mmio_unlock(vdev);
}

static void kick_cb(struct loop *l, int fd, uint32_t events, void *arg)
{
	struct mmio_queue *q = arg;
	struct virtio_mmio *vdev = q->vdev;
	uint64_t v;

	if (read(fd, &v, sizeof(v)) < 0)
		return;
	virtio_mmio_lock(vdev);
	/* Kicks before DRIVER_OK, on a queue not ready, or after NEEDS_RESET are ignored. */
	if ((vdev->status & VIRTIO_STATUS_DRIVER_OK) &&
	    !(vdev->status & VIRTIO_STATUS_NEEDS_RESET) && q->ready)
		vdev->p.ops->queue_notify(vdev->p.opaque, q->index);
	virtio_mmio_unlock(vdev);
}

/* ---- registers --------------------------------------------------------------------------------- */

static uint32_t reg_read(struct virtio_mmio *vdev, uint64_t off)
{
	struct mmio_queue *q = vdev->queue_sel < vdev->p.ops->num_queues
				       ? &vdev->queues[vdev->queue_sel]
				       : NULL;

	switch (off) {
	case REG_MAGIC:
		return VIRTIO_MMIO_MAGIC;
	case REG_VERSION:
		return 2;
	case REG_DEVICE_ID:
		return vdev->p.ops->device_id;
	case REG_VENDOR_ID:
		return VIRTIO_MMIO_VENDOR;
	case REG_DEVICE_FEATURES:
		if (vdev->dev_features_sel > 1)
			return 0;
		return (uint32_t)(vdev->dev_features >> (32 * vdev->dev_features_sel));
	case REG_QUEUE_NUM_MAX:
		return q ? vdev->p.ops->queue_max : 0;
	case REG_QUEUE_READY:
		return q ? q->ready : 0;
	case REG_INTERRUPT_STATUS:
		return vdev->int_status;
	case REG_STATUS:
		return vdev->status;
	case REG_SHM_LEN_LOW:
	case REG_SHM_LEN_HIGH:
		return 0xffffffffu; /* no shared memory regions */
	case REG_CONFIG_GENERATION:
		return vdev->config_generation;
	default:
		return 0;
	}
}

static void queue_set_ready(struct virtio_mmio *vdev, struct mmio_queue *q, bool ready)
{
	int ret;

	if (!ready) {
		vq_disable(&q->vq);
		q->ready = false;
		return;
	}
	if (q->ready)
		return;
	if (q->num > vdev->p.ops->queue_max) {
		ret = -EINVAL;
	} else {
		ret = vq_enable(&q->vq, vdev->p.mem, q->num, q->desc, q->avail, q->used,
				vdev->drv_features);
	}
	if (ret) {
		log_warn("%s: queue %u: rejected (size %u, desc 0x%llx, avail 0x%llx, used "
			 "0x%llx)",
			 vdev->p.ops->name, q->index, q->num, (unsigned long long)q->desc,
			 (unsigned long long)q->avail, (unsigned long long)q->used);
		virtio_mmio_needs_reset(vdev);
		return;
	}
	q->ready = true;
}

static void set_addr_half(uint64_t *addr, bool high, uint32_t v)
{
	if (high)
		*addr = (*addr & 0xffffffffull) | ((uint64_t)v << 32);
	else
		*addr = (*addr & ~0xffffffffull) | v;
}

static void status_write(struct virtio_mmio *vdev, uint32_t v)
{
	uint32_t old = vdev->status, added = v & ~old;
	uint64_t offered = vdev->dev_features;

	if (v == 0) {
		reset_locked(vdev);
		return;
	}
	/* The driver only adds bits; NEEDS_RESET is the device's to set. */
	v = (v | old) & ~VIRTIO_STATUS_NEEDS_RESET;
	v |= old & VIRTIO_STATUS_NEEDS_RESET;
	if (added & VIRTIO_STATUS_FEATURES_OK) {
		/* Only features offered, and a modern driver. Refusal: FEATURES_OK stays clear. */
		if ((vdev->drv_features & ~offered) ||
		    !(vdev->drv_features & (1ull << VIRTIO_F_VERSION_1)))
			v &= ~VIRTIO_STATUS_FEATURES_OK;
	}
	if ((added & VIRTIO_STATUS_DRIVER_OK) && !(v & VIRTIO_STATUS_FEATURES_OK))
		v &= ~VIRTIO_STATUS_DRIVER_OK;
	vdev->status = v;
	if ((added & VIRTIO_STATUS_DRIVER_OK) && (v & VIRTIO_STATUS_DRIVER_OK) &&
	    vdev->p.ops->activate) {
		int ret = vdev->p.ops->activate(vdev->p.opaque, vdev);

		if (ret) {
			log_warn("%s: activation failed: %s", vdev->p.ops->name, strerror(-ret));
			virtio_mmio_needs_reset(vdev);
		}
	}
}

static void reg_write(struct virtio_mmio *vdev, uint64_t off, uint32_t v)
{
	struct mmio_queue *q = vdev->queue_sel < vdev->p.ops->num_queues
				       ? &vdev->queues[vdev->queue_sel]
				       : NULL;
	bool configurable = q && !q->ready && !(vdev->status & VIRTIO_STATUS_DRIVER_OK);

	switch (off) {
	case REG_DEVICE_FEATURES_SEL:
		vdev->dev_features_sel = v;
		break;
	case REG_DRIVER_FEATURES:
		/* Frozen once FEATURES_OK is set. */
		if (vdev->status & VIRTIO_STATUS_FEATURES_OK || vdev->drv_features_sel > 1)
			break;
		if (vdev->drv_features_sel)
			vdev->drv_features = (vdev->drv_features & 0xffffffffull) |
					     ((uint64_t)v << 32);
		else
			vdev->drv_features = (vdev->drv_features & ~0xffffffffull) | v;
		break;
	case REG_DRIVER_FEATURES_SEL:
		vdev->drv_features_sel = v;
		break;
	case REG_QUEUE_SEL:
		vdev->queue_sel = v;
		break;
	case REG_QUEUE_NUM:
		if (configurable)
			q->num = v > 0xffff ? 0 : (uint16_t)v;
		break;
	case REG_QUEUE_READY:
		if (q)
			queue_set_ready(vdev, q, v & 1);
		break;
	case REG_QUEUE_NOTIFY:
		/* Without an ioeventfd the kick arrives here; hand it to the loop the same way. */
		if (v < vdev->p.ops->num_queues) {
			uint64_t one = 1;

			if (write(vdev->queues[v].kick_fd, &one, sizeof(one)) < 0)
				log_debug("%s: kick: %s", vdev->p.ops->name, strerror(errno));
		}
		break;
	case REG_INTERRUPT_ACK:
		vdev->int_status &= ~v;
		irq_update_after_ack(vdev);
		break;
	case REG_STATUS:
		status_write(vdev, v);
		break;
	case REG_QUEUE_DESC_LOW:
	case REG_QUEUE_DESC_HIGH:
		if (configurable)
			set_addr_half(&q->desc, off == REG_QUEUE_DESC_HIGH, v);
		break;
	case REG_QUEUE_DRIVER_LOW:
	case REG_QUEUE_DRIVER_HIGH:
		if (configurable)
			set_addr_half(&q->avail, off == REG_QUEUE_DRIVER_HIGH, v);
		break;
	case REG_QUEUE_DEVICE_LOW:
	case REG_QUEUE_DEVICE_HIGH:
		if (configurable)
			set_addr_half(&q->used, off == REG_QUEUE_DEVICE_HIGH, v);
		break;
	default:
		break;
	}
}

static void mmio_read(void *opaque, uint64_t off, uint8_t *data, uint32_t len)
{
	struct virtio_mmio *vdev = opaque;

	memset(data, 0, len);
	virtio_mmio_lock(vdev);
	if (off >= REG_CONFIG) {
		uint64_t c = off - REG_CONFIG;

		if (c < vdev->p.ops->config_size && len <= vdev->p.ops->config_size - c &&
		    vdev->p.ops->config_read)
			vdev->p.ops->config_read(vdev->p.opaque, (uint32_t)c, data, len);
	} else if (len == 4 && !(off & 3)) {
		uint32_t v = htole32(reg_read(vdev, off));

		memcpy(data, &v, 4);
	}
	virtio_mmio_unlock(vdev);
}

static void mmio_write(void *opaque, uint64_t off, const uint8_t *data, uint32_t len)
{
	struct virtio_mmio *vdev = opaque;

	virtio_mmio_lock(vdev);
	if (off >= REG_CONFIG) {
		uint64_t c = off - REG_CONFIG;

		if (c < vdev->p.ops->config_size && len <= vdev->p.ops->config_size - c &&
		    vdev->p.ops->config_write)
			vdev->p.ops->config_write(vdev->p.opaque, (uint32_t)c, data, len);
	} else if (len == 4 && !(off & 3)) {
		uint32_t v;

		memcpy(&v, data, 4);
		reg_write(vdev, off, le32toh(v));
	}
	virtio_mmio_unlock(vdev);
}

static const struct bus_ops mmio_bus_ops = {
	.read = mmio_read,
	.write = mmio_write,
};

/* ---- life cycle ---------------------------------------------------------------------------------- */

static int setup_irqfd(struct virtio_mmio *vdev)
{
	int ret;

	if (vdev->p.irq.vm_fd < 0)
		return 0;
	vdev->irq_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	vdev->resample_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (vdev->irq_fd < 0 || vdev->resample_fd < 0)
		goto fallback;
	ret = irq_line_irqfd_attach(&vdev->p.irq, vdev->irq_fd, vdev->resample_fd);
	if (ret)
		goto fallback;
	ret = loop_add_fd(vdev->p.loop, vdev->resample_fd, EPOLLIN, resample_cb, vdev);
	if (ret) {
		irq_line_irqfd_detach(&vdev->p.irq, vdev->irq_fd);
		goto fallback;
	}
	return 0;

fallback:
	/* The irq line ioctl works everywhere KVM does; irqfd only saves the exit. */
	log_info("%s: no resampling irqfd, using KVM_IRQ_LINE", vdev->p.ops->name);
	if (vdev->irq_fd >= 0)
		close(vdev->irq_fd);
	if (vdev->resample_fd >= 0)
		close(vdev->resample_fd);
	vdev->irq_fd = vdev->resample_fd = -1;
	return 0;
}

struct virtio_mmio *virtio_mmio_create(const struct virtio_mmio_params *p, struct errmsg *e)
{
	const struct virtio_dev_ops *ops = p->ops;
	struct virtio_mmio *vdev;
	uint32_t i;
	int ret;

	if (!ops || ops->num_queues == 0 || ops->num_queues > VIRTIO_MMIO_MAX_QUEUES ||
	    !ops->queue_max || (ops->queue_max & (ops->queue_max - 1)) || !ops->queue_notify ||
	    !ops->reset) {
		errmsg_set(e, "virtio-mmio: bad device description");
		errno = EINVAL;
		return NULL;
	}
	vdev = calloc(1, sizeof(*vdev));
	if (!vdev) {
		errmsg_set(e, "%s: out of memory", ops->name);
		return NULL;
	}
	vdev->p = *p;
	vdev->irq_fd = vdev->resample_fd = -1;
	vdev->dev_features = ops->features | TRANSPORT_FEATURES;
	pthread_mutex_init(&vdev->lock, NULL);
	for (i = 0; i < VIRTIO_MMIO_MAX_QUEUES; i++)
		vdev->queues[i].kick_fd = -1;
	for (i = 0; i < ops->num_queues; i++) {
		struct mmio_queue *q = &vdev->queues[i];

		q->vdev = vdev;
		q->index = i;
		q->kick_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (q->kick_fd < 0) {
			ret = -errno;
			errmsg_set(e, "%s: eventfd: %s", ops->name, strerror(errno));
			goto err;
		}
		ret = loop_add_fd(p->loop, q->kick_fd, EPOLLIN, kick_cb, q);
		if (ret) {
			errmsg_set(e, "%s: event loop: %s", ops->name, strerror(-ret));
			goto err;
		}
		q->kick_watched = true;
		/* QueueNotify with the queue's index signals its eventfd inside KVM. */
		q->ioeventfd = bus_ioeventfd(p->mmio, p->base + REG_QUEUE_NOTIFY, 4, q->kick_fd,
					     true, i, true) == 0;
	}
	ret = setup_irqfd(vdev);
	if (ret)
		goto err;
	ret = bus_register(p->mmio, p->base, VIRTIO_MMIO_SIZE, &mmio_bus_ops, vdev, ops->name);
	if (ret) {
		errmsg_set(e, "%s: MMIO range at 0x%llx: %s", ops->name,
			   (unsigned long long)p->base, strerror(-ret));
		goto err;
	}
	vdev->registered = true;
	return vdev;

err:
	virtio_mmio_destroy(vdev);
	errno = -ret;
	return NULL;
}

void virtio_mmio_destroy(struct virtio_mmio *vdev)
{
	uint32_t i;

	if (!vdev)
		return;
	if (vdev->registered)
		bus_unregister(vdev->p.mmio, vdev->p.base);
	virtio_mmio_reset(vdev);
	for (i = 0; i < VIRTIO_MMIO_MAX_QUEUES; i++) {
		struct mmio_queue *q = &vdev->queues[i];

		if (q->ioeventfd)
			bus_ioeventfd(vdev->p.mmio, vdev->p.base + REG_QUEUE_NOTIFY, 4, q->kick_fd,
				      true, i, false);
		if (q->kick_watched)
			loop_del_fd(vdev->p.loop, q->kick_fd);
		if (q->kick_fd >= 0)
			close(q->kick_fd);
	}
	if (vdev->resample_fd >= 0) {
		loop_del_fd(vdev->p.loop, vdev->resample_fd);
		irq_line_irqfd_detach(&vdev->p.irq, vdev->irq_fd);
		close(vdev->resample_fd);
		close(vdev->irq_fd);
	}
	pthread_mutex_destroy(&vdev->lock);
	free(vdev);
}
