/* virtio_drv: the test guests' polled virtio-mmio v2 driver (see virtio_drv.h). */
#include "virtio_drv.h"

#define REG_MAGIC		0x000
#define REG_VERSION		0x004
#define REG_DEVICE_ID		0x008
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
#define REG_CONFIG		0x100

#define ST_ACK	       1
#define ST_DRIVER      2
#define ST_DRIVER_OK   4
#define ST_FEATURES_OK 8

#define VD_SLOTS 8

/* Ring memory for up to VD_SLOTS queues: descriptors, avail and used rings, page each. */
static uint8_t rings[VD_SLOTS][3][4096] __attribute__((aligned(4096)));
static int slots_used;

uint32_t vd_read32(const struct vd_dev *d, uint32_t off)
{
	return *(volatile uint32_t *)(d->base + off);
}

void vd_write32(const struct vd_dev *d, uint32_t off, uint32_t v)
{
	*(volatile uint32_t *)(d->base + off) = v;
}

uint8_t vd_config8(const struct vd_dev *d, uint32_t off)
{
	return *(volatile uint8_t *)(d->base + REG_CONFIG + off);
}

uint32_t vd_config32(const struct vd_dev *d, uint32_t off)
{
	return vd_read32(d, REG_CONFIG + off);
}

void vd_config_write32(const struct vd_dev *d, uint32_t off, uint32_t v)
{
	vd_write32(d, REG_CONFIG + off, v);
}

static uint64_t parse_num(const char **pp)
{
	const char *p = *pp;
	uint64_t v = 0, base = 10;

	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		base = 16;
		p += 2;
	}
	for (;; p++) {
		char c = *p;
		uint64_t dgt;

		if (c >= '0' && c <= '9')
			dgt = (uint64_t)(c - '0');
		else if (base == 16 && c >= 'a' && c <= 'f')
			dgt = (uint64_t)(c - 'a' + 10);
		else if (base == 16 && c >= 'A' && c <= 'F')
			dgt = (uint64_t)(c - 'A' + 10);
		else
			break;
		v = v * base + dgt;
	}
	if (*p == 'K' || *p == 'k') {
		v <<= 10;
		p++;
	}
	*pp = p;
	return v;
}

int vd_find(struct vd_dev *out, int max)
{
	static const char key[] = "virtio_mmio.device=";
	const char *p = g_cmdline();
	int n = 0;

	while (*p && n < max) {
		while (*p == ' ')
			p++;
		if (!g_strncmp(p, key, sizeof(key) - 1)) {
			struct vd_dev d = {0};

			p += sizeof(key) - 1;
			parse_num(&p); /* size */
			if (*p == '@') {
				p++;
				d.base = parse_num(&p);
				if (*p == ':') {
					p++;
					d.irq = (uint32_t)parse_num(&p);
				}
				if (vd_read32(&d, REG_MAGIC) == 0x74726976u &&
				    vd_read32(&d, REG_VERSION) == 2) {
					d.device_id = vd_read32(&d, REG_DEVICE_ID);
					if (d.device_id)
						out[n++] = d;
				}
			}
		}
		while (*p && *p != ' ')
			p++;
	}
	return n;
}

int vd_find_id(uint32_t id, struct vd_dev *out)
{
	struct vd_dev all[16];
	int n = vd_find(all, 16), i;

	for (i = 0; i < n; i++)
		if (all[i].device_id == id) {
			*out = all[i];
			return 1;
		}
	return 0;
}

int vd_init(struct vd_dev *d, uint64_t want)
{
	uint64_t offered;

	vd_write32(d, REG_STATUS, 0);
	vd_write32(d, REG_STATUS, ST_ACK);
	vd_write32(d, REG_STATUS, ST_ACK | ST_DRIVER);
	vd_write32(d, REG_DEVICE_FEATURES_SEL, 0);
	offered = vd_read32(d, REG_DEVICE_FEATURES);
	vd_write32(d, REG_DEVICE_FEATURES_SEL, 1);
	offered |= (uint64_t)vd_read32(d, REG_DEVICE_FEATURES) << 32;
	want |= 1ull << VD_F_VERSION_1;
	d->features = want & offered;
	vd_write32(d, REG_DRIVER_FEATURES_SEL, 0);
	vd_write32(d, REG_DRIVER_FEATURES, (uint32_t)d->features);
	vd_write32(d, REG_DRIVER_FEATURES_SEL, 1);
	vd_write32(d, REG_DRIVER_FEATURES, (uint32_t)(d->features >> 32));
	vd_write32(d, REG_STATUS, ST_ACK | ST_DRIVER | ST_FEATURES_OK);
	if (!(vd_read32(d, REG_STATUS) & ST_FEATURES_OK))
		return -1;
	return 0;
}

