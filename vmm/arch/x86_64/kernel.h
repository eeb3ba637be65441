/* kernel: validation of x86 kernel images (bzImage setup header, ELF vmlinux with a PVH
 * entry note) and the e820 map; pure functions over bytes, fuzzed and unit tested. */
#ifndef SV_VMM_X86_KERNEL_H
#define SV_VMM_X86_KERNEL_H

#include <stddef.h>
#include <stdint.h>

#include "errmsg.h"

#define X86_KERNEL_MAX_SEGS 16

enum x86_kernel_kind {
	X86_KERNEL_BZIMAGE,
	X86_KERNEL_PVH_ELF,
};

struct x86_kernel_seg {
	uint64_t file_off; /* bytes [file_off, file_off+filesz) of the image */
	uint64_t filesz;
	uint64_t paddr; /* loaded at guest-physical paddr; memsz-filesz zero bytes follow */
	uint64_t memsz;
};

struct x86_kernel_info {
	enum x86_kernel_kind kind;
	/* bzImage */
	uint16_t version;	  /* boot protocol, e.g. 0x020f */
	uint32_t setup_size;	  /* (setup_sects + 1) * 512 */
	uint32_t hdr_len;	  /* bytes of setup header at 0x1f1 to copy into boot_params */
	uint32_t initrd_addr_max; /* highest byte an initrd may occupy */
	uint32_t cmdline_size;	  /* longest command line without the NUL */
	uint32_t init_size;	  /* memory the kernel needs from its load address */
	uint8_t loadflags;
	uint16_t xloadflags;
	/* both: what to copy where */
	struct x86_kernel_seg segs[X86_KERNEL_MAX_SEGS];
	unsigned int nr_segs;
	uint64_t entry;	   /* bzImage: 64-bit entry; PVH: 32-bit entry */
	uint64_t load_end; /* highest guest-physical byte (exclusive) the kernel occupies */
};

/*
 * Recognises and validates a kernel image held in img[0..len). load_addr is where a bzImage's
 * protected-mode part goes (1 MiB). Returns 0, or -ENOEXEC (not a kernel this machine boots),
 * -EINVAL (malformed or truncated) with e saying why, e.g. "truncated: header says 5242880
 * bytes of kernel, file has 4096".
 */
int x86_kernel_parse(const uint8_t *img, size_t len, uint64_t load_addr,
		     struct x86_kernel_info *out, struct errmsg *e);

/* e820 entry types. */
#define E820_RAM      1
#define E820_RESERVED 2

struct x86_e820 {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
};

struct gmem;
/*
 * The e820 map for guest RAM: low RAM up to the EBDA, the EBDA reserved (MP table), the
 * ISA hole left out, RAM from 1 MiB to the end of RAM below the MMIO hole, and RAM above
 * 4 GiB. Returns the number of entries written (at most max), or -ENOSPC.
 */
int x86_e820_build(const struct gmem *mem, struct x86_e820 *out, size_t max);

#endif
