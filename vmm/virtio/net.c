/*
 * net: virtio-net device on a tap with IFF_VNET_HDR, one tap queue per queue pair
 * (IFF_MULTI_QUEUE, VIRTIO_NET_F_MQ through the control queue): transmit straight from the
 * guest's buffers (writev), receive through a bounce buffer into one or more guest buffers
 * (mergeable), with a tap queue unwatched while the guest has no room on its ring.
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

#define VIRTIO_NET_F_CSUM	0
#define VIRTIO_NET_F_GUEST_CSUM 1
#define VIRTIO_NET_F_MAC	5
#define VIRTIO_NET_F_GUEST_TSO4 7
#define VIRTIO_NET_F_GUEST_TSO6 8
#define VIRTIO_NET_F_GUEST_ECN	9
#define VIRTIO_NET_F_HOST_TSO4	11
#define VIRTIO_NET_F_HOST_TSO6	12
#define VIRTIO_NET_F_HOST_ECN	13
#define VIRTIO_NET_F_MRG_RXBUF	15
#define VIRTIO_NET_F_STATUS	16
#define VIRTIO_NET_F_CTRL_VQ	17
#define VIRTIO_NET_F_MQ		22

#define VIRTIO_NET_CTRL_RX		0
#define VIRTIO_NET_CTRL_MAC		1
#define VIRTIO_NET_CTRL_VLAN		2
#define VIRTIO_NET_CTRL_MQ		4
#define VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET 0
#define VIRTIO_NET_OK			0
#define VIRTIO_NET_ERR			1

#define NET_HDR_LEN	12 /* struct virtio_net_hdr_v1: num_buffers always present in 1.x */
#define NET_CONFIG_SIZE 12
#define NET_FRAME_MAX	(65536 + NET_HDR_LEN)
#define NET_MAX_RX_BUFS 64 /* elements one merged frame may use */
#define NET_MAX_PAIRS	16

struct virtio_net;

/* One queue pair and its tap queue. Transport lock held for all but the fd. */
struct net_pair {
	struct virtio_net *n;
	uint32_t index;
	int tap;
	bool watched;
	uint8_t *frame; /* a frame read from the tap, waiting for guest buffers */
	size_t frame_len;
	struct vq_elem *rx[NET_MAX_RX_BUFS];
	uint32_t n_rx;
	struct vq_elem *tx;
};

struct virtio_net {
	struct virtio_net_params p;
	struct virtio_dev_ops ops;
	struct virtio_mmio *vdev;
	char name[64];
	bool own_tap;
	bool mq;
	uint32_t npairs;       /* tap queues opened */
	uint32_t active_pairs; /* pairs the driver uses (VQ_PAIRS_SET) */
	uint8_t config[NET_CONFIG_SIZE];
	struct net_pair pairs[NET_MAX_PAIRS];
	struct vq_elem *ctrl;
	uint64_t rx_dropped; /* frames larger than the guest's buffers (non-mergeable) */
};

static uint32_t rxq(uint32_t pair)
{
	return 2 * pair;
}

static uint32_t txq(uint32_t pair)
{
	return 2 * pair + 1;
}

static uint32_t ctrlq(const struct virtio_net *n)
{
	return 2 * n->npairs;
}

static void tap_cb(struct loop *l, int fd, uint32_t events, void *arg);

static void tap_watch(struct net_pair *pr, bool on)
{
	if (on == pr->watched)
		return;
	if (on) {
		if (loop_add_fd(pr->n->p.loop, pr->tap, EPOLLIN, tap_cb, pr) == 0)
			pr->watched = true;
	} else {
		loop_del_fd(pr->n->p.loop, pr->tap);
		pr->watched = false;
	}
}

/* ---- transmit -------------------------------------------------------------------------------- */

