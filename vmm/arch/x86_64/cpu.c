/* x86 vCPU: CPUID with the -smp topology, MSRs, FPU, LAPIC LINT0/LINT1, boot registers. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "vmm/arch.h"
#include "layout.h"
#include "log.h"
#include "x86.h"

#define CPUID_1_EDX_HTT	       (1u << 28)
#define CPUID_1_ECX_HYPERVISOR (1u << 31)

#define MSR_IA32_TSC	      0x10
#define MSR_IA32_SYSENTER_CS  0x174
#define MSR_IA32_SYSENTER_ESP 0x175
#define MSR_IA32_SYSENTER_EIP 0x176
#define MSR_IA32_MISC_ENABLE  0x1a0
#define MSR_MTRR_DEF_TYPE     0x2ff
#define MSR_STAR	      0xc0000081
#define MSR_LSTAR	      0xc0000082
#define MSR_CSTAR	      0xc0000083
#define MSR_SYSCALL_MASK      0xc0000084
#define MSR_KERNEL_GS_BASE    0xc0000102

#define APIC_LVT_LINT0	 0x350
#define APIC_LVT_LINT1	 0x360
#define APIC_MODE_NMI	 4u
#define APIC_MODE_EXTINT 7u

#define X86_CR0_PE	 (1ull << 0)
#define X86_CR0_ET	 (1ull << 4)
#define X86_CR0_PG	 (1ull << 31)
#define X86_CR4_PAE	 (1ull << 5)
#define X86_EFER_LME	 (1ull << 8)
#define X86_EFER_LMA	 (1ull << 10)
#define APIC_BASE_ENABLE (1ull << 11)
#define APIC_BASE_BSP	 (1ull << 8)

static uint32_t clog2(uint32_t n)
{
	uint32_t b = 0;

	while ((1u << b) < n)
		b++;
	return b;
}

struct x86_topo_bits {
	uint32_t smt, core, die; /* widths of the APIC ID fields */
};

static struct x86_topo_bits x86_topo(const struct vm_smp_config *s)
{
	return (struct x86_topo_bits){
		.smt = clog2(s->threads),
		.core = clog2(s->cores * s->clusters),
		.die = clog2(s->dies),
	};
}

int64_t arch_vcpu_id(const struct machine *m, const struct vcpu *v)
{
	const struct vm_smp_config *s = &m->cfg->smp;
	struct x86_topo_bits b = x86_topo(s);
	uint64_t id;

	id = ((uint64_t)v->socket << (b.die + b.core + b.smt)) |
	     ((uint64_t)v->die << (b.core + b.smt)) |
	     ((uint64_t)(v->cluster * s->cores + v->core) << b.smt) | v->smt;
	/* xAPIC IDs are 8 bits and 0xff is the broadcast ID. */
	return id < 0xff ? (int64_t)id : -ERANGE;
}

/* One extended-topology subleaf (leaf 0xb or 0x1f). */
static void cpuid_topo_leaf(struct kvm_cpuid_entry2 *e, uint32_t fn, uint32_t idx, uint32_t shift,
			    uint32_t count, uint32_t type, uint32_t apic_id)
{
	memset(e, 0, sizeof(*e));
	e->function = fn;
	e->index = idx;
	e->flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
	e->eax = shift;
	e->ebx = count;
	e->ecx = (type << 8) | idx;
	e->edx = apic_id;
}

static int x86_set_cpuid(struct vcpu *v, struct errmsg *e)
{
	const struct kvm_cpuid2 *tmpl = v->m->arch->cpuid;
	const struct vm_smp_config *s = &v->m->cfg->smp;
	struct x86_topo_bits b = x86_topo(s);
	uint32_t pkg_bits = b.smt + b.core + b.die;
	uint32_t per_pkg = s->threads * s->cores * s->clusters * s->dies;
	bool has_1f = false;
	struct kvm_cpuid2 *c;
	uint32_t i, n = 0;
	int ret = 0;

	c = calloc(1, sizeof(*c) + (tmpl->nent + 8) * sizeof(c->entries[0]));
	if (!c) {
		errmsg_set(e, "out of memory");
		return -ENOMEM;
	}
	for (i = 0; i < tmpl->nent; i++) {
		struct kvm_cpuid_entry2 ent = tmpl->entries[i];

		switch (ent.function) {
		case 1:
			ent.ebx = (ent.ebx & 0xffff) | (v->apic_id << 24) |
				  ((1u << pkg_bits) & 0xff) << 16;
			if (per_pkg > 1)
				ent.edx |= CPUID_1_EDX_HTT;
			ent.ecx |= CPUID_1_ECX_HYPERVISOR;
			break;
		case 4:
			if (ent.eax & 0x1f) {
				uint32_t level = (ent.eax >> 5) & 7;
				uint32_t share = level >= 3 ? pkg_bits : b.smt;

				ent.eax &= 0x3ff;
				ent.eax |= (((1u << (b.core + b.die)) - 1) << 26) |
					   (((1u << share) - 1) << 14);
			}
			break;
		case 0xb:
			continue; /* rebuilt below */
		case 0x1f:
			has_1f = true;
			continue;
		default:
			break;
		}
		c->entries[n++] = ent;
	}
	cpuid_topo_leaf(&c->entries[n++], 0xb, 0, b.smt, s->threads, 1, v->apic_id);
	cpuid_topo_leaf(&c->entries[n++], 0xb, 1, pkg_bits, per_pkg, 2, v->apic_id);
	cpuid_topo_leaf(&c->entries[n++], 0xb, 2, 0, 0, 0, v->apic_id);
	if (has_1f) {
		/* Leaf 0x1f adds the die level between core and package. */
		cpuid_topo_leaf(&c->entries[n++], 0x1f, 0, b.smt, s->threads, 1, v->apic_id);
		cpuid_topo_leaf(&c->entries[n++], 0x1f, 1, b.smt + b.core,
				s->threads * s->cores * s->clusters, 2, v->apic_id);
		cpuid_topo_leaf(&c->entries[n++], 0x1f, 2, pkg_bits, per_pkg, 5, v->apic_id);
		cpuid_topo_leaf(&c->entries[n++], 0x1f, 3, 0, 0, 0, v->apic_id);
	}
	c->nent = n;
	if (ioctl(v->fd, KVM_SET_CPUID2, c) < 0) {
		ret = -errno;
		errmsg_set(e, "vCPU %u: KVM_SET_CPUID2: %s", v->index, strerror(errno));
	}
	free(c);
	return ret;
}

