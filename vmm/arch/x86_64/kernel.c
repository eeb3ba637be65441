/* kernel: bzImage setup-header and ELF/PVH validation, e820 map construction. */
#include "kernel.h"

#include <elf.h>
#include <errno.h>
#include <string.h>

#include "layout.h"
#include "vmm/memory.h"

#define BZ_HDR_OFF	    0x1f1
#define BZ_BOOT_FLAG	    0x1fe
#define BZ_HEADER	    0x202
#define BZ_JUMP		    0x200
#define BZ_VERSION	    0x206
#define BZ_LOADFLAGS	    0x211
#define BZ_SYSSIZE	    0x1f4
#define BZ_INITRD_MAX	    0x22c
#define BZ_XLOADFLAGS	    0x236
#define BZ_CMDLINE_SIZE	    0x238
#define BZ_INIT_SIZE	    0x260
#define BZ_SETUP_HEADER_END 0x26c /* 0x1f1 + sizeof(struct setup_header), protocol 2.15 */
#define BZ_LOADED_HIGH	    0x01
#define BZ_XLF_KERNEL_64    0x01
#define BZ_ENTRY64_OFF	    0x200

#define XEN_ELFNOTE_PHYS32_ENTRY 18

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

static int bz_parse(const uint8_t *img, size_t len, uint64_t load_addr, struct x86_kernel_info *k,
		    struct errmsg *e)
{
	uint32_t sects, syssize, hdr_end, pm_len;
	uint64_t need, mem;

	k->kind = X86_KERNEL_BZIMAGE;
	k->version = le16(img + BZ_VERSION);
	if (k->version < 0x020c) {
		errmsg_set(e, "boot protocol %u.%02u too old (need 2.12 for a 64-bit entry)",
			   k->version >> 8, k->version & 0xff);
		return -ENOEXEC;
	}
	k->loadflags = img[BZ_LOADFLAGS];
	k->xloadflags = le16(img + BZ_XLOADFLAGS);
	if (!(k->loadflags & BZ_LOADED_HIGH)) {
		errmsg_set(e, "not a bzImage (zImage kernels loaded at 64 KiB are not supported)");
		return -ENOEXEC;
	}
	if (!(k->xloadflags & BZ_XLF_KERNEL_64)) {
		errmsg_set(e, "kernel has no 64-bit entry point (XLF_KERNEL_64 not set)");
		return -ENOEXEC;
	}
	sects = img[BZ_HDR_OFF];
	if (sects == 0)
		sects = 4;
	k->setup_size = (sects + 1) * 512;
	/* The header ends where the jump at 0x200 lands (0x202 + its 8-bit displacement). */
	hdr_end = BZ_HEADER + img[BZ_JUMP + 1];
	if (hdr_end > BZ_SETUP_HEADER_END)
		hdr_end = BZ_SETUP_HEADER_END;
	if (hdr_end < BZ_INIT_SIZE + 4) {
		errmsg_set(e, "setup header too short (ends at 0x%x)", hdr_end);
		return -EINVAL;
	}
	k->hdr_len = hdr_end - BZ_HDR_OFF;
	if (k->setup_size > len) {
		errmsg_set(e, "truncated: %u bytes of setup code, file has %zu", k->setup_size,
			   len);
		return -EINVAL;
	}
	syssize = le32(img + BZ_SYSSIZE);
	pm_len = (uint32_t)((len - k->setup_size) > UINT32_MAX ? UINT32_MAX : len - k->setup_size);
	/* syssize is rounded up to 16-byte units: allow the last unit to be partial. */
	if ((uint64_t)syssize * 16 > (uint64_t)pm_len + 15) {
		errmsg_set(e, "truncated: header says %llu bytes of kernel, file has %u",
			   (unsigned long long)syssize * 16, pm_len);
		return -EINVAL;
	}
	if (pm_len == 0) {
		errmsg_set(e, "truncated: no protected-mode kernel after the setup code");
		return -EINVAL;
	}
	k->initrd_addr_max = le32(img + BZ_INITRD_MAX);
	k->cmdline_size = le32(img + BZ_CMDLINE_SIZE);
	k->init_size = le32(img + BZ_INIT_SIZE);
	k->segs[0] = (struct x86_kernel_seg){k->setup_size, pm_len, load_addr, pm_len};
	k->nr_segs = 1;
	mem = pm_len > k->init_size ? pm_len : k->init_size;
	if (__builtin_add_overflow(load_addr, mem, &need)) {
		errmsg_set(e, "kernel size overflows");
		return -EINVAL;
	}
	k->load_end = need;
	k->entry = load_addr + BZ_ENTRY64_OFF;
	return 0;
}

