/* boot: loads a bzImage (64-bit boot protocol) or a PVH ELF kernel, the initrd and command
 * line, and writes boot_params / hvm_start_info, e820, GDT, identity page tables, MP table. */
#include <asm/bootparam.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "acpi.h"
#include "kernel.h"
#include "layout.h"
#include "log.h"
#include "vmm/arch.h"
#include "x86.h"

#define PVH_START_MAGIC	 0x336ec578u
#define PVH_MODLIST_ADDR (X86_PVH_INFO_ADDR + 0x40)
#define PVH_MEMMAP_ADDR	 (X86_PVH_INFO_ADDR + 0x80)
#define X86_E820_MAX	 32
#define BOOT_PROTO_RSDP	 0x020e /* boot_params.acpi_rsdp_addr (0x070) is read from 2.14 on */

/* Where the guest finds the RSDP: the kernel then skips its legacy EBDA/BIOS-area scan, and a
 * PVH kernel (no BIOS area at all) has no other way. 0 tells it there are no tables. */
static uint64_t boot_rsdp_addr(const struct machine *m)
{
	return m->cfg->machine.acpi ? ACPI_TABLES_ADDR : 0;
}

/* Maps a whole file read-only; a missing, unreadable, special or empty file is refused. */
static int map_file(const char *opt, const char *path, const uint8_t **out, size_t *len,
		    struct errmsg *e)
{
	struct stat st;
	void *p;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		errmsg_set(e, "%s %s: %s", opt, path, strerror(errno));
		return -errno;
	}
	if (fstat(fd, &st) < 0) {
		errmsg_set(e, "%s %s: %s", opt, path, strerror(errno));
		close(fd);
		return -errno;
	}
	if (S_ISDIR(st.st_mode)) {
		errmsg_set(e, "%s %s: is a directory", opt, path);
		close(fd);
		return -EISDIR;
	}
	if (!S_ISREG(st.st_mode)) {
		errmsg_set(e, "%s %s: not a regular file", opt, path);
		close(fd);
		return -EINVAL;
	}
	if (st.st_size == 0) {
		*out = NULL;
		*len = 0;
		close(fd);
		return 0;
	}
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (p == MAP_FAILED) {
		errmsg_set(e, "%s %s: %s", opt, path, strerror(errno));
		return -errno;
	}
	*out = p;
	*len = (size_t)st.st_size;
	return 0;
}

void x86_boot_free(struct machine *m)
{
	struct arch_machine *a = m->arch;

	if (a->kimg)
		munmap((void *)a->kimg, a->kimg_len);
	if (a->initrd)
		munmap((void *)a->initrd, a->initrd_len);
	a->kimg = a->initrd = NULL;
}

/* GDT: null, code (64-bit for the Linux entry, 32-bit for PVH), data, TSS. */
static int write_gdt(struct machine *m, bool lm)
{
	uint64_t gdt[4] = {
		0,
		lm ? 0x00af9b000000ffffull : 0x00cf9b000000ffffull,
		0x00cf93000000ffffull,
		0x00808b0000000067ull,
	};
	uint64_t idt = 0;
	int ret = gmem_write(&m->mem, X86_GDT_ADDR, gdt, sizeof(gdt));

	return ret ? ret : gmem_write(&m->mem, X86_IDT_ADDR, &idt, sizeof(idt));
}

/* Identity map of the first 4 GiB with 2 MiB pages (PML4 -> PDPT -> 4 page directories). */
static int write_page_tables(struct machine *m)
{
	uint64_t *pml4 = gmem_ptr(&m->mem, X86_PML4_ADDR, 4096);
	uint64_t *pdpt = gmem_ptr(&m->mem, X86_PDPT_ADDR, 4096);
	uint64_t *pd = gmem_ptr(&m->mem, X86_PD_ADDR, 4 * 4096);
	uint64_t i;

	if (!pml4 || !pdpt || !pd)
		return -EFAULT;
	memset(pml4, 0, 4096);
	memset(pdpt, 0, 4096);
	pml4[0] = X86_PDPT_ADDR | 0x3;
	for (i = 0; i < 4; i++)
		pdpt[i] = (X86_PD_ADDR + i * 4096) | 0x3;
	for (i = 0; i < 4 * 512; i++)
		pd[i] = (i << 21) | 0x83; /* present, writable, 2 MiB page */
	return 0;
}

