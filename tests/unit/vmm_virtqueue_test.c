/* Unit tests for vmm/virtio/queue against mock guest memory: chains, indirect tables,
 * EVENT_IDX, index wrap-around, and every malformed-ring refusal. */
#include <endian.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vmm/virtio/queue.h"

#define RAM_SIZE 0x100000u
#define DESC	 0x0u
#define AVAIL	 0x10000u
#define USED	 0x20000u
#define BUF	 0x40000u

struct fx {
	struct gmem mem;
	uint8_t *ram;
	struct virtq q;
	struct vq_elem *e;
	uint16_t size;
	uint16_t avail_idx;
};

static uint64_t all_features(void)
{
	return (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_F_INDIRECT_DESC) |
	       (1ull << VIRTIO_F_EVENT_IDX);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->ram = aligned_alloc(4096, RAM_SIZE);
	assert_non_null(f->ram);
	memset(f->ram, 0, RAM_SIZE);
	f->mem.regions[0].gpa = 0;
	f->mem.regions[0].size = RAM_SIZE;
	f->mem.regions[0].hva = f->ram;
	f->mem.nr_regions = 1;
	f->mem.ram_size = RAM_SIZE;
	f->mem.fd = -1;
	f->e = calloc(1, sizeof(*f->e));
	assert_non_null(f->e);
	f->size = 16;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	free(f->ram);
	free(f->e);
	free(f);
	return 0;
}

static void put16(struct fx *f, uint64_t gpa, uint16_t v)
{
	v = htole16(v);
	memcpy(f->ram + gpa, &v, 2);
}

static uint16_t get16(struct fx *f, uint64_t gpa)
{
	uint16_t v;

	memcpy(&v, f->ram + gpa, 2);
	return le16toh(v);
}

static uint32_t get32(struct fx *f, uint64_t gpa)
{
	uint32_t v;

	memcpy(&v, f->ram + gpa, 4);
	return le32toh(v);
}

static void set_desc_at(struct fx *f, uint64_t table, uint16_t i, uint64_t addr, uint32_t len,
			uint16_t flags, uint16_t next)
{
	uint8_t *d = f->ram + table + 16u * i;
	uint64_t a = htole64(addr);
	uint32_t l = htole32(len);
	uint16_t fl = htole16(flags), n = htole16(next);

	memcpy(d, &a, 8);
	memcpy(d + 8, &l, 4);
	memcpy(d + 12, &fl, 2);
	memcpy(d + 14, &n, 2);
}

static void set_desc(struct fx *f, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
		     uint16_t next)
{
	set_desc_at(f, DESC, i, addr, len, flags, next);
}

static void publish(struct fx *f, uint16_t head)
{
	put16(f, AVAIL + 4 + 2u * (f->avail_idx % f->size), head);
	f->avail_idx++;
	put16(f, AVAIL + 2, f->avail_idx);
}

static void enable(struct fx *f, uint64_t features)
{
	assert_int_equal(vq_enable(&f->q, &f->mem, f->size, DESC, AVAIL, USED, features), 0);
}

static void test_vq_enable_validates_size_alignment_and_placement(void **state)
{
	struct fx *f = *state;
	struct virtq q;

	assert_int_equal(vq_enable(&q, &f->mem, 0, DESC, AVAIL, USED, 0), -EINVAL);
	assert_int_equal(vq_enable(&q, &f->mem, 3, DESC, AVAIL, USED, 0), -EINVAL);
	assert_int_equal(vq_enable(&q, &f->mem, 100, DESC, AVAIL, USED, 0), -EINVAL);
	assert_int_equal(vq_enable(&q, &f->mem, 16, DESC + 8, AVAIL, USED, 0), -EINVAL);
	assert_int_equal(vq_enable(&q, &f->mem, 16, DESC, AVAIL + 1, USED, 0), -EINVAL);
	assert_int_equal(vq_enable(&q, &f->mem, 16, DESC, AVAIL, USED + 2, 0), -EINVAL);
	/* rings past the end of RAM, or straddling it */
	assert_int_equal(vq_enable(&q, &f->mem, 16, RAM_SIZE, AVAIL, USED, 0), -EINVAL);
	assert_int_equal(vq_enable(&q, &f->mem, 16, RAM_SIZE - 16 * 8, AVAIL, USED, 0), -EINVAL);
	assert_int_equal(vq_enable(&q, &f->mem, 16, DESC, RAM_SIZE - 4, USED, 0), -EINVAL);
	assert_int_equal(vq_enable(&q, &f->mem, 16, DESC, AVAIL, 0xfffffffffffffff0ull, 0),
			 -EINVAL);
	assert_false(vq_enabled(&q));
	assert_int_equal(vq_enable(&q, &f->mem, 32768, DESC, AVAIL + 0x40000, USED + 0x60000, 0),
			 0);
	assert_true(vq_enabled(&q));
}