static void net_tx(struct net_pair *pr)
{
	struct virtio_net *n = pr->n;
	struct virtq *vq = virtio_mmio_queue(n->vdev, txq(pr->index));
	bool pushed = false;
	int ret;

	if (!vq)
		return;
	for (;;) {
		vq_set_notification(vq, false);
		for (;;) {
			if (!pr->tx && !(pr->tx = malloc(sizeof(*pr->tx))))
				goto out;
			ret = vq_pop(vq, pr->tx);
			if (ret == 0)
				break;
			if (ret < 0) {
				virtio_mmio_needs_reset(n->vdev);
				goto out;
			}
			/* Header and frame go to the tap as the guest laid them out. */
			if (pr->tx->out_bytes > NET_HDR_LEN && pr->tx->n_out &&
			    writev(pr->tap, pr->tx->iov, (int)pr->tx->n_out) < 0)
				log_debug("%s: tap write: %s", n->name, strerror(errno));
			vq_push(vq, pr->tx->head, 0);
			pushed = true;
		}
		if (!vq_set_notification(vq, true))
			break;
	}
out:
	if (pushed)
		virtio_mmio_notify(n->vdev, txq(pr->index));
}

/* ---- receive --------------------------------------------------------------------------------- */

/* Takes receive buffers from the ring until they hold want bytes. Returns the room held. */
static uint64_t rx_gather(struct net_pair *pr, struct virtq *vq, uint64_t want, bool mergeable)
{
	uint64_t room = 0;
	uint32_t i;
	int ret;

	for (i = 0; i < pr->n_rx; i++)
		room += pr->rx[i]->in_bytes;
	while (room < want && pr->n_rx < (mergeable ? NET_MAX_RX_BUFS : 1)) {
		struct vq_elem *e = malloc(sizeof(*e));

		if (!e)
			break;
		ret = vq_pop(vq, e);
		if (ret <= 0) {
			free(e);
			if (ret < 0)
				virtio_mmio_needs_reset(pr->n->vdev);
			break;
		}
		pr->rx[pr->n_rx++] = e;
		room += e->in_bytes;
	}
	return room;
}

/* Delivers the held frame if the guest has room; true when delivered (or dropped). */
static bool rx_deliver(struct net_pair *pr)
{
	struct virtio_net *n = pr->n;
	uint32_t q = rxq(pr->index);
	struct virtq *vq = virtio_mmio_queue(n->vdev, q);
	bool mergeable = virtio_mmio_features(n->vdev) & (1ull << VIRTIO_NET_F_MRG_RXBUF);
	uint64_t room;
	size_t off = 0;
	uint32_t i, used = 0;
	uint16_t nbufs;

	if (!vq)
		return false;
	room = rx_gather(pr, vq, pr->frame_len, mergeable);
	if (room < pr->frame_len) {
		if (!mergeable && pr->n_rx == 1) {
			/* One buffer, too small for this frame: the guest did not ask for big
			 * frames, so this one is dropped. */
			vq_push(vq, pr->rx[0]->head, 0);
			free(pr->rx[0]);
			pr->n_rx = 0;
			pr->frame_len = 0;
			n->rx_dropped++;
			virtio_mmio_notify(n->vdev, q);
			return true;
		}
		return false; /* wait for more buffers */
	}
	/* num_buffers (header bytes 10..11) says how many buffers the frame spans. */
	for (i = 0; i < pr->n_rx && off < pr->frame_len; i++) {
		size_t chunk = pr->frame_len - off;

		if (chunk > pr->rx[i]->in_bytes)
			chunk = pr->rx[i]->in_bytes;
		used++;
		off += chunk;
	}
	nbufs = htole16((uint16_t)used);
	memcpy(pr->frame + 10, &nbufs, 2);
	off = 0;
	for (i = 0; i < used; i++) {
		size_t chunk = pr->frame_len - off;

		if (chunk > pr->rx[i]->in_bytes)
			chunk = pr->rx[i]->in_bytes;
		vq_write_in(pr->rx[i], 0, pr->frame + off, chunk);
		vq_push(vq, pr->rx[i]->head, (uint32_t)chunk);
		off += chunk;
		free(pr->rx[i]);
	}
	/* Buffers taken but not needed stay held for the next frame. */
	memmove(pr->rx, pr->rx + used, (pr->n_rx - used) * sizeof(pr->rx[0]));
	pr->n_rx -= used;
	pr->frame_len = 0;
	virtio_mmio_notify(n->vdev, q);
	return true;
}

