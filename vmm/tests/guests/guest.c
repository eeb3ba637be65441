/*
 * guest.c: the splitvm test guest, a freestanding x86-64 program booted through the Linux
 * boot protocol (bzImage-like image) or PVH (ELF). It checks the boot contract and reports
 * over COM1 lines starting "SVTEST"; the command line picks what else it does:
 *   sv.test=boot      (default) checks, then power off (exit status 0 under splitvm)
 *   sv.test=echo      IRQ-driven serial echo until it reads 'q', then power off
 *   sv.test=tick      prints "SVTEST tick N" forever (pause/resume keeps N going)
 *   sv.test=reset     reboots through the i8042 once (CMOS keeps count), then power off
 *   sv.test=button    waits for the ACPI power button (QMP system_powerdown), then power off
 *   sv.test=idle      halts after the checks (QMP tests, benchmark)
 *   sv.test=fail      reports a failure through the test exit port (exit status 3)
 *   sv.test=hostile   pokes every legacy port and unbacked MMIO with junk, then powers off
 *   sv.test=probe     runs instructions stock Linux needs that an emulating (nested) KVM may
 *                     not handle (int3, cmpxchg16b, xsave), reporting before and after each
 * Power off is the ACPI sleep control register (port 0x600); where that does nothing (QEMU
 * microvm) the isa-debug-exit port 0xf4 follows: value 0 on success, 1 on failure.
 */
#include <stddef.h>
#include <stdint.h>

#define COM1 0x3f8
#define AP_TRAMP_ADDR 0x10000ul
#define LAPIC_BASE 0xfee00000ul
#define IOAPIC_BASE 0xfec00000ul
#define SERIAL_VECTOR 0x30
#define MAX_CPUS 256

enum { MODE_BZ32 = 1, MODE_BZ64 = 2, MODE_PVH = 3 };

extern uint64_t boot_mode, boot_ptr;
extern uint64_t pml4[512], pdpt[512], pd[4 * 512];
extern char ap_tramp_start[], ap_tramp_end[], ap_tramp_cr3[], ap_tramp_stack[],
	ap_tramp_entry[];

static volatile uint32_t print_lock;
static volatile uint32_t aps_up;
static int failures;
static char cmdline[2048];
static uint8_t ap_stacks[64][4096] __attribute__((aligned(16), section(".noinit")));
static volatile uint32_t rx_count;

/* ---- port and MMIO access ---- */
static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}
static inline void outl(uint16_t port, uint32_t v)
{
	__asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}
static inline uint8_t inb(uint16_t port)
{
	uint8_t v;

	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}
static inline uint32_t mmio_read32(uint64_t a)
{
	return *(volatile uint32_t *)a;
}
static inline void mmio_write32(uint64_t a, uint32_t v)
{
	*(volatile uint32_t *)a = v;
}
static inline uint64_t rdmsr(uint32_t msr)
{
	uint32_t lo, hi;

	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return (uint64_t)hi << 32 | lo;
}
static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}
static inline void cpuid_raw(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
	__asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(sub));
}
static inline void cpu_relax(void)
{
	__asm__ volatile("pause" ::: "memory");
}

/* ---- small libc ---- */
void *memset(void *d, int c, size_t n)
{
	uint8_t *p = d;

	while (n--)
		*p++ = (uint8_t)c;
	return d;
}
void *memcpy(void *d, const void *s, size_t n)
{
	uint8_t *p = d;
	const uint8_t *q = s;

	while (n--)
		*p++ = *q++;
	return d;
}
static size_t strlen(const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	return n;
}
static int strncmp(const char *a, const char *b, size_t n)
{
	for (; n; n--, a++, b++) {
		if (*a != *b)
			return (uint8_t)*a - (uint8_t)*b;
		if (!*a)
			return 0;
	}
	return 0;
}