static void test_vq_pop_on_empty_ring_returns_zero(void **state)
{
	struct fx *f = *state;

	enable(f, 0);
	assert_int_equal(vq_pop(&f->q, f->e), 0);
	assert_false(vq_has_avail(&f->q));
}

static void test_vq_pops_a_readable_then_writable_chain(void **state)
{
	struct fx *f = *state;

	enable(f, 0);
	memcpy(f->ram + BUF, "request", 7);
	set_desc(f, 3, BUF, 7, VIRTQ_DESC_F_NEXT, 5);
	set_desc(f, 5, BUF + 0x1000, 100, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 0);
	set_desc(f, 0, BUF + 0x2000, 1, VIRTQ_DESC_F_WRITE, 0);
	publish(f, 3);
	assert_true(vq_has_avail(&f->q));
	assert_int_equal(vq_pop(&f->q, f->e), 1);
	assert_int_equal(f->e->head, 3);
	assert_int_equal(f->e->n_out, 1);
	assert_int_equal(f->e->n_in, 2);
	assert_int_equal(f->e->out_bytes, 7);
	assert_int_equal(f->e->in_bytes, 101);
	assert_ptr_equal(f->e->iov[0].iov_base, f->ram + BUF);
	assert_ptr_equal(f->e->iov[1].iov_base, f->ram + BUF + 0x1000);
	assert_int_equal(f->e->iov[2].iov_len, 1);
	assert_int_equal(vq_pop(&f->q, f->e), 0);
}

static void test_vq_push_fills_the_used_ring(void **state)
{
	struct fx *f = *state;

	enable(f, 0);
	set_desc(f, 2, BUF, 8, VIRTQ_DESC_F_WRITE, 0);
	publish(f, 2);
	assert_int_equal(vq_pop(&f->q, f->e), 1);
	vq_push(&f->q, f->e->head, 8);
	assert_int_equal(get16(f, USED + 2), 1);
	assert_int_equal(get32(f, USED + 4), 2);
	assert_int_equal(get32(f, USED + 8), 8);
	/* the next request lands in the next used slot */
	publish(f, 2);
	assert_int_equal(vq_pop(&f->q, f->e), 1);
	vq_push(&f->q, 2, 3);
	assert_int_equal(get16(f, USED + 2), 2);
	assert_int_equal(get32(f, USED + 12), 2);
	assert_int_equal(get32(f, USED + 16), 3);
}

static void test_vq_copies_across_segments_with_offsets(void **state)
{
	struct fx *f = *state;
	char out[16] = {0};

	enable(f, 0);
	memcpy(f->ram + BUF, "abc", 3);
	memcpy(f->ram + BUF + 0x100, "defgh", 5);
	set_desc(f, 0, BUF, 3, VIRTQ_DESC_F_NEXT, 1);
	set_desc(f, 1, BUF + 0x100, 5, VIRTQ_DESC_F_NEXT, 2);
	set_desc(f, 2, BUF + 0x200, 2, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 3);
	set_desc(f, 3, BUF + 0x300, 4, VIRTQ_DESC_F_WRITE, 0);
	publish(f, 0);
	assert_int_equal(vq_pop(&f->q, f->e), 1);
	assert_int_equal(vq_read_out(f->e, 0, out, sizeof(out)), 8);
	assert_string_equal(out, "abcdefgh");
	memset(out, 0, sizeof(out));
	assert_int_equal(vq_read_out(f->e, 2, out, 3), 3);
	assert_string_equal(out, "cde");
	assert_int_equal(vq_write_in(f->e, 1, "WXYZ!", 5), 5);
	assert_memory_equal(f->ram + BUF + 0x201, "W", 1);
	assert_memory_equal(f->ram + BUF + 0x300, "XYZ!", 4);
	/* never past the writable bytes */
	assert_int_equal(vq_write_in(f->e, 0, "0123456789", 10), 6);
}

