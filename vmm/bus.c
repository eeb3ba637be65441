/* bus: range table for PIO/MMIO dispatch, ioeventfd registration and interrupt lines. */
#include "bus.h"

#include <errno.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

struct bus_range {
	uint64_t base;
	uint64_t len;
	const struct bus_ops *ops;
	void *opaque;
	char name[32];
};

struct bus {
	enum bus_space space;
	int vm_fd;
	pthread_rwlock_t lock;	  /* guards ranges/nr/cap; held for reading around handlers */
	struct bus_range *ranges; /* sorted by base, non-overlapping */
	size_t nr, cap;
};

struct bus *bus_new(enum bus_space space, int vm_fd)
{
	struct bus *b = calloc(1, sizeof(*b));
	int ret;

	if (!b)
		return NULL;
	ret = pthread_rwlock_init(&b->lock, NULL);
	if (ret) {
		free(b);
		errno = ret;
		return NULL;
	}
	b->space = space;
	b->vm_fd = vm_fd;
	return b;
}

void bus_free(struct bus *b)
{
	if (!b)
		return;
	pthread_rwlock_destroy(&b->lock);
	free(b->ranges);
	free(b);
}

/* Index of the first range whose end is above addr (binary search). */
static size_t bus_lower(const struct bus *b, uint64_t addr)
{
	size_t lo = 0, hi = b->nr;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (b->ranges[mid].base + b->ranges[mid].len <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int bus_register(struct bus *b, uint64_t base, uint64_t len, const struct bus_ops *ops,
		 void *opaque, const char *name)
{
	uint64_t end;
	size_t i;
	int ret = 0;

	if (!len || !ops || __builtin_add_overflow(base, len, &end))
		return -EINVAL;
	if (b->space == BUS_PIO && end > 0x10000)
		return -EINVAL;
	pthread_rwlock_wrlock(&b->lock);
	i = bus_lower(b, base);
	if (i < b->nr && b->ranges[i].base < end) {
		ret = -EEXIST;
		goto out;
	}
	if (b->nr == b->cap) {
		size_t ncap = b->cap ? b->cap * 2 : 16;
		struct bus_range *n = realloc(b->ranges, ncap * sizeof(*n));

		if (!n) {
			ret = -ENOMEM;
			goto out;
		}
		b->ranges = n;
		b->cap = ncap;
	}
	memmove(&b->ranges[i + 1], &b->ranges[i], (b->nr - i) * sizeof(b->ranges[0]));
	b->ranges[i] = (struct bus_range){.base = base, .len = len, .ops = ops, .opaque = opaque};
	snprintf(b->ranges[i].name, sizeof(b->ranges[i].name), "%s", name ? name : "?");
	b->nr++;
out:
	pthread_rwlock_unlock(&b->lock);
	return ret;
}

int bus_unregister(struct bus *b, uint64_t base)
{
	size_t i;
	int ret = -ENOENT;

	pthread_rwlock_wrlock(&b->lock);
	i = bus_lower(b, base);
	if (i < b->nr && b->ranges[i].base == base) {
		memmove(&b->ranges[i], &b->ranges[i + 1], (b->nr - i - 1) * sizeof(b->ranges[0]));
		b->nr--;
		ret = 0;
	}
	pthread_rwlock_unlock(&b->lock);
	return ret;
}

static const struct bus_range *bus_find(const struct bus *b, uint64_t addr, uint32_t len)
{
	size_t i = bus_lower(b, addr);
	const struct bus_range *r;

	if (i >= b->nr)
		return NULL;
	r = &b->ranges[i];
	if (addr < r->base || len > r->len || addr - r->base > r->len - len)
		return NULL;
	return r;
}

bool bus_read(struct bus *b, uint64_t addr, uint8_t *data, uint32_t len)
{
	const struct bus_range *r;
	bool hit = false;

	pthread_rwlock_rdlock(&b->lock);
	r = bus_find(b, addr, len);
	if (r && r->ops->read) {
		r->ops->read(r->opaque, addr - r->base, data, len);
		hit = true;
	} else {
		memset(data, 0xff, len);
		hit = r != NULL;
	}
	pthread_rwlock_unlock(&b->lock);
	return hit;
}

bool bus_write(struct bus *b, uint64_t addr, const uint8_t *data, uint32_t len)
{
	const struct bus_range *r;
	bool hit = false;

	pthread_rwlock_rdlock(&b->lock);
	r = bus_find(b, addr, len);
	if (r) {
		if (r->ops->write)
			r->ops->write(r->opaque, addr - r->base, data, len);
		hit = true;
	}
	pthread_rwlock_unlock(&b->lock);
	return hit;
}

int bus_ioeventfd(struct bus *b, uint64_t addr, uint32_t len, int efd, bool datamatch,
		  uint64_t data, bool assign)
{
	struct kvm_ioeventfd io = {
		.datamatch = data,
		.addr = addr,
		.len = len,
		.fd = efd,
	};

	if (b->vm_fd < 0)
		return -ENODEV;
	if (len != 0 && len != 1 && len != 2 && len != 4 && len != 8)
		return -EINVAL;
	if (b->space == BUS_PIO) {
		if (len == 0)
			return -EINVAL;
		io.flags |= KVM_IOEVENTFD_FLAG_PIO;
	}
	if (datamatch)
		io.flags |= KVM_IOEVENTFD_FLAG_DATAMATCH;
	if (!assign)
		io.flags |= KVM_IOEVENTFD_FLAG_DEASSIGN;
	if (ioctl(b->vm_fd, KVM_IOEVENTFD, &io) < 0)
		return -errno;
	return 0;
}

int irq_line_set(const struct irq_line *l, bool level)
{
	struct kvm_irq_level irq = {.irq = l->gsi, .level = level ? 1 : 0};

	if (ioctl(l->vm_fd, KVM_IRQ_LINE, &irq) < 0)
		return -errno;
	return 0;
}

int irq_line_pulse(const struct irq_line *l)
{
	int ret = irq_line_set(l, true);

	if (ret)
		return ret;
	return irq_line_set(l, false);
}

int irq_line_irqfd_attach(const struct irq_line *l, int efd, int resample_fd)
{
	struct kvm_irqfd f = {.fd = (uint32_t)efd, .gsi = l->gsi};

	if (resample_fd >= 0) {
		f.flags = KVM_IRQFD_FLAG_RESAMPLE;
		f.resamplefd = (uint32_t)resample_fd;
	}
	if (ioctl(l->vm_fd, KVM_IRQFD, &f) < 0)
		return -errno;
	return 0;
}

int irq_line_irqfd_detach(const struct irq_line *l, int efd)
{
	struct kvm_irqfd f = {.fd = (uint32_t)efd, .gsi = l->gsi, .flags = KVM_IRQFD_FLAG_DEASSIGN};

	if (ioctl(l->vm_fd, KVM_IRQFD, &f) < 0)
		return -errno;
	return 0;
}