/* ---- serial output ---- */
static void serial_putc(char c)
{
	while (!(inb(COM1 + 5) & 0x20))
		cpu_relax();
	outb(COM1, (uint8_t)c);
}
static void puts_raw(const char *s)
{
	while (*s)
		serial_putc(*s++);
}
static void put_hex(uint64_t v)
{
	char buf[17];
	int i;

	for (i = 15; i >= 0; i--, v >>= 4)
		buf[i] = "0123456789abcdef"[v & 0xf];
	buf[16] = 0;
	puts_raw("0x");
	puts_raw(buf);
}
static void put_dec(uint64_t v)
{
	char buf[21];
	int i = 20;

	buf[i] = 0;
	do {
		buf[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	puts_raw(&buf[i]);
}
static void lock(void)
{
	while (__atomic_exchange_n(&print_lock, 1, __ATOMIC_ACQUIRE))
		cpu_relax();
}
static void unlock(void)
{
	__atomic_store_n(&print_lock, 0, __ATOMIC_RELEASE);
}
static void report(const char *what, int ok, const char *detail)
{
	lock();
	puts_raw(ok ? "SVTEST ok " : "SVTEST FAIL ");
	puts_raw(what);
	if (detail) {
		puts_raw(": ");
		puts_raw(detail);
	}
	puts_raw("\n");
	unlock();
	if (!ok)
		failures++;
}

/* ---- command line options ---- */
/* Value of "key=" on the command line (copied into out), or 0 if absent. */
static int opt(const char *key, char *out, size_t outlen)
{
	size_t kl = strlen(key);
	const char *p = cmdline;

	while (*p) {
		while (*p == ' ')
			p++;
		if (!strncmp(p, key, kl) && p[kl] == '=') {
			size_t n = 0;

			p += kl + 1;
			while (p[n] && p[n] != ' ' && n + 1 < outlen) {
				out[n] = p[n];
				n++;
			}
			out[n] = 0;
			return 1;
		}
		while (*p && *p != ' ')
			p++;
	}
	return 0;
}

/* ---- power ---- */
static void power_off(int failed)
{
	lock();
	puts_raw(failed ? "SVTEST result fail\n" : "SVTEST result pass\n");
	unlock();
	if (!failed)
		outb(0x600, (5 << 2) | 0x20); /* ACPI SLP_TYP=S5 | SLP_EN */
	outl(0xf4, failed ? 1 : 0);	      /* isa-debug-exit */
	for (;;)
		__asm__ volatile("cli; hlt");
}

/* ---- POSIX cksum (CRC-32, poly 0x04c11db7, MSB first, length appended) ----
 * Table-driven: guest code may run emulated, so every instruction counts. */
static uint32_t crc_table[256];

static void cksum_init(void)
{
	uint32_t i, j, c;

	for (i = 0; i < 256; i++) {
		c = i << 24;
		for (j = 0; j < 8; j++)
			c = (c & 0x80000000u) ? (c << 1) ^ 0x04c11db7u : c << 1;
		crc_table[i] = c;
	}
}
static uint32_t cksum_update(uint32_t crc, uint8_t b)
{
	return (crc << 8) ^ crc_table[(crc >> 24) ^ b];
}
static uint32_t cksum(const uint8_t *p, uint64_t len)
{
	uint32_t crc = 0;
	uint64_t n;

	cksum_init();
	for (n = 0; n < len; n++)
		crc = cksum_update(crc, p[n]);
	for (n = len; n; n >>= 8)
		crc = cksum_update(crc, (uint8_t)n);
	return ~crc;
}

/* ---- page tables for the 64-bit entry (the 32-bit paths build them in entry.S) ---- */
void build_page_tables(void)
{
	uint64_t i;

	memset(pml4, 0, 4096);
	memset(pdpt, 0, 4096);
	pml4[0] = (uint64_t)pdpt | 3;
	for (i = 0; i < 4; i++)
		pdpt[i] = ((uint64_t)pd + i * 4096) | 3;
	for (i = 0; i < 4 * 512; i++)
		pd[i] = (i << 21) | 0x83;
}

/* ---- memory map ---- */
struct memmap {
	uint64_t addr[64], size[64];
	uint32_t type[64];
	int n;
};
static struct memmap mm;

static void check_memmap(void)
{
	uint64_t low_top = 0, high = 0;
	char want[32];
	int i, j, disjoint = 1;

	for (i = 0; i < mm.n; i++) {
		for (j = 0; j < i; j++)
			if (mm.addr[i] < mm.addr[j] + mm.size[j] &&
			    mm.addr[j] < mm.addr[i] + mm.size[i])
				disjoint = 0;
		if (mm.type[i] != 1)
			continue;
		if (mm.addr[i] < 0x100000000ull) {
			if (mm.addr[i] + mm.size[i] > low_top)
				low_top = mm.addr[i] + mm.size[i];
		} else {
			high += mm.size[i];
		}
	}
	report("e820 entries do not overlap", disjoint, 0);
	lock();
	puts_raw("SVTEST mem=");
	put_dec((low_top + high) >> 20);
	puts_raw("M low_top=");
	put_hex(low_top);
	puts_raw(" high=");
	put_hex(high);
	puts_raw("\n");
	unlock();
	if (opt("sv.mem", want, sizeof(want))) {
		uint64_t mb = 0;
		char *p = want;

		while (*p >= '0' && *p <= '9')
			mb = mb * 10 + (uint64_t)(*p++ - '0');
		report("e820 matches -m", ((low_top + high) >> 20) == mb, want);
	}
}

/* ---- boot contract ---- */
static uint64_t initrd_addr, initrd_size, initrd_max, rsdp_addr;

static void read_boot_info(void)
{
	const uint8_t *bp = (const uint8_t *)boot_ptr;
	const char *cl = 0;
	size_t i;

	if (boot_mode == MODE_PVH) {
		const uint32_t *si = (const uint32_t *)bp;
		uint64_t modlist, memmap;
		uint32_t entries;

		report("PVH start_info magic", si[0] == 0x336ec578u, 0);
		cl = (const char *)*(const uint64_t *)(bp + 24);
		rsdp_addr = *(const uint64_t *)(bp + 32);
		if (si[3] >= 1) {
			modlist = *(const uint64_t *)(bp + 16);
			initrd_addr = ((const uint64_t *)modlist)[0];
			initrd_size = ((const uint64_t *)modlist)[1];
		}
		initrd_max = 0xffffffffull;
		memmap = *(const uint64_t *)(bp + 40);
		entries = *(const uint32_t *)(bp + 48);
		for (i = 0; i < entries && i < 64; i++) {
			const uint8_t *e = (const uint8_t *)memmap + i * 24;

			mm.addr[i] = *(const uint64_t *)e;
			mm.size[i] = *(const uint64_t *)(e + 8);
			mm.type[i] = *(const uint32_t *)(e + 16);
		}
		mm.n = (int)i;
	} else {
		report("boot_params in RSI/ESI", *(const uint16_t *)(bp + 0x1fe) == 0xaa55 &&
							!strncmp((const char *)bp + 0x202, "HdrS", 4),
		       0);
		report("type_of_loader set", bp[0x210] != 0, 0);
		cl = (const char *)(uint64_t) * (const uint32_t *)(bp + 0x228);
		initrd_addr = *(const uint32_t *)(bp + 0x218);
		initrd_size = *(const uint32_t *)(bp + 0x21c);
		initrd_max = *(const uint32_t *)(bp + 0x22c);
		rsdp_addr = *(const uint64_t *)(bp + 0x070); /* boot_params.acpi_rsdp_addr */
		mm.n = bp[0x1e8];
		for (i = 0; i < (size_t)mm.n && i < 64; i++) {
			const uint8_t *e = bp + 0x2d0 + i * 20;

			mm.addr[i] = *(const uint64_t *)e;
			mm.size[i] = *(const uint64_t *)(e + 8);
			mm.type[i] = *(const uint32_t *)(e + 16);
		}
	}
	if (cl) {
		for (i = 0; i + 1 < sizeof(cmdline) && cl[i]; i++)
			cmdline[i] = cl[i];
		cmdline[i] = 0;
	}
}

/* The RSDP pointer the VMM handed over: 0 (no tables, e.g. acpi=off) or an ACPI 2.0 RSDP
 * whose signature and both checksums hold. sv.acpi=off on the command line demands 0. */
static void check_rsdp(void)
{
	const uint8_t *r = (const uint8_t *)rsdp_addr;
	char want[8];
	uint8_t s20 = 0, s36 = 0;
	int i;

	lock();
	puts_raw("SVTEST rsdp=");
	put_hex(rsdp_addr);
	puts_raw("\n");
	unlock();
	if (opt("sv.acpi", want, sizeof(want)) && !strncmp(want, "off", 4)) {
		report("rsdp pointer 0 with acpi=off", rsdp_addr == 0, 0);
		return;
	}
	if (!rsdp_addr)
		return;
	if (rsdp_addr >= 0x100000 - 36) { /* tables live in the BIOS area below 1 MiB */
		report("rsdp pointer below 1 MiB", 0, 0);
		return;
	}
	for (i = 0; i < 36; i++) {
		if (i < 20)
			s20 = (uint8_t)(s20 + r[i]);
		s36 = (uint8_t)(s36 + r[i]);
	}
	report("rsdp pointer at RSD PTR", !strncmp((const char *)r, "RSD PTR ", 8), 0);
	report("rsdp checksums", s20 == 0 && s36 == 0 && r[15] >= 2, 0);
}

static void check_initrd(void)
{
	int in_ram = 0, i;

	if (!initrd_size) {
		lock();
		puts_raw("SVTEST initrd none\n");
		unlock();
		return;
	}
	for (i = 0; i < mm.n; i++)
		if (mm.type[i] == 1 && initrd_addr >= mm.addr[i] &&
		    initrd_addr + initrd_size <= mm.addr[i] + mm.size[i])
			in_ram = 1;
	report("initrd inside RAM", in_ram, 0);
	report("initrd page aligned", (initrd_addr & 0xfff) == 0, 0);
	report("initrd below initrd_addr_max", initrd_addr + initrd_size - 1 <= initrd_max, 0);
	if (!in_ram)
		return;
	lock();
	puts_raw("SVTEST initrd cksum=");
	put_dec(cksum((const uint8_t *)initrd_addr, initrd_size));
	puts_raw(" size=");
	put_dec(initrd_size);
	puts_raw("\n");
	unlock();
}

/* ---- SMP ---- */
static const uint8_t *mp_find(uint64_t base, uint64_t len)
{
	uint64_t a;

	for (a = base; a + 16 <= base + len; a += 16) {
		const uint8_t *p = (const uint8_t *)a;
		uint8_t sum = 0;
		int i;

		if (p[0] != '_' || p[1] != 'M' || p[2] != 'P' || p[3] != '_')
			continue;
		for (i = 0; i < 16; i++)
			sum += p[i];
		if (sum == 0)
			return p;
	}
	return 0;
}

static void lapic_write(uint32_t reg, uint32_t v)
{
	mmio_write32(LAPIC_BASE + reg, v);
}
static uint32_t lapic_read(uint32_t reg)
{
	return mmio_read32(LAPIC_BASE + reg);
}
static void delay(uint64_t cycles)
{
	uint64_t t = rdtsc();

	while (rdtsc() - t < cycles)
		cpu_relax();
}
static void ipi(uint32_t apic, uint32_t cmd)
{
	lapic_write(0x310, apic << 24);
	lapic_write(0x300, cmd);
	while (lapic_read(0x300) & (1u << 12))
		cpu_relax();
}

void ap_main(void)
{
	uint32_t id = lapic_read(0x20) >> 24;

	lock();
	puts_raw("SVTEST ap ");
	put_dec(id);
	puts_raw(" up\n");
	unlock();
	__atomic_add_fetch(&aps_up, 1, __ATOMIC_SEQ_CST);
	for (;;)
		__asm__ volatile("cli; hlt");
}

/* The topology CPUID describes (leaf 0xb: SMT and core levels) and leaf 1's APIC ID. */
static void report_topology(void)
{
	uint32_t r0[4], r1[4], l1[4];

	lock();
	/* LAPIC LVT LINT0/LINT1 delivery modes as the VMM left them (7 ExtINT, 4 NMI). */
	puts_raw("SVTEST lapic lint0_mode=");
	put_dec((mmio_read32(LAPIC_BASE + 0x350) >> 8) & 7);
	puts_raw(" lint1_mode=");
	put_dec((mmio_read32(LAPIC_BASE + 0x360) >> 8) & 7);
	puts_raw("\n");
	unlock();
	cpuid_raw(1, 0, l1);
	cpuid_raw(0xb, 0, r0);
	cpuid_raw(0xb, 1, r1);
	lock();
	puts_raw("SVTEST topology apic=");
	put_dec(l1[1] >> 24);
	puts_raw(" smt_shift=");
	put_dec(r0[0] & 0x1f);
	puts_raw(" smt_count=");
	put_dec(r0[1] & 0xffff);
	puts_raw(" pkg_shift=");
	put_dec(r1[0] & 0x1f);
	puts_raw(" pkg_count=");
	put_dec(r1[1] & 0xffff);
	puts_raw("\n");
	unlock();
}

static void start_aps(void)
{
	const uint8_t *fp = mp_find(0x9fc00, 0x400), *t;
	uint32_t bsp = lapic_read(0x20) >> 24, ids[MAX_CPUS];
	uint16_t len, count, i;
	int n = 0, started = 0;
	uint8_t sum = 0;
	uint64_t tramp_len = (uint64_t)(ap_tramp_end - ap_tramp_start);

	if (!fp)
		fp = mp_find(0xf0000, 0x10000);
	if (!fp) {
		lock();
		puts_raw("SVTEST cpus=1 (no MP table)\n");
		unlock();
		return;
	}
	t = (const uint8_t *)(uint64_t) * (const uint32_t *)(fp + 4);
	len = *(const uint16_t *)(t + 4);
	count = *(const uint16_t *)(t + 34);
	for (i = 0; i < len; i++)
		sum += t[i];
	report("MP table checksum", sum == 0 && !strncmp((const char *)t, "PCMP", 4), 0);
	{
		const uint8_t *p = t + 44;

		for (i = 0; i < count && p < t + len; i++) {
			if (p[0] == 0) {
				if ((p[3] & 1) && n < MAX_CPUS)
					ids[n++] = p[1];
				p += 20;
			} else {
				p += 8;
			}
		}
	}
	/* Enable the local APIC (spurious vector register) before sending IPIs. */
	lapic_write(0xf0, 0x1ff);
	memcpy((void *)AP_TRAMP_ADDR, ap_tramp_start, tramp_len);
	for (i = 0; i < n; i++) {
		uint64_t off_cr3 = (uint64_t)(ap_tramp_cr3 - ap_tramp_start);
		uint64_t off_stack = (uint64_t)(ap_tramp_stack - ap_tramp_start);
		uint64_t off_entry = (uint64_t)(ap_tramp_entry - ap_tramp_start);
		uint32_t before = aps_up;
		uint64_t t0;

		if (ids[i] == bsp)
			continue;
		if (started >= 64)
			break;
		*(volatile uint64_t *)(AP_TRAMP_ADDR + off_cr3) = (uint64_t)pml4;
		*(volatile uint64_t *)(AP_TRAMP_ADDR + off_stack) =
			(uint64_t)&ap_stacks[started][4096];
		*(volatile uint64_t *)(AP_TRAMP_ADDR + off_entry) = (uint64_t)ap_main;
		ipi(ids[i], 0x4500); /* INIT */
		delay(1000000);
		ipi(ids[i], 0x4600 | (AP_TRAMP_ADDR >> 12)); /* SIPI */
		delay(100000);
		if (aps_up == before)
			ipi(ids[i], 0x4600 | (AP_TRAMP_ADDR >> 12));
		t0 = rdtsc();
		while (aps_up == before && rdtsc() - t0 < 20000000000ull)
			cpu_relax();
		if (aps_up == before) {
			report("AP started", 0, "timeout");
			return;
		}
		started++;
	}
	lock();
	puts_raw("SVTEST cpus=");
	put_dec(1 + aps_up);
	puts_raw("\n");
	unlock();
}

/* ---- interrupts (serial echo) ---- */
struct idt_entry {
	uint16_t off0, sel;
	uint8_t ist, attr;
	uint16_t off1;
	uint32_t off2, zero;
} __attribute__((packed));
static struct idt_entry idt[256] __attribute__((aligned(16), section(".noinit")));

__attribute__((interrupt)) static void serial_isr(void *frame)
{
	(void)frame;
	while (inb(COM1 + 5) & 1) {
		uint8_t c = inb(COM1);

		rx_count++;
		if (c == 'q')
			power_off(failures);
		serial_putc((char)c);
	}
	lapic_write(0xb0, 0); /* EOI */
}

__attribute__((interrupt)) static void spurious_isr(void *frame)
{
	(void)frame;
}

static void idt_set(int vec, void (*fn)(void *))
{
	uint64_t a = (uint64_t)fn;

	idt[vec] = (struct idt_entry){ (uint16_t)a, 0x18, 0, 0x8e, (uint16_t)(a >> 16),
				       (uint32_t)(a >> 32), 0 };
}

static void serial_echo(void)
{
	struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed)) d = { sizeof(idt) - 1, (uint64_t)idt };
	int i;

	for (i = 0; i < 256; i++)
		idt_set(i, spurious_isr);
	idt_set(SERIAL_VECTOR, serial_isr);
	__asm__ volatile("lidt %0" : : "m"(d));
	outb(0x21, 0xff); /* mask the PICs: interrupts come through the IOAPIC */
	outb(0xa1, 0xff);
	lapic_write(0xf0, 0x1ff);
	/* IOAPIC pin 4 -> vector, fixed, physical, edge, active high, to the BSP. */
	mmio_write32(IOAPIC_BASE, 0x10 + 2 * 4 + 1);
	mmio_write32(IOAPIC_BASE + 0x10, (lapic_read(0x20) >> 24) << 24);
	mmio_write32(IOAPIC_BASE, 0x10 + 2 * 4);
	mmio_write32(IOAPIC_BASE + 0x10, SERIAL_VECTOR);
	outb(COM1 + 2, 0x07); /* FIFO on, cleared */
	outb(COM1 + 4, 0x0b); /* DTR, RTS, OUT2 */
	outb(COM1 + 1, 0x01); /* receive interrupts */
	lock();
	puts_raw("SVTEST echo ready\n");
	unlock();
	for (;;)
		__asm__ volatile("sti; hlt; cli");
}