/* Builds the command line: -append, then what devices added. */
static int write_cmdline(struct machine *m, uint32_t limit, uint64_t *len_out, struct errmsg *e)
{
	const char *app = m->cfg->append ? m->cfg->append : "";
	const char *extra = m->cmdline_extra;
	size_t alen = strlen(app), elen = strlen(extra), total;
	char *dst;

	if (alen == 0 && elen && extra[0] == ' ')
		extra++, elen--;
	total = alen + elen;
	if (total + 1 > limit || total + 1 > X86_CMDLINE_MAX) {
		errmsg_set(e,
			   "-append: kernel command line is %zu bytes, the kernel takes at most %u",
			   total, (limit < X86_CMDLINE_MAX ? limit : X86_CMDLINE_MAX) - 1);
		return -E2BIG;
	}
	dst = gmem_ptr(&m->mem, X86_CMDLINE_ADDR, total + 1);
	if (!dst)
		return -EFAULT;
	memcpy(dst, app, alen);
	memcpy(dst + alen, extra, elen);
	dst[total] = 0;
	*len_out = total;
	return 0;
}

/* Places the initrd at the highest page-aligned address below max_end that clears the kernel. */
static int place_initrd(struct machine *m, uint64_t min, uint64_t max_end, struct errmsg *e)
{
	struct arch_machine *a = m->arch;
	uint64_t top = gmem_size_below(&m->mem, X86_HOLE_START), addr;

	if (!a->initrd_len)
		return 0;
	if (max_end < top)
		top = max_end;
	if (a->initrd_len > top || ((top - a->initrd_len) & ~0xfffull) < min) {
		errmsg_set(e,
			   "-initrd %s: too large for guest memory (%zu bytes; at most %llu fit "
			   "between the kernel and %#llx)",
			   m->cfg->initrd, a->initrd_len,
			   (unsigned long long)(top > min ? top - min : 0),
			   (unsigned long long)top);
		return -E2BIG;
	}
	addr = (top - a->initrd_len) & ~0xfffull;
	if (gmem_write(&m->mem, addr, a->initrd, a->initrd_len))
		return -EFAULT;
	a->initrd_addr = addr;
	return 0;
}

static int load_segments(struct machine *m, const struct x86_kernel_info *k, struct errmsg *e)
{
	unsigned int i;

	for (i = 0; i < k->nr_segs; i++) {
		const struct x86_kernel_seg *s = &k->segs[i];
		uint8_t *dst = gmem_ptr(&m->mem, s->paddr, s->memsz);

		if (!dst || s->paddr < X86_HIMEM_START) {
			errmsg_set(e,
				   "-kernel %s: needs guest memory %#llx-%#llx, below 1 MiB or "
				   "outside RAM",
				   m->cfg->kernel, (unsigned long long)s->paddr,
				   (unsigned long long)(s->paddr + s->memsz));
			return -E2BIG;
		}
		memcpy(dst, m->arch->kimg + s->file_off, s->filesz);
		memset(dst + s->filesz, 0, s->memsz - s->filesz);
	}
	return 0;
}

static int boot_linux64(struct machine *m, const struct x86_kernel_info *k, struct errmsg *e)
{
	struct arch_machine *a = m->arch;
	struct x86_e820 map[X86_E820_MAX];
	struct boot_params *bp;
	uint64_t cmdlen; /* cmdline_size is the kernel's limit: left as the image has it */
	int n, i, ret;

	if (!gmem_contains(&m->mem, X86_HIMEM_START, k->load_end - X86_HIMEM_START)) {
		errmsg_set(e, "-kernel %s: needs %llu MiB from 1 MiB up, more than guest memory",
			   m->cfg->kernel, (unsigned long long)(k->load_end >> 20));
		return -E2BIG;
	}
	ret = load_segments(m, k, e);
	if (ret)
		return ret;
	bp = gmem_ptr(&m->mem, X86_ZERO_PAGE_ADDR, sizeof(*bp));
	if (!bp)
		return -EFAULT;
	memset(bp, 0, sizeof(*bp));
	memcpy((uint8_t *)bp + 0x1f1, a->kimg + 0x1f1, k->hdr_len);
	bp->hdr.type_of_loader = 0xff;
	bp->hdr.loadflags |= CAN_USE_HEAP;
	bp->hdr.heap_end_ptr = 0xfe00;
	bp->hdr.vid_mode = 0xffff;
	if (k->version >= BOOT_PROTO_RSDP)
		bp->acpi_rsdp_addr = boot_rsdp_addr(m);
	ret = write_cmdline(m, k->cmdline_size ? k->cmdline_size + 1 : 256, &cmdlen, e);
	if (ret)
		return ret;
	bp->hdr.cmd_line_ptr = X86_CMDLINE_ADDR;
	ret = place_initrd(m, k->load_end, (uint64_t)k->initrd_addr_max + 1, e);
	if (ret)
		return ret;
	if (a->initrd_len) {
		bp->hdr.ramdisk_image = (uint32_t)a->initrd_addr;
		bp->hdr.ramdisk_size = (uint32_t)a->initrd_len;
	}
	n = x86_e820_build(&m->mem, map, X86_E820_MAX);
	if (n < 0)
		return n;
	for (i = 0; i < n; i++) {
		bp->e820_table[i].addr = map[i].addr;
		bp->e820_table[i].size = map[i].size;
		bp->e820_table[i].type = map[i].type;
	}
	bp->e820_entries = (uint8_t)n;
	a->boot_kind = X86_BOOT_LINUX64;
	a->entry = k->entry;
	return 0;
}

