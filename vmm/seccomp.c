/*
 * seccomp: splitvm's syscall allowlist (libseccomp), loaded on every thread with TSYNC
 * once set-up is done; the SIGSYS handler names a forbidden syscall before the exit.
 */
#include <errno.h>
#include <stdbool.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <linux/vhost.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

#include <linux/if_tun.h>
#include <linux/kvm.h>
#include <seccomp.h>

#include "chardev.h"
#include "seccomp.h"

/*
 * What the running VMM does, and nothing it only does during set-up (open, socket, bind,
 * mmap of guest RAM, thread creation happen before the filter is loaded):
 *   main loop: epoll, read/write on eventfds/timerfds/chardevs, QMP accept4/recv/send,
 *              fcntl(O_NONBLOCK) on accepted clients, unlink of the QMP socket at exit;
 *   vCPUs:     ioctl(KVM_RUN and the register/irq ioctls below), tgkill to kick them out
 *              of KVM_RUN, futex for their locks;
 *   libc:      malloc (brk, mmap, munmap, mremap, mprotect, madvise), clock_gettime
 *              (when the vDSO falls back), signal return and restart, exit; getpid for
 *              log lines.
 * Devices that need more (pread64/pwritev/fdatasync/fallocate for virtio-blk, io_uring_enter,
 * io_submit/io_getevents) name them in vmm_seccomp_opts.extra.
 */
static const char *const base_allowlist[] = {
	"read",
	"write",
	"close",
	"epoll_wait",
	"epoll_ctl",
	"poll",
	"recvfrom",
	"sendto",
	"accept4",
	"ioctl",
	"fcntl",
	"futex",
	"rt_sigreturn",
	"rt_sigprocmask",
	"tgkill",
	"getpid",
	"exit",
	"exit_group",
	"brk",
	"mmap",
	"munmap",
	"mremap",
	"mprotect",
	"madvise",
	"clock_gettime",
	"timerfd_settime",
	"unlink",
	"restart_syscall",
	NULL,
};

/*
 * Sanitizer builds only (make SAN=1): what the ASan/UBSan/LSan runtimes do while the VMM
 * runs and exits — thread exit tears down the alternate signal stack, a report reads
 * /proc/self/maps, and the leak check at exit stops the world with a ptrace'd helper
 * task. Never part of a release build's filter.
 */
#if defined(__SANITIZE_ADDRESS__)
#define VMM_SECCOMP_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define VMM_SECCOMP_SANITIZER 1
#endif
#endif
#ifdef VMM_SECCOMP_SANITIZER
static const char *const sanitizer_allowlist[] = {
	"sigaltstack", "rt_sigaction", "openat",     "open",	    "lseek",	       "fstat",
	"newfstatat",  "readlink",     "getdents64", "clone",	    "clone3",	       "ptrace",
	"wait4",       "waitid",       "prctl",	     "sched_yield", "gettid",	       "pipe2",
	"dup",	       "dup2",	       "nanosleep",  "kill",	    "getppid",	       "pread64",
	"setrlimit",   "prlimit64",    "getrlimit",  "uname",	    "set_robust_list", "rseq",
	NULL,
};
#endif

/* ioctl requests the running VMM issues: vCPU run/state (pause, reset), irq lines, device
 * notifications, and the tty calls that restore stdin. Anything else is fatal. */