/* ---- probe: instructions a distro kernel executes early ---- */
static volatile uint32_t int3_hits;

__attribute__((interrupt)) static void int3_isr(void *frame)
{
	(void)frame;
	int3_hits++;
}

#define cpuid cpuid_raw

static void probe_say(const char *what, const char *state)
{
	lock();
	puts_raw("SVTEST probe ");
	puts_raw(what);
	puts_raw(" ");
	puts_raw(state);
	puts_raw("\n");
	unlock();
}

static uint8_t xsave_area[4096] __attribute__((aligned(64), section(".noinit")));
static volatile __int128 cx16_mem __attribute__((aligned(16)));

static void probe(void)
{
	struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed)) d = { sizeof(idt) - 1, (uint64_t)idt };
	uint32_t r[4];
	int i;

	for (i = 0; i < 256; i++)
		idt_set(i, spurious_isr);
	idt_set(3, int3_isr);
	__asm__ volatile("lidt %0" : : "m"(d));
	probe_say("int3", "start");
	__asm__ volatile("int3" ::: "memory");
	report("probe int3", int3_hits == 1, 0);

	cpuid(1, 0, r);
	if (r[2] & (1u << 13)) {
		uint64_t lo = 0, hi = 0;

		probe_say("cmpxchg16b", "start");
		cx16_mem = (__int128)2 << 64 | 1;
		__asm__ volatile("lock cmpxchg16b %2"
				 : "+a"(lo), "+d"(hi), "+m"(cx16_mem)
				 : "b"(5ull), "c"(6ull)
				 : "memory", "cc");
		lo = 1, hi = 2;
		__asm__ volatile("lock cmpxchg16b %2"
				 : "+a"(lo), "+d"(hi), "+m"(cx16_mem)
				 : "b"(5ull), "c"(6ull)
				 : "memory", "cc");
		report("probe cmpxchg16b", cx16_mem == ((__int128)6 << 64 | 5), 0);
	} else {
		probe_say("cmpxchg16b", "absent");
	}
	if (r[2] & (1u << 26)) {
		uint64_t cr4;

		probe_say("xsave", "start");
		__asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
		cr4 |= 1ull << 18; /* OSXSAVE */
		__asm__ volatile("mov %0, %%cr4" : : "r"(cr4));
		__asm__ volatile("xsetbv" : : "a"(3u), "d"(0u), "c"(0u));
		memset(xsave_area, 0, sizeof(xsave_area));
		__asm__ volatile("xsave %0" : "+m"(xsave_area) : "a"(3u), "d"(0u) : "memory");
		__asm__ volatile("xrstor %0" : : "m"(xsave_area), "a"(3u), "d"(0u) : "memory");
		report("probe xsave", 1, 0);
	} else {
		probe_say("xsave", "absent");
	}
}

