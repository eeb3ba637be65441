/* Unit tests for vmm/virtio/mmio + blk: this file plays the guest driver on mock guest RAM
 * and a real MMIO bus (no KVM): register access, negotiation, each aio engine against a
 * real image file, flush/get-id/discard/write-zeroes, read-only, bad and hostile requests,
 * the iops throttle, and reset with I/O in flight. */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "loop.h"
#include "util.h"
#include "vmm/virtio/blk.h"
#include "vmm/virtio/mmio.h"

#define RAM_SIZE (8u << 20)
#define DESC	 0x0u
#define AVAIL	 0x4000u
#define USED	 0x8000u
#define HDR	 0x10000u /* 16 bytes per slot */
#define STAT	 0x12000u /* 1 byte per slot */
#define DATA	 0x100000u
#define QSIZE	 64u
#define BASE	 0xd0000000ull
#define IMG_SIZE (4u << 20)

#define T_IN	       0
#define T_OUT	       1
#define T_FLUSH	       4
#define T_GET_ID       8
#define T_DISCARD      11
#define T_WRITE_ZEROES 13

struct fx {
	struct gmem mem;
	uint8_t *ram;
	struct bus *bus;
	struct loop *l;
	char dir[64];
	char img[128];
	struct vm_drive_config drive;
	struct vm_device_config dev;
	struct virtio_blk *blk;
	uint16_t avail_idx;
	uint16_t used_seen;
	uint64_t features;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	int fd;

	assert_non_null(f);
	f->ram = aligned_alloc(4096, RAM_SIZE);
	assert_non_null(f->ram);
	memset(f->ram, 0, RAM_SIZE);
	f->mem.regions[0] = (struct gmem_region){.gpa = 0, .size = RAM_SIZE, .hva = f->ram};
	f->mem.nr_regions = 1;
	f->mem.ram_size = RAM_SIZE;
	f->mem.fd = -1;
	f->bus = bus_new(BUS_MMIO, -1);
	assert_non_null(f->bus);
	f->l = loop_new();
	assert_non_null(f->l);
	/* /var/tmp: a disk-backed filesystem where O_DIRECT works */
	strcpy(f->dir, "/var/tmp/blk_test.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->img, sizeof(f->img), "%s/disk.raw", f->dir);
	fd = open(f->img, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, IMG_SIZE), 0);
	close(fd);
	f->drive = (struct vm_drive_config){
		.id = "d0", .file = f->img, .direct = true, .aio = VM_AIO_OFF};
	f->dev.kind = VM_DEV_VIRTIO_BLK;
	f->dev.id = "blk0";
	f->dev.iothread = -1;
	f->dev.blk.drive = 0;
	f->dev.blk.serial = "SPLITVM-SERIAL-1";
	f->dev.blk.num_queues = 1;
	f->dev.blk.queue_size = QSIZE;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	virtio_blk_destroy(f->blk);
	loop_free(f->l);
	bus_free(f->bus);
	unlink(f->img);
	rmdir(f->dir);
	free(f->ram);
	free(f);
	return 0;
}

static uint32_t rd(struct fx *f, uint64_t off)
{
	uint32_t v;

	assert_true(bus_read(f->bus, BASE + off, (uint8_t *)&v, 4));
	return le32toh(v);
}

static void wr(struct fx *f, uint64_t off, uint32_t v)
{
	v = htole32(v);
	assert_true(bus_write(f->bus, BASE + off, (uint8_t *)&v, 4));
}

static void create_blk(struct fx *f)
{
	struct virtio_blk_params p = {.mem = &f->mem,
				      .mmio = f->bus,
				      .base = BASE,
				      .irq = {.vm_fd = -1, .gsi = 5},
				      .loop = f->l,
				      .drive = &f->drive,
				      .dev = &f->dev};
	struct errmsg e;

	f->blk = virtio_blk_create(&p, &e);
	if (!f->blk)
		fail_msg("virtio_blk_create: %s", errmsg_str(&e));
}

static uint64_t device_features(struct fx *f)
{
	wr(f, 0x14, 0);
	uint64_t lo = rd(f, 0x10);
	wr(f, 0x14, 1);
	return lo | (uint64_t)rd(f, 0x10) << 32;
}

