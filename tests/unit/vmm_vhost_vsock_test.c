/* Unit tests for vmm/virtio/vhost_vsock: the kernel backend's set-up sequence against a fake
 * ioctl layer (no /dev/vhost-vsock here): the order and arguments of every ioctl, each failure
 * path (with its message and the fd closed), stop on reset, and the missing-node message. */
#include <errno.h>
#include <linux/vhost.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "vmm/virtio/vhost_vsock.h"

#define FAKE_FD 42
#define MAX_CALLS 64

static struct {
	unsigned long req[MAX_CALLS];
	uint64_t u64[MAX_CALLS];     /* features, CID, running */
	struct vhost_vring_state st[MAX_CALLS];
	struct vhost_vring_file file[MAX_CALLS];
	struct vhost_vring_addr addr[MAX_CALLS];
	struct vhost_memory_region reg[MAX_CALLS];
	uint32_t nregions[MAX_CALLS];
	int n;
	int fail_at;   /* index of the ioctl that fails (-1: none) */
	int open_errno; /* 0: open succeeds */
	int opens, closes;
	uint64_t offered;
} f;

static int fake_open(const char *path, int flags)
{
	f.opens++;
	if (f.open_errno) {
		errno = f.open_errno;
		return -1;
	}
	return FAKE_FD;
}

static int fake_ioctl(int fd, unsigned long req, void *arg)
{
	int i = f.n;

	assert_int_equal(fd, FAKE_FD);
	assert_true(i < MAX_CALLS);
	f.req[i] = req;
	f.n++;
	switch (req) {
	case VHOST_GET_FEATURES:
		*(uint64_t *)arg = f.offered;
		break;
	case VHOST_SET_FEATURES:
	case VHOST_VSOCK_SET_GUEST_CID:
		f.u64[i] = *(uint64_t *)arg;
		break;
	case VHOST_VSOCK_SET_RUNNING:
		f.u64[i] = (uint64_t) * (int *)arg;
		break;
	case VHOST_SET_VRING_NUM:
	case VHOST_SET_VRING_BASE:
		f.st[i] = *(struct vhost_vring_state *)arg;
		break;
	case VHOST_SET_VRING_KICK:
	case VHOST_SET_VRING_CALL:
		f.file[i] = *(struct vhost_vring_file *)arg;
		break;
	case VHOST_SET_VRING_ADDR:
		f.addr[i] = *(struct vhost_vring_addr *)arg;
		break;
	case VHOST_SET_MEM_TABLE: {
		struct vhost_memory *m = arg;

		f.nregions[i] = m->nregions;
		if (m->nregions)
			f.reg[i] = m->regions[0];
		break;
	}
	}
	if (i == f.fail_at) {
		errno = EBUSY;
		return -1;
	}
	return 0;
}

static int fake_close(int fd)
{
	assert_int_equal(fd, FAKE_FD);
	f.closes++;
	return 0;
}

static const struct vhost_vsock_ops fake_ops = {fake_open, fake_ioctl, fake_close};

static uint8_t ram[1 << 20];
static struct gmem mem;

static int setup(void **state)
{
	memset(&f, 0, sizeof(f));
	f.fail_at = -1;
	f.offered = (1ull << 32) | (1ull << 29); /* VERSION_1, EVENT_IDX */
	memset(&mem, 0, sizeof(mem));
	mem.regions[0] = (struct gmem_region){.gpa = 0, .size = sizeof(ram), .hva = ram};
	mem.nr_regions = 1;
	mem.ram_size = sizeof(ram);
	mem.base = ram;
	mem.map_len = sizeof(ram);
	mem.fd = -1;
	return 0;
}

static void vqs_init(struct vhost_vsock_vq v[2])
{
	v[0] = (struct vhost_vsock_vq){.num = 128, .last_avail = 3, .desc_gpa = 0x10000,
				       .avail_gpa = 0x11000, .used_gpa = 0x12000,
				       .kick_fd = 10, .call_fd = 11};
	v[1] = (struct vhost_vsock_vq){.num = 64, .last_avail = 0, .desc_gpa = 0x20000,
				       .avail_gpa = 0x21000, .used_gpa = 0x22000,
				       .kick_fd = 12, .call_fd = 13};
}

static const unsigned long open_seq[] = {VHOST_SET_OWNER, VHOST_GET_FEATURES,
					 VHOST_VSOCK_SET_GUEST_CID};
static const unsigned long start_seq[] = {
	VHOST_SET_FEATURES,   VHOST_SET_MEM_TABLE,   VHOST_SET_VRING_NUM,  VHOST_SET_VRING_ADDR,
	VHOST_SET_VRING_BASE, VHOST_SET_VRING_KICK,  VHOST_SET_VRING_CALL, VHOST_SET_VRING_NUM,
	VHOST_SET_VRING_ADDR, VHOST_SET_VRING_BASE,  VHOST_SET_VRING_KICK, VHOST_SET_VRING_CALL,
	VHOST_VSOCK_SET_RUNNING};
