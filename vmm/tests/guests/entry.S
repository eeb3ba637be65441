/* entry.S: test guest entry points (bzImage 32-bit and 64-bit, PVH), the switch to long
 * mode with the guest's own identity page tables, and the AP real-mode trampoline. */
#define AP_TRAMP_ADDR 0x10000
#define MODE_BZ32 1
#define MODE_BZ64 2
#define MODE_PVH 3

	.section .text.entry32, "ax"
	.code32
	/* 0x100000: bzImage code32_start, ESI = boot_params (32-bit boot protocol). */
	.globl startup_32
startup_32:
	cli
	movl $MODE_BZ32, %edi
	jmp common32

	.globl pvh_start
pvh_start:
	/* PVH: 32-bit protected mode, paging off, EBX = hvm_start_info. */
	cli
	movl %ebx, %esi
	movl $MODE_PVH, %edi
	jmp common32

common32:
	/* Keep mode/pointer in ebp/esp-free registers while zeroing .bss. */
	movl %edi, %ebp
	movl %esi, %edx
	movl $__bss_start, %edi
	movl $__bss_end, %ecx
	subl %edi, %ecx
	xorl %eax, %eax
	cld
	rep stosb
	movl %ebp, boot_mode
	movl %edx, boot_ptr
	/* Identity map 0..4 GiB: PML4[0] -> PDPT, PDPT[0..3] -> PD[0..3] of 2 MiB pages.
	 * The tables live in .noinit (not zeroed with .bss): clear PML4 and PDPT here. */
	movl $pml4, %edi
	movl $2048, %ecx
	xorl %eax, %eax
	rep stosl
	movl $pml4, %edi
	movl $pdpt, %eax
	orl $3, %eax
	movl %eax, (%edi)
	movl $pdpt, %edi
	movl $pd, %eax
	orl $3, %eax
	movl $4, %ecx
1:	movl %eax, (%edi)
	addl $4096, %eax
	addl $8, %edi
	loop 1b
	movl $pd, %edi
	xorl %ecx, %ecx
2:	movl %ecx, %eax
	shll $21, %eax
	orl $0x83, %eax
	movl %eax, (%edi)
	movl %ecx, %eax
	shrl $11, %eax
	movl %eax, 4(%edi)
	addl $8, %edi
	incl %ecx
	cmpl $2048, %ecx
	jne 2b
	lgdt gdt_desc
	movl %cr4, %eax
	orl $0x20, %eax		/* PAE */
	movl %eax, %cr4
	movl $pml4, %eax
	movl %eax, %cr3
	movl $0xc0000080, %ecx	/* EFER.LME */
	rdmsr
	orl $0x100, %eax
	wrmsr
	movl %cr0, %eax
	orl $0x80000001, %eax	/* PG | PE */
	movl %eax, %cr0
	ljmp $0x18, $long64

	.section .text.entry64, "ax"
	.code64
	/* 0x100200: the 64-bit boot protocol entry, RSI = boot_params. */
	.globl startup_64
startup_64:
	cli
	movq %rsi, %rdx
	movq $__bss_start, %rdi
	movq $__bss_end, %rcx
	subq %rdi, %rcx
	xorl %eax, %eax
	cld
	rep stosb
	movl $MODE_BZ64, boot_mode(%rip)
	movq %rdx, boot_ptr(%rip)
	lgdt gdt_desc(%rip)
	leaq stack_top(%rip), %rsp
	call build_page_tables
	movq $pml4, %rax
	movq %rax, %cr3
	pushq $0x18
	leaq long64(%rip), %rax
	pushq %rax
	lretq

long64:
	movl $0x10, %eax
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %ss
	movl %eax, %fs
	movl %eax, %gs
	leaq stack_top(%rip), %rsp
	xorl %ebp, %ebp
	call guest_main
3:	cli
	hlt
	jmp 3b

	/* AP trampoline: copied to AP_TRAMP_ADDR; the SIPI vector is its page number. */
	.globl ap_tramp_start, ap_tramp_end, ap_tramp_cr3, ap_tramp_stack, ap_tramp_entry
	.code16
ap_tramp_start:
	cli
	movw %cs, %ax
	movw %ax, %ds
	lgdtl (ap_gdt_desc - ap_tramp_start)
	movl %cr0, %eax
	orl $1, %eax
	movl %eax, %cr0
	ljmpl $0x08, $(AP_TRAMP_ADDR + ap32 - ap_tramp_start)
	.code32
ap32:
	movl $0x10, %eax
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %ss
	movl (AP_TRAMP_ADDR + ap_tramp_cr3 - ap_tramp_start), %eax
	movl %eax, %cr3
	movl %cr4, %eax
	orl $0x20, %eax
	movl %eax, %cr4
	movl $0xc0000080, %ecx
	rdmsr
	orl $0x100, %eax
	wrmsr
	movl %cr0, %eax
	orl $0x80000000, %eax
	movl %eax, %cr0
	ljmpl $0x18, $(AP_TRAMP_ADDR + ap64 - ap_tramp_start)
	.code64
ap64:
	movl $0x10, %eax
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %ss
	movq (AP_TRAMP_ADDR + ap_tramp_stack - ap_tramp_start), %rsp
	movq (AP_TRAMP_ADDR + ap_tramp_entry - ap_tramp_start), %rax
	call *%rax
4:	cli
	hlt
	jmp 4b
	.balign 8
ap_gdt:
	.quad 0
	.quad 0x00cf9a000000ffff	/* 0x08 code32 */
	.quad 0x00cf92000000ffff	/* 0x10 data */
	.quad 0x00af9a000000ffff	/* 0x18 code64 */
ap_gdt_desc:
	.word 4 * 8 - 1
	.long AP_TRAMP_ADDR + ap_gdt - ap_tramp_start
	.balign 8
ap_tramp_cr3:
	.quad 0
ap_tramp_stack:
	.quad 0
ap_tramp_entry:
	.quad 0
ap_tramp_end:

	.section .rodata
	.balign 8
gdt:
	.quad 0
	.quad 0x00cf9a000000ffff	/* 0x08 code32 */
	.quad 0x00cf92000000ffff	/* 0x10 data */
	.quad 0x00af9a000000ffff	/* 0x18 code64 */
gdt_desc:
	.word 4 * 8 - 1
	.quad gdt

	/* The PVH entry note (Xen ELF note type 18, XEN_ELFNOTE_PHYS32_ENTRY). */
	.section .note.Xen, "a"
	.balign 4
	.long 4			/* namesz */
	.long 4			/* descsz */
	.long 18		/* type */
	.asciz "Xen"
	.long pvh_start

	.section .bss
	.globl boot_mode, boot_ptr
boot_mode: .skip 8
boot_ptr: .skip 8

	/* Not zeroed at entry (page tables are filled, stacks need no zeroes): every page the
	 * guest touches before its first output costs time under an emulating KVM. */
	.section .noinit, "aw", @nobits
	.balign 4096
	.globl pml4, pdpt, pd
pml4:	.skip 4096
pdpt:	.skip 4096
pd:	.skip 4 * 4096
	.balign 16
	.skip 16384
	.globl stack_top
stack_top:
