/*
 * net: virtio-net device, one queue pair on a tap with IFF_VNET_HDR: transmit straight from
 * the guest's buffers (writev), receive through one bounce buffer into one or more guest
 * buffers (mergeable), with the tap unwatched while the guest has no room.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include "log.h"
#include "loop.h"
#include "util.h"
#include "vmm/seccomp.h"
#include "vmm/virtio/mmio.h"
#include "vmm/virtio/net.h"

#define VIRTIO_NET_F_CSUM 0
#define VIRTIO_NET_F_GUEST_CSUM 1
#define VIRTIO_NET_F_MAC 5
#define VIRTIO_NET_F_GUEST_TSO4 7
#define VIRTIO_NET_F_GUEST_TSO6 8
#define VIRTIO_NET_F_GUEST_ECN 9
#define VIRTIO_NET_F_HOST_TSO4 11
#define VIRTIO_NET_F_HOST_TSO6 12
#define VIRTIO_NET_F_HOST_ECN 13
#define VIRTIO_NET_F_MRG_RXBUF 15
#define VIRTIO_NET_F_STATUS 16

#define NET_RX 0
#define NET_TX 1
#define NET_HDR_LEN 12 /* struct virtio_net_hdr_v1: num_buffers always present in 1.x */
#define NET_CONFIG_SIZE 12
#define NET_FRAME_MAX (65536 + NET_HDR_LEN)
#define NET_MAX_RX_BUFS 64 /* elements one merged frame may use */

struct virtio_net {
	struct virtio_net_params p;
	struct virtio_dev_ops ops;
	struct virtio_mmio *vdev;
	char name[64];
	int tap;
	bool own_tap;
	uint8_t config[NET_CONFIG_SIZE];
	/* Transport lock held for these. */
	bool tap_watched;
	uint8_t *frame; /* a frame read from the tap, waiting for guest buffers */
	size_t frame_len;
	struct vq_elem *rx[NET_MAX_RX_BUFS];
	uint32_t n_rx;
	struct vq_elem *tx;
	uint64_t rx_dropped; /* frames larger than the guest's buffers (non-mergeable) */
};

static void tap_cb(struct loop *l, int fd, uint32_t events, void *arg);

static void tap_watch(struct virtio_net *n, bool on)
{
	if (on == n->tap_watched)
		return;
	if (on) {
		if (loop_add_fd(n->p.loop, n->tap, EPOLLIN, tap_cb, n) == 0)
			n->tap_watched = true;
	} else {
		loop_del_fd(n->p.loop, n->tap);
		n->tap_watched = false;
	}
}

/* ---- transmit -------------------------------------------------------------------------------- */

static void net_tx(struct virtio_net *n)
{
	struct virtq *vq = virtio_mmio_queue(n->vdev, NET_TX);
	bool pushed = false;
	int ret;

	if (!vq)
		return;
	for (;;) {
		vq_set_notification(vq, false);
		for (;;) {
			if (!n->tx && !(n->tx = malloc(sizeof(*n->tx))))
				goto out;
			ret = vq_pop(vq, n->tx);
			if (ret == 0)
				break;
			if (ret < 0) {
				virtio_mmio_needs_reset(n->vdev);
				goto out;
			}
			/* Header and frame go to the tap as the guest laid them out. */
			if (n->tx->out_bytes > NET_HDR_LEN && n->tx->n_out &&
			    writev(n->tap, n->tx->iov, (int)n->tx->n_out) < 0)
				log_debug("%s: tap write: %s", n->name, strerror(errno));
			vq_push(vq, n->tx->head, 0);
			pushed = true;
		}
		if (!vq_set_notification(vq, true))
			break;
	}
out:
	if (pushed)
		virtio_mmio_notify(n->vdev, NET_TX);
}

/* ---- receive --------------------------------------------------------------------------------- */