/* The Linux driver's start-up sequence; returns the status read back. */
static uint32_t driver_init(struct fx *f, uint64_t want, uint16_t qsize)
{
	uint64_t feat = device_features(f) & want;

	wr(f, 0x70, 0);
	wr(f, 0x70, VIRTIO_STATUS_ACKNOWLEDGE);
	wr(f, 0x70, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	wr(f, 0x24, 0);
	wr(f, 0x20, (uint32_t)feat);
	wr(f, 0x24, 1);
	wr(f, 0x20, (uint32_t)(feat >> 32));
	wr(f, 0x70, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
	if (!(rd(f, 0x70) & VIRTIO_STATUS_FEATURES_OK))
		return rd(f, 0x70);
	f->features = feat;
	memset(f->ram, 0, 0x20000);
	f->avail_idx = f->used_seen = 0;
	wr(f, 0x30, 0);
	assert_int_equal(rd(f, 0x44), 0);
	assert_int_equal(rd(f, 0x34), QSIZE);
	wr(f, 0x38, qsize);
	wr(f, 0x80, DESC);
	wr(f, 0x84, 0);
	wr(f, 0x90, AVAIL);
	wr(f, 0x94, 0);
	wr(f, 0xa0, USED);
	wr(f, 0xa4, 0);
	wr(f, 0x44, 1);
	wr(f, 0x70,
	   VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |
		   VIRTIO_STATUS_DRIVER_OK);
	return rd(f, 0x70);
}

static uint64_t std_features(void)
{
	return ~0ull; /* whatever the device offers */
}

static void set_desc(struct fx *f, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
		     uint16_t next)
{
	uint8_t *d = f->ram + DESC + 16u * i;
	uint64_t a = htole64(addr);
	uint32_t l = htole32(len);
	uint16_t fl = htole16(flags), n = htole16(next);

	memcpy(d, &a, 8);
	memcpy(d + 8, &l, 4);
	memcpy(d + 12, &fl, 2);
	memcpy(d + 14, &n, 2);
}

static void publish(struct fx *f, uint16_t head)
{
	uint16_t v = htole16(head);

	memcpy(f->ram + AVAIL + 4 + 2u * (f->avail_idx % QSIZE), &v, 2);
	f->avail_idx++;
	__atomic_thread_fence(__ATOMIC_RELEASE);
	v = htole16(f->avail_idx);
	memcpy(f->ram + AVAIL + 2, &v, 2);
}

static uint16_t used_idx(struct fx *f)
{
	uint16_t v;

	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	memcpy(&v, f->ram + USED + 2, 2);
	return le16toh(v);
}

/* Queues request `slot` (descriptors 3*slot..3*slot+2): header, data (may be empty), status. */
static void queue_req(struct fx *f, uint16_t slot, uint32_t type, uint64_t sector,
		      uint64_t data_gpa, uint32_t len, bool data_writable)
{
	uint16_t d0 = (uint16_t)(3 * slot);
	uint32_t t = htole32(type);
	uint64_t s = htole64(sector);

	memcpy(f->ram + HDR + 16u * slot, &t, 4);
	memset(f->ram + HDR + 16u * slot + 4, 0, 4);
	memcpy(f->ram + HDR + 16u * slot + 8, &s, 8);
	f->ram[STAT + slot] = 0xee;
	set_desc(f, d0, HDR + 16u * slot, 16, 1, (uint16_t)(d0 + 1));
	if (len) {
		set_desc(f, (uint16_t)(d0 + 1), data_gpa, len, 1 | (data_writable ? 2 : 0),
			 (uint16_t)(d0 + 2));
		set_desc(f, (uint16_t)(d0 + 2), STAT + slot, 1, 2, 0);
	} else {
		set_desc(f, d0, HDR + 16u * slot, 16, 1, (uint16_t)(d0 + 2));
		set_desc(f, (uint16_t)(d0 + 2), STAT + slot, 1, 2, 0);
	}
	publish(f, d0);
}

static void kick(struct fx *f)
{
	wr(f, 0x50, 0);
}

/* Runs the device's loop until the used ring reaches want or 5 s pass. */
static bool wait_used(struct fx *f, uint16_t want)
{
	uint64_t end = now_ms() + 5000;

	while ((uint16_t)(used_idx(f) - want) > 0x8000 && now_ms() < end)
		loop_run_once(f->l, 10);
	return (uint16_t)(used_idx(f) - want) < 0x8000;
}

/* One synchronous request; returns the status byte. */
static uint8_t do_req(struct fx *f, uint32_t type, uint64_t sector, uint64_t data, uint32_t len,
		      bool writable)
{
	uint16_t want = (uint16_t)(used_idx(f) + 1);

	queue_req(f, 0, type, sector, data, len, writable);
	kick(f);
	if (!wait_used(f, want))
		fail_msg("request type %u did not complete", type);
	return f->ram[STAT];
}

static uint32_t used_len_at(struct fx *f, uint16_t idx)
{
	uint32_t v;

	memcpy(&v, f->ram + USED + 4 + 8u * (idx % QSIZE) + 4, 4);
	return le32toh(v);
}

static void fill_pattern(uint8_t *p, size_t len, uint32_t seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (uint8_t)((i * 131 + seed * 7 + (i >> 9)) & 0xff);
}

/* ---- tests ---------------------------------------------------------------------------------- */

static void test_blk_registers_identify_a_modern_block_device(void **state)
{
	struct fx *f = *state;
	uint64_t feat;
	uint8_t cfg[8];
	uint64_t cap;

	create_blk(f);
	assert_int_equal(rd(f, 0x0), 0x74726976);
	assert_int_equal(rd(f, 0x4), 2);
	assert_int_equal(rd(f, 0x8), VIRTIO_ID_BLOCK);
	feat = device_features(f);
	assert_true(feat & (1ull << VIRTIO_F_VERSION_1));
	assert_true(feat & (1ull << VIRTIO_F_EVENT_IDX));
	assert_true(feat & (1ull << VIRTIO_F_INDIRECT_DESC));
	assert_true(feat & (1ull << 9));   /* FLUSH */
	assert_false(feat & (1ull << 5));  /* not RO */
	assert_false(feat & (1ull << 13)); /* discard=ignore */
	assert_true(bus_read(f->bus, BASE + 0x100, cfg, 8));
	memcpy(&cap, cfg, 8);
	assert_int_equal(le64toh(cap), IMG_SIZE / 512);
	/* config reads of any width; past the end reads as zero */
	assert_true(bus_read(f->bus, BASE + 0x100 + 20, cfg, 4));
	assert_int_equal(cfg[0] | cfg[1] << 8, 512);
}

static void test_blk_refuses_unoffered_features_and_legacy_drivers(void **state)
{
	struct fx *f = *state;
	uint32_t st;

	create_blk(f);
	wr(f, 0x70, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	wr(f, 0x24, 0);
	wr(f, 0x20, 1u << 5); /* RO: not offered */
	wr(f, 0x24, 1);
	wr(f, 0x20, 1);
	wr(f, 0x70, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
	assert_false(rd(f, 0x70) & VIRTIO_STATUS_FEATURES_OK);
	/* without VERSION_1 (a legacy driver) */
	wr(f, 0x70, 0);
	st = driver_init(f, ~(1ull << VIRTIO_F_VERSION_1), QSIZE);
	assert_false(st & VIRTIO_STATUS_FEATURES_OK);
	/* DRIVER_OK without FEATURES_OK does not stick */
	wr(f, 0x70, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_DRIVER_OK);
	assert_false(rd(f, 0x70) & VIRTIO_STATUS_DRIVER_OK);
}

static void rw_roundtrip(struct fx *f, enum vm_aio aio, bool direct)
{
	static const uint32_t sizes[] = {512, 4096, 65536, 1u << 20};
	uint8_t *want = malloc(1u << 20), *file = malloc(1u << 20);
	size_t i;
	int fd;

	assert_non_null(want);
	assert_non_null(file);
	f->drive.aio = aio;
	f->drive.direct = direct;
	create_blk(f);
	assert_true(driver_init(f, std_features(), QSIZE) & VIRTIO_STATUS_DRIVER_OK);
	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		uint64_t sector = 8 * (i + 1) + (i == 3 ? 2048 : 0);

		fill_pattern(f->ram + DATA, sizes[i], (uint32_t)i + aio * 10);
		memcpy(want, f->ram + DATA, sizes[i]);
		assert_int_equal(do_req(f, T_OUT, sector, DATA, sizes[i], false), 0);
		assert_int_equal(used_len_at(f, (uint16_t)(used_idx(f) - 1)), 1);
		memset(f->ram + DATA, 0, sizes[i]);
		assert_int_equal(do_req(f, T_IN, sector, DATA, sizes[i], true), 0);
		assert_int_equal(used_len_at(f, (uint16_t)(used_idx(f) - 1)), sizes[i] + 1);
		assert_memory_equal(f->ram + DATA, want, sizes[i]);
		/* the bytes really are in the image file */
		fd = open(f->img, O_RDONLY);
		assert_int_equal(pread(fd, file, sizes[i], (off_t)(sector * 512)), sizes[i]);
		close(fd);
		assert_memory_equal(file, want, sizes[i]);
	}
	/* unaligned guest buffer with O_DIRECT: bounced, still correct */
	fill_pattern(f->ram + DATA + 3, 1024, 99);
	memcpy(want, f->ram + DATA + 3, 1024);
	assert_int_equal(do_req(f, T_OUT, 100, DATA + 3, 1024, false), 0);
	memset(f->ram + DATA + 7, 0, 1024);
	assert_int_equal(do_req(f, T_IN, 100, DATA + 7, 1024, true), 0);
	assert_memory_equal(f->ram + DATA + 7, want, 1024);
	free(want);
	free(file);
}

static void test_blk_reads_back_what_it_wrote_with_the_thread_pool(void **state)
{
	rw_roundtrip(*state, VM_AIO_OFF, false);
}

static void test_blk_reads_back_what_it_wrote_with_libaio(void **state)
{
	rw_roundtrip(*state, VM_AIO_NATIVE, true);
}

static void test_blk_reads_back_what_it_wrote_with_io_uring(void **state)
{
	rw_roundtrip(*state, VM_AIO_IO_URING, true);
}

static void test_blk_reads_back_what_it_wrote_with_io_uring_buffered(void **state)
{
	rw_roundtrip(*state, VM_AIO_IO_URING, false);
}

static void test_blk_many_requests_in_flight_all_complete(void **state)
{
	struct fx *f = *state;
	uint16_t i, n = QSIZE / 3, start;

	f->drive.aio = VM_AIO_IO_URING;
	create_blk(f);
	assert_true(driver_init(f, std_features(), QSIZE) & VIRTIO_STATUS_DRIVER_OK);
	start = used_idx(f);
	for (i = 0; i < n; i++)
		queue_req(f, i, i % 2 ? T_IN : T_OUT, 8u * i, DATA + 4096u * i, 4096, i % 2);
	kick(f);
	assert_true(wait_used(f, (uint16_t)(start + n)));
	for (i = 0; i < n; i++)
		assert_int_equal(f->ram[STAT + i], 0);
}

static void test_blk_flush_and_get_id(void **state)
{
	struct fx *f = *state;

	create_blk(f);
	assert_true(driver_init(f, std_features(), QSIZE) & VIRTIO_STATUS_DRIVER_OK);
	assert_int_equal(do_req(f, T_FLUSH, 0, 0, 0, false), 0);
	memset(f->ram + DATA, 'x', 32);
	assert_int_equal(do_req(f, T_GET_ID, 0, DATA, 20, true), 0);
	assert_memory_equal(f->ram + DATA, "SPLITVM-SERIAL-1\0\0\0\0", 20);
	assert_int_equal(used_len_at(f, (uint16_t)(used_idx(f) - 1)), 21);
}

static void test_blk_read_only_drive_refuses_writes(void **state)
{
	struct fx *f = *state;

	f->drive.readonly = true;
	create_blk(f);
	assert_true(device_features(f) & (1ull << 5));
	assert_true(driver_init(f, std_features(), QSIZE) & VIRTIO_STATUS_DRIVER_OK);
	assert_int_equal(do_req(f, T_OUT, 0, DATA, 512, false), 1);
	assert_int_equal(do_req(f, T_WRITE_ZEROES, 0, DATA, 16, false), 1);
	assert_int_equal(do_req(f, T_IN, 0, DATA, 512, true), 0);
}

static void put_range(struct fx *f, uint64_t gpa, uint64_t sector, uint32_t n, uint32_t flags)
{
	uint64_t s = htole64(sector);
	uint32_t nn = htole32(n), fl = htole32(flags);

	memcpy(f->ram + gpa, &s, 8);
	memcpy(f->ram + gpa + 8, &nn, 4);
	memcpy(f->ram + gpa + 12, &fl, 4);
}

static uint64_t file_blocks(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return (uint64_t)st.st_blocks;
}

static void test_blk_discard_punches_holes_and_write_zeroes_zeroes(void **state)
{
	struct fx *f = *state;
	uint64_t before, after;

	f->drive.discard = VM_DISCARD_UNMAP;
	create_blk(f);
	assert_true(device_features(f) & (1ull << 13));
	assert_true(driver_init(f, std_features(), QSIZE) & VIRTIO_STATUS_DRIVER_OK);
	memset(f->ram + DATA, 0x5a, 1u << 20);
	assert_int_equal(do_req(f, T_OUT, 0, DATA, 1u << 20, false), 0);
	assert_int_equal(do_req(f, T_FLUSH, 0, 0, 0, false), 0);
	before = file_blocks(f->img);
	put_range(f, DATA + 0x200000, 0, 2048, 0);
	assert_int_equal(do_req(f, T_DISCARD, 0, DATA + 0x200000, 16, false), 0);
	after = file_blocks(f->img);
	assert_true(after < before);
	/* write zeroes over written data reads back as zeroes */
	memset(f->ram + DATA, 0x77, 8192);
	assert_int_equal(do_req(f, T_OUT, 4096, DATA, 8192, false), 0);
	put_range(f, DATA + 0x200000, 4096, 16, 0);
	assert_int_equal(do_req(f, T_WRITE_ZEROES, 0, DATA + 0x200000, 16, false), 0);
	assert_int_equal(do_req(f, T_IN, 4096, DATA, 8192, true), 0);
	for (int i = 0; i < 8192; i++)
		if (f->ram[DATA + i] != (i < 8192 ? 0 : 0x77))
			fail_msg("byte %d is %#x after write-zeroes", i, f->ram[DATA + i]);
	/* a discard past the end, or with flags, is an I/O error */
	put_range(f, DATA + 0x200000, IMG_SIZE / 512 - 1, 2, 0);
	assert_int_equal(do_req(f, T_DISCARD, 0, DATA + 0x200000, 16, false), 1);
	put_range(f, DATA + 0x200000, 0, 1, 1);
	assert_int_equal(do_req(f, T_DISCARD, 0, DATA + 0x200000, 16, false), 1);
}

static void test_blk_discard_is_unsupported_when_ignored(void **state)
{
	struct fx *f = *state;

	create_blk(f);
	assert_true(driver_init(f, std_features(), QSIZE) & VIRTIO_STATUS_DRIVER_OK);
	put_range(f, DATA, 0, 8, 0);
	assert_int_equal(do_req(f, T_DISCARD, 0, DATA, 16, false), 2);
}

static void test_blk_bad_requests_get_errors(void **state)
{
	struct fx *f = *state;

	create_blk(f);
	assert_true(driver_init(f, std_features(), QSIZE) & VIRTIO_STATUS_DRIVER_OK);
	/* past the end of the disk, straddling it, a sector number that overflows */
	assert_int_equal(do_req(f, T_IN, IMG_SIZE / 512, DATA, 512, true), 1);
	assert_int_equal(do_req(f, T_IN, IMG_SIZE / 512 - 1, DATA, 1024, true), 1);
	assert_int_equal(do_req(f, T_OUT, 0xffffffffffffffffull, DATA, 512, false), 1);
	/* not a whole number of sectors */
	assert_int_equal(do_req(f, T_IN, 0, DATA, 100, true), 1);
	/* unknown request type */
	assert_int_equal(do_req(f, 0x1234, 0, DATA, 512, true), 2);
	/* the device is still fine */
	assert_int_equal(do_req(f, T_IN, 0, DATA, 512, true), 0);
	assert_false(rd(f, 0x70) & VIRTIO_STATUS_NEEDS_RESET);
}

static void test_blk_hostile_rings_set_needs_reset_and_reset_recovers(void **state)
{
	struct fx *f = *state;
	uint16_t before;

	create_blk(f);
	assert_true(driver_init(f, std_features(), QSIZE) & VIRTIO_STATUS_DRIVER_OK);
	/* a descriptor loop */
	set_desc(f, 0, HDR, 16, 1, 1);
	set_desc(f, 1, STAT, 1, 1 | 2, 0);
	publish(f, 0);
	before = used_idx(f);
	kick(f);
	loop_run_once(f->l, 50);
	loop_run_once(f->l, 50);
	assert_true(rd(f, 0x70) & VIRTIO_STATUS_NEEDS_RESET);
	assert_int_equal(used_idx(f), before);
	assert_true(rd(f, 0x60) & VIRTIO_MMIO_INT_CONFIG);
	/* reset and start again */
	assert_true(driver_init(f, std_features(), QSIZE) & VIRTIO_STATUS_DRIVER_OK);
	assert_false(rd(f, 0x70) & VIRTIO_STATUS_NEEDS_RESET);
	assert_int_equal(do_req(f, T_IN, 0, DATA, 512, true), 0);
	/* a chain reaching past guest RAM */
	queue_req(f, 0, T_IN, 0, RAM_SIZE - 256, 512, true);
	kick(f);
	loop_run_once(f->l, 50);
	assert_true(rd(f, 0x70) & VIRTIO_STATUS_NEEDS_RESET);
}

static void test_blk_queue_size_not_a_power_of_two_is_refused(void **state)
{
	struct fx *f = *state;

	create_blk(f);
	driver_init(f, std_features(), 48);
	assert_int_equal(rd(f, 0x44), 0);
	assert_true(rd(f, 0x70) & VIRTIO_STATUS_NEEDS_RESET);
	driver_init(f, std_features(), 2 * QSIZE); /* above QueueNumMax */
	assert_int_equal(rd(f, 0x44), 0);
}

static void test_blk_notify_before_driver_ok_is_ignored(void **state)
{
	struct fx *f = *state;

	create_blk(f);
	wr(f, 0x70, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	queue_req(f, 0, T_IN, 0, DATA, 512, true);
	kick(f);
	loop_run_once(f->l, 50);
	assert_int_equal(used_idx(f), 0);
	assert_int_equal(f->ram[STAT], 0xee);
	/* and a notify for a queue that does not exist */
	wr(f, 0x50, 7);
	loop_run_once(f->l, 20);
}

static void test_blk_interrupt_status_and_ack(void **state)
{
	struct fx *f = *state;

	create_blk(f);
	assert_true(driver_init(f, std_features() & ~(1ull << VIRTIO_F_EVENT_IDX), QSIZE) &
		    VIRTIO_STATUS_DRIVER_OK);
	assert_int_equal(do_req(f, T_IN, 0, DATA, 512, true), 0);
	assert_true(rd(f, 0x60) & VIRTIO_MMIO_INT_VRING);
	wr(f, 0x64, VIRTIO_MMIO_INT_VRING);
	assert_int_equal(rd(f, 0x60), 0);
}

static void test_blk_iops_throttle_holds_requests_back(void **state)
{
	struct fx *f = *state;
	uint16_t i, start;

	f->drive.iops_total = 2;
	create_blk(f);
	assert_true(driver_init(f, std_features(), QSIZE) & VIRTIO_STATUS_DRIVER_OK);
	start = used_idx(f);
	for (i = 0; i < 5; i++)
		queue_req(f, i, T_IN, i, DATA + 512u * i, 512, true);
	kick(f);
	for (i = 0; i < 5; i++)
		loop_run_once(f->l, 5);
	/* a bucket of 2 tokens: not all five went through at once */
	assert_true((uint16_t)(used_idx(f) - start) <= 3);
	/* the timer lets the rest through */
	assert_true(wait_used(f, (uint16_t)(start + 5)));
}

static void test_blk_reset_with_io_in_flight(void **state)
{
	struct fx *f = *state;
	uint16_t i;
	enum vm_aio modes[] = {VM_AIO_OFF, VM_AIO_NATIVE, VM_AIO_IO_URING};
	size_t m;

	for (m = 0; m < ARRAY_SIZE(modes); m++) {
		f->drive.aio = modes[m];
		f->drive.direct = modes[m] == VM_AIO_NATIVE;
		create_blk(f);
		assert_true(driver_init(f, std_features(), QSIZE) & VIRTIO_STATUS_DRIVER_OK);
		for (i = 0; i < 20; i++)
			queue_req(f, i, T_OUT, 8u * i, DATA + 4096u * i, 4096, false);
		kick(f);
		loop_run_once(f->l, 0); /* requests started, completions not reaped */
		wr(f, 0x70, 0);		/* reset drains without the loop */
		assert_int_equal(rd(f, 0x70), 0);
		loop_run_once(f->l, 20);
		assert_true(driver_init(f, std_features(), QSIZE) & VIRTIO_STATUS_DRIVER_OK);
		assert_int_equal(do_req(f, T_IN, 0, DATA, 4096, true), 0);
		virtio_blk_destroy(f->blk);
		f->blk = NULL;
	}
}

/* The image shrinks under the VM (another process truncates it): reads past the new end
 * come back short from the host, which the guest must see as IOERR. */
static void test_blk_host_io_errors_reach_the_guest_as_ioerr(void **state)
{
	struct fx *f = *state;
	enum vm_aio modes[] = {VM_AIO_OFF, VM_AIO_IO_URING, VM_AIO_NATIVE};
	size_t m;

	for (m = 0; m < ARRAY_SIZE(modes); m++) {
		f->drive.aio = modes[m];
		f->drive.direct = modes[m] == VM_AIO_NATIVE;
		assert_int_equal(truncate(f->img, IMG_SIZE), 0);
		create_blk(f);
		assert_true(driver_init(f, std_features(), QSIZE) & VIRTIO_STATUS_DRIVER_OK);
		assert_int_equal(do_req(f, T_IN, IMG_SIZE / 512 - 8, DATA, 4096, true), 0);
		assert_int_equal(truncate(f->img, IMG_SIZE / 2), 0);
		assert_int_equal(do_req(f, T_IN, IMG_SIZE / 512 - 8, DATA, 4096, true), 1);
		/* only the status byte was written */
		assert_int_equal(used_len_at(f, (uint16_t)(used_idx(f) - 1)), 1);
		/* the rest of the disk still works */
		assert_int_equal(do_req(f, T_IN, 0, DATA, 4096, true), 0);
		virtio_blk_destroy(f->blk);
		f->blk = NULL;
	}
}

static void test_blk_missing_image_is_refused_with_its_name(void **state)
{
	struct fx *f = *state;
	struct virtio_blk_params p = {.mem = &f->mem,
				      .mmio = f->bus,
				      .base = BASE,
				      .irq = {.vm_fd = -1},
				      .loop = f->l,
				      .drive = &f->drive,
				      .dev = &f->dev};
	struct errmsg e;

	f->drive.file = "/nonexistent/disk.img";
	assert_null(virtio_blk_create(&p, &e));
	assert_string_equal(errmsg_str(&e), "-drive d0: /nonexistent/disk.img: No such file or "
					    "directory");
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_blk_registers_identify_a_modern_block_device),
		T(test_blk_refuses_unoffered_features_and_legacy_drivers),
		T(test_blk_reads_back_what_it_wrote_with_the_thread_pool),
		T(test_blk_reads_back_what_it_wrote_with_libaio),
		T(test_blk_reads_back_what_it_wrote_with_io_uring),
		T(test_blk_reads_back_what_it_wrote_with_io_uring_buffered),
		T(test_blk_many_requests_in_flight_all_complete),
		T(test_blk_flush_and_get_id),
		T(test_blk_read_only_drive_refuses_writes),
		T(test_blk_discard_punches_holes_and_write_zeroes_zeroes),
		T(test_blk_discard_is_unsupported_when_ignored),
		T(test_blk_bad_requests_get_errors),
		T(test_blk_hostile_rings_set_needs_reset_and_reset_recovers),
		T(test_blk_queue_size_not_a_power_of_two_is_refused),
		T(test_blk_notify_before_driver_ok_is_ignored),
		T(test_blk_interrupt_status_and_ack),
		T(test_blk_iops_throttle_holds_requests_back),
		T(test_blk_reset_with_io_in_flight),
		T(test_blk_host_io_errors_reach_the_guest_as_ioerr),
		T(test_blk_missing_image_is_refused_with_its_name),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
