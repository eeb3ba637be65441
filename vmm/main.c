/* splitvm: the KVM microVM monitor. Parses the StratoVirt-style command line, builds the
 * machine and its devices, serves QMP and turns guest and QMP requests into VM actions. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "arch.h"
#include "chardev.h"
#include "log.h"
#include "loop.h"
#include "machine.h"
#include "qmp.h"
#include "seccomp.h"
#include "util.h"
#include "vm_config.h"

#define SPLITVM_VERSION_MAJOR 0
#define SPLITVM_VERSION_MINOR 1
#define SPLITVM_VERSION_MICRO 0

/* The process's top-level context (the only global, per C-STYLE). Main thread only. */
struct splitvm {
	struct vm_config cfg;
	struct loop *loop;
	struct machine m;
	bool have_machine;
	struct chardev *chardevs[VMCFG_MAX_CHARDEVS];
	struct qmp_server *qmp;
	int exit_code;
	int ready_fd;	/* -daemonize: the pipe to the waiting parent, else -1 */
	int devnull_fd; /* -daemonize: /dev/null for stderr once started, else -1 */
	bool quitting;	/* set once: later guest requests are ignored */
	bool pidfile_written;
};

static struct splitvm g_vm = {.ready_fd = -1, .devnull_fd = -1};

#if defined(__SANITIZE_ADDRESS__)
#define SPLITVM_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SPLITVM_SANITIZED 1
#endif
#endif
#ifdef SPLITVM_SANITIZED
/* The ASan+UBSan test build only: what the sanitizer runtime needs when threads and the
 * process exit. Release builds load the base allowlist alone. */
static const char *const sanitizer_syscalls[] = {
	"sigaltstack", "gettid", "sched_yield", "prctl", "rt_sigaction", NULL,
};
static atomic_bool sanitizer_filtered;
/* LeakSanitizer's exit-time check stops the world with clone and ptrace, which the filter
 * forbids: it runs only in -disable-seccomp runs (the tests have both kinds). */
int __lsan_is_turned_off(void);
int __lsan_is_turned_off(void)
{
	return atomic_load(&sanitizer_filtered);
}
#define SANITIZER_FILTERED() atomic_store(&sanitizer_filtered, true)
#else
static const char *const *const sanitizer_syscalls = NULL;
#define SANITIZER_FILTERED() ((void)0)
#endif

/*
 * Devices (virtio-mmio and friends) are created by vmm/devices/ when that code is linked in;
 * this default refuses any -device so a build without them says so instead of ignoring it.
 */
__attribute__((weak)) int vmm_devices_create(struct machine *m, struct errmsg *e)
{
	if (m->cfg->n_devices) {
		errmsg_set(e, "-device %s: not supported by this build of splitvm",
			   vm_device_kind_name(m->cfg->devices[0].kind));
		return -ENOTSUP;
	}
	return 0;
}

static void vm_quit(struct splitvm *vm, int code)
{
	if (vm->quitting)
		return;
	vm->quitting = true;
	vm->exit_code = code;
	if (vm->have_machine)
		machine_shutdown(&vm->m);
	loop_stop(vm->loop);
}

static int op_pause(void *opaque)
{
	struct splitvm *vm = opaque;
	enum machine_state before = machine_get_state(&vm->m);
	int ret = machine_pause(&vm->m);

	if (!ret && before == MACHINE_RUNNING)
		qmp_server_event_simple(vm->qmp, "STOP");
	return ret;
}

static int op_resume(void *opaque)
{
	struct splitvm *vm = opaque;
	enum machine_state before = machine_get_state(&vm->m);
	int ret = machine_resume(&vm->m);

	if (!ret && before != MACHINE_RUNNING)
		qmp_server_event_simple(vm->qmp, "RESUME");
	return ret;
}

static int op_reset(void *opaque)
{
	struct splitvm *vm = opaque;
	int ret = machine_reset(&vm->m);

	if (!ret)
		qmp_server_event_reset(vm->qmp, false, "host-qmp-system-reset");
	return ret;
}