static const unsigned long allowed_ioctls[] = {
	KVM_RUN,
	KVM_IRQ_LINE,
	KVM_IRQ_LINE_STATUS,
	KVM_IOEVENTFD,
	KVM_IRQFD,
	KVM_SIGNAL_MSI,
	KVM_GET_REGS,
	KVM_SET_REGS,
	KVM_GET_SREGS,
	KVM_SET_SREGS,
	KVM_GET_FPU,
	KVM_SET_FPU,
	KVM_GET_LAPIC,
	KVM_SET_LAPIC,
	KVM_GET_MP_STATE,
	KVM_SET_MP_STATE,
	KVM_GET_MSRS,
	KVM_SET_MSRS,
	KVM_GET_VCPU_EVENTS,
	KVM_SET_VCPU_EVENTS,
	KVM_GET_IRQCHIP,
	KVM_SET_IRQCHIP,
	KVM_GET_PIT2,
	KVM_SET_PIT2,
	KVM_SET_CPUID2,
	KVM_GET_XSAVE,
	KVM_SET_XSAVE,
	KVM_GET_XCRS,
	KVM_SET_XCRS,
	KVM_GET_CLOCK,
	KVM_SET_CLOCK,
	KVM_SET_GSI_ROUTING,
	/* vhost-vsock kernel backend: started at DRIVER_OK, stopped at reset (vCPU thread). */
	VHOST_SET_FEATURES,
	VHOST_SET_MEM_TABLE,
	VHOST_SET_VRING_NUM,
	VHOST_SET_VRING_ADDR,
	VHOST_SET_VRING_BASE,
	VHOST_SET_VRING_KICK,
	VHOST_SET_VRING_CALL,
	VHOST_VSOCK_SET_RUNNING,
	KVM_KVMCLOCK_CTRL,
	TCGETS,
	TCSETS,
	TCSETSW,
	TCSETSF,
	TIOCGWINSZ,
	FIONBIO,
	FIONREAD,
	/* virtio-net: offloads follow the guest's features, tap queues its active pairs */
	TUNSETOFFLOAD,
	TUNSETQUEUE,
};

/* Added by devices at set-up (vmm_seccomp_allow); main thread only. */
#define SECCOMP_MAX_DEVICE_EXTRA 32
static const char *device_extra[SECCOMP_MAX_DEVICE_EXTRA];
static size_t n_device_extra;

int vmm_seccomp_allow(const char *name)
{
	size_t i;

	for (i = 0; i < n_device_extra; i++)
		if (strcmp(device_extra[i], name) == 0)
			return 0;
	if (n_device_extra == SECCOMP_MAX_DEVICE_EXTRA)
		return -E2BIG;
	device_extra[n_device_extra++] = name;
	return 0;
}

#define SECCOMP_NAME_MAX 24
#define SECCOMP_MAX_NR	 512

/* Filled before the filter is loaded, read by the SIGSYS handler (no allocation there). */
static char syscall_names[SECCOMP_MAX_NR][SECCOMP_NAME_MAX];
static int sigsys_log_fd = 2;

size_t vmm_seccomp_allowlist_count(void)
{
	return sizeof(base_allowlist) / sizeof(base_allowlist[0]) - 1;
}

size_t vmm_seccomp_total_count(void)
{
	size_t n = vmm_seccomp_allowlist_count(), i, j;

	for (i = 0; i < n_device_extra; i++) {
		bool in_base = false;

		for (j = 0; base_allowlist[j]; j++)
			in_base |= strcmp(base_allowlist[j], device_extra[i]) == 0;
		n += !in_base;
	}
	return n;
}

const char *const *vmm_seccomp_allowlist(void)
{
	return base_allowlist;
}

/* Async-signal-safe decimal formatting. */
static size_t fmt_uint(char *buf, unsigned long v)
{
	char tmp[24];
	size_t n = 0, i;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v && n < sizeof(tmp));
	for (i = 0; i < n; i++)
		buf[i] = tmp[n - 1 - i];
	return n;
}

static size_t put(char *buf, size_t off, size_t cap, const char *s)
{
	while (*s && off < cap)
		buf[off++] = *s++;
	return off;
}

static void sigsys_handler(int sig, siginfo_t *info, void *uctx)
{
	char line[160], num[24];
	int nr = info->si_syscall;
	size_t off = 0, n;

	off = put(line, off, sizeof(line), "splitvm: seccomp: forbidden syscall ");
	if (nr >= 0 && nr < SECCOMP_MAX_NR && syscall_names[nr][0])
		off = put(line, off, sizeof(line), syscall_names[nr]);
	else
		off = put(line, off, sizeof(line), "unknown");
	off = put(line, off, sizeof(line), " (");
	n = fmt_uint(num, (unsigned long)(nr < 0 ? 0 : nr));
	num[n] = '\0';
	off = put(line, off, sizeof(line), num);
	off = put(line, off, sizeof(line), "), killing the process\n");
	if (write(sigsys_log_fd, line, off) < 0) {
		/* nothing more can be done from here */
	}
	chardev_restore_tty();
	syscall(SYS_exit_group, 128 + SIGSYS);
}