static int x86_set_msrs(struct vcpu *v)
{
	static const uint32_t zero_msrs[] = {
		MSR_IA32_SYSENTER_CS,
		MSR_IA32_SYSENTER_ESP,
		MSR_IA32_SYSENTER_EIP,
		MSR_STAR,
		MSR_LSTAR,
		MSR_CSTAR,
		MSR_SYSCALL_MASK,
		MSR_KERNEL_GS_BASE,
		MSR_IA32_TSC,
	};
	union {
		struct kvm_msrs hdr;
		uint8_t raw[sizeof(struct kvm_msrs) + 16 * sizeof(struct kvm_msr_entry)];
	} buf;
	struct kvm_msr_entry *e = buf.hdr.entries;
	uint32_t i, n = 0;
	int ret;

	memset(&buf, 0, sizeof(buf));
	for (i = 0; i < sizeof(zero_msrs) / sizeof(zero_msrs[0]); i++)
		e[n++].index = zero_msrs[i];
	e[n].index = MSR_IA32_MISC_ENABLE;
	e[n++].data = 1; /* fast string operations */
	e[n].index = MSR_MTRR_DEF_TYPE;
	e[n++].data = (1u << 11) | 6; /* MTRRs on, default write-back */
	buf.hdr.nmsrs = n;
	ret = ioctl(v->fd, KVM_SET_MSRS, &buf.hdr);
	if (ret < 0)
		return -errno;
	return (uint32_t)ret == n ? 0 : -EIO;
}

static int x86_set_fpu(struct vcpu *v)
{
	struct kvm_fpu fpu;

	memset(&fpu, 0, sizeof(fpu));
	fpu.fcw = 0x37f;
	fpu.mxcsr = 0x1f80;
	return ioctl(v->fd, KVM_SET_FPU, &fpu) < 0 ? -errno : 0;
}

static uint32_t lapic_get(const struct kvm_lapic_state *l, uint32_t off)
{
	uint32_t val;

	memcpy(&val, &l->regs[off], sizeof(val));
	return val;
}

static void lapic_set(struct kvm_lapic_state *l, uint32_t off, uint32_t val)
{
	memcpy(&l->regs[off], &val, sizeof(val));
}

static int x86_set_lapic(struct vcpu *v)
{
	struct kvm_lapic_state *l = &v->arch->lapic;

	if (ioctl(v->fd, KVM_GET_LAPIC, l) < 0)
		return -errno;
	/* LINT0 delivers the PIC's ExtINT, LINT1 NMI (the MP spec's virtual wire mode). */
	lapic_set(l, APIC_LVT_LINT0,
		  (lapic_get(l, APIC_LVT_LINT0) & ~0x700u) | APIC_MODE_EXTINT << 8);
	lapic_set(l, APIC_LVT_LINT1, (lapic_get(l, APIC_LVT_LINT1) & ~0x700u) | APIC_MODE_NMI << 8);
	return ioctl(v->fd, KVM_SET_LAPIC, l) < 0 ? -errno : 0;
}

int arch_vcpu_init(struct vcpu *v, struct errmsg *e)
{
	int ret;

	v->arch = calloc(1, sizeof(*v->arch));
	if (!v->arch) {
		errmsg_set(e, "out of memory");
		return -ENOMEM;
	}
	ret = x86_set_cpuid(v, e);
	if (ret)
		return ret;
	ret = x86_set_lapic(v);
	if (ret) {
		errmsg_set(e, "vCPU %u: LAPIC set-up: %s", v->index, strerror(-ret));
		return ret;
	}
	return 0;
}