/* Reads frames from the pair's tap queue into the guest while it has buffers. Lock held. */
static void net_rx(struct net_pair *pr)
{
	struct virtio_net *n = pr->n;

	if (!(virtio_mmio_status(n->vdev) & VIRTIO_STATUS_DRIVER_OK) ||
	    !virtio_mmio_queue(n->vdev, rxq(pr->index)) || pr->index >= n->active_pairs) {
		tap_watch(pr, false);
		return;
	}
	for (;;) {
		ssize_t r;

		if (pr->frame_len && !rx_deliver(pr)) {
			/* Backpressure: leave frames in the tap until the guest adds buffers. */
			tap_watch(pr, false);
			return;
		}
		r = read(pr->tap, pr->frame, NET_FRAME_MAX);
		if (r < 0) {
			if (errno != EAGAIN && errno != EINTR)
				log_debug("%s: tap read: %s", n->name, strerror(errno));
			break;
		}
		if (r <= NET_HDR_LEN)
			continue;
		pr->frame_len = (size_t)r;
	}
	tap_watch(pr, true);
}

static void tap_cb(struct loop *l, int fd, uint32_t events, void *arg)
{
	struct net_pair *pr = arg;

	virtio_mmio_lock(pr->n->vdev);
	net_rx(pr);
	virtio_mmio_unlock(pr->n->vdev);
}

/* ---- control queue ------------------------------------------------------------------------------ */

/* Attaches the tap queues of the first `pairs` pairs and detaches the rest, so the kernel
 * only steers flows to queues the guest reads. */
static int set_active_pairs(struct virtio_net *n, uint32_t pairs)
{
	uint32_t i;

	if (pairs < 1 || pairs > n->npairs)
		return -EINVAL;
	for (i = 0; n->mq && i < n->npairs; i++) {
		struct ifreq ifr = {0};

		ifr.ifr_flags = i < pairs ? IFF_ATTACH_QUEUE : IFF_DETACH_QUEUE;
		if (ioctl(n->pairs[i].tap, TUNSETQUEUE, &ifr) < 0 && errno != EINVAL)
			log_warn("%s: tap queue %u: %s", n->name, i, strerror(errno));
	}
	n->active_pairs = pairs;
	for (i = 0; i < n->npairs; i++)
		net_rx(&n->pairs[i]);
	return 0;
}

static uint8_t ctrl_command(struct virtio_net *n, const struct vq_elem *e)
{
	uint8_t hdr[2];
	uint16_t pairs;

	if (vq_read_out(e, 0, hdr, 2) != 2)
		return VIRTIO_NET_ERR;
	switch (hdr[0]) {
	case VIRTIO_NET_CTRL_MQ:
		if (hdr[1] != VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET || e->out_bytes != 4 ||
		    vq_read_out(e, 2, &pairs, 2) != 2)
			return VIRTIO_NET_ERR;
		return set_active_pairs(n, le16toh(pairs)) ? VIRTIO_NET_ERR : VIRTIO_NET_OK;
	case VIRTIO_NET_CTRL_RX:
	case VIRTIO_NET_CTRL_MAC:
	case VIRTIO_NET_CTRL_VLAN:
		/* Filtering is the bridge's business: accept and deliver everything. */
		return VIRTIO_NET_OK;
	default:
		return VIRTIO_NET_ERR;
	}
}

static void net_ctrl(struct virtio_net *n)
{
	struct virtq *vq = virtio_mmio_queue(n->vdev, ctrlq(n));
	bool pushed = false;
	uint8_t ack;
	int ret;

	if (!vq)
		return;
	for (;;) {
		if (!n->ctrl && !(n->ctrl = malloc(sizeof(*n->ctrl))))
			break;
		ret = vq_pop(vq, n->ctrl);
		if (ret == 0)
			break;
		if (ret < 0) {
			virtio_mmio_needs_reset(n->vdev);
			break;
		}
		ack = ctrl_command(n, n->ctrl);
		/* The ack is the last writable byte. */
		if (n->ctrl->in_bytes)
			vq_write_in(n->ctrl, n->ctrl->in_bytes - 1, &ack, 1);
		vq_push(vq, n->ctrl->head, n->ctrl->in_bytes ? 1 : 0);
		pushed = true;
	}
	if (pushed)
		virtio_mmio_notify(n->vdev, ctrlq(n));
}

