/*
 * balloon: virtio-balloon inflate/deflate/free-page-reporting queues, config target and
 * actual, the QMP balloon/query-balloon commands.
 */
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "vmm/qmp.h"
#include "vmm/virtio/balloon.h"
#include "vmm/virtio/mmio.h"

#define VIRTIO_BALLOON_F_DEFLATE_ON_OOM 2
#define VIRTIO_BALLOON_F_REPORTING	5
#define BALLOON_PAGE			4096u
#define BALLOON_CONFIG_SIZE		16u
#define Q_INFLATE			0
#define Q_DEFLATE			1
#define Q_REPORTING			2

struct virtio_balloon {
	struct virtio_balloon_params p;
	struct virtio_dev_ops ops;
	struct virtio_mmio *vdev;
	char name[64];
	/* Transport lock held for these. */
	uint32_t num_pages; /* target: pages the guest should hold in the balloon */
	uint32_t actual;    /* pages the guest says are in the balloon */
	struct vq_elem *elem;
};

/* Guest-physical address of a host pointer into guest RAM (UINT64_MAX if none). */
static uint64_t hva_to_gpa(const struct gmem *mem, const void *hva)
{
	const uint8_t *p = hva;
	unsigned int i;

	for (i = 0; i < mem->nr_regions; i++) {
		const struct gmem_region *r = &mem->regions[i];

		if (p >= r->hva && (uint64_t)(p - r->hva) < r->size)
			return r->gpa + (uint64_t)(p - r->hva);
	}
	return UINT64_MAX;
}

/* Inflate: the buffers hold 32-bit guest page frame numbers; give those pages back. */
static void inflate(struct virtio_balloon *b, const struct vq_elem *e)
{
	uint32_t pfns[256];
	size_t off = 0, n, i;

	while ((n = vq_read_out(e, off, pfns, sizeof(pfns))) >= sizeof(uint32_t)) {
		for (i = 0; i < n / sizeof(uint32_t); i++) {
			uint64_t gpa = (uint64_t)le32toh(pfns[i]) * BALLOON_PAGE;

			/* A PFN outside RAM is the guest's mistake: skip it. */
			if (gmem_discard(b->p.mem, gpa, BALLOON_PAGE))
				log_debug("%s: pfn 0x%x is not guest RAM", b->name,
					  le32toh(pfns[i]));
		}
		off += n - n % sizeof(uint32_t);
		if (n < sizeof(pfns))
			break;
	}
}

/* Free page reporting: each writable buffer is a free range of guest RAM. */
static void report(struct virtio_balloon *b, const struct vq_elem *e)
{
	uint32_t i;

	for (i = e->n_out; i < e->n_out + e->n_in; i++) {
		uint64_t gpa = hva_to_gpa(b->p.mem, e->iov[i].iov_base);

		if (gpa != UINT64_MAX)
			gmem_discard(b->p.mem, gpa, e->iov[i].iov_len);
	}
}

static void balloon_process(struct virtio_balloon *b, uint32_t q)
{
	struct virtq *vq = virtio_mmio_queue(b->vdev, q);
	bool pushed = false;
	int ret;

	if (!vq)
		return;
	for (;;) {
		if (!b->elem && !(b->elem = malloc(sizeof(*b->elem))))
			break;
		ret = vq_pop(vq, b->elem);
		if (ret == 0)
			break;
		if (ret < 0) {
			virtio_mmio_needs_reset(b->vdev);
			break;
		}
		if (q == Q_INFLATE)
			inflate(b, b->elem);
		else if (q == Q_REPORTING)
			report(b, b->elem);
		/* deflate: the pages fault back in (zeroed) when the guest touches them */
		vq_push(vq, b->elem->head, q == Q_REPORTING ? b->elem->in_bytes : 0);
		pushed = true;
	}
	if (pushed)
		virtio_mmio_notify(b->vdev, q);
}

static void balloon_queue_notify(void *opaque, uint32_t q)
{
	balloon_process(opaque, q);
}

static void balloon_config_read(void *opaque, uint32_t off, uint8_t *data, uint32_t len)
{
	struct virtio_balloon *b = opaque;
	uint8_t cfg[BALLOON_CONFIG_SIZE] = {0};
	uint32_t v;

	v = htole32(b->num_pages);
	memcpy(cfg, &v, 4);
	v = htole32(b->actual);
	memcpy(cfg + 4, &v, 4);
	memcpy(data, cfg + off, len);
}

static void balloon_config_write(void *opaque, uint32_t off, const uint8_t *data, uint32_t len)
{
	struct virtio_balloon *b = opaque;
	uint8_t cfg[4];
	uint32_t v;

	/* Only "actual" (bytes 4..7) is the driver's to write. */
	if (off < 4 || off + len > 8)
		return;
	v = htole32(b->actual);
	memcpy(cfg, &v, 4);
	memcpy(cfg + (off - 4), data, len);
	memcpy(&v, cfg, 4);
	b->actual = le32toh(v);
}