int vd_queue_setup(struct vd_dev *d, uint32_t idx, struct vd_queue *q)
{
	uint32_t max, i;
	uint64_t a;

	if (slots_used >= VD_SLOTS)
		return -1;
	vd_write32(d, REG_QUEUE_SEL, idx);
	max = vd_read32(d, REG_QUEUE_NUM_MAX);
	if (!max)
		return -1;
	memset(q, 0, sizeof(*q));
	q->size = max < VD_QMAX ? (uint16_t)max : VD_QMAX;
	q->idx = (uint16_t)idx;
	memset(rings[slots_used], 0, sizeof(rings[0]));
	q->desc = (volatile struct vd_desc *)rings[slots_used][0];
	q->avail = (volatile uint16_t *)rings[slots_used][1];
	q->used = (volatile uint32_t *)rings[slots_used][2];
	slots_used++;
	for (i = 0; i < q->size; i++)
		q->desc[i].next = (uint16_t)(i + 1);
	q->nfree = q->size;
	vd_write32(d, REG_QUEUE_NUM, q->size);
	a = (uint64_t)q->desc;
	vd_write32(d, REG_QUEUE_DESC_LOW, (uint32_t)a);
	vd_write32(d, REG_QUEUE_DESC_HIGH, (uint32_t)(a >> 32));
	a = (uint64_t)q->avail;
	vd_write32(d, REG_QUEUE_DRIVER_LOW, (uint32_t)a);
	vd_write32(d, REG_QUEUE_DRIVER_HIGH, (uint32_t)(a >> 32));
	a = (uint64_t)q->used;
	vd_write32(d, REG_QUEUE_DEVICE_LOW, (uint32_t)a);
	vd_write32(d, REG_QUEUE_DEVICE_HIGH, (uint32_t)(a >> 32));
	vd_write32(d, REG_QUEUE_READY, 1);
	return vd_read32(d, REG_QUEUE_READY) == 1 ? 0 : -1;
}

void vd_release_rings(void)
{
	slots_used = 0;
}

void vd_driver_ok(struct vd_dev *d)
{
	vd_write32(d, REG_STATUS, ST_ACK | ST_DRIVER | ST_FEATURES_OK | ST_DRIVER_OK);
}

int vd_add(struct vd_queue *q, const struct vd_buf *bufs, int n)
{
	uint16_t head, cur = 0, i;

	if (n <= 0 || n > q->nfree)
		return -1;
	head = q->free_head;
	cur = head;
	for (i = 0; i < n; i++) {
		volatile struct vd_desc *dd = &q->desc[cur];

		dd->addr = (uint64_t)bufs[i].addr;
		dd->len = bufs[i].len;
		dd->flags = (uint16_t)((bufs[i].writable ? VQ_F_WRITE : 0) |
				       (i + 1 < n ? VQ_F_NEXT : 0));
		if (i + 1 < n)
			cur = dd->next;
	}
	q->free_head = q->desc[cur].next;
	q->nfree = (uint16_t)(q->nfree - n);
	q->chain_len[head] = (uint16_t)n;
	q->avail[2 + (q->avail_idx % q->size)] = head;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	q->avail_idx++;
	q->avail[1] = q->avail_idx;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return head;
}

void vd_kick(const struct vd_dev *d, const struct vd_queue *q)
{
	vd_write32(d, REG_QUEUE_NOTIFY, q->idx);
}

int vd_get(struct vd_queue *q, uint16_t *head, uint32_t *len)
{
	uint16_t used_idx = (uint16_t)(q->used[0] >> 16), h, last, i;
	uint32_t slot;

	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (used_idx == q->last_used)
		return 0;
	slot = 1 + 2u * (q->last_used % q->size);
	h = (uint16_t)q->used[slot];
	*head = h;
	*len = q->used[slot + 1];
	q->last_used++;
	if (h < q->size && q->chain_len[h]) {
		/* Give the chain back to the free list. */
		last = h;
		for (i = 1; i < q->chain_len[h]; i++)
			last = q->desc[last].next;
		q->desc[last].next = q->free_head;
		q->free_head = h;
		q->nfree = (uint16_t)(q->nfree + q->chain_len[h]);
		q->chain_len[h] = 0;
	}
	return 1;
}

int vd_wait(struct vd_queue *q, uint16_t *head, uint32_t *len, uint64_t tsc_budget)
{
	uint64_t t0 = g_rdtsc();

	for (;;) {
		if (vd_get(q, head, len))
			return 1;
		if (tsc_budget && g_rdtsc() - t0 > tsc_budget)
			return 0;
		g_relax();
	}
}

void vd_ack(const struct vd_dev *d)
{
	uint32_t st = vd_read32(d, REG_INTERRUPT_STATUS);

	if (st)
		vd_write32(d, REG_INTERRUPT_ACK, st);
}
