/*
 * console: virtio-console, single port (no MULTIPORT): queue 0 receives (host to guest),
 * queue 1 transmits (guest to host).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "vmm/chardev.h"
#include "vmm/virtio/console.h"
#include "vmm/virtio/mmio.h"

#define CONSOLE_RX	    0
#define CONSOLE_TX	    1
#define CONSOLE_CONFIG_SIZE 12 /* cols, rows, max_nr_ports, emerg_wr */

struct virtio_console {
	struct virtio_console_params p;
	struct virtio_dev_ops ops;
	struct virtio_mmio *vdev;
	char name[64];
	/* Transport lock held for these. */
	struct vq_elem *rx; /* a receive buffer taken from the ring, waiting for input */
	struct vq_elem *tx;
};

static void console_config_read(void *opaque, uint32_t off, uint8_t *data, uint32_t len)
{
	uint8_t cfg[CONSOLE_CONFIG_SIZE] = {0};

	cfg[4 + 0] = 1; /* max_nr_ports = 1 (little endian u32 at offset 4) */
	memcpy(data, cfg + off, len);
}

/* Guest output: everything readable goes to the chardev. */
static void console_tx(struct virtio_console *c)
{
	struct virtq *vq = virtio_mmio_queue(c->vdev, CONSOLE_TX);
	bool pushed = false;
	int ret;

	if (!vq)
		return;
	for (;;) {
		vq_set_notification(vq, false);
		for (;;) {
			uint32_t i;

			if (!c->tx && !(c->tx = malloc(sizeof(*c->tx))))
				goto out;
			ret = vq_pop(vq, c->tx);
			if (ret == 0)
				break;
			if (ret < 0) {
				virtio_mmio_needs_reset(c->vdev);
				goto out;
			}
			for (i = 0; i < c->tx->n_out && c->p.chr; i++)
				chardev_write(c->p.chr, c->tx->iov[i].iov_base,
					      c->tx->iov[i].iov_len);
			vq_push(vq, c->tx->head, 0);
			pushed = true;
		}
		if (!vq_set_notification(vq, true))
			break;
	}
out:
	if (pushed)
		virtio_mmio_notify(c->vdev, CONSOLE_TX);
}

/* Takes a receive buffer if none is held. Lock held. */
static void rx_take(struct virtio_console *c)
{
	struct virtq *vq = virtio_mmio_queue(c->vdev, CONSOLE_RX);
	struct vq_elem *e;
	int ret;

	if (c->rx || !vq || !(virtio_mmio_status(c->vdev) & VIRTIO_STATUS_DRIVER_OK))
		return;
	e = malloc(sizeof(*e));
	if (!e)
		return;
	for (;;) {
		ret = vq_pop(vq, e);
		if (ret < 0) {
			virtio_mmio_needs_reset(c->vdev);
			break;
		}
		if (ret == 0)
			break;
		if (e->in_bytes) {
			c->rx = e;
			return;
		}
		/* a buffer with nothing writable is useless: give it back */
		vq_push(vq, e->head, 0);
		virtio_mmio_notify(c->vdev, CONSOLE_RX);
	}
	free(e);
}

static size_t fe_can_read(void *opaque)
{
	struct virtio_console *c = opaque;
	size_t n;

	virtio_mmio_lock(c->vdev);
	rx_take(c);
	n = c->rx ? (size_t)c->rx->in_bytes : 0;
	virtio_mmio_unlock(c->vdev);
	return n;
}

static void fe_read(void *opaque, const uint8_t *buf, size_t len)
{
	struct virtio_console *c = opaque;
	struct virtq *vq;
	size_t n;

	virtio_mmio_lock(c->vdev);
	vq = virtio_mmio_queue(c->vdev, CONSOLE_RX);
	if (c->rx && vq) {
		n = vq_write_in(c->rx, 0, buf, len);
		vq_push(vq, c->rx->head, (uint32_t)n);
		virtio_mmio_notify(c->vdev, CONSOLE_RX);
		free(c->rx);
		c->rx = NULL;
	}
	virtio_mmio_unlock(c->vdev);
}

static void console_queue_notify(void *opaque, uint32_t q)
{
	struct virtio_console *c = opaque;

	if (q == CONSOLE_TX)
		console_tx(c);
	else if (q == CONSOLE_RX && c->p.chr)
		chardev_input_ready(c->p.chr); /* new receive buffers: read input again */
}

static int console_activate(void *opaque, struct virtio_mmio *vdev)
{
	struct virtio_console *c = opaque;

	if (c->p.chr)
		chardev_input_ready(c->p.chr);
	return 0;
}

static void console_reset(void *opaque)
{
	struct virtio_console *c = opaque;

	free(c->rx);
	c->rx = NULL;
}

struct virtio_console *virtio_console_create(const struct virtio_console_params *p,
					     struct errmsg *e)
{
	struct virtio_console *c = calloc(1, sizeof(*c));
	struct virtio_mmio_params mp;

	if (!c) {
		errmsg_set(e, "virtio-console: out of memory");
		return NULL;
	}
	c->p = *p;
	snprintf(c->name, sizeof(c->name), "virtio-console %s", p->id);
	c->ops = (struct virtio_dev_ops){
		.name = c->name,
		.device_id = VIRTIO_ID_CONSOLE,
		.num_queues = 2,
		.queue_max = 256,
		.config_size = CONSOLE_CONFIG_SIZE,
		.config_read = console_config_read,
		.activate = console_activate,
		.reset = console_reset,
		.queue_notify = console_queue_notify,
	};
	mp = (struct virtio_mmio_params){.mem = p->mem,
					 .mmio = p->mmio,
					 .base = p->base,
					 .irq = p->irq,
					 .loop = p->loop,
					 .ops = &c->ops,
					 .opaque = c};
	c->vdev = virtio_mmio_create(&mp, e);
	if (!c->vdev) {
		free(c);
		return NULL;
	}
	if (p->chr) {
		struct chardev_frontend fe = {fe_can_read, fe_read, c};

		chardev_set_frontend(p->chr, &fe);
	}
	return c;
}

struct virtio_mmio *virtio_console_transport(struct virtio_console *c)
{
	return c->vdev;
}

void virtio_console_destroy(struct virtio_console *c)
{
	if (!c)
		return;
	if (c->p.chr)
		chardev_set_frontend(c->p.chr, NULL);
	virtio_mmio_destroy(c->vdev);
	free(c->rx);
	free(c->tx);
	free(c);
}
