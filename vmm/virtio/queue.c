/*
 * queue: split virtqueue processing (descriptor chains, indirect tables, EVENT_IDX), every
 * guest address checked through gmem_ptr and every chain bounded.
 */
#include <endian.h>
#include <errno.h>
#include <string.h>

#include "vmm/virtio/queue.h"

/* Ring field offsets (virtio 1.x split ring, little endian). */
#define DESC_SIZE      16u
#define AVAIL_IDX      2u
#define AVAIL_RING     4u
#define USED_IDX       2u
#define USED_RING      4u
#define USED_ELEM_SIZE 8u

struct vq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

static inline uint16_t load16(volatile uint8_t *p)
{
	return le16toh(__atomic_load_n((volatile uint16_t *)p, __ATOMIC_RELAXED));
}

static inline void store16(volatile uint8_t *p, uint16_t v)
{
	__atomic_store_n((volatile uint16_t *)p, htole16(v), __ATOMIC_RELAXED);
}

static inline void store32(volatile uint8_t *p, uint32_t v)
{
	__atomic_store_n((volatile uint32_t *)p, htole32(v), __ATOMIC_RELAXED);
}

/* Copies one descriptor out of guest memory field by field (the guest may be changing it). */
static void read_desc(const volatile uint8_t *table, uint32_t i, struct vq_desc *d)
{
	uint8_t raw[DESC_SIZE];
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;

	memcpy(raw, (const uint8_t *)table + (size_t)i * DESC_SIZE, DESC_SIZE);
	memcpy(&addr, raw, 8);
	memcpy(&len, raw + 8, 4);
	memcpy(&flags, raw + 12, 2);
	memcpy(&next, raw + 14, 2);
	d->addr = le64toh(addr);
	d->len = le32toh(len);
	d->flags = le16toh(flags);
	d->next = le16toh(next);
}

int vq_enable(struct virtq *q, const struct gmem *mem, uint16_t size, uint64_t desc_gpa,
	      uint64_t avail_gpa, uint64_t used_gpa, uint64_t features)
{
	uint64_t avail_len = AVAIL_RING + 2ull * size + 2, used_len = USED_RING + 8ull * size + 2;
	void *desc, *avail, *used;

	memset(q, 0, sizeof(*q));
	if (size == 0 || size > VIRTQ_MAX_SIZE || (size & (size - 1)))
		return -EINVAL;
	if ((desc_gpa & 15) || (avail_gpa & 1) || (used_gpa & 3))
		return -EINVAL;
	desc = gmem_ptr(mem, desc_gpa, (uint64_t)size * DESC_SIZE);
	avail = gmem_ptr(mem, avail_gpa, avail_len);
	used = gmem_ptr(mem, used_gpa, used_len);
	if (!desc || !avail || !used)
		return -EINVAL;
	q->mem = mem;
	q->desc_gpa = desc_gpa;
	q->avail_gpa = avail_gpa;
	q->used_gpa = used_gpa;
	q->desc = desc;
	q->avail = avail;
	q->used = used;
	q->event_idx = features & (1ull << VIRTIO_F_EVENT_IDX);
	q->indirect = features & (1ull << VIRTIO_F_INDIRECT_DESC);
	/* The driver zeroed the used ring; start where it says (0 after a reset). */
	q->used_idx = load16(q->used + USED_IDX);
	q->last_avail = q->used_idx;
	q->size = size;
	return 0;
}

void vq_disable(struct virtq *q)
{
	memset(q, 0, sizeof(*q));
}

static int add_seg(struct vq_elem *e, const struct gmem *mem, const struct vq_desc *d,
		   uint64_t *total)
{
	bool write = d->flags & VIRTQ_DESC_F_WRITE;
	void *p;

	/* Device-readable buffers come first, then device-writable ones. */
	if (!write && e->n_in)
		return -EINVAL;
	if (__builtin_add_overflow(*total, (uint64_t)d->len, total) || *total > VQ_MAX_CHAIN_BYTES)
		return -E2BIG;
	if (d->len == 0)
		return 0; /* nothing to map; an empty buffer is legal and useless */
	p = gmem_ptr(mem, d->addr, d->len);
	if (!p)
		return -EFAULT;
	if (e->n_out + e->n_in >= VQ_MAX_SEGS)
		return -E2BIG;
	e->iov[e->n_out + e->n_in].iov_base = p;
	e->iov[e->n_out + e->n_in].iov_len = d->len;
	if (write) {
		e->n_in++;
		e->in_bytes += d->len;
	} else {
		e->n_out++;
		e->out_bytes += d->len;
	}
	return 0;
}