/* Takes receive buffers from the ring until they hold want bytes. Returns the room held. */
static uint64_t rx_gather(struct virtio_net *n, struct virtq *vq, uint64_t want, bool mergeable)
{
	uint64_t room = 0;
	uint32_t i;
	int ret;

	for (i = 0; i < n->n_rx; i++)
		room += n->rx[i]->in_bytes;
	while (room < want && n->n_rx < (mergeable ? NET_MAX_RX_BUFS : 1)) {
		struct vq_elem *e = malloc(sizeof(*e));

		if (!e)
			break;
		ret = vq_pop(vq, e);
		if (ret <= 0) {
			free(e);
			if (ret < 0)
				virtio_mmio_needs_reset(n->vdev);
			break;
		}
		n->rx[n->n_rx++] = e;
		room += e->in_bytes;
	}
	return room;
}

/* Delivers the held frame if the guest has room; true when delivered (or dropped). */
static bool rx_deliver(struct virtio_net *n)
{
	struct virtq *vq = virtio_mmio_queue(n->vdev, NET_RX);
	bool mergeable = virtio_mmio_features(n->vdev) & (1ull << VIRTIO_NET_F_MRG_RXBUF);
	uint64_t room;
	size_t off = 0;
	uint32_t i, used = 0;
	uint16_t nbufs;

	if (!vq)
		return false;
	room = rx_gather(n, vq, n->frame_len, mergeable);
	if (room < n->frame_len) {
		if (!mergeable && n->n_rx == 1) {
			/* One buffer, too small for this frame: the guest did not ask for big
			 * frames, so this one is dropped. */
			vq_push(vq, n->rx[0]->head, 0);
			free(n->rx[0]);
			n->n_rx = 0;
			n->rx_dropped++;
			virtio_mmio_notify(n->vdev, NET_RX);
			return true;
		}
		return false; /* wait for more buffers */
	}
	/* num_buffers (header bytes 10..11) says how many buffers the frame spans. */
	for (i = 0; i < n->n_rx && off < n->frame_len; i++) {
		size_t chunk = n->frame_len - off;

		if (chunk > n->rx[i]->in_bytes)
			chunk = n->rx[i]->in_bytes;
		used++;
		off += chunk;
	}
	nbufs = htole16((uint16_t)used);
	memcpy(n->frame + 10, &nbufs, 2);
	off = 0;
	for (i = 0; i < used; i++) {
		size_t chunk = n->frame_len - off;

		if (chunk > n->rx[i]->in_bytes)
			chunk = n->rx[i]->in_bytes;
		vq_write_in(n->rx[i], 0, n->frame + off, chunk);
		vq_push(vq, n->rx[i]->head, (uint32_t)chunk);
		off += chunk;
		free(n->rx[i]);
	}
	/* Buffers taken but not needed stay held for the next frame. */
	memmove(n->rx, n->rx + used, (n->n_rx - used) * sizeof(n->rx[0]));
	n->n_rx -= used;
	n->frame_len = 0;
	virtio_mmio_notify(n->vdev, NET_RX);
	return true;
}

/* Reads frames from the tap into the guest while it has buffers. Lock held. */
static void net_rx(struct virtio_net *n)
{
	if (!(virtio_mmio_status(n->vdev) & VIRTIO_STATUS_DRIVER_OK) ||
	    !virtio_mmio_queue(n->vdev, NET_RX))
		return;
	for (;;) {
		ssize_t r;

		if (n->frame_len && !rx_deliver(n)) {
			/* Backpressure: leave frames in the tap until the guest adds buffers. */
			tap_watch(n, false);
			return;
		}
		r = read(n->tap, n->frame, NET_FRAME_MAX);
		if (r < 0) {
			if (errno != EAGAIN && errno != EINTR)
				log_debug("%s: tap read: %s", n->name, strerror(errno));
			break;
		}
		if (r <= NET_HDR_LEN)
			continue;
		n->frame_len = (size_t)r;
	}
	tap_watch(n, true);
}

static void tap_cb(struct loop *l, int fd, uint32_t events, void *arg)
{
	struct virtio_net *n = arg;

	virtio_mmio_lock(n->vdev);
	net_rx(n);
	virtio_mmio_unlock(n->vdev);
}

/* ---- transport callbacks --------------------------------------------------------------------- */

