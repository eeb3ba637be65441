/* layout: the x86_64 microvm guest-physical and port map (boot structures, MMIO hole,
 * virtio-mmio window, legacy ports). */
#ifndef SV_VMM_X86_LAYOUT_H
#define SV_VMM_X86_LAYOUT_H

/* Boot structures in low RAM (below 1 MiB, which is RAM up to the EBDA). */
#define X86_GDT_ADDR	   0x500ull
#define X86_IDT_ADDR	   0x520ull
#define X86_PVH_INFO_ADDR  0x6000ull /* hvm_start_info + memmap + module list */
#define X86_ZERO_PAGE_ADDR 0x7000ull /* boot_params */
#define X86_BOOT_STACK	   0x8ff0ull /* initial RSP for the 64-bit entry */
#define X86_PML4_ADDR	   0x9000ull
#define X86_PDPT_ADDR	   0xa000ull
#define X86_PD_ADDR	   0xb000ull /* four page directories: identity map of 0..4 GiB, 2 MiB pages */
#define X86_CMDLINE_ADDR   0x20000ull
#define X86_CMDLINE_MAX	   4096u
#define X86_EBDA_START	   0x9fc00ull  /* MP table lives here (reserved in e820) */
#define X86_HIMEM_START	   0x100000ull /* protected-mode kernel load address */

/* The 32-bit hole: RAM beyond 3 GiB continues at 4 GiB. */
#define X86_HOLE_START 0xc0000000ull
#define X86_HOLE_END   0x100000000ull
/* virtio-mmio devices: 4 KiB slots from here. */
#define X86_MMIO_BASE	0xd0000000ull
#define X86_MMIO_STRIDE 0x1000ull
#define X86_MMIO_END	0xd1000000ull
/* ACPI Generic Event Device (hardware-reduced power button): one 32-bit event register,
 * read-to-clear, just past the virtio-mmio window, and its own interrupt line. */
#define X86_GED_ADDR	0xd1000000ull
#define X86_GED_SIZE	0x1000ull
#define X86_GED_EVT_PWR 0x1u /* event register bit: power button pressed */
#define X86_IOAPIC_ADDR 0xfec00000ull
#define X86_LAPIC_ADDR	0xfee00000ull
/* KVM's private pages for real-mode emulation on Intel (must not overlap RAM or devices). */
#define X86_KVM_IDENTITY_MAP 0xfeffc000ull
#define X86_KVM_TSS_ADDR     0xfeffd000ull

/* Legacy ports. */
#define X86_PORT_POST	    0x80 /* POST codes: ignored */
#define X86_PORT_I8042_DATA 0x60
#define X86_PORT_I8042_CMD  0x64
#define X86_PORT_RTC	    0x70 /* 0x70 index, 0x71 data */
#define X86_PORT_COM1	    0x3f8
#define X86_IRQ_COM1	    4
#define X86_IRQ_RTC	    8
/* splitvm extensions (documented in vmm/README.md). */
#define X86_PORT_BOOT_MARKER 0x3f0 /* byte write: 1 kernel start, 123 init start (Firecracker) */
#define X86_PORT_TEST_EXIT   0xf4  /* isa-debug-exit compatible: value v -> exit status 2v+1 */
#define X86_PORT_PM_BASE \
	0x600 /* ACPI hw-reduced: +0 sleep control, +1 sleep status,
				    * +2 reset register (value 0x6 resets) */
#define X86_PM_SLEEP_CTL   (X86_PORT_PM_BASE + 0)
#define X86_PM_SLEEP_STS   (X86_PORT_PM_BASE + 1)
#define X86_PM_RESET	   (X86_PORT_PM_BASE + 2)
#define X86_PM_RESET_VALUE 0x6
#define X86_PM_SLP_TYP_S5  5 /* sleep control: SLP_EN (bit 5) with SLP_TYP (bits 2-4) = 5 */

/* First device interrupt line handed to virtio-mmio devices, and the last (IOAPIC pin); the
 * GED takes the first line left after the devices. */
#define X86_DEV_GSI_FIRST 5
#define X86_DEV_GSI_LAST  23

#endif