#define N_OPEN	(int)(sizeof(open_seq) / sizeof(open_seq[0]))
#define N_START (int)(sizeof(start_seq) / sizeof(start_seq[0]))

static void test_vhost_vsock_open_sets_owner_reads_features_sets_cid(void **state)
{
	struct vhost_vsock h;
	struct errmsg e = {0};
	int i;

	assert_int_equal(vhost_vsock_open(&h, &fake_ops, VHOST_VSOCK_DEV, 7, &e), 0);
	assert_int_equal(f.n, N_OPEN);
	for (i = 0; i < N_OPEN; i++)
		assert_int_equal(f.req[i], open_seq[i]);
	assert_int_equal(f.u64[2], 7);
	assert_int_equal(h.features, f.offered);
	vhost_vsock_close(&h);
	assert_int_equal(f.closes, 1);
	assert_int_equal(h.fd, -1);
}

static void test_vhost_vsock_start_programs_both_queues_then_runs(void **state)
{
	struct vhost_vsock_vq v[2];
	struct vhost_vsock h;
	struct errmsg e = {0};
	int i, b;

	vqs_init(v);
	assert_int_equal(vhost_vsock_open(&h, &fake_ops, VHOST_VSOCK_DEV, 3, &e), 0);
	/* The driver's features are limited to what the backend offers. */
	assert_int_equal(vhost_vsock_start(&h, (1ull << 32) | (1ull << 28), &mem, v, &e), 0);
	assert_true(h.running);
	assert_int_equal(f.n, N_OPEN + N_START);
	for (i = 0; i < N_START; i++)
		assert_int_equal(f.req[N_OPEN + i], start_seq[i]);
	b = N_OPEN;
	assert_int_equal(f.u64[b], 1ull << 32);
	assert_int_equal(f.nregions[b + 1], 1);
	assert_int_equal(f.reg[b + 1].guest_phys_addr, 0);
	assert_int_equal(f.reg[b + 1].memory_size, sizeof(ram));
	assert_int_equal(f.reg[b + 1].userspace_addr, (uint64_t)(uintptr_t)ram);
	for (i = 0; i < 2; i++) {
		int q = b + 2 + 5 * i;

		assert_int_equal(f.st[q].index, i);
		assert_int_equal(f.st[q].num, v[i].num);
		assert_int_equal(f.addr[q + 1].index, i);
		assert_int_equal(f.addr[q + 1].desc_user_addr, (uintptr_t)ram + v[i].desc_gpa);
		assert_int_equal(f.addr[q + 1].avail_user_addr, (uintptr_t)ram + v[i].avail_gpa);
		assert_int_equal(f.addr[q + 1].used_user_addr, (uintptr_t)ram + v[i].used_gpa);
		assert_int_equal(f.st[q + 2].num, v[i].last_avail);
		assert_int_equal(f.file[q + 3].fd, v[i].kick_fd); /* the ioeventfd */
		assert_int_equal(f.file[q + 4].fd, v[i].call_fd); /* the interrupt eventfd */
	}
	assert_int_equal(f.u64[b + N_START - 1], 1);

	/* Reset: SET_RUNNING 0, then every kick and call fd detached. */
	f.n = 0;
	assert_int_equal(vhost_vsock_stop(&h), 0);
	assert_false(h.running);
	assert_int_equal(f.req[0], VHOST_VSOCK_SET_RUNNING);
	assert_int_equal(f.u64[0], 0);
	assert_int_equal(f.n, 5);
	for (i = 1; i < 5; i++)
		assert_int_equal(f.file[i].fd, -1);
	/* A second stop (or close after stop) issues nothing more. */
	f.n = 0;
	assert_int_equal(vhost_vsock_stop(&h), 0);
	assert_int_equal(f.n, 0);
	/* DRIVER_OK again after the reset starts it again. */
	assert_int_equal(vhost_vsock_start(&h, 1ull << 32, &mem, v, &e), 0);
	vhost_vsock_close(&h);
	assert_int_equal(f.closes, 1);
}

/* Each ioctl of open failing: an error naming it, the fd closed, no fd left open. */
static void test_vhost_vsock_open_each_failure(void **state)
{
	int k;

	for (k = 0; k < N_OPEN; k++) {
		struct vhost_vsock h;
		struct errmsg e = {0};
		int ret;

		setup(state);
		f.fail_at = k;
		ret = vhost_vsock_open(&h, &fake_ops, VHOST_VSOCK_DEV, 5, &e);
		assert_int_equal(ret, -EBUSY);
		assert_int_equal(f.n, k + 1);
		assert_int_equal(h.fd, -1);
		assert_int_equal(f.closes, 1);
		assert_non_null(strstr(errmsg_str(&e), k == 0   ? "VHOST_SET_OWNER"
						       : k == 1 ? "VHOST_GET_FEATURES"
								: "VHOST_VSOCK_SET_GUEST_CID"));
		vhost_vsock_close(&h); /* harmless after a failed open */
		assert_int_equal(f.closes, 1);
	}
}