/* Finds XEN_ELFNOTE_PHYS32_ENTRY in one PT_NOTE segment's bytes. 1 found, 0 not, <0 bad. */
static int pvh_find_note(const uint8_t *p, uint64_t len, uint64_t *entry, struct errmsg *e)
{
	uint64_t off = 0;

	while (len - off >= 12) {
		uint32_t namesz = le32(p + off), descsz = le32(p + off + 4);
		uint32_t type = le32(p + off + 8);
		uint64_t name_al = ((uint64_t)namesz + 3) & ~3ull;
		uint64_t desc_al = ((uint64_t)descsz + 3) & ~3ull;
		const uint8_t *name = p + off + 12;

		off += 12;
		if (name_al > len - off || desc_al > len - off - name_al) {
			errmsg_set(e, "ELF note runs past its segment");
			return -EINVAL;
		}
		if (type == XEN_ELFNOTE_PHYS32_ENTRY && namesz == 4 &&
		    memcmp(name, "Xen", 4) == 0) {
			const uint8_t *d = name + name_al;

			if (descsz == 4)
				*entry = le32(d);
			else if (descsz == 8)
				*entry = le64(d);
			else {
				errmsg_set(e, "PVH entry note has %u bytes (want 4 or 8)", descsz);
				return -EINVAL;
			}
			return 1;
		}
		off += name_al + desc_al;
	}
	return 0;
}

static int elf_parse(const uint8_t *img, size_t len, struct x86_kernel_info *k, struct errmsg *e)
{
	uint64_t phoff, entry = 0, end;
	uint16_t phnum, phentsize, i;
	bool found = false;
	int ret;

	k->kind = X86_KERNEL_PVH_ELF;
	if (len < sizeof(Elf64_Ehdr)) {
		errmsg_set(e, "truncated ELF header");
		return -EINVAL;
	}
	if (img[EI_CLASS] != ELFCLASS64 || img[EI_DATA] != ELFDATA2LSB) {
		errmsg_set(e, "not a 64-bit little-endian ELF file");
		return -ENOEXEC;
	}
	if (le16(img + offsetof(Elf64_Ehdr, e_machine)) != EM_X86_64) {
		errmsg_set(e, "ELF file is not for x86_64");
		return -ENOEXEC;
	}
	phoff = le64(img + offsetof(Elf64_Ehdr, e_phoff));
	phentsize = le16(img + offsetof(Elf64_Ehdr, e_phentsize));
	phnum = le16(img + offsetof(Elf64_Ehdr, e_phnum));
	if (phentsize != sizeof(Elf64_Phdr) || phnum == 0 || phoff > len ||
	    (uint64_t)phnum * phentsize > len - phoff) {
		errmsg_set(e, "bad or truncated ELF program headers");
		return -EINVAL;
	}
	k->nr_segs = 0;
	k->load_end = 0;
	for (i = 0; i < phnum; i++) {
		const uint8_t *ph = img + phoff + (uint64_t)i * phentsize;
		uint32_t type = le32(ph + offsetof(Elf64_Phdr, p_type));
		uint64_t off = le64(ph + offsetof(Elf64_Phdr, p_offset));
		uint64_t filesz = le64(ph + offsetof(Elf64_Phdr, p_filesz));
		uint64_t memsz = le64(ph + offsetof(Elf64_Phdr, p_memsz));
		uint64_t paddr = le64(ph + offsetof(Elf64_Phdr, p_paddr));

		if (type != PT_LOAD && type != PT_NOTE)
			continue;
		if (off > len || filesz > len - off) {
			errmsg_set(e,
				   "truncated: ELF segment %u needs bytes up to %llu, file has %zu",
				   i, (unsigned long long)(off + filesz), len);
			return -EINVAL;
		}
		if (type == PT_NOTE) {
			ret = pvh_find_note(img + off, filesz, &entry, e);
			if (ret < 0)
				return ret;
			found = found || ret == 1;
			continue;
		}
		if (filesz > memsz || __builtin_add_overflow(paddr, memsz, &end)) {
			errmsg_set(e, "ELF segment %u has a bad size", i);
			return -EINVAL;
		}
		if (memsz == 0)
			continue;
		if (k->nr_segs == X86_KERNEL_MAX_SEGS) {
			errmsg_set(e, "more than %d ELF load segments", X86_KERNEL_MAX_SEGS);
			return -EINVAL;
		}
		k->segs[k->nr_segs++] = (struct x86_kernel_seg){off, filesz, paddr, memsz};
		if (end > k->load_end)
			k->load_end = end;
	}
	if (!found) {
		errmsg_set(e, "ELF kernel has no PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY)");
		return -ENOEXEC;
	}
	if (k->nr_segs == 0) {
		errmsg_set(e, "ELF kernel has nothing to load");
		return -EINVAL;
	}
	k->entry = entry;
	return 0;
}