/* Walks the chain starting at head into e. */
static int walk_chain(struct virtq *q, uint16_t head, struct vq_elem *e)
{
	const volatile uint8_t *table = q->desc;
	uint32_t tsize = q->size, idx = head, count = 0;
	bool indirect = false;
	uint64_t total = 0;
	struct vq_desc d;
	int ret;

	e->head = head;
	e->n_out = e->n_in = 0;
	e->out_bytes = e->in_bytes = 0;
	for (;;) {
		/* More descriptors than the table holds means the chain loops. */
		if (count >= tsize)
			return -ELOOP;
		read_desc(table, idx, &d);
		count++;
		if (d.flags & VIRTQ_DESC_F_INDIRECT) {
			void *t;

			/* One indirect table, as the whole chain: no nesting, no NEXT. */
			if (!q->indirect || indirect || count != 1 || (d.flags & VIRTQ_DESC_F_NEXT))
				return -EINVAL;
			if (d.len == 0 || d.len % DESC_SIZE || d.len / DESC_SIZE > VQ_MAX_SEGS)
				return -EINVAL;
			t = gmem_ptr(q->mem, d.addr, d.len);
			if (!t)
				return -EFAULT;
			table = t;
			tsize = d.len / DESC_SIZE;
			idx = 0;
			count = 0;
			indirect = true;
			continue;
		}
		ret = add_seg(e, q->mem, &d, &total);
		if (ret)
			return ret;
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			return 0;
		idx = d.next;
		if (idx >= tsize)
			return -EINVAL;
	}
}

int vq_pop(struct virtq *q, struct vq_elem *e)
{
	uint16_t avail_idx, head;
	int ret;

	if (!q->size)
		return 0;
	if (q->broken)
		return -EIO;
	avail_idx = load16(q->avail + AVAIL_IDX);
	if (avail_idx == q->last_avail)
		return 0;
	/* The driver can be at most a ring ahead of us. */
	if ((uint16_t)(avail_idx - q->last_avail) > q->size) {
		q->broken = true;
		return -EINVAL;
	}
	/* Ring entries and descriptors are read after the index that published them. */
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	head = load16(q->avail + AVAIL_RING + 2u * (q->last_avail & (q->size - 1)));
	if (head >= q->size) {
		q->broken = true;
		return -EINVAL;
	}
	ret = walk_chain(q, head, e);
	if (ret) {
		q->broken = true;
		return ret;
	}
	q->last_avail++;
	return 1;
}

void vq_push(struct virtq *q, uint16_t head, uint32_t len)
{
	volatile uint8_t *elem;

	if (!q->size)
		return;
	elem = q->used + USED_RING + USED_ELEM_SIZE * (q->used_idx & (q->size - 1));
	store32(elem, head);
	store32(elem + 4, len);
	q->used_idx++;
	/* The element is visible before the index that publishes it. */
	__atomic_thread_fence(__ATOMIC_RELEASE);
	store16(q->used + USED_IDX, q->used_idx);
}

bool vq_should_notify(struct virtq *q)
{
	uint16_t old, new_idx, event;
	bool valid;

	if (!q->size)
		return false;
	/* Our used idx store must be visible before we read the driver's wishes. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!q->event_idx)
		return !(load16(q->avail) & VIRTQ_AVAIL_F_NO_INTERRUPT);
	old = q->signalled_used;
	valid = q->signalled_valid;
	new_idx = q->used_idx;
	q->signalled_used = new_idx;
	q->signalled_valid = true;
	if (!valid)
		return true;
	event = load16(q->avail + AVAIL_RING + 2u * q->size);
	/* vring_need_event: did new_idx pass event since old? */
	return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old);
}

bool vq_has_avail(struct virtq *q)
{
	if (!q->size || q->broken)
		return false;
	return load16(q->avail + AVAIL_IDX) != q->last_avail;
}

bool vq_set_notification(struct virtq *q, bool enable)
{
	if (!q->size)
		return false;
	if (q->event_idx) {
		/* avail_event: kick when the driver publishes entry last_avail. Leaving it
		 * behind while draining suppresses kicks without a flag. */
		if (enable)
			store16(q->used + USED_RING + USED_ELEM_SIZE * q->size, q->last_avail);
	} else {
		store16(q->used, enable ? 0 : VIRTQ_USED_F_NO_NOTIFY);
	}
	if (!enable)
		return false;
	/* Re-check after asking for kicks: the driver may have added work just before. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return vq_has_avail(q);
}

size_t vq_read_out(const struct vq_elem *e, size_t off, void *dst, size_t len)
{
	uint8_t *d = dst;
	size_t done = 0;
	uint32_t i;

	for (i = 0; i < e->n_out && done < len; i++) {
		size_t seg = e->iov[i].iov_len, n;

		if (off >= seg) {
			off -= seg;
			continue;
		}
		n = seg - off;
		if (n > len - done)
			n = len - done;
		memcpy(d + done, (uint8_t *)e->iov[i].iov_base + off, n);
		done += n;
		off = 0;
	}
	return done;
}

size_t vq_write_in(const struct vq_elem *e, size_t off, const void *src, size_t len)
{
	const uint8_t *s = src;
	size_t done = 0;
	uint32_t i;

	for (i = e->n_out; i < e->n_out + e->n_in && done < len; i++) {
		size_t seg = e->iov[i].iov_len, n;

		if (off >= seg) {
			off -= seg;
			continue;
		}
		n = seg - off;
		if (n > len - done)
			n = len - done;
		memcpy((uint8_t *)e->iov[i].iov_base + off, s + done, n);
		done += n;
		off = 0;
	}
	return done;
}