void arch_vcpu_free(struct vcpu *v)
{
	free(v->arch);
	v->arch = NULL;
}

static void seg_flat(struct kvm_segment *s, uint16_t sel, uint8_t type, bool code64)
{
	memset(s, 0, sizeof(*s));
	s->base = 0;
	s->limit = 0xffffffff;
	s->selector = sel;
	s->type = type;
	s->present = 1;
	s->s = 1;
	s->g = 1;
	s->l = code64;
	s->db = !code64;
}

static int x86_set_boot_sregs(struct vcpu *v)
{
	struct arch_machine *a = v->m->arch;
	bool lm = a->boot_kind == X86_BOOT_LINUX64;
	struct kvm_sregs sr;

	if (ioctl(v->fd, KVM_GET_SREGS, &sr) < 0)
		return -errno;
	seg_flat(&sr.cs, 0x08, 0xb, lm);
	seg_flat(&sr.ds, 0x10, 0x3, false);
	sr.es = sr.fs = sr.gs = sr.ss = sr.ds;
	memset(&sr.tr, 0, sizeof(sr.tr));
	sr.tr.selector = 0x18;
	sr.tr.limit = 0x67;
	sr.tr.type = 0xb; /* busy 32/64-bit TSS */
	sr.tr.present = 1;
	memset(&sr.ldt, 0, sizeof(sr.ldt));
	sr.ldt.type = 0x2;
	sr.ldt.present = 1;
	sr.ldt.unusable = 1;
	sr.gdt.base = X86_GDT_ADDR;
	sr.gdt.limit = 4 * 8 - 1;
	sr.idt.base = X86_IDT_ADDR;
	sr.idt.limit = 7;
	sr.cr2 = sr.cr8 = 0;
	memset(sr.interrupt_bitmap, 0, sizeof(sr.interrupt_bitmap));
	sr.apic_base = X86_LAPIC_ADDR | APIC_BASE_ENABLE | APIC_BASE_BSP;
	if (lm) {
		sr.cr0 = X86_CR0_PE | X86_CR0_ET | X86_CR0_PG;
		sr.cr3 = X86_PML4_ADDR;
		sr.cr4 = X86_CR4_PAE;
		sr.efer = X86_EFER_LME | X86_EFER_LMA;
	} else {
		/* PVH: 32-bit protected mode, paging off. */
		sr.cr0 = X86_CR0_PE | X86_CR0_ET;
		sr.cr3 = 0;
		sr.cr4 = 0;
		sr.efer = 0;
	}
	return ioctl(v->fd, KVM_SET_SREGS, &sr) < 0 ? -errno : 0;
}

int arch_vcpu_reset(struct vcpu *v)
{
	struct arch_machine *a = v->m->arch;
	struct kvm_mp_state mp = {.mp_state = KVM_MP_STATE_RUNNABLE};
	struct kvm_vcpu_events ev;
	struct kvm_regs regs;
	int ret;

	memset(&ev, 0, sizeof(ev));
	if (ioctl(v->fd, KVM_SET_VCPU_EVENTS, &ev) < 0)
		return -errno;
	ret = x86_set_msrs(v);
	if (!ret)
		ret = x86_set_fpu(v);
	if (ret)
		return ret;
	if (v->index != 0) {
		struct kvm_sregs sr;

		/* Application processors wait for INIT-SIPI-SIPI from the guest (which sets
		 * their registers); only the APIC base survives INIT and needs resetting. */
		if (ioctl(v->fd, KVM_GET_SREGS, &sr) < 0)
			return -errno;
		sr.apic_base = X86_LAPIC_ADDR | APIC_BASE_ENABLE;
		if (ioctl(v->fd, KVM_SET_SREGS, &sr) < 0 ||
		    ioctl(v->fd, KVM_SET_LAPIC, &v->arch->lapic) < 0)
			return -errno;
		mp.mp_state = KVM_MP_STATE_UNINITIALIZED;
		return ioctl(v->fd, KVM_SET_MP_STATE, &mp) < 0 ? -errno : 0;
	}
	ret = x86_set_boot_sregs(v);
	if (ret)
		return ret;
	if (ioctl(v->fd, KVM_SET_LAPIC, &v->arch->lapic) < 0)
		return -errno;
	memset(&regs, 0, sizeof(regs));
	regs.rflags = 0x2;
	regs.rip = a->entry;
	if (a->boot_kind == X86_BOOT_LINUX64) {
		regs.rsi = X86_ZERO_PAGE_ADDR;
		regs.rsp = regs.rbp = X86_BOOT_STACK;
	} else {
		regs.rbx = X86_PVH_INFO_ADDR;
	}
	if (ioctl(v->fd, KVM_SET_REGS, &regs) < 0)
		return -errno;
	return ioctl(v->fd, KVM_SET_MP_STATE, &mp) < 0 ? -errno : 0;
}

int arch_vcpu_exit(struct vcpu *v, unsigned int reason)
{
	(void)v;
	(void)reason;
	return -ENOTSUP;
}