static void test_vq_refuses_a_descriptor_loop_and_stays_broken(void **state)
{
	struct fx *f = *state;

	enable(f, 0);
	set_desc(f, 0, BUF, 4, VIRTQ_DESC_F_NEXT, 1);
	set_desc(f, 1, BUF, 4, VIRTQ_DESC_F_NEXT, 0);
	publish(f, 0);
	assert_int_equal(vq_pop(&f->q, f->e), -ELOOP);
	assert_true(f->q.broken);
	assert_int_equal(vq_pop(&f->q, f->e), -EIO);
	assert_false(vq_has_avail(&f->q));
	/* a device reset (disable + enable) recovers */
	vq_disable(&f->q);
	memset(f->ram, 0, 0x30000);
	f->avail_idx = 0;
	enable(f, 0);
	set_desc(f, 0, BUF, 4, 0, 0);
	publish(f, 0);
	assert_int_equal(vq_pop(&f->q, f->e), 1);
}

static void test_vq_refuses_a_self_loop(void **state)
{
	struct fx *f = *state;

	enable(f, 0);
	set_desc(f, 7, BUF, 4, VIRTQ_DESC_F_NEXT, 7);
	publish(f, 7);
	assert_int_equal(vq_pop(&f->q, f->e), -ELOOP);
}

static void test_vq_refuses_next_and_head_out_of_range(void **state)
{
	struct fx *f = *state;

	enable(f, 0);
	set_desc(f, 0, BUF, 4, VIRTQ_DESC_F_NEXT, 16);
	publish(f, 0);
	assert_int_equal(vq_pop(&f->q, f->e), -EINVAL);
	vq_disable(&f->q);
	memset(f->ram + USED, 0, 0x100);
	f->avail_idx = 0;
	enable(f, 0);
	publish(f, 16);
	assert_int_equal(vq_pop(&f->q, f->e), -EINVAL);
}

static void test_vq_refuses_buffers_outside_guest_ram(void **state)
{
	struct fx *f = *state;

	enable(f, 0);
	set_desc(f, 0, RAM_SIZE - 4, 8, 0, 0); /* straddles the end */
	publish(f, 0);
	assert_int_equal(vq_pop(&f->q, f->e), -EFAULT);
	vq_disable(&f->q);
	f->avail_idx = 0;
	put16(f, AVAIL + 2, 0);
	enable(f, 0);
	set_desc(f, 0, 0xfffffffffffffff0ull, 0x20, 0, 0); /* wraps around */
	publish(f, 0);
	assert_int_equal(vq_pop(&f->q, f->e), -EFAULT);
	vq_disable(&f->q);
	f->avail_idx = 0;
	put16(f, AVAIL + 2, 0);
	enable(f, 0);
	set_desc(f, 0, 0x80000000ull, 16, VIRTQ_DESC_F_WRITE, 0); /* not RAM at all */
	publish(f, 0);
	assert_int_equal(vq_pop(&f->q, f->e), -EFAULT);
}

static void test_vq_skips_zero_length_buffers(void **state)
{
	struct fx *f = *state;

	enable(f, 0);
	set_desc(f, 0, 0xdead0000ull, 0, VIRTQ_DESC_F_NEXT, 1); /* empty: address unused */
	set_desc(f, 1, BUF, 4, VIRTQ_DESC_F_WRITE, 0);
	publish(f, 0);
	assert_int_equal(vq_pop(&f->q, f->e), 1);
	assert_int_equal(f->e->n_out, 0);
	assert_int_equal(f->e->n_in, 1);
}