/* ---- hostile: junk to every port and to addresses without RAM or devices ---- */
static int port_spared(uint32_t p)
{
	/* i8042 (reset), test exit, PM (power off/reset), COM1 (our reporting), the RTC index. */
	return (p >= 0x60 && p <= 0x64) || (p >= 0xf4 && p <= 0xf7) || (p >= 0x600 && p <= 0x602) ||
	       (p >= 0x3f8 && p <= 0x3ff) || p == 0x70 || p == 0x71;
}

static void hostile(void)
{
	static const uint64_t mmio[] = {
		0xc0000000ull, 0xd0000000ull, 0xd0000ff8ull, 0xd0fff000ull, 0xe0000000ull,
		0xfe000000ull, 0xfeb00000ull, 0xfed00000ull, 0xfef00000ull, 0xffff0000ull,
	};
	uint64_t junk = 0x9e3779b97f4a7c15ull;
	uint32_t p, sum = 0;
	unsigned int i;

	for (p = 0; p < 0x10000; p += (p < 0x1000 ? 1 : 0x101)) {
		if (port_spared(p))
			continue;
		junk = junk * 6364136223846793005ull + 1442695040888963407ull;
		outb((uint16_t)p, (uint8_t)(junk >> 33));
		sum += inb((uint16_t)p);
	}
	for (i = 0; i < sizeof(mmio) / sizeof(mmio[0]); i++) {
		volatile uint8_t *b = (volatile uint8_t *)mmio[i];
		volatile uint64_t *q = (volatile uint64_t *)(mmio[i] & ~7ull);

		junk = junk * 6364136223846793005ull + 1442695040888963407ull;
		*b = (uint8_t)junk;
		*q = junk;
		sum += *b + (uint32_t)*q;
	}
	lock();
	puts_raw("SVTEST hostile done sum=");
	put_dec(sum);
	puts_raw("\n");
	unlock();
}

