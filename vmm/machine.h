/* machine: the VM as devices and the control plane see it (KVM fds, guest memory, buses,
 * vCPUs, run state, reset/shutdown requests), independent of the guest architecture.
 * The architecture-specific half is behind the arch_* interface in vmm/arch.h. */
#ifndef SV_VMM_MACHINE_H
#define SV_VMM_MACHINE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "bus.h"
#include "errmsg.h"
#include "memory.h"
#include "vm_config.h"

struct loop;
struct chardev;
struct machine;
struct arch_machine;
struct arch_vcpu;

/* Run states, one-to-one with QMP's (qmp_run_state). */
enum machine_state {
	MACHINE_PRELAUNCH = 0, /* created, -S: vCPUs exist but have never run */
	MACHINE_RUNNING,
	MACHINE_PAUSED,
	MACHINE_SHUTDOWN,	/* powered off / quitting: vCPUs stopped for good */
	MACHINE_INTERNAL_ERROR, /* KVM could not run a vCPU; paused, state kept for debugging */
};

/* What a vCPU (or a device on any thread) asks the main loop to do. */
enum machine_request {
	MACHINE_REQ_RESET = 1u << 0,	 /* guest reset (i8042, triple fault, ACPI reset reg) */
	MACHINE_REQ_POWEROFF = 1u << 1,	 /* guest power-off */
	MACHINE_REQ_ERROR = 1u << 2,	 /* a vCPU hit an unrecoverable KVM exit */
	MACHINE_REQ_EXIT_CODE = 1u << 3, /* test exit port: quit with machine.exit_code */
};

struct vcpu {
	struct machine *m;
	uint32_t index;				  /* 0 = boot processor */
	uint32_t apic_id;			  /* (arch) topology id: x86 initial APIC ID */
	uint32_t socket, die, cluster, core, smt; /* topology coordinates */
	int fd;
	struct kvm_run *run; /* mmap of the vCPU's kvm_run, owned by its thread */
	size_t run_size;
	pthread_t thread;
	bool started;
	bool ready;	   /* the thread finished its own set-up (guarded by machine.lock) */
	_Atomic pid_t tid; /* host thread id, for query-cpus-fast */
	struct arch_vcpu *arch;
};

/* Hook run on the main loop thread, with every vCPU parked, when the VM resets. */
typedef void (*machine_reset_fn)(void *opaque);

/* One device in the virtio-mmio window (for the kernel command line and ACPI DSDT). */
struct machine_mmio_dev {
	uint64_t base;
	uint64_t size;
	uint32_t gsi;
	char name[32];
};

#define MACHINE_MAX_MMIO_DEVS	32
#define MACHINE_MAX_RESET_HOOKS 64
#define MACHINE_CMDLINE_MAX	4096

struct machine {
	/* Immutable after machine_create. */
	const struct vm_config *cfg;
	int kvm_fd;
	int vm_fd;
	struct gmem mem;
	struct bus *pio; /* x86 port I/O (NULL on architectures without it) */
	struct bus *mmio;
	struct loop *loop; /* the main loop: device eventfds, chardevs, QMP */
	struct vcpu *vcpus;
	uint32_t nr_vcpus;
	struct chardev *serial_chr; /* -serial backend, or NULL */
	struct arch_machine *arch;

	/* Filled while devices are created (main thread, before the vCPUs start). */
	struct machine_mmio_dev mmio_devs[MACHINE_MAX_MMIO_DEVS];
	uint32_t nr_mmio_devs;
	uint64_t mmio_next;			 /* next free virtio-mmio slot address */
	uint32_t gsi_next;			 /* next free device interrupt line */
	char cmdline_extra[MACHINE_CMDLINE_MAX]; /* appended to -append at boot */
	struct {
		machine_reset_fn fn;
		void *opaque;
	} reset_hooks[MACHINE_MAX_RESET_HOOKS];
	uint32_t nr_reset_hooks;