static void test_vq_refuses_readable_after_writable(void **state)
{
	struct fx *f = *state;

	enable(f, 0);
	set_desc(f, 0, BUF, 4, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
	set_desc(f, 1, BUF, 4, 0, 0);
	publish(f, 0);
	assert_int_equal(vq_pop(&f->q, f->e), -EINVAL);
}

static void test_vq_refuses_avail_index_more_than_a_ring_ahead(void **state)
{
	struct fx *f = *state;

	enable(f, 0);
	put16(f, AVAIL + 2, 17);
	assert_int_equal(vq_pop(&f->q, f->e), -EINVAL);
	assert_true(f->q.broken);
}

static void test_vq_follows_an_indirect_table(void **state)
{
	struct fx *f = *state;
	uint64_t t = BUF + 0x8000;

	enable(f, all_features());
	set_desc_at(f, t, 0, BUF, 16, VIRTQ_DESC_F_NEXT, 2);
	set_desc_at(f, t, 2, BUF + 0x100, 512, VIRTQ_DESC_F_NEXT, 1);
	set_desc_at(f, t, 1, BUF + 0x400, 1, VIRTQ_DESC_F_WRITE, 0);
	set_desc(f, 4, t, 3 * 16, VIRTQ_DESC_F_INDIRECT, 0);
	publish(f, 4);
	assert_int_equal(vq_pop(&f->q, f->e), 1);
	assert_int_equal(f->e->head, 4);
	assert_int_equal(f->e->n_out, 2);
	assert_int_equal(f->e->n_in, 1);
	assert_int_equal(f->e->out_bytes, 528);
	assert_ptr_equal(f->e->iov[2].iov_base, f->ram + BUF + 0x400);
}

static void test_vq_indirect_refusals(void **state)
{
	struct fx *f = *state;
	uint64_t t = BUF + 0x8000;
	struct {
		uint64_t addr;
		uint32_t len;
		uint16_t flags;
		int err;
		uint64_t feat;
	} cases[] = {
		/* not negotiated */
		{t, 16, VIRTQ_DESC_F_INDIRECT, -EINVAL, 1ull << VIRTIO_F_VERSION_1},
		/* length not a multiple of 16, zero, or too many entries */
		{t, 24, VIRTQ_DESC_F_INDIRECT, -EINVAL, all_features()},
		{t, 0, VIRTQ_DESC_F_INDIRECT, -EINVAL, all_features()},
		{t, 16 * (VQ_MAX_SEGS + 1), VIRTQ_DESC_F_INDIRECT, -EINVAL, all_features()},
		/* INDIRECT together with NEXT */
		{t, 16, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT, -EINVAL, all_features()},
		/* table outside RAM */
		{RAM_SIZE - 16, 32, VIRTQ_DESC_F_INDIRECT, -EFAULT, all_features()},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(f->ram, 0, 0x30000);
		f->avail_idx = 0;
		set_desc_at(f, t, 0, BUF, 16, 0, 0);
		enable(f, cases[i].feat);
		set_desc(f, 0, cases[i].addr, cases[i].len, cases[i].flags, 1);
		set_desc(f, 1, BUF, 4, 0, 0);
		publish(f, 0);
		assert_int_equal(vq_pop(&f->q, f->e), cases[i].err);
		vq_disable(&f->q);
	}
}

static void test_vq_refuses_nested_indirect_and_loops_inside_a_table(void **state)
{
	struct fx *f = *state;
	uint64_t t = BUF + 0x8000;

	enable(f, all_features());
	set_desc_at(f, t, 0, t, 32, VIRTQ_DESC_F_INDIRECT, 0);
	set_desc(f, 0, t, 32, VIRTQ_DESC_F_INDIRECT, 0);
	publish(f, 0);
	assert_int_equal(vq_pop(&f->q, f->e), -EINVAL);
	vq_disable(&f->q);
	memset(f->ram, 0, 0x30000);
	f->avail_idx = 0;
	enable(f, all_features());
	set_desc_at(f, t, 0, BUF, 4, VIRTQ_DESC_F_NEXT, 1);
	set_desc_at(f, t, 1, BUF, 4, VIRTQ_DESC_F_NEXT, 0);
	set_desc(f, 0, t, 32, VIRTQ_DESC_F_INDIRECT, 0);
	publish(f, 0);
	assert_int_equal(vq_pop(&f->q, f->e), -ELOOP);
	/* indirect after a direct descriptor is refused too */
	vq_disable(&f->q);
	memset(f->ram, 0, 0x30000);
	f->avail_idx = 0;
	enable(f, all_features());
	set_desc_at(f, t, 0, BUF, 4, 0, 0);
	set_desc(f, 0, BUF, 4, VIRTQ_DESC_F_NEXT, 1);
	set_desc(f, 1, t, 16, VIRTQ_DESC_F_INDIRECT, 0);
	publish(f, 0);
	assert_int_equal(vq_pop(&f->q, f->e), -EINVAL);
}

static void test_vq_refuses_more_segments_than_the_limit(void **state)
{
	struct fx *f = *state;
	uint32_t i, n = VQ_MAX_SEGS + 1;

	f->size = 2048;
	assert_int_equal(vq_enable(&f->q, &f->mem, f->size, DESC, AVAIL, USED, 0), 0);
	for (i = 0; i < n; i++)
		set_desc(f, (uint16_t)i, BUF + i, 1, i + 1 < n ? VIRTQ_DESC_F_NEXT : 0,
			 (uint16_t)(i + 1));
	publish(f, 0);
	assert_int_equal(vq_pop(&f->q, f->e), -E2BIG);
}

static void test_vq_indices_wrap_around_16_bits(void **state)
{
	struct fx *f = *state;
	int i;

	/* the driver's rings start near the top of the index space */
	put16(f, USED + 2, 65534);
	f->avail_idx = 65534;
	put16(f, AVAIL + 2, 65534);
	enable(f, 0);
	set_desc(f, 1, BUF, 4, 0, 0);
	for (i = 0; i < 4; i++) {
		publish(f, 1);
		assert_int_equal(vq_pop(&f->q, f->e), 1);
		vq_push(&f->q, 1, 0);
	}
	assert_int_equal(get16(f, USED + 2), 2);
	assert_int_equal(vq_pop(&f->q, f->e), 0);
}

static void test_vq_event_idx_suppresses_interrupts(void **state)
{
	struct fx *f = *state;
	uint64_t used_event = AVAIL + 4 + 2u * f->size;
	int i;

	enable(f, all_features());
	set_desc(f, 0, BUF, 4, VIRTQ_DESC_F_WRITE, 0);
	/* the driver wants an interrupt only once used idx passes 3 */
	put16(f, used_event, 3);
	for (i = 0; i < 6; i++)
		publish(f, 0);
	assert_int_equal(vq_pop(&f->q, f->e), 1);
	vq_push(&f->q, 0, 0);
	assert_true(vq_should_notify(&f->q)); /* the first one always */
	for (i = 0; i < 2; i++) {
		assert_int_equal(vq_pop(&f->q, f->e), 1);
		vq_push(&f->q, 0, 0);
		assert_false(vq_should_notify(&f->q)); /* used idx 2, 3 */
	}
	assert_int_equal(vq_pop(&f->q, f->e), 1);
	vq_push(&f->q, 0, 0);
	assert_true(vq_should_notify(&f->q)); /* used idx 4 passed event 3 */
	assert_int_equal(vq_pop(&f->q, f->e), 1);
	vq_push(&f->q, 0, 0);
	assert_false(vq_should_notify(&f->q));
}

static void test_vq_no_interrupt_flag_without_event_idx(void **state)
{
	struct fx *f = *state;

	enable(f, 0);
	set_desc(f, 0, BUF, 4, 0, 0);
	publish(f, 0);
	assert_int_equal(vq_pop(&f->q, f->e), 1);
	vq_push(&f->q, 0, 0);
	assert_true(vq_should_notify(&f->q));
	put16(f, AVAIL, VIRTQ_AVAIL_F_NO_INTERRUPT);
	assert_false(vq_should_notify(&f->q));
}

static void test_vq_notification_control(void **state)
{
	struct fx *f = *state;

	enable(f, 0);
	assert_false(vq_set_notification(&f->q, false));
	assert_int_equal(get16(f, USED), VIRTQ_USED_F_NO_NOTIFY);
	set_desc(f, 0, BUF, 4, 0, 0);
	publish(f, 0);
	/* re-enabling reports the request that came while kicks were off */
	assert_true(vq_set_notification(&f->q, true));
	assert_int_equal(get16(f, USED), 0);
	vq_disable(&f->q);

	memset(f->ram, 0, 0x30000);
	f->avail_idx = 0;
	enable(f, all_features());
	set_desc(f, 0, BUF, 4, 0, 0);
	publish(f, 0);
	publish(f, 0);
	assert_int_equal(vq_pop(&f->q, f->e), 1);
	assert_true(vq_set_notification(&f->q, true));
	/* avail_event = next index the device will look at */
	assert_int_equal(get16(f, USED + 4 + 8u * f->size), 1);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_vq_enable_validates_size_alignment_and_placement),
		T(test_vq_pop_on_empty_ring_returns_zero),
		T(test_vq_pops_a_readable_then_writable_chain),
		T(test_vq_push_fills_the_used_ring),
		T(test_vq_copies_across_segments_with_offsets),
		T(test_vq_refuses_a_descriptor_loop_and_stays_broken),
		T(test_vq_refuses_a_self_loop),
		T(test_vq_refuses_next_and_head_out_of_range),
		T(test_vq_refuses_buffers_outside_guest_ram),
		T(test_vq_skips_zero_length_buffers),
		T(test_vq_refuses_readable_after_writable),
		T(test_vq_refuses_avail_index_more_than_a_ring_ahead),
		T(test_vq_follows_an_indirect_table),
		T(test_vq_indirect_refusals),
		T(test_vq_refuses_nested_indirect_and_loops_inside_a_table),
		T(test_vq_refuses_more_segments_than_the_limit),
		T(test_vq_indices_wrap_around_16_bits),
		T(test_vq_event_idx_suppresses_interrupts),
		T(test_vq_no_interrupt_flag_without_event_idx),
		T(test_vq_notification_control),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
