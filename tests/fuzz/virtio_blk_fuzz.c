/* Fuzz target: a hostile guest driving virtio-blk through the virtio-mmio registers. The
 * input fills the descriptor table, the avail ring and the buffers (requests of any type,
 * sector and shape); the device must answer or flag NEEDS_RESET, never touch memory outside
 * guest RAM (ASan) and never hang. Each run ends with a device reset. */
#include <endian.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "loop.h"
#include "vmm/virtio/blk.h"
#include "vmm/virtio/mmio.h"

#define RAM_SIZE 0x20000u
#define QSIZE	 16u
#define DESC	 0x0u
#define AVAIL	 0x1000u
#define USED	 0x2000u
#define BASE	 0xd0000000ull

static struct {
	uint8_t *ram;
	struct gmem mem;
	struct bus *bus;
	struct loop *l;
	struct virtio_blk *blk;
	char img[64];
	struct vm_drive_config drive;
	struct vm_device_config dev;
} g;

static void cleanup(void)
{
	unlink(g.img);
}

static void wr(uint64_t off, uint32_t v)
{
	v = htole32(v);
	bus_write(g.bus, BASE + off, (uint8_t *)&v, 4);
}

static uint32_t rd(uint64_t off)
{
	uint32_t v = 0;

	bus_read(g.bus, BASE + off, (uint8_t *)&v, 4);
	return le32toh(v);
}

static void init(void)
{
	struct virtio_blk_params p;
	struct errmsg e;
	int fd;

	log_set_level(LOG_LVL_ERROR); /* every broken ring would log a warning */
	g.ram = aligned_alloc(4096, RAM_SIZE);
	if (!g.ram)
		abort();
	/* RAM starts at 0x1000: guest address 0 is not RAM */
	g.mem.regions[0] = (struct gmem_region){.gpa = 0x1000, .size = RAM_SIZE, .hva = g.ram};
	g.mem.nr_regions = 1;
	g.mem.ram_size = RAM_SIZE;
	g.mem.fd = -1;
	g.bus = bus_new(BUS_MMIO, -1);
	g.l = loop_new();
	snprintf(g.img, sizeof(g.img), "/dev/shm/virtio_blk_fuzz.%d", (int)getpid());
	fd = open(g.img, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (!g.bus || !g.l || fd < 0 || ftruncate(fd, 1 << 20))
		abort();
	close(fd);
	atexit(cleanup);
	g.drive = (struct vm_drive_config){.id = "d0",
					   .file = g.img,
					   .aio = VM_AIO_IO_URING,
					   .discard = VM_DISCARD_UNMAP,
					   .detect_zeroes = VM_DETECT_ZEROES_UNMAP};
	g.dev.kind = VM_DEV_VIRTIO_BLK;
	g.dev.id = "blk0";
	g.dev.iothread = -1;
	g.dev.blk.serial = "fuzz";
	g.dev.blk.num_queues = 1;
	g.dev.blk.queue_size = QSIZE;
	p = (struct virtio_blk_params){.mem = &g.mem,
				       .mmio = g.bus,
				       .base = BASE,
				       .irq = {.vm_fd = -1},
				       .loop = g.l,
				       .drive = &g.drive,
				       .dev = &g.dev};
	g.blk = virtio_blk_create(&p, &e);
	if (!g.blk) {
		fprintf(stderr, "virtio_blk_create: %s\n", errmsg_str(&e));
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint32_t feat_lo, feat_hi;
	uint16_t navail;
	int i;

	if (!g.blk)
		init();
	if (size < 4)
		return 0;
	memset(g.ram, 0, RAM_SIZE);
	memcpy(g.ram, data + 4, size - 4 < RAM_SIZE ? size - 4 : RAM_SIZE);
	/* the used ring is the device's to write: start it clean */
	memset(g.ram + USED - 0x1000, 0, 0x200);
	navail = data[0] % (2 * QSIZE);
	/* driver start-up, with features picked by the input */
	wr(0x70, 0);
	wr(0x70, 3);
	wr(0x14, 0);
	feat_lo = rd(0x10);
	wr(0x14, 1);
	feat_hi = rd(0x10);
	if (data[1] & 1)
		feat_lo &= ~(1u << 29); /* no EVENT_IDX */
	if (data[1] & 2)
		feat_lo &= ~(1u << 28); /* no INDIRECT_DESC */
	wr(0x24, 0);
	wr(0x20, feat_lo);
	wr(0x24, 1);
	wr(0x20, feat_hi);
	wr(0x70, 3 | 8);
	wr(0x30, 0);
	wr(0x38, data[2] & 4 ? QSIZE / 2 : QSIZE);
	wr(0x80, DESC + 0x1000);
	wr(0x90, AVAIL + 0x1000);
	wr(0xa0, USED + 0x1000);
	wr(0x44, 1);
	wr(0x70, 3 | 8 | 4);
	/* the avail index the driver claims */
	g.ram[AVAIL - 0x1000 + 2] = (uint8_t)navail;
	g.ram[AVAIL - 0x1000 + 3] = 0;
	wr(0x50, data[3] & 1);
	for (i = 0; i < 4; i++)
		loop_run_once(g.l, 1);
	wr(0x64, rd(0x60));
	/* reset drains whatever is still in flight */
	wr(0x70, 0);
	loop_run_once(g.l, 0);
	if (rd(0x70) != 0)
		abort();
	return 0;
}