struct pvh_start_info {
	uint32_t magic, version, flags, nr_modules;
	uint64_t modlist_paddr, cmdline_paddr, rsdp_paddr, memmap_paddr;
	uint32_t memmap_entries, reserved;
};

struct pvh_modlist_entry {
	uint64_t paddr, size, cmdline_paddr, reserved;
};

struct pvh_memmap_entry {
	uint64_t addr, size;
	uint32_t type, reserved;
};

static int boot_pvh(struct machine *m, const struct x86_kernel_info *k, struct errmsg *e)
{
	struct arch_machine *a = m->arch;
	struct x86_e820 map[X86_E820_MAX];
	struct pvh_start_info si = {.magic = PVH_START_MAGIC, .version = 1};
	uint64_t cmdlen;
	int n, i, ret;

	ret = load_segments(m, k, e);
	if (ret)
		return ret;
	ret = write_cmdline(m, X86_CMDLINE_MAX, &cmdlen, e);
	if (ret)
		return ret;
	si.cmdline_paddr = X86_CMDLINE_ADDR;
	si.rsdp_paddr = boot_rsdp_addr(m);
	ret = place_initrd(m, k->load_end, X86_HOLE_START, e);
	if (ret)
		return ret;
	if (a->initrd_len) {
		struct pvh_modlist_entry mod = {.paddr = a->initrd_addr, .size = a->initrd_len};

		if (gmem_write(&m->mem, PVH_MODLIST_ADDR, &mod, sizeof(mod)))
			return -EFAULT;
		si.nr_modules = 1;
		si.modlist_paddr = PVH_MODLIST_ADDR;
	}
	n = x86_e820_build(&m->mem, map, X86_E820_MAX);
	if (n < 0)
		return n;
	for (i = 0; i < n; i++) {
		struct pvh_memmap_entry me = {map[i].addr, map[i].size, map[i].type, 0};

		if (gmem_write(&m->mem, PVH_MEMMAP_ADDR + (uint64_t)i * sizeof(me), &me,
			       sizeof(me)))
			return -EFAULT;
	}
	si.memmap_paddr = PVH_MEMMAP_ADDR;
	si.memmap_entries = (uint32_t)n;
	if (gmem_write(&m->mem, X86_PVH_INFO_ADDR, &si, sizeof(si)))
		return -EFAULT;
	a->boot_kind = X86_BOOT_PVH;
	a->entry = k->entry;
	return 0;
}

int arch_load_kernel(struct machine *m, struct errmsg *e)
{
	struct arch_machine *a = m->arch;
	struct x86_kernel_info k;
	int ret;

	if (!m->cfg->kernel) {
		errmsg_set(e, "-kernel: no kernel given (microvm boots a kernel directly)");
		return -EINVAL;
	}
	if (!a->kimg) {
		ret = map_file("-kernel", m->cfg->kernel, &a->kimg, &a->kimg_len, e);
		if (ret)
			return ret;
		if (m->cfg->initrd) {
			ret = map_file("-initrd", m->cfg->initrd, &a->initrd, &a->initrd_len, e);
			if (ret)
				return ret;
		}
	}
	ret = x86_kernel_parse(a->kimg, a->kimg_len, X86_HIMEM_START, &k, e);
	if (ret) {
		errmsg_prefix(e, "-kernel %s", m->cfg->kernel);
		return ret;
	}
	ret = k.kind == X86_KERNEL_BZIMAGE ? boot_linux64(m, &k, e) : boot_pvh(m, &k, e);
	if (ret)
		return ret;
	ret = write_gdt(m, a->boot_kind == X86_BOOT_LINUX64);
	if (!ret)
		ret = write_page_tables(m);
	if (!ret)
		ret = x86_mptable_write(m);
	if (ret && !errmsg_str(e)[0])
		errmsg_set(e, "writing boot tables: %s", strerror(-ret));
	return ret;
}