static void balloon_reset(void *opaque)
{
	struct virtio_balloon *b = opaque;

	b->actual = 0;
}

int virtio_balloon_set_target(struct virtio_balloon *b, uint64_t bytes)
{
	uint64_t ram = b->p.mem->ram_size;

	if (bytes == 0 || bytes > ram)
		return -EINVAL;
	virtio_mmio_lock(b->vdev);
	b->num_pages = (uint32_t)((ram - bytes) / BALLOON_PAGE);
	virtio_mmio_config_changed(b->vdev);
	virtio_mmio_unlock(b->vdev);
	return 0;
}

uint64_t virtio_balloon_actual(struct virtio_balloon *b)
{
	uint64_t pages;

	virtio_mmio_lock(b->vdev);
	pages = b->actual;
	virtio_mmio_unlock(b->vdev);
	return b->p.mem->ram_size - pages * BALLOON_PAGE;
}

static int qmp_balloon(struct qmp_server *s, struct json_object *args, struct json_object **ret,
		       struct errmsg *e, void *opaque)
{
	struct json_object *v;
	int64_t bytes;

	if (!json_object_object_get_ex(args, "value", &v) ||
	    !json_object_is_type(v, json_type_int)) {
		errmsg_set(e, "Parameter 'value' expects an integer");
		return -EINVAL;
	}
	if (json_object_object_length(args) != 1) {
		errmsg_set(e, "balloon takes only 'value'");
		return -EINVAL;
	}
	bytes = json_object_get_int64(v);
	if (bytes <= 0 || virtio_balloon_set_target(opaque, (uint64_t)bytes)) {
		errmsg_set(e, "Parameter 'value' must be between 1 and the guest's RAM size");
		return -EINVAL;
	}
	return 0;
}

static int qmp_query_balloon(struct qmp_server *s, struct json_object *args,
			     struct json_object **ret, struct errmsg *e, void *opaque)
{
	if (json_object_object_length(args)) {
		errmsg_set(e, "query-balloon takes no arguments");
		return -EINVAL;
	}
	*ret = json_object_new_object();
	json_object_object_add(*ret, "actual",
			       json_object_new_int64((int64_t)virtio_balloon_actual(opaque)));
	return 0;
}

struct virtio_balloon *virtio_balloon_create(const struct virtio_balloon_params *p,
					     struct errmsg *e)
{
	struct virtio_balloon *b = calloc(1, sizeof(*b));
	struct virtio_mmio_params mp;
	uint64_t features = 0;

	if (!b) {
		errmsg_set(e, "virtio-balloon: out of memory");
		return NULL;
	}
	b->p = *p;
	snprintf(b->name, sizeof(b->name), "virtio-balloon %s", p->dev->id);
	if (p->dev->balloon.deflate_on_oom)
		features |= 1ull << VIRTIO_BALLOON_F_DEFLATE_ON_OOM;
	if (p->dev->balloon.free_page_reporting)
		features |= 1ull << VIRTIO_BALLOON_F_REPORTING;
	b->ops = (struct virtio_dev_ops){
		.name = b->name,
		.device_id = VIRTIO_ID_BALLOON,
		.features = features,
		/* inflate, deflate, and reporting when offered (queues are numbered in order
		 * of the features the driver takes; we offer no stats or hinting queues) */
		.num_queues = p->dev->balloon.free_page_reporting ? 3 : 2,
		.queue_max = 256,
		.config_size = BALLOON_CONFIG_SIZE,
		.config_read = balloon_config_read,
		.config_write = balloon_config_write,
		.reset = balloon_reset,
		.queue_notify = balloon_queue_notify,
	};
	mp = (struct virtio_mmio_params){.mem = p->mem,
					 .mmio = p->mmio,
					 .base = p->base,
					 .irq = p->irq,
					 .loop = p->loop,
					 .ops = &b->ops,
					 .opaque = b};
	b->vdev = virtio_mmio_create(&mp, e);
	if (!b->vdev) {
		free(b);
		return NULL;
	}
	if (qmp_preregister("balloon", qmp_balloon, b) ||
	    qmp_preregister("query-balloon", qmp_query_balloon, b)) {
		errmsg_set(e, "%s: cannot register its QMP commands", b->name);
		virtio_balloon_destroy(b);
		return NULL;
	}
	return b;
}

struct virtio_mmio *virtio_balloon_transport(struct virtio_balloon *b)
{
	return b->vdev;
}

void virtio_balloon_destroy(struct virtio_balloon *b)
{
	if (!b)
		return;
	qmp_preregister_remove(b);
	virtio_mmio_destroy(b->vdev);
	free(b->elem);
	free(b);
}