/* Each ioctl of start failing: an error naming it, not running, the queues' fds detached. */
static void test_vhost_vsock_start_each_failure(void **state)
{
	static const char *const names[] = {
		"VHOST_SET_FEATURES",	"VHOST_SET_MEM_TABLE",	"VHOST_SET_VRING_NUM",
		"VHOST_SET_VRING_ADDR", "VHOST_SET_VRING_BASE", "VHOST_SET_VRING_KICK",
		"VHOST_SET_VRING_CALL", "VHOST_SET_VRING_NUM",	"VHOST_SET_VRING_ADDR",
		"VHOST_SET_VRING_BASE", "VHOST_SET_VRING_KICK", "VHOST_SET_VRING_CALL",
		"VHOST_VSOCK_SET_RUNNING"};
	int k;

	for (k = 0; k < N_START; k++) {
		struct vhost_vsock_vq v[2];
		struct vhost_vsock h;
		struct errmsg e = {0};
		int i, detached = 0;

		setup(state);
		vqs_init(v);
		assert_int_equal(vhost_vsock_open(&h, &fake_ops, VHOST_VSOCK_DEV, 5, &e), 0);
		f.fail_at = N_OPEN + k;
		assert_int_equal(vhost_vsock_start(&h, ~0ull, &mem, v, &e), -EBUSY);
		assert_false(h.running);
		assert_non_null(strstr(errmsg_str(&e), names[k]));
		for (i = N_OPEN + k + 1; i < f.n; i++)
			detached += (f.req[i] == VHOST_SET_VRING_KICK ||
				     f.req[i] == VHOST_SET_VRING_CALL) &&
				    f.file[i].fd == -1;
		assert_int_equal(detached, 4);
		vhost_vsock_close(&h);
		assert_int_equal(f.closes, 1);
	}
}

static void test_vhost_vsock_refuses_bad_queues(void **state)
{
	struct vhost_vsock_vq v[2];
	struct vhost_vsock h;
	struct errmsg e = {0};

	assert_int_equal(vhost_vsock_open(&h, &fake_ops, VHOST_VSOCK_DEV, 5, &e), 0);
	vqs_init(v);
	v[1].used_gpa = sizeof(ram) - 8; /* used ring runs past guest RAM */
	assert_int_equal(vhost_vsock_start(&h, 0, &mem, v, &e), -EFAULT);
	assert_non_null(strstr(errmsg_str(&e), "queue 1 rings are outside guest RAM"));
	vqs_init(v);
	v[0].num = 100; /* not a power of two */
	assert_int_equal(vhost_vsock_start(&h, 0, &mem, v, &e), -EINVAL);
	vqs_init(v);
	v[0].kick_fd = -1;
	assert_int_equal(vhost_vsock_start(&h, 0, &mem, v, &e), -EINVAL);
	assert_false(h.running);
	vhost_vsock_close(&h);
}

static void test_vhost_vsock_missing_node_says_so(void **state)
{
	struct vhost_vsock h;
	struct errmsg e = {0};

	f.open_errno = ENOENT;
	assert_int_equal(vhost_vsock_open(&h, &fake_ops, VHOST_VSOCK_DEV, 5, &e), -ENOENT);
	assert_non_null(strstr(errmsg_str(&e), "/dev/vhost-vsock: No such file or directory"));
	assert_non_null(strstr(errmsg_str(&e), "uds-path="));
	assert_int_equal(f.n, 0);
	assert_int_equal(h.fd, -1);
	vhost_vsock_close(&h);
	assert_int_equal(f.closes, 0);
	/* The real node is absent on this host too: the same message from the real open. */
	if (access(VHOST_VSOCK_DEV, F_OK) != 0) {
		assert_int_equal(vhost_vsock_open(&h, &vhost_vsock_sys_ops, VHOST_VSOCK_DEV, 5, &e),
				 -ENOENT);
		assert_non_null(strstr(errmsg_str(&e), "vhost_vsock; uds-path="));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_vhost_vsock_open_sets_owner_reads_features_sets_cid,
				       setup),
		cmocka_unit_test_setup(test_vhost_vsock_start_programs_both_queues_then_runs, setup),
		cmocka_unit_test_setup(test_vhost_vsock_open_each_failure, setup),
		cmocka_unit_test_setup(test_vhost_vsock_start_each_failure, setup),
		cmocka_unit_test_setup(test_vhost_vsock_refuses_bad_queues, setup),
		cmocka_unit_test_setup(test_vhost_vsock_missing_node_says_so, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