/* ---- transport callbacks --------------------------------------------------------------------- */

static void net_queue_notify(void *opaque, uint32_t q)
{
	struct virtio_net *n = opaque;

	if (n->mq && q == ctrlq(n))
		net_ctrl(n);
	else if (q / 2 < n->npairs && (q & 1))
		net_tx(&n->pairs[q / 2]);
	else if (q / 2 < n->npairs)
		net_rx(&n->pairs[q / 2]); /* new buffers: deliver what waits, read the tap again */
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
	uint32_t i;

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
	for (i = 0; i < n->npairs; i++)
		if (ioctl(n->pairs[i].tap, TUNSETOFFLOAD, off) < 0)
			log_warn("%s: TUNSETOFFLOAD 0x%x: %s", n->name, off, strerror(errno));
	/* Until VQ_PAIRS_SET, a multiqueue driver uses the first pair only. */
	set_active_pairs(n, 1);
	return 0;
}

static void net_reset(void *opaque)
{
	struct virtio_net *n = opaque;
	uint32_t i, j;

	for (i = 0; i < n->npairs; i++) {
		struct net_pair *pr = &n->pairs[i];

		tap_watch(pr, false);
		for (j = 0; j < pr->n_rx; j++)
			free(pr->rx[j]);
		pr->n_rx = 0;
		pr->frame_len = 0;
	}
	n->active_pairs = 1;
}

/* ---- set-up ------------------------------------------------------------------------------------ */

static int tap_prepare(struct virtio_net *n, int fd, struct errmsg *e)
{
	const struct vm_netdev_config *nd = n->p.netdev;
	int hdr = NET_HDR_LEN, ret;

	if (ioctl(fd, TUNSETVNETHDRSZ, &hdr) < 0) {
		ret = -errno;
		errmsg_set(e, "-netdev %s: vnet header size: %s", nd->id, strerror(errno));
		return ret;
	}
	if (ioctl(fd, TUNSETOFFLOAD, 0) < 0) {
		ret = -errno;
		errmsg_set(e, "-netdev %s: TUNSETOFFLOAD: %s", nd->id, strerror(errno));
		return ret;
	}
	return 0;
}