static int op_powerdown(void *opaque)
{
	struct splitvm *vm = opaque;

	/* The guest sees the power button in the ACPI PM status register (vmm/README.md), and
	 * guests that follow ACPI get a GED interrupt and a power-button notify. */
	atomic_store(&vm->m.powerdown_pending, true);
	arch_power_button(&vm->m);
	qmp_server_event_simple(vm->qmp, "POWERDOWN");
	return 0;
}

static int op_quit(void *opaque)
{
	struct splitvm *vm = opaque;

	qmp_server_event_shutdown(vm->qmp, false, "host-qmp-quit");
	vm_quit(vm, 0);
	return 0;
}

static enum qmp_run_state op_run_state(void *opaque)
{
	struct splitvm *vm = opaque;

	switch (machine_get_state(&vm->m)) {
	case MACHINE_PRELAUNCH:
		return QMP_RUN_STATE_PRELAUNCH;
	case MACHINE_RUNNING:
		return QMP_RUN_STATE_RUNNING;
	case MACHINE_PAUSED:
		return QMP_RUN_STATE_PAUSED;
	case MACHINE_SHUTDOWN:
		return QMP_RUN_STATE_SHUTDOWN;
	default:
		return QMP_RUN_STATE_INTERNAL_ERROR;
	}
}

static int op_query_cpus(void *opaque, struct qmp_cpu_info *out, size_t max, size_t *n)
{
	struct splitvm *vm = opaque;
	uint32_t i;

	for (i = 0; i < vm->m.nr_vcpus && i < max; i++) {
		const struct vcpu *v = &vm->m.vcpus[i];

		out[i] = (struct qmp_cpu_info){
			.cpu_index = v->index,
			.thread_id = atomic_load(&v->tid),
			.socket_id = v->socket,
			.die_id = v->die,
			.cluster_id = v->cluster,
			.core_id = v->core,
			.thread_id_in_core = v->smt,
		};
	}
	*n = i;
	return 0;
}

static const struct qmp_vm_ops vm_qmp_ops = {
	.pause = op_pause,
	.resume = op_resume,
	.reset = op_reset,
	.powerdown = op_powerdown,
	.quit = op_quit,
	.run_state = op_run_state,
	.query_cpus = op_query_cpus,
};

static enum qmp_run_state op_none_run_state(void *opaque)
{
	return QMP_RUN_STATE_PRELAUNCH;
}

/* -machine none: no VM, so only quit and query-status mean something. */
static const struct qmp_vm_ops none_qmp_ops = {
	.quit = op_quit,
	.run_state = op_none_run_state,
};

/* Guest and vCPU requests, on the main loop thread. */
static void on_machine_request(struct machine *m, unsigned int reqs, void *opaque)
{
	struct splitvm *vm = opaque;

	if (vm->quitting)
		return;
	/* A guest that powers off may fall through to the exit port: power-off wins. */
	if (reqs & MACHINE_REQ_POWEROFF) {
		log_info("guest powered off");
		qmp_server_event_shutdown(vm->qmp, true, "guest-shutdown");
		vm_quit(vm, 0);
		return;
	}
	if (reqs & MACHINE_REQ_EXIT_CODE) {
		int code = atomic_load(&m->exit_code);

		log_info("guest wrote the test exit port: exiting with status %d", code);
		qmp_server_event_shutdown(vm->qmp, true, "guest-shutdown");
		vm_quit(vm, code);
		return;
	}
	if (reqs & MACHINE_REQ_ERROR) {
		enum machine_state before = machine_get_state(m);

		machine_pause(m);
		pthread_mutex_lock(&m->lock);
		m->state = MACHINE_INTERNAL_ERROR;
		pthread_mutex_unlock(&m->lock);
		if (before == MACHINE_RUNNING)
			qmp_server_event_simple(vm->qmp, "STOP");
		log_error("the VM stopped on an internal error (QMP query-status: internal-error)");
		return;
	}
	if (reqs & MACHINE_REQ_RESET) {
		if (vm->cfg.no_reboot) {
			log_info("guest rebooted with -no-reboot: exiting");
			qmp_server_event_shutdown(vm->qmp, true, "guest-reset");
			vm_quit(vm, 0);
			return;
		}
		if (machine_reset(m) == 0)
			qmp_server_event_reset(vm->qmp, true, "guest-reset");
	}
}