static void net_queue_notify(void *opaque, uint32_t q)
{
	struct virtio_net *n = opaque;

	if (q == NET_TX)
		net_tx(n);
	else if (q == NET_RX)
		net_rx(n); /* new buffers: deliver what waits and read the tap again */
}

static void net_config_read(void *opaque, uint32_t off, uint8_t *data, uint32_t len)
{
	struct virtio_net *n = opaque;

	memcpy(data, n->config + off, len);
}

static int net_activate(void *opaque, struct virtio_mmio *vdev)
{
	struct virtio_net *n = opaque;
	uint64_t f = virtio_mmio_features(vdev);
	unsigned int off = 0;

	/* Offloads the guest can take on receive: the tap may hand us such frames. */
	if (f & (1ull << VIRTIO_NET_F_GUEST_CSUM)) {
		off |= TUN_F_CSUM;
		if (f & (1ull << VIRTIO_NET_F_GUEST_TSO4))
			off |= TUN_F_TSO4;
		if (f & (1ull << VIRTIO_NET_F_GUEST_TSO6))
			off |= TUN_F_TSO6;
		if (f & (1ull << VIRTIO_NET_F_GUEST_ECN))
			off |= TUN_F_TSO_ECN;
	}
	if (ioctl(n->tap, TUNSETOFFLOAD, off) < 0)
		log_warn("%s: TUNSETOFFLOAD 0x%x: %s", n->name, off, strerror(errno));
	net_rx(n);
	return 0;
}

static void net_reset(void *opaque)
{
	struct virtio_net *n = opaque;
	uint32_t i;

	tap_watch(n, false);
	for (i = 0; i < n->n_rx; i++)
		free(n->rx[i]);
	n->n_rx = 0;
	n->frame_len = 0;
}

/* ---- set-up ------------------------------------------------------------------------------------ */

static int open_tap(struct virtio_net *n, struct errmsg *e)
{
	const struct vm_netdev_config *nd = n->p.netdev;
	int hdr = NET_HDR_LEN, ret;
	struct ifreq ifr;

	if (nd->ifname) {
		n->tap = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
		if (n->tap < 0) {
			ret = -errno;
			errmsg_set(e, "-netdev %s: /dev/net/tun: %s", nd->id, strerror(errno));
			return ret;
		}
		n->own_tap = true;
		memset(&ifr, 0, sizeof(ifr));
		ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
		if (str_copy(ifr.ifr_name, sizeof(ifr.ifr_name), nd->ifname)) {
			errmsg_set(e, "-netdev %s: ifname %s is too long", nd->id, nd->ifname);
			return -ENAMETOOLONG;
		}
		if (ioctl(n->tap, TUNSETIFF, &ifr) < 0) {
			ret = -errno;
			errmsg_set(e, "-netdev %s: tap %s: %s", nd->id, nd->ifname, strerror(errno));
			return ret;
		}
	} else {
		n->tap = nd->fd;
		if (ioctl(n->tap, TUNGETIFF, &ifr) < 0) {
			ret = -errno;
			errmsg_set(e, "-netdev %s: fd %d is not a tap: %s", nd->id, nd->fd,
				   strerror(errno));
			return ret;
		}
		if (!(ifr.ifr_flags & IFF_VNET_HDR) || !(ifr.ifr_flags & IFF_TAP)) {
			errmsg_set(e, "-netdev %s: fd %d must be a tap opened with IFF_VNET_HDR",
				   nd->id, nd->fd);
			return -EINVAL;
		}
		ret = fd_set_nonblock(n->tap, true);
		if (ret) {
			errmsg_set(e, "-netdev %s: fd %d: %s", nd->id, nd->fd, strerror(-ret));
			return ret;
		}
	}
	if (ioctl(n->tap, TUNSETVNETHDRSZ, &hdr) < 0) {
		ret = -errno;
		errmsg_set(e, "-netdev %s: vnet header size: %s", nd->id, strerror(errno));
		return ret;
	}
	if (ioctl(n->tap, TUNSETOFFLOAD, 0) < 0) {
		ret = -errno;
		errmsg_set(e, "-netdev %s: TUNSETOFFLOAD: %s", nd->id, strerror(errno));
		return ret;
	}
	return 0;
}

