/* Fuzz target: a hostile guest driving the other virtio devices (rng, balloon, console,
 * vsock) through the virtio-mmio registers with arbitrary rings. The first byte picks the
 * device, the next ones the features and which queues to kick; the rest fills guest RAM
 * (descriptor tables, avail rings, buffers). Each run ends with a device reset. */
#include <endian.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "log.h"
#include "loop.h"
#include "vmm/virtio/balloon.h"
#include "vmm/virtio/console.h"
#include "vmm/virtio/mmio.h"
#include "vmm/virtio/rng.h"
#include "vmm/virtio/vsock.h"

#define RAM_GPA	 0x1000u
#define RAM_SIZE 0x40000u
#define QSIZE	 16u
#define NDEV	 4
#define RING(q)	 (RAM_GPA + 0x1000u * (q)) /* desc; avail +0x100, used +0x200 */

static struct {
	uint8_t *ram;
	struct gmem mem;
	struct bus *bus;
	struct loop *l;
	char sock[64];
	struct vm_device_config rngdev, balloondev;
	uint32_t nq[NDEV];
} g;

static uint64_t base(int i)
{
	return 0xd0000000ull + 0x1000ull * (uint64_t)i;
}

static void wr(int dev, uint64_t off, uint32_t v)
{
	v = htole32(v);
	bus_write(g.bus, base(dev) + off, (uint8_t *)&v, 4);
}

static uint32_t rd(int dev, uint64_t off)
{
	uint32_t v = 0;

	bus_read(g.bus, base(dev) + off, (uint8_t *)&v, 4);
	return le32toh(v);
}

static void cleanup(void)
{
	unlink(g.sock);
}

static void init(void)
{
	struct errmsg e;

	log_set_level(LOG_LVL_ERROR);
	g.ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (g.ram == MAP_FAILED)
		abort();
	g.mem.regions[0] = (struct gmem_region){.gpa = RAM_GPA, .size = RAM_SIZE, .hva = g.ram};
	g.mem.nr_regions = 1;
	g.mem.ram_size = RAM_SIZE;
	g.mem.fd = -1;
	g.bus = bus_new(BUS_MMIO, -1);
	g.l = loop_new();
	if (!g.bus || !g.l)
		abort();
	g.rngdev = (struct vm_device_config){
		.kind = VM_DEV_VIRTIO_RNG, .id = "rng0", .iothread = -1};
	g.rngdev.rng.max_bytes = 4096;
	g.rngdev.rng.period_ms = 1000;
	g.balloondev = (struct vm_device_config){
		.kind = VM_DEV_VIRTIO_BALLOON, .id = "b0", .iothread = -1};
	g.balloondev.balloon.free_page_reporting = true;
	snprintf(g.sock, sizeof(g.sock), "/tmp/virtio_devices_fuzz.%d", (int)getpid());
	atexit(cleanup);
	{
		struct virtio_rng_params p = {.mem = &g.mem,
					      .mmio = g.bus,
					      .base = base(0),
					      .irq = {.vm_fd = -1},
					      .loop = g.l,
					      .filename = "/dev/urandom",
					      .dev = &g.rngdev};
		if (!virtio_rng_create(&p, &e))
			abort();
	}
	{
		struct virtio_balloon_params p = {.mem = &g.mem,
						  .mmio = g.bus,
						  .base = base(1),
						  .irq = {.vm_fd = -1},
						  .loop = g.l,
						  .dev = &g.balloondev};
		if (!virtio_balloon_create(&p, &e))
			abort();
	}
	{
		struct virtio_console_params p = {.mem = &g.mem,
						  .mmio = g.bus,
						  .base = base(2),
						  .irq = {.vm_fd = -1},
						  .loop = g.l,
						  .id = "con0",
						  .chr = NULL};
		if (!virtio_console_create(&p, &e))
			abort();
	}
	{
		struct virtio_vsock_params p = {.mem = &g.mem,
						.mmio = g.bus,
						.base = base(3),
						.irq = {.vm_fd = -1},
						.loop = g.l,
						.id = "vs0",
						.guest_cid = 3,
						.uds_path = g.sock};
		if (!virtio_vsock_create(&p, &e))
			abort();
	}
	g.nq[0] = 1;
	g.nq[1] = 3;
	g.nq[2] = 2;
	g.nq[3] = 3;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint32_t q, lo, hi;
	int dev, i;

	if (!g.ram)
		init();
	if (size < 8) /* the config write below reads up to data[4] */
		return 0;
	dev = data[0] % NDEV;
	memset(g.ram, 0, RAM_SIZE);
	memcpy(g.ram, data + 4, size - 4 < RAM_SIZE ? size - 4 : RAM_SIZE);
	for (q = 0; q < g.nq[dev]; q++)
		memset(g.ram + RING(q) - RAM_GPA + 0x200, 0, 0x100); /* used rings start clean */
	wr(dev, 0x70, 0);
	wr(dev, 0x70, 3);
	wr(dev, 0x14, 0);
	lo = rd(dev, 0x10);
	wr(dev, 0x14, 1);
	hi = rd(dev, 0x10);
	if (data[1] & 1)
		lo &= ~(1u << 29);
	if (data[1] & 2)
		lo &= ~(1u << 28);
	wr(dev, 0x24, 0);
	wr(dev, 0x20, lo);
	wr(dev, 0x24, 1);
	wr(dev, 0x20, hi);
	wr(dev, 0x70, 3 | 8);
	for (q = 0; q < g.nq[dev]; q++) {
		wr(dev, 0x30, q);
		wr(dev, 0x38, QSIZE);
		wr(dev, 0x80, RING(q));
		wr(dev, 0x84, 0);
		wr(dev, 0x90, RING(q) + 0x100);
		wr(dev, 0x94, 0);
		wr(dev, 0xa0, RING(q) + 0x200);
		wr(dev, 0xa4, 0);
		wr(dev, 0x44, 1);
	}
	wr(dev, 0x70, 3 | 8 | 4);
	/* config writes of any kind (balloon "actual", read-only fields elsewhere) */
	bus_write(g.bus, base(dev) + 0x100 + (data[2] & 15), data + 1, 1 + (data[3] & 3));
	for (q = 0; q < g.nq[dev]; q++)
		if (data[3] & (1u << (q + 2)))
			wr(dev, 0x50, q);
	for (i = 0; i < 4; i++)
		loop_run_once(g.l, 0);
	wr(dev, 0x64, rd(dev, 0x60));
	wr(dev, 0x70, 0);
	if (rd(dev, 0x70) != 0)
		abort();
	return 0;
}
