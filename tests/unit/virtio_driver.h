/* A minimal virtio-mmio guest driver for unit tests: mock guest RAM, a real MMIO bus
 * without KVM, the Linux start-up sequence, descriptor/avail helpers. Header-only. */
#ifndef SV_TESTS_VIRTIO_DRIVER_H
#define SV_TESTS_VIRTIO_DRIVER_H

#include <endian.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "loop.h"
#include "util.h"
#include "vmm/virtio/mmio.h"

#define VD_RAM_SIZE (1u << 20)
#define VD_BASE	    0xd0000000ull
#define VD_QSIZE    16u
/* Per queue q: descriptors at q*0x4000, avail +0x1000, used +0x2000. Buffers from 0x80000. */
#define VD_DESC(q)  (0x4000u * (q))
#define VD_AVAIL(q) (0x4000u * (q) + 0x1000u)
#define VD_USED(q)  (0x4000u * (q) + 0x2000u)
#define VD_BUF	    0x80000u

struct vdrv {
	struct gmem mem;
	uint8_t *ram;
	struct bus *bus;
	struct loop *l;
	uint16_t avail_idx[8];
};

static inline void vd_init(struct vdrv *d)
{
	memset(d, 0, sizeof(*d));
	d->ram = aligned_alloc(4096, VD_RAM_SIZE);
	memset(d->ram, 0, VD_RAM_SIZE);
	d->mem.regions[0] = (struct gmem_region){.gpa = 0, .size = VD_RAM_SIZE, .hva = d->ram};
	d->mem.nr_regions = 1;
	d->mem.ram_size = VD_RAM_SIZE;
	d->mem.fd = -1;
	d->bus = bus_new(BUS_MMIO, -1);
	d->l = loop_new();
}

static inline void vd_fini(struct vdrv *d)
{
	loop_free(d->l);
	bus_free(d->bus);
	free(d->ram);
}

static inline uint32_t vd_rd(struct vdrv *d, uint64_t off)
{
	uint32_t v = 0;

	bus_read(d->bus, VD_BASE + off, (uint8_t *)&v, 4);
	return le32toh(v);
}

static inline void vd_wr(struct vdrv *d, uint64_t off, uint32_t v)
{
	v = htole32(v);
	bus_write(d->bus, VD_BASE + off, (uint8_t *)&v, 4);
}

/* Negotiates everything offered and sets up nq queues of VD_QSIZE; returns the status. */
static inline uint32_t vd_start(struct vdrv *d, uint32_t nq)
{
	uint32_t lo, hi, q;

	vd_wr(d, 0x70, 0);
	vd_wr(d, 0x70, 3);
	vd_wr(d, 0x14, 0);
	lo = vd_rd(d, 0x10);
	vd_wr(d, 0x14, 1);
	hi = vd_rd(d, 0x10);
	vd_wr(d, 0x24, 0);
	vd_wr(d, 0x20, lo);
	vd_wr(d, 0x24, 1);
	vd_wr(d, 0x20, hi);
	vd_wr(d, 0x70, 3 | 8);
	memset(d->ram, 0, VD_BUF);
	memset(d->avail_idx, 0, sizeof(d->avail_idx));
	for (q = 0; q < nq; q++) {
		vd_wr(d, 0x30, q);
		vd_wr(d, 0x38, VD_QSIZE);
		vd_wr(d, 0x80, VD_DESC(q));
		vd_wr(d, 0x84, 0);
		vd_wr(d, 0x90, VD_AVAIL(q));
		vd_wr(d, 0x94, 0);
		vd_wr(d, 0xa0, VD_USED(q));
		vd_wr(d, 0xa4, 0);
		vd_wr(d, 0x44, 1);
	}
	vd_wr(d, 0x70, 3 | 8 | 4);
	return vd_rd(d, 0x70);
}

static inline void vd_desc(struct vdrv *d, uint32_t q, uint16_t i, uint64_t addr, uint32_t len,
			   uint16_t flags, uint16_t next)
{
	uint8_t *p = d->ram + VD_DESC(q) + 16u * i;
	uint64_t a = htole64(addr);
	uint32_t l = htole32(len);
	uint16_t f = htole16(flags), n = htole16(next);

	memcpy(p, &a, 8);
	memcpy(p + 8, &l, 4);
	memcpy(p + 12, &f, 2);
	memcpy(p + 14, &n, 2);
}

static inline void vd_publish(struct vdrv *d, uint32_t q, uint16_t head)
{
	uint16_t v = htole16(head);

	memcpy(d->ram + VD_AVAIL(q) + 4 + 2u * (d->avail_idx[q] % VD_QSIZE), &v, 2);
	d->avail_idx[q]++;
	__atomic_thread_fence(__ATOMIC_RELEASE);
	v = htole16(d->avail_idx[q]);
	memcpy(d->ram + VD_AVAIL(q) + 2, &v, 2);
}

static inline uint16_t vd_used_idx(struct vdrv *d, uint32_t q)
{
	uint16_t v;

	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	memcpy(&v, d->ram + VD_USED(q) + 2, 2);
	return le16toh(v);
}

static inline uint32_t vd_used_len(struct vdrv *d, uint32_t q, uint16_t idx)
{
	uint32_t v;

	memcpy(&v, d->ram + VD_USED(q) + 4 + 8u * (idx % VD_QSIZE) + 4, 4);
	return le32toh(v);
}

/* Runs the loop until queue q's used index reaches want or ms pass. */
static inline bool vd_wait_used(struct vdrv *d, uint32_t q, uint16_t want, int ms)
{
	uint64_t end = now_ms() + (uint64_t)ms;

	while ((uint16_t)(vd_used_idx(d, q) - want) > 0x8000 && now_ms() < end)
		loop_run_once(d->l, 5);
	return (uint16_t)(vd_used_idx(d, q) - want) < 0x8000;
}

#endif