struct virtio_net *virtio_net_create(const struct virtio_net_params *p, struct errmsg *e)
{
	struct virtio_net *n = calloc(1, sizeof(*n));
	const struct vm_device_config *d = p->dev;
	struct virtio_mmio_params mp;
	uint64_t features;
	uint16_t v;
	int ret;

	if (!n) {
		errmsg_set(e, "virtio-net: out of memory");
		return NULL;
	}
	n->p = *p;
	n->tap = -1;
	snprintf(n->name, sizeof(n->name), "virtio-net %s", d->id);
	n->frame = malloc(NET_FRAME_MAX);
	if (!n->frame) {
		ret = -ENOMEM;
		errmsg_set(e, "%s: out of memory", n->name);
		goto err;
	}
	ret = open_tap(n, e);
	if (ret)
		goto err;
	if (d->net.mac_set) {
		memcpy(n->config, d->net.mac, 6);
	} else {
		/* A locally administered address, as the guidebook allows. */
		uint64_t r = now_ns() ^ ((uint64_t)getpid() << 16) ^ p->base;

		n->config[0] = 0x52;
		n->config[1] = 0x54;
		n->config[2] = 0x00;
		n->config[3] = (uint8_t)(r >> 8);
		n->config[4] = (uint8_t)(r >> 16);
		n->config[5] = (uint8_t)(r >> 24);
	}
	v = htole16(1); /* VIRTIO_NET_S_LINK_UP */
	memcpy(n->config + 6, &v, 2);
	v = htole16(1); /* max_virtqueue_pairs */
	memcpy(n->config + 8, &v, 2);
	if (d->net.mq || p->netdev->queues > 1)
		log_warn("%s: multiqueue is not supported yet; using one queue pair", n->name);
	features = (1ull << VIRTIO_NET_F_CSUM) | (1ull << VIRTIO_NET_F_GUEST_CSUM) |
		   (1ull << VIRTIO_NET_F_MAC) | (1ull << VIRTIO_NET_F_GUEST_TSO4) |
		   (1ull << VIRTIO_NET_F_GUEST_TSO6) | (1ull << VIRTIO_NET_F_GUEST_ECN) |
		   (1ull << VIRTIO_NET_F_HOST_TSO4) | (1ull << VIRTIO_NET_F_HOST_TSO6) |
		   (1ull << VIRTIO_NET_F_HOST_ECN) | (1ull << VIRTIO_NET_F_MRG_RXBUF) |
		   (1ull << VIRTIO_NET_F_STATUS);
	n->ops = (struct virtio_dev_ops){
		.name = n->name,
		.device_id = VIRTIO_ID_NET,
		.features = features,
		.num_queues = 2,
		.queue_max = (uint16_t)(d->net.queue_size ? d->net.queue_size : 256),
		.config_size = NET_CONFIG_SIZE,
		.config_read = net_config_read,
		.activate = net_activate,
		.reset = net_reset,
		.queue_notify = net_queue_notify,
	};
	mp = (struct virtio_mmio_params){.mem = p->mem, .mmio = p->mmio, .base = p->base,
					 .irq = p->irq, .loop = p->loop, .ops = &n->ops,
					 .opaque = n};
	n->vdev = virtio_mmio_create(&mp, e);
	if (!n->vdev) {
		ret = -errno;
		goto err;
	}
	vmm_seccomp_allow("writev");
	return n;

err:
	virtio_net_destroy(n);
	errno = ret < 0 ? -ret : EIO;
	return NULL;
}

struct virtio_mmio *virtio_net_transport(struct virtio_net *n)
{
	return n->vdev;
}

void virtio_net_destroy(struct virtio_net *n)
{
	if (!n)
		return;
	if (n->vdev)
		virtio_mmio_destroy(n->vdev); /* resets: the tap is unwatched */
	if (n->own_tap && n->tap >= 0)
		close(n->tap);
	free(n->tx);
	free(n->frame);
	free(n);
}
