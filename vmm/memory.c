/* memory: guest RAM allocation, layout around the MMIO hole, KVM slots and checked access. */
#include "memory.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

static int gmem_open_backing(const struct gmem_opts *o, struct errmsg *err)
{
	struct stat st;
	char tmpl[4096];
	int fd;

	if (!o->mem_path) {
		fd = memfd_create("splitvm-ram", MFD_CLOEXEC);
		if (fd < 0) {
			errmsg_set(err, "memfd_create: %s", strerror(errno));
			return -errno;
		}
		return fd;
	}
	if (stat(o->mem_path, &st) == 0 && S_ISDIR(st.st_mode)) {
		/* A directory (hugetlbfs mount): an unlinked file inside it. */
		if (snprintf(tmpl, sizeof(tmpl), "%s/splitvm-ram.XXXXXX", o->mem_path) >=
		    (int)sizeof(tmpl)) {
			errmsg_set(err, "-mem-path %s: path too long", o->mem_path);
			return -ENAMETOOLONG;
		}
		fd = mkostemp(tmpl, O_CLOEXEC);
		if (fd < 0) {
			errmsg_set(err, "-mem-path %s: %s", o->mem_path, strerror(errno));
			return -errno;
		}
		unlink(tmpl);
		return fd;
	}
	fd = open(o->mem_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		errmsg_set(err, "-mem-path %s: %s", o->mem_path, strerror(errno));
		return -errno;
	}
	return fd;
}

int gmem_init(struct gmem *mem, const struct gmem_opts *o, const struct gmem_layout *lay,
	      struct errmsg *err)
{
	uint64_t below, above, top;
	int flags = 0, ret;
	void *p;

	memset(mem, 0, sizeof(*mem));
	mem->fd = -1;
	if (o->size == 0 || o->size % 4096 || lay->hole_start < lay->ram_base ||
	    lay->hole_end < lay->hole_start) {
		errmsg_set(err, "memory size %llu: not a positive multiple of 4 KiB",
			   (unsigned long long)o->size);
		return -EINVAL;
	}
	if ((uint64_t)(size_t)o->size != o->size) {
		errmsg_set(err, "memory size too large for this host");
		return -ERANGE;
	}
	below = lay->hole_start - lay->ram_base;
	if (below > o->size)
		below = o->size;
	above = o->size - below;
	if (above && __builtin_add_overflow(lay->hole_end, above, &top)) {
		errmsg_set(err, "memory size too large for the guest address space");
		return -ERANGE;
	}

	if (o->mem_path || o->shared) {
		ret = gmem_open_backing(o, err);
		if (ret < 0)
			return ret;
		mem->fd = ret;
		if (ftruncate(mem->fd, (off_t)o->size) < 0) {
			ret = -errno;
			errmsg_set(err, "%s: cannot size to %llu bytes: %s",
				   o->mem_path ? o->mem_path : "memfd", (unsigned long long)o->size,
				   strerror(errno));
			goto err_close;
		}
		flags = o->shared ? MAP_SHARED : MAP_PRIVATE;
	} else {
		flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
		if (o->hugepages)
			flags |= MAP_HUGETLB;
	}
	if (o->prealloc)
		flags |= MAP_POPULATE;
	p = mmap(NULL, o->size, PROT_READ | PROT_WRITE, flags, mem->fd, 0);
	if (p == MAP_FAILED) {
		ret = -errno;
		errmsg_set(err, "cannot map %llu bytes of guest memory: %s",
			   (unsigned long long)o->size, strerror(errno));
		goto err_close;
	}
	mem->base = p;
	mem->map_len = o->size;
	mem->ram_size = o->size;
	mem->shared = o->shared;
	if (!o->dump_core && madvise(p, o->size, MADV_DONTDUMP) < 0) {
		ret = -errno;
		errmsg_set(err, "madvise(MADV_DONTDUMP): %s", strerror(errno));
		goto err_unmap;
	}
	/* Transparent huge pages cut EPT/NPT misses; failure is harmless. */
	if (!o->mem_path && !o->hugepages)
		(void)madvise(p, o->size, MADV_HUGEPAGE);

	mem->regions[0] = (struct gmem_region){lay->ram_base, below, mem->base};
	mem->nr_regions = 1;
	if (above) {
		mem->regions[1] = (struct gmem_region){lay->hole_end, above, mem->base + below};
		mem->nr_regions = 2;
	}
	return 0;

err_unmap:
	munmap(mem->base, mem->map_len);
	mem->base = NULL;
err_close:
	if (mem->fd >= 0)
		close(mem->fd);
	mem->fd = -1;
	return ret;
}

void gmem_free(struct gmem *mem)
{
	if (mem->base)
		munmap(mem->base, mem->map_len);
	if (mem->fd >= 0 && mem->base)
		close(mem->fd);
	mem->base = NULL;
	mem->fd = -1;
	mem->nr_regions = 0;
}

int gmem_kvm_register(const struct gmem *mem, int vm_fd)
{
	unsigned int i;

	for (i = 0; i < mem->nr_regions; i++) {
		struct kvm_userspace_memory_region r = {
			.slot = i,
			.guest_phys_addr = mem->regions[i].gpa,
			.memory_size = mem->regions[i].size,
			.userspace_addr = (uintptr_t)mem->regions[i].hva,
		};
		if (ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0)
			return -errno;
	}
	return 0;
}

void *gmem_ptr(const struct gmem *mem, uint64_t gpa, uint64_t len)
{
	unsigned int i;
	uint64_t end;

	if (__builtin_add_overflow(gpa, len, &end))
		return NULL;
	for (i = 0; i < mem->nr_regions; i++) {
		const struct gmem_region *r = &mem->regions[i];

		if (gpa < r->gpa || gpa - r->gpa >= r->size)
			continue;
		if (end - r->gpa > r->size)
			return NULL;
		return r->hva + (gpa - r->gpa);
	}
	return NULL;
}

bool gmem_contains(const struct gmem *mem, uint64_t gpa, uint64_t len)
{
	return gmem_ptr(mem, gpa, len) != NULL;
}

int gmem_read(const struct gmem *mem, uint64_t gpa, void *dst, size_t len)
{
	void *p = gmem_ptr(mem, gpa, len);

	if (!p)
		return -EFAULT;
	memcpy(dst, p, len);
	return 0;
}

int gmem_write(const struct gmem *mem, uint64_t gpa, const void *src, size_t len)
{
	void *p = gmem_ptr(mem, gpa, len);

	if (!p)
		return -EFAULT;
	memcpy(p, src, len);
	return 0;
}

int gmem_discard(const struct gmem *mem, uint64_t gpa, uint64_t len)
{
	uint64_t start, end, page = 4096;
	uint8_t *p;

	if (__builtin_add_overflow(gpa, len, &end) || !gmem_contains(mem, gpa, len))
		return -EFAULT;
	start = (gpa + page - 1) & ~(page - 1);
	end &= ~(page - 1);
	if (end <= start)
		return 0;
	p = gmem_ptr(mem, start, end - start);
	if (!p)
		return -EFAULT;
	if (madvise(p, end - start, (mem->fd >= 0) ? MADV_REMOVE : MADV_DONTNEED) < 0)
		return -errno;
	return 0;
}

uint64_t gmem_size_below(const struct gmem *mem, uint64_t limit)
{
	uint64_t total = 0;
	unsigned int i;

	for (i = 0; i < mem->nr_regions; i++) {
		const struct gmem_region *r = &mem->regions[i];

		if (r->gpa >= limit)
			continue;
		total += (limit - r->gpa < r->size) ? limit - r->gpa : r->size;
	}
	return total;
}
