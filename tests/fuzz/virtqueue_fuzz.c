/* Fuzz target: the split virtqueue against arbitrary ring contents. The input's first bytes
 * choose the queue size and features, the rest fills the mock guest RAM that holds the
 * descriptor table, avail/used rings and buffers. Every popped buffer must lie inside RAM. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/virtio/queue.h"

#define RAM_SIZE 0x10000u

static uint8_t ram[RAM_SIZE] __attribute__((aligned(4096)));
static uint8_t scratch[RAM_SIZE];

static void check_elem(const struct vq_elem *e)
{
	uint32_t i;
	uint64_t out = 0, in = 0;

	if (e->n_out + e->n_in > VQ_MAX_SEGS)
		abort();
	for (i = 0; i < e->n_out + e->n_in; i++) {
		const uint8_t *p = e->iov[i].iov_base;
		size_t len = e->iov[i].iov_len;

		if (p < ram || len > RAM_SIZE || p + len > ram + RAM_SIZE || len == 0)
			abort();
		if (i < e->n_out)
			out += len;
		else
			in += len;
	}
	if (out != e->out_bytes || in != e->in_bytes)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vq_elem e;
	struct gmem mem = {0};
	struct virtq q;
	uint64_t features = 1ull << VIRTIO_F_VERSION_1;
	uint16_t qsize;
	int i, ret;

	if (size < 4)
		return 0;
	qsize = (uint16_t)(1u << (data[0] % 9)); /* 1..256 */
	if (data[1] & 1)
		features |= 1ull << VIRTIO_F_INDIRECT_DESC;
	if (data[1] & 2)
		features |= 1ull << VIRTIO_F_EVENT_IDX;
	memset(ram, 0, sizeof(ram));
	memcpy(ram, data + 4, size - 4 < RAM_SIZE ? size - 4 : RAM_SIZE);
	mem.regions[0].gpa = 0x1000; /* RAM does not start at 0: address 0 is outside it */
	mem.regions[0].size = RAM_SIZE;
	mem.regions[0].hva = ram;
	mem.nr_regions = 1;
	mem.ram_size = RAM_SIZE;
	mem.fd = -1;
	if (vq_enable(&q, &mem, qsize, 0x1000, 0x1000 + 0x1000, 0x1000 + 0x2000, features))
		abort();
	for (i = 0; i < 2 * qsize + 2; i++) {
		ret = vq_pop(&q, &e);
		if (ret <= 0)
			break;
		check_elem(&e);
		vq_read_out(&e, data[2], scratch, sizeof(scratch));
		vq_write_in(&e, data[3], scratch, e.in_bytes < 64 ? e.in_bytes : 64);
		vq_push(&q, e.head, (uint32_t)e.in_bytes);
		if (i & 1)
			vq_should_notify(&q);
		else
			vq_set_notification(&q, i & 2);
	}
	if (ret < 0 && vq_pop(&q, &e) != -EIO)
		abort(); /* a broken queue stays broken */
	vq_disable(&q);
	return 0;
}