static void on_signal(struct loop *l, int signo, void *arg)
{
	struct splitvm *vm = arg;

	if (vm->quitting)
		return;
	log_info("%s received, shutting down", strsignal(signo));
	if (vm->qmp)
		qmp_server_event_shutdown(vm->qmp, false, "host-signal");
	vm_quit(vm, 0);
}

/* Forks; the parent waits for the child to report start-up and exits with its status. */
static int daemonize(struct splitvm *vm)
{
	int fds[2], devnull;
	pid_t pid;
	char st = 1;

	if (pipe2(fds, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid > 0) {
		close(fds[1]);
		if (read(fds[0], &st, 1) != 1)
			st = 1;
		_exit(st);
	}
	close(fds[0]);
	vm->ready_fd = fds[1];
	if (setsid() < 0)
		return -errno;
	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (devnull < 0)
		return -errno;
	dup2(devnull, 0);
	dup2(devnull, 1);
	/* stderr stays until start-up is over, so a failure still reaches the user. */
	vm->devnull_fd = devnull;
	return 0;
}

static void report_ready(struct splitvm *vm, char status)
{
	if (vm->ready_fd < 0)
		return;
	if (write(vm->ready_fd, &status, 1) != 1)
		log_warn("-daemonize: cannot tell the parent: %s", strerror(errno));
	close(vm->ready_fd);
	vm->ready_fd = -1;
}

static int write_pidfile(const char *path)
{
	char buf[32];
	int fd, len, ret = 0;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	len = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
	if (write_full(fd, buf, (size_t)len) < 0)
		ret = -errno;
	if (close(fd) < 0 && !ret)
		ret = -errno;
	return ret;
}

static int open_chardevs(struct splitvm *vm, struct errmsg *e)
{
	size_t i;

	for (i = 0; i < vm->cfg.n_chardevs; i++) {
		vm->chardevs[i] = chardev_open(vm->loop, &vm->cfg.chardevs[i], e);
		if (!vm->chardevs[i]) {
			errmsg_prefix(e, "-chardev %s", vm->cfg.chardevs[i].id);
			return -errno ? -errno : -EINVAL;
		}
	}
	return 0;
}

static int setup(struct splitvm *vm, struct errmsg *e)
{
	struct qmp_server_info info = {
		.name = vm->cfg.name,
		.version_major = SPLITVM_VERSION_MAJOR,
		.version_minor = SPLITVM_VERSION_MINOR,
		.version_micro = SPLITVM_VERSION_MICRO,
		.package = "splitvirt",
	};
	bool none = vm->cfg.machine.type == VM_MACHINE_NONE;
	int ret;

	vm->loop = loop_new();
	if (!vm->loop) {
		errmsg_set(e, "event loop: %s", strerror(errno));
		return -errno;
	}
	if (loop_add_signal(vm->loop, SIGINT, on_signal, vm) ||
	    loop_add_signal(vm->loop, SIGTERM, on_signal, vm) ||
	    loop_add_signal(vm->loop, SIGHUP, on_signal, vm)) {
		errmsg_set(e, "signal set-up failed");
		return -EIO;
	}
	signal(SIGPIPE, SIG_IGN);
	if (!none) {
		ret = open_chardevs(vm, e);
		if (ret)
			return ret;
		ret = machine_create(&vm->m, &vm->cfg, vm->loop,
				     vm->cfg.serial >= 0 ? vm->chardevs[vm->cfg.serial] : NULL, e);
		if (ret)
			return ret;
		vm->have_machine = true;
		vm->m.on_request = on_machine_request;
		vm->m.on_request_opaque = vm;
		ret = vmm_devices_create(&vm->m, e);
		if (ret)
			return ret;
		info.kvm_present = info.kvm_enabled = true;
	}
	vm->qmp = qmp_server_new(vm->loop, none ? &none_qmp_ops : &vm_qmp_ops, vm, &info, e);
	if (!vm->qmp)
		return -errno ? -errno : -EIO;
	if (vm->cfg.qmp_path) {
		ret = qmp_server_listen(vm->qmp, vm->cfg.qmp_path, e);
		if (ret)
			return ret;
	}
	if (!none) {
		ret = machine_start(&vm->m, e);
		if (ret)
			return ret;
	}
	if (vm->cfg.pidfile) {
		ret = write_pidfile(vm->cfg.pidfile);
		if (ret) {
			errmsg_set(e, "-pidfile %s: %s", vm->cfg.pidfile, strerror(-ret));
			return ret;
		}
		vm->pidfile_written = true;
	}
	/* -daemonize: start-up went well, stderr can go now (dup2 is not allowed later). */
	if (vm->devnull_fd >= 0 && (!vm->cfg.log || vm->cfg.log_file))
		dup2(vm->devnull_fd, 2);
	if (vm->cfg.seccomp) {
		struct vmm_seccomp_opts so = {
			.action = VMM_SECCOMP_TRAP_LOG,
			.log_fd = -1,
			.extra = sanitizer_syscalls,
		};

		SANITIZER_FILTERED();
		ret = vmm_seccomp_install(&so, e);
		if (ret) {
			errmsg_prefix(e, "seccomp");
			return ret;
		}
		log_info("seccomp: allowlist on, %zu syscalls (%zu base, the rest for devices)",
			 vmm_seccomp_total_count(), vmm_seccomp_allowlist_count());
	}
	if (!none)
		machine_release(&vm->m);
	return 0;
}

int main(int argc, char *argv[])
{
	struct splitvm *vm = &g_vm;
	struct errmsg e = {{0}};
	int ret, i;

	/* glibc reads /etc/localtime on the first gmtime_r (log timestamps, the RTC): do it now,
	 * before seccomp forbids openat. */
	tzset();
	log_init("splitvm", NULL, LOG_LVL_WARN);
	log_level_from_env("STRATOVIRT_LOG_LEVEL");
	ret = vm_config_parse(&vm->cfg, argc, argv, &e);
	if (ret) {
		fprintf(stderr, "splitvm: %s\n", errmsg_str(&e));
		vm_config_free(&vm->cfg);
		return 1;
	}
	if (vm->cfg.action == VM_ACTION_HELP) {
		fputs(vm_config_usage(), stdout);
		vm_config_free(&vm->cfg);
		return 0;
	}
	if (vm->cfg.action == VM_ACTION_VERSION) {
		printf("splitvm %d.%d.%d (splitvirt)\n", SPLITVM_VERSION_MAJOR,
		       SPLITVM_VERSION_MINOR, SPLITVM_VERSION_MICRO);
		vm_config_free(&vm->cfg);
		return 0;
	}
	if (vm->cfg.log) {
		ret = log_init("splitvm", vm->cfg.log_file, log_get_level());
		if (ret) {
			fprintf(stderr, "splitvm: -D %s: %s\n", vm->cfg.log_file, strerror(-ret));
			vm_config_free(&vm->cfg);
			return 1;
		}
		if (!getenv("STRATOVIRT_LOG_LEVEL"))
			log_set_level(LOG_LVL_INFO);
	}
	if (vm->cfg.daemonize) {
		ret = daemonize(vm);
		if (ret) {
			fprintf(stderr, "splitvm: -daemonize: %s\n", strerror(-ret));
			return 1;
		}
	}
	ret = setup(vm, &e);
	if (ret) {
		fprintf(stderr, "splitvm: %s\n", errmsg_str(&e));
		if (vm->cfg.log_file)
			log_error("%s", errmsg_str(&e));
		vm->exit_code = 1;
	} else {
		report_ready(vm, 0);
		ret = loop_run(vm->loop);
		if (ret)
			log_error("event loop: %s", strerror(-ret));
		/* Let queued QMP replies and events (SHUTDOWN) reach the clients. */
		for (i = 0; i < 3; i++)
			loop_run_once(vm->loop, 0);
	}
	report_ready(vm, (char)(vm->exit_code ? vm->exit_code : 1));
	if (vm->have_machine)
		machine_destroy(&vm->m);
	if (vm->qmp)
		qmp_server_free(vm->qmp);
	for (i = 0; i < (int)vm->cfg.n_chardevs; i++)
		if (vm->chardevs[i])
			chardev_close(vm->chardevs[i]);
	if (vm->pidfile_written)
		unlink(vm->cfg.pidfile);
	loop_free(vm->loop);
	vm_config_free(&vm->cfg);
	return vm->exit_code;
}