static int open_taps(struct virtio_net *n, struct errmsg *e)
{
	const struct vm_netdev_config *nd = n->p.netdev;
	struct ifreq ifr;
	uint32_t i;
	int ret;

	if (!nd->ifname) {
		struct net_pair *pr = &n->pairs[0];

		pr->tap = nd->fd;
		if (ioctl(pr->tap, TUNGETIFF, &ifr) < 0) {
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
		ret = fd_set_nonblock(pr->tap, true);
		if (ret) {
			errmsg_set(e, "-netdev %s: fd %d: %s", nd->id, nd->fd, strerror(-ret));
			return ret;
		}
		n->npairs = 1;
		return tap_prepare(n, pr->tap, e);
	}
	n->own_tap = true;
	for (i = 0; i < n->npairs; i++) {
		struct net_pair *pr = &n->pairs[i];

		pr->tap = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
		if (pr->tap < 0) {
			ret = -errno;
			errmsg_set(e, "-netdev %s: /dev/net/tun: %s", nd->id, strerror(errno));
			return ret;
		}
		memset(&ifr, 0, sizeof(ifr));
		ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
		if (n->npairs > 1)
			ifr.ifr_flags |= IFF_MULTI_QUEUE;
		if (str_copy(ifr.ifr_name, sizeof(ifr.ifr_name), nd->ifname)) {
			errmsg_set(e, "-netdev %s: ifname %s is too long", nd->id, nd->ifname);
			return -ENAMETOOLONG;
		}
		if (ioctl(pr->tap, TUNSETIFF, &ifr) < 0) {
			ret = -errno;
			errmsg_set(e, "-netdev %s: tap %s%s: %s", nd->id, nd->ifname,
				   n->npairs > 1 ? " (multi_queue)" : "", strerror(errno));
			return ret;
		}
		ret = tap_prepare(n, pr->tap, e);
		if (ret)
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
	uint32_t i;
	uint16_t v;
	int ret;

	if (!n) {
		errmsg_set(e, "virtio-net: out of memory");
		return NULL;
	}
	n->p = *p;
	snprintf(n->name, sizeof(n->name), "virtio-net %s", d->id);
	for (i = 0; i < NET_MAX_PAIRS; i++) {
		n->pairs[i].n = n;
		n->pairs[i].index = i;
		n->pairs[i].tap = -1;
	}
	if (p->netdev->vhost)
		log_warn("%s: vhost=on: the in-kernel vhost-net backend is not used; splitvm's "
			 "userspace backend serves the device",
			 n->name);
	/* Multiqueue needs mq=on and a netdev with queues=N by name (a single fd is one queue). */
	n->mq = d->net.mq && p->netdev->queues > 1 && p->netdev->ifname;
	n->npairs = n->mq ? p->netdev->queues : 1;
	if (n->npairs > NET_MAX_PAIRS)
		n->npairs = NET_MAX_PAIRS;
	n->active_pairs = 1;
	for (i = 0; i < n->npairs; i++) {
		n->pairs[i].frame = malloc(NET_FRAME_MAX);
		if (!n->pairs[i].frame) {
			ret = -ENOMEM;
			errmsg_set(e, "%s: out of memory", n->name);
			goto err;
		}
	}
	ret = open_taps(n, e);
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
	v = htole16((uint16_t)n->npairs); /* max_virtqueue_pairs */
	memcpy(n->config + 8, &v, 2);
	features = (1ull << VIRTIO_NET_F_CSUM) | (1ull << VIRTIO_NET_F_GUEST_CSUM) |
		   (1ull << VIRTIO_NET_F_MAC) | (1ull << VIRTIO_NET_F_GUEST_TSO4) |
		   (1ull << VIRTIO_NET_F_GUEST_TSO6) | (1ull << VIRTIO_NET_F_GUEST_ECN) |
		   (1ull << VIRTIO_NET_F_HOST_TSO4) | (1ull << VIRTIO_NET_F_HOST_TSO6) |
		   (1ull << VIRTIO_NET_F_HOST_ECN) | (1ull << VIRTIO_NET_F_MRG_RXBUF) |
		   (1ull << VIRTIO_NET_F_STATUS);
	if (n->mq)
		features |= (1ull << VIRTIO_NET_F_CTRL_VQ) | (1ull << VIRTIO_NET_F_MQ);
	n->ops = (struct virtio_dev_ops){
		.name = n->name,
		.device_id = VIRTIO_ID_NET,
		.features = features,
		.num_queues = 2 * n->npairs + (n->mq ? 1 : 0),
		.queue_max = (uint16_t)(d->net.queue_size ? d->net.queue_size : 256),
		.config_size = NET_CONFIG_SIZE,
		.config_read = net_config_read,
		.activate = net_activate,
		.reset = net_reset,
		.queue_notify = net_queue_notify,
	};
	mp = (struct virtio_mmio_params){.mem = p->mem,
					 .mmio = p->mmio,
					 .base = p->base,
					 .irq = p->irq,
					 .loop = p->loop,
					 .ops = &n->ops,
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
	uint32_t i;

	if (!n)
		return;
	if (n->vdev)
		virtio_mmio_destroy(n->vdev); /* resets: the taps are unwatched */
	for (i = 0; i < NET_MAX_PAIRS; i++) {
		if (n->own_tap && n->pairs[i].tap >= 0)
			close(n->pairs[i].tap);
		free(n->pairs[i].tx);
		free(n->pairs[i].frame);
	}
	free(n->ctrl);
	free(n);
}