/* ---- main ---- */
static void tick_forever(void)
{
	uint64_t n = 0, t = rdtsc();

	for (;;) {
		if (rdtsc() - t > (1ull << 26)) {
			t = rdtsc();
			lock();
			puts_raw("SVTEST tick ");
			put_dec(++n);
			puts_raw("\n");
			unlock();
		}
		cpu_relax();
	}
}

static void reset_test(void)
{
	uint8_t boots;

	outb(0x70, 0x50);
	boots = inb(0x71);
	lock();
	puts_raw("SVTEST reset boot ");
	put_dec(boots + 1);
	puts_raw("\n");
	unlock();
	if (boots == 0) {
		outb(0x70, 0x50);
		outb(0x71, 1);
		outb(0x64, 0xfe); /* i8042: pulse the reset line */
		for (;;)
			__asm__ volatile("cli; hlt");
	}
	outb(0x70, 0x50);
	outb(0x71, 0);
	power_off(failures);
}

void guest_main(void)
{
	char test[32] = "boot";
	uint64_t cr0, cr4, efer;

	puts_raw("SVTEST hello\n");
	outb(0x3f0, 1); /* boot-time marker: kernel start */
	puts_raw(boot_mode == MODE_PVH ? "SVTEST entry pvh\n"
	       : boot_mode == MODE_BZ64 ? "SVTEST entry linux64\n"
					: "SVTEST entry linux32\n");
	__asm__ volatile("mov %%cr0, %0" : "=r"(cr0));
	__asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
	efer = rdmsr(0xc0000080);
	report("64-bit mode", (efer & (1 << 10)) && (cr0 & (1ull << 31)) && (cr4 & (1 << 5)), 0);
	read_boot_info();
	lock();
	puts_raw("SVTEST cmdline=");
	puts_raw(cmdline);
	puts_raw("\n");
	unlock();
	opt("sv.test", test, sizeof(test));
	check_memmap();
	check_initrd();
	check_rsdp();
	report_topology();
	start_aps();
	outb(0x3f0, 123); /* boot-time marker: "init" start */
	if (!strncmp(test, "fail", 5)) {
		report("requested failure", 0, 0);
		power_off(1);
	}
	if (!strncmp(test, "echo", 5))
		serial_echo();
	if (!strncmp(test, "probe", 6))
		probe();
	if (!strncmp(test, "hostile", 8))
		hostile();
	if (!strncmp(test, "tick", 5))
		tick_forever();
	if (!strncmp(test, "reset", 6))
		reset_test();
	if (!strncmp(test, "button", 7)) {
		lock();
		puts_raw("SVTEST waiting for the power button\n");
		unlock();
		while (!(inb(0x601) & 1))
			delay(1000000);
		outb(0x601, 1);
		lock();
		puts_raw("SVTEST power button\n");
		unlock();
	}
	if (!strncmp(test, "idle", 5)) {
		lock();
		puts_raw("SVTEST idle\n");
		unlock();
		for (;;)
			__asm__ volatile("cli; hlt");
	}
	power_off(failures);
}