	/* Run control: guarded by lock; vCPU threads wait on cond while parked. */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	enum machine_state state;
	bool stop_vcpus;     /* vCPU threads park (pause, reset) */
	bool quit_vcpus;     /* vCPU threads exit */
	uint32_t nr_parked;  /* vCPUs currently parked */
	uint32_t nr_running; /* vCPU threads alive */

	/* Requests from any thread to the main loop (bits of enum machine_request). */
	atomic_uint requests;
	int request_efd;
	atomic_int exit_code;	       /* for MACHINE_REQ_EXIT_CODE */
	atomic_bool powerdown_pending; /* system_powerdown: the guest's power button is pressed */
	/* Called on the main loop thread for each request batch (main.c turns these into
	 * QMP events and actions). */
	void (*on_request)(struct machine *m, unsigned int reqs, void *opaque);
	void *on_request_opaque;
	uint64_t start_ns; /* process start (for the boot-time marker log) */
};

/*
 * Creates the VM for cfg: KVM, memory, buses, the arch machine (irqchip, timers, legacy
 * devices, vCPUs configured) and loads the kernel. vCPU threads are not started. 0 or
 * -errno with a one-line message in e (e.g. "-kernel /x: truncated ...").
 */
int machine_create(struct machine *m, const struct vm_config *cfg, struct loop *l,
		   struct chardev *serial, struct errmsg *e);
/* Stops vCPU threads and frees everything. Main thread. */
void machine_destroy(struct machine *m);

/*
 * Device set-up helpers (main thread, between machine_create and machine_start):
 * machine_alloc_mmio reserves the next virtio-mmio slot (size rounded up to 4 KiB... see
 * the x86 layout in vmm/arch/x86_64/layout.h) and a free interrupt line, records it for
 * discovery (ACPI DSDT, "virtio_mmio.device=SIZE@BASE:IRQ" on the command line if the
 * device asks with machine_cmdline_append). -ENOSPC when the window or lines run out.
 */
int machine_alloc_mmio(struct machine *m, uint64_t size, const char *name, uint64_t *base,
		       struct irq_line *irq);
/* Appends " str" to the guest kernel command line. -E2BIG if it would not fit. */
int machine_cmdline_append(struct machine *m, const char *str);
/* Registers fn to run at every VM reset (after the vCPUs are parked, before they resume).
 * Hooks run on the main loop thread with machine.lock held: they must not call the run-control
 * functions below. */
int machine_add_reset_hook(struct machine *m, machine_reset_fn fn, void *opaque);

/* Loads the kernel (after devices added their command-line entries) and starts the vCPU
 * threads, parked. Main thread. 0 or -errno with e. */
int machine_start(struct machine *m, struct errmsg *e);
/* Lets the vCPUs run (unless -S): called once the seccomp filter is on, so no guest
 * instruction runs before the sandbox. */
void machine_release(struct machine *m);

/*
 * Run control, main loop thread (QMP ops). pause parks every vCPU and returns when all are
 * parked; resume lets them run. reset parks, resets the arch state (registers, irqchip,
 * timers, kernel reloaded), runs the reset hooks, then restores the previous run state
 * (internal-error becomes paused: the VM needs a reset before cont).
 * 0 or -errno (-EINVAL in a state where the action makes no sense, e.g. resume after
 * shutdown).
 */
int machine_pause(struct machine *m);
int machine_resume(struct machine *m);
int machine_reset(struct machine *m);
/* Parks and ends every vCPU thread; state becomes SHUTDOWN. */
void machine_shutdown(struct machine *m);
enum machine_state machine_get_state(struct machine *m);

/* Any thread not holding machine.lock: asks the main loop to act (bits of enum
 * machine_request). RESET, POWEROFF and EXIT_CODE also park every vCPU at once. */
void machine_request(struct machine *m, unsigned int req);

#endif