int x86_kernel_parse(const uint8_t *img, size_t len, uint64_t load_addr,
		     struct x86_kernel_info *out, struct errmsg *e)
{
	memset(out, 0, sizeof(*out));
	if (len == 0) {
		errmsg_set(e, "empty file");
		return -EINVAL;
	}
	if (len >= 4 && memcmp(img, ELFMAG, SELFMAG) == 0)
		return elf_parse(img, len, out, e);
	if (len >= BZ_SETUP_HEADER_END && memcmp(img + BZ_HEADER, "HdrS", 4) == 0) {
		if (le16(img + BZ_BOOT_FLAG) != 0xaa55) {
			errmsg_set(e, "bad boot sector signature");
			return -EINVAL;
		}
		return bz_parse(img, len, load_addr, out, e);
	}
	if (len < BZ_SETUP_HEADER_END && len >= 4 && memcmp(img, "MZ", 2) == 0) {
		errmsg_set(e, "truncated: %zu bytes is too short for a bzImage header", len);
		return -EINVAL;
	}
	errmsg_set(e, "not a Linux kernel (no bzImage \"HdrS\" header, not an ELF file)");
	return -ENOEXEC;
}

int x86_e820_build(const struct gmem *mem, struct x86_e820 *out, size_t max)
{
	size_t n = 0;
	unsigned int i;

#define E820_ADD(a, s, t)                                    \
	do {                                                 \
		if (n == max)                                \
			return -ENOSPC;                      \
		out[n++] = (struct x86_e820){(a), (s), (t)}; \
	} while (0)

	for (i = 0; i < mem->nr_regions; i++) {
		const struct gmem_region *r = &mem->regions[i];
		uint64_t end = r->gpa + r->size;

		if (r->gpa == 0) {
			/* Low RAM, the EBDA (MP table), then the ISA hole 640K..1M is left out. */
			E820_ADD(0, end < X86_EBDA_START ? end : X86_EBDA_START, E820_RAM);
			if (end > X86_EBDA_START)
				E820_ADD(X86_EBDA_START, 0xa0000 - X86_EBDA_START, E820_RESERVED);
			if (end > X86_HIMEM_START)
				E820_ADD(X86_HIMEM_START, end - X86_HIMEM_START, E820_RAM);
		} else {
			E820_ADD(r->gpa, r->size, E820_RAM);
		}
	}
#undef E820_ADD
	return (int)n;
}