static void fill_names(void)
{
	int nr;

	for (nr = 0; nr < SECCOMP_MAX_NR; nr++) {
		char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);

		if (name) {
			strncpy(syscall_names[nr], name, SECCOMP_NAME_MAX - 1);
			free(name);
		}
	}
}

static int allow_name(scmp_filter_ctx ctx, const char *name, struct errmsg *e)
{
	int nr = seccomp_syscall_resolve_name(name), ret;

	if (nr == __NR_SCMP_ERROR) {
		errmsg_set(e, "unknown syscall '%s'", name);
		return -EINVAL;
	}
	if (strcmp(name, "ioctl") == 0) {
		size_t i;

		for (i = 0; i < sizeof(allowed_ioctls) / sizeof(allowed_ioctls[0]); i++) {
			/* Compare the low 32 bits: the kernel's ioctl cmd is an unsigned int. */
			struct scmp_arg_cmp cmp = {.arg = 1,
						   .op = SCMP_CMP_MASKED_EQ,
						   .datum_a = 0xffffffffu,
						   .datum_b = (uint32_t)allowed_ioctls[i]};

			ret = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, nr, 1, &cmp);
			if (ret) {
				errmsg_set(e, "ioctl rule: %s", strerror(-ret));
				return ret;
			}
		}
		return 0;
	}
	ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
	if (ret)
		errmsg_set(e, "rule for %s: %s", name, strerror(-ret));
	return ret;
}

int vmm_seccomp_install(const struct vmm_seccomp_opts *opts, struct errmsg *e)
{
	enum vmm_seccomp_action action = opts ? opts->action : VMM_SECCOMP_TRAP_LOG;
	scmp_filter_ctx ctx;
	size_t i;
	int ret;

	if (action == VMM_SECCOMP_TRAP_LOG) {
		struct sigaction sa;

		memset(&sa, 0, sizeof(sa));
		sa.sa_sigaction = sigsys_handler;
		sa.sa_flags = SA_SIGINFO;
		sigemptyset(&sa.sa_mask);
		fill_names();
		sigsys_log_fd = opts && opts->log_fd >= 0 ? opts->log_fd : 2;
		if (sigaction(SIGSYS, &sa, NULL) < 0) {
			ret = -errno;
			errmsg_set(e, "sigaction(SIGSYS): %s", strerror(errno));
			return ret;
		}
	}
	ctx = seccomp_init(action == VMM_SECCOMP_KILL ? SCMP_ACT_KILL_PROCESS : SCMP_ACT_TRAP);
	if (!ctx) {
		errmsg_set(e, "seccomp_init failed");
		return -ENOMEM;
	}
	ret = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	if (ret) {
		errmsg_set(e, "TSYNC: %s", strerror(-ret));
		goto out;
	}
	for (i = 0; base_allowlist[i]; i++) {
		ret = allow_name(ctx, base_allowlist[i], e);
		if (ret)
			goto out;
	}
#ifdef VMM_SECCOMP_SANITIZER
	for (i = 0; sanitizer_allowlist[i]; i++) {
		/* Older libseccomp may not know every name (clone3, rseq): skip those. */
		if (seccomp_syscall_resolve_name(sanitizer_allowlist[i]) == __NR_SCMP_ERROR)
			continue;
		ret = allow_name(ctx, sanitizer_allowlist[i], e);
		if (ret)
			goto out;
	}
#endif
	for (i = 0; opts && opts->extra && opts->extra[i]; i++) {
		if (strcmp(opts->extra[i], "ioctl") == 0)
			continue; /* already allowed, with its argument filter */
		ret = allow_name(ctx, opts->extra[i], e);
		if (ret)
			goto out;
	}
	for (i = 0; i < n_device_extra; i++) {
		if (strcmp(device_extra[i], "ioctl") == 0)
			continue;
		ret = allow_name(ctx, device_extra[i], e);
		if (ret)
			goto out;
	}
	ret = seccomp_load(ctx);
	if (ret)
		errmsg_set(e, "seccomp_load: %s", strerror(-ret));
out:
	seccomp_release(ctx);
	return ret;
}
