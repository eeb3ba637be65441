/*
 * seccomp: the splitvm syscall allowlist (libseccomp), installed on every thread
 * once set-up is done; a forbidden syscall kills the process with a log line
 * naming it.
 */
#ifndef SV_VMM_SECCOMP_H
#define SV_VMM_SECCOMP_H

#include <stddef.h>

#include "errmsg.h"

enum vmm_seccomp_action {
	/* SCMP_ACT_TRAP + a SIGSYS handler that writes
	 * "splitvm: seccomp: forbidden syscall NAME (NR), killing the process" to the
	 * log fd with async-signal-safe calls, restores the tty, and exits with
	 * status 159 (128 + SIGSYS). The default. */
	VMM_SECCOMP_TRAP_LOG = 0,
	/* SCMP_ACT_KILL_PROCESS: no log line, the process dies of SIGSYS. */
	VMM_SECCOMP_KILL,
};

struct vmm_seccomp_opts {
	enum vmm_seccomp_action action;
	/* fd the SIGSYS handler writes its line to (-1: 2). */
	int log_fd;
	/* Extra syscalls (by name) a configured device needs, e.g. io_uring_enter
	 * for aio=io_uring; NULL-terminated, may be NULL. Unknown names are refused. */
	const char *const *extra;
};

/*
 * Builds the filter and loads it with SCMP_FLTATR_CTL_TSYNC, so it applies to
 * every thread of the process, existing and future. Call after every fd,
 * mapping and thread the VM needs exists. 0 or -errno with a message.
 */
int vmm_seccomp_install(const struct vmm_seccomp_opts *opts, struct errmsg *e);

/*
 * Devices call this while they are created (main thread, before vmm_seccomp_install) to
 * add the syscalls their I/O needs, e.g. "io_uring_enter" for a drive with aio=io_uring.
 * name is not copied (use string literals). -E2BIG beyond 32 names.
 */
int vmm_seccomp_allow(const char *name);

/* Number of syscalls in the base allowlist (without extras), for the bench. */
size_t vmm_seccomp_allowlist_count(void);
/* Syscalls the filter allows with the devices' additions (after every device registered). */
size_t vmm_seccomp_total_count(void);
/* The base allowlist's names, NULL-terminated (static). */
const char *const *vmm_seccomp_allowlist(void);

#endif
