/* memory: guest RAM: allocation (anonymous, shared memfd, file/hugetlbfs), the split around
 * the 32-bit MMIO hole, KVM memory slots, and bounds-checked guest-physical access. */
#ifndef SV_VMM_MEMORY_H
#define SV_VMM_MEMORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "errmsg.h"

#define GMEM_MAX_REGIONS 4

/* One contiguous piece of guest RAM: guest-physical [gpa, gpa+size) at host address hva. */
struct gmem_region {
	uint64_t gpa;
	uint64_t size;
	uint8_t *hva;
};

/*
 * Guest RAM. Filled by gmem_init and immutable afterwards until gmem_free, so every thread
 * (vCPUs, main loop, device iothreads) may call the accessors below without locking.
 * Regions are sorted by gpa and never overlap.
 */
struct gmem {
	struct gmem_region regions[GMEM_MAX_REGIONS];
	unsigned int nr_regions;
	uint64_t ram_size; /* total bytes of RAM (-m) */
	uint8_t *base;	   /* the single host mapping all regions live in */
	size_t map_len;
	int fd;	     /* backing fd (memfd or -mem-path file), -1 for anonymous */
	bool shared; /* MAP_SHARED: another process (vhost-user) could map fd */
};

/* Where RAM goes in the guest-physical space (supplied by the arch code). */
struct gmem_layout {
	uint64_t ram_base;   /* first byte of RAM (x86: 0) */
	uint64_t hole_start; /* RAM that would reach past here continues at hole_end */
	uint64_t hole_end;   /* (x86: 3 GiB .. 4 GiB, the 32-bit MMIO/PCI hole) */
};

/* How to back RAM: -m, -mem-path, -mem-prealloc, mem-share=on, dump-guest-core=off. */
struct gmem_opts {
	uint64_t size;
	const char *mem_path; /* NULL: anonymous (or memfd when shared) */
	bool prealloc;	      /* touch every page now (MAP_POPULATE) */
	bool shared;	      /* MAP_SHARED over a memfd (or over mem_path) */
	bool dump_core;	      /* false: MADV_DONTDUMP */
	bool hugepages;	      /* anonymous MAP_HUGETLB (set by the caller for hugetlbfs paths) */
};

/* Maps guest RAM per opts and splits it per layout. 0 or -errno with err naming the reason. */
int gmem_init(struct gmem *mem, const struct gmem_opts *opts, const struct gmem_layout *layout,
	      struct errmsg *err);
/* Unmaps and closes; safe on a zeroed or already freed gmem. */
void gmem_free(struct gmem *mem);
/* Registers every region as a KVM memory slot (slots 0..nr_regions-1). 0 or -errno. */
int gmem_kvm_register(const struct gmem *mem, int vm_fd);

/*
 * Host pointer for guest-physical [gpa, gpa+len), or NULL unless that whole range lies in
 * one RAM region (ranges never straddle the MMIO hole). len == 0 returns the pointer for gpa
 * if gpa itself is in RAM. Overflowing gpa+len returns NULL. The pointer stays valid until
 * gmem_free. The guest can change the bytes at any time: copy before validating.
 */
void *gmem_ptr(const struct gmem *mem, uint64_t gpa, uint64_t len);
/* Copies between guest RAM and a host buffer; -EFAULT unless gmem_ptr(gpa, len) is valid. */
int gmem_read(const struct gmem *mem, uint64_t gpa, void *dst, size_t len);
int gmem_write(const struct gmem *mem, uint64_t gpa, const void *src, size_t len);
/* true when [gpa, gpa+len) is entirely RAM. */
bool gmem_contains(const struct gmem *mem, uint64_t gpa, uint64_t len);
/*
 * Gives the host pages behind [gpa, gpa+len) back (balloon inflate, free page reporting):
 * MADV_DONTNEED for private memory, MADV_REMOVE (hole punch) for shared or file memory.
 * The guest reads zeroes there afterwards. Range rounded inward to whole pages. 0 or -errno.
 */
int gmem_discard(const struct gmem *mem, uint64_t gpa, uint64_t len);
/* Total RAM below / above the hole (for e820 and CMOS). */
uint64_t gmem_size_below(const struct gmem *mem, uint64_t limit);

#endif
