/* vcpu: vCPU threads: KVM_RUN loop, exit dispatch, parking for pause/reset/shutdown. */
#include "vcpu.h"

#include <errno.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "arch.h"
#include "log.h"

/* The signal that interrupts KVM_RUN; its handler does nothing (kvm_run.immediate_exit
 * carries the request, so a kick that lands outside KVM_RUN is not lost). */
#define VCPU_KICK_SIGNAL SIGUSR1

static void vcpu_kick_handler(int sig)
{
	(void)sig;
}

int vcpu_create(struct machine *m, uint32_t index, struct errmsg *e)
{
	struct vcpu *v = &m->vcpus[index];
	static bool handler_installed;
	int mmap_size, ret;
	void *p;

	if (!handler_installed) {
		struct sigaction sa = {.sa_handler = vcpu_kick_handler};

		sigemptyset(&sa.sa_mask);
		if (sigaction(VCPU_KICK_SIGNAL, &sa, NULL) < 0) {
			errmsg_set(e, "sigaction: %s", strerror(errno));
			return -errno;
		}
		handler_installed = true;
	}
	const struct vm_smp_config *smp = &m->cfg->smp;
	uint32_t rest = index;
	int64_t id;

	v->m = m;
	v->index = index;
	/* Topology coordinates: threads vary fastest, then cores, clusters, dies, sockets. */
	v->smt = rest % smp->threads;
	rest /= smp->threads;
	v->core = rest % smp->cores;
	rest /= smp->cores;
	v->cluster = rest % smp->clusters;
	rest /= smp->clusters;
	v->die = rest % smp->dies;
	v->socket = rest / smp->dies;
	id = arch_vcpu_id(m, v);
	if (id < 0) {
		errmsg_set(e,
			   "-smp: vCPU %u (socket %u, core %u) would get an APIC ID above 254: "
			   "each topology level takes a power-of-two field (%u sockets x %u dies x "
			   "%u clusters x %u cores x %u threads)",
			   index, v->socket, v->core, smp->sockets, smp->dies, smp->clusters,
			   smp->cores, smp->threads);
		return -ERANGE;
	}
	v->apic_id = (uint32_t)id;
	v->fd = ioctl(m->vm_fd, KVM_CREATE_VCPU, (unsigned long)v->apic_id);
	if (v->fd < 0) {
		errmsg_set(e, "vCPU %u: KVM_CREATE_VCPU: %s", index, strerror(errno));
		return -errno;
	}
	mmap_size = ioctl(m->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (mmap_size < (int)sizeof(struct kvm_run)) {
		errmsg_set(e, "KVM_GET_VCPU_MMAP_SIZE: %s", strerror(errno));
		return -EINVAL;
	}
	p = mmap(NULL, (size_t)mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
	if (p == MAP_FAILED) {
		errmsg_set(e, "vCPU %u: mmap kvm_run: %s", index, strerror(errno));
		return -errno;
	}
	v->run = p;
	v->run_size = (size_t)mmap_size;
	ret = arch_vcpu_init(v, e);
	if (ret)
		return ret;
	return 0;
}

/* Parks while m->stop_vcpus; returns false when the thread must end. */
static bool vcpu_park(struct vcpu *v)
{
	struct machine *m = v->m;
	bool go_on;

	pthread_mutex_lock(&m->lock);
	v->run->immediate_exit = 0;
	while (m->stop_vcpus && !m->quit_vcpus) {
		m->nr_parked++;
		pthread_cond_broadcast(&m->cond);
		pthread_cond_wait(&m->cond, &m->lock);
		m->nr_parked--;
	}
	go_on = !m->quit_vcpus;
	if (!go_on) {
		m->nr_running--;
		pthread_cond_broadcast(&m->cond);
	}
	pthread_mutex_unlock(&m->lock);
	return go_on;
}

static void vcpu_io(struct vcpu *v)
{
	struct kvm_run *r = v->run;
	uint8_t *data = (uint8_t *)r + r->io.data_offset;
	uint64_t bytes = (uint64_t)r->io.size * r->io.count;
	uint32_t i;

	/* KVM fills these; still, never touch beyond the kvm_run mapping. */
	if (r->io.data_offset > v->run_size || bytes > v->run_size - r->io.data_offset) {
		log_error("vCPU %u: port I/O exit with data outside kvm_run", v->index);
		return;
	}

	/* String I/O (rep ins/outs) arrives as count back-to-back items. */
	for (i = 0; i < r->io.count; i++, data += r->io.size) {
		bool hit;

		if (!v->m->pio)
			return;
		if (r->io.direction == KVM_EXIT_IO_OUT)
			hit = bus_write(v->m->pio, r->io.port, data, r->io.size);
		else
			hit = bus_read(v->m->pio, r->io.port, data, r->io.size);
		if (!hit)
			log_debug("vCPU %u: unclaimed port %s 0x%x size %u", v->index,
				  r->io.direction == KVM_EXIT_IO_OUT ? "write" : "read", r->io.port,
				  r->io.size);
	}
}

static void vcpu_mmio(struct vcpu *v)
{
	struct kvm_run *r = v->run;
	bool hit;

	if (r->mmio.len == 0 || r->mmio.len > 8)
		return;
	if (r->mmio.is_write)
		hit = bus_write(v->m->mmio, r->mmio.phys_addr, r->mmio.data, r->mmio.len);
	else
		hit = bus_read(v->m->mmio, r->mmio.phys_addr, r->mmio.data, r->mmio.len);
	if (!hit)
		log_debug("vCPU %u: unclaimed MMIO %s 0x%llx len %u", v->index,
			  r->mmio.is_write ? "write" : "read",
			  (unsigned long long)r->mmio.phys_addr, r->mmio.len);
}

/* Handles one exit. false: the vCPU cannot go on (the machine was told). */
static bool vcpu_handle_exit(struct vcpu *v)
{
	struct kvm_run *r = v->run;

	switch (r->exit_reason) {
	case KVM_EXIT_IO:
		vcpu_io(v);
		return true;
	case KVM_EXIT_MMIO:
		vcpu_mmio(v);
		return true;
	case KVM_EXIT_INTR:
		return true;
	case KVM_EXIT_SHUTDOWN:
		/* Triple fault: a PC resets. */
		log_info("vCPU %u: triple fault, resetting the VM", v->index);
		machine_request(v->m, MACHINE_REQ_RESET);
		return true;
	case KVM_EXIT_SYSTEM_EVENT:
		if (r->system_event.type == KVM_SYSTEM_EVENT_RESET)
			machine_request(v->m, MACHINE_REQ_RESET);
		else
			machine_request(v->m, MACHINE_REQ_POWEROFF);
		return true;
	case KVM_EXIT_FAIL_ENTRY:
		log_error("vCPU %u: KVM_EXIT_FAIL_ENTRY, hardware reason 0x%llx", v->index,
			  (unsigned long long)r->fail_entry.hardware_entry_failure_reason);
		break;
	case KVM_EXIT_INTERNAL_ERROR: {
		struct kvm_regs regs;
		unsigned long long rip = 0;

		if (ioctl(v->fd, KVM_GET_REGS, &regs) == 0)
			rip = regs.rip;
		log_error("vCPU %u: KVM internal error %u%s at guest RIP %#llx", v->index,
			  r->internal.suberror,
			  r->internal.suberror == KVM_INTERNAL_ERROR_EMULATION
				  ? " (KVM could not emulate an instruction)"
				  : "",
			  rip);
		break;
	}
	default:
		if (arch_vcpu_exit(v, r->exit_reason) == 0)
			return true;
		log_error("vCPU %u: unhandled KVM exit reason %u", v->index, r->exit_reason);
		break;
	}
	machine_request(v->m, MACHINE_REQ_ERROR);
	return false;
}

/* After a fatal exit: every vCPU parks; the main loop marks the machine internal-error. */
static void vcpu_stop_all(struct machine *m)
{
	uint32_t i;

	pthread_mutex_lock(&m->lock);
	m->stop_vcpus = true;
	for (i = 0; i < m->nr_vcpus; i++)
		vcpu_kick(&m->vcpus[i]);
	pthread_mutex_unlock(&m->lock);
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	struct machine *m = v->m;
	char name[16];
	sigset_t set;

	atomic_store(&v->tid, (pid_t)syscall(SYS_gettid));
	snprintf(name, sizeof(name), "vcpu%u", v->index);
	pthread_setname_np(pthread_self(), name);
	sigemptyset(&set);
	sigaddset(&set, VCPU_KICK_SIGNAL);
	/* SIGSYS must reach the seccomp handler so a forbidden call is logged. */
	sigaddset(&set, SIGSYS);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	/* Tell vcpu_start the thread is set up: the seccomp filter may go on after this, and
	 * thread start-up (rseq, robust lists) must not run under it. */
	pthread_mutex_lock(&m->lock);
	v->ready = true;
	pthread_cond_broadcast(&m->cond);
	pthread_mutex_unlock(&m->lock);

	while (vcpu_park(v)) {
		for (;;) {
			int ret = ioctl(v->fd, KVM_RUN, 0);

			if (ret < 0) {
				if (errno == EINTR || errno == EAGAIN)
					break; /* kicked: park or quit */
				log_error("vCPU %u: KVM_RUN: %s", v->index, strerror(errno));
				machine_request(m, MACHINE_REQ_ERROR);
				vcpu_stop_all(m);
				break;
			}
			if (!vcpu_handle_exit(v)) {
				vcpu_stop_all(m);
				break;
			}
		}
	}
	return NULL;
}

int vcpu_start(struct vcpu *v)
{
	struct machine *m = v->m;
	sigset_t all, old;
	int ret;

	/* The thread starts with every signal blocked except the kick: SIGINT/SIGTERM go to
	 * the main loop's signalfd. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_mutex_lock(&m->lock);
	m->nr_running++;
	pthread_mutex_unlock(&m->lock);
	ret = pthread_create(&v->thread, NULL, vcpu_thread, v);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret) {
		pthread_mutex_lock(&m->lock);
		m->nr_running--;
		pthread_mutex_unlock(&m->lock);
		return -ret;
	}
	v->started = true;
	pthread_mutex_lock(&m->lock);
	while (!v->ready)
		pthread_cond_wait(&m->cond, &m->lock);
	pthread_mutex_unlock(&m->lock);
	return 0;
}

void vcpu_kick(struct vcpu *v)
{
	if (!v->run)
		return;
	v->run->immediate_exit = 1;
	/* A vCPU kicking itself is not in KVM_RUN: immediate_exit is enough (and glibc's
	 * self-signal path makes a gettid call the seccomp filter does not allow). */
	if (v->started && !pthread_equal(v->thread, pthread_self()))
		pthread_kill(v->thread, VCPU_KICK_SIGNAL);
}

void vcpu_join(struct vcpu *v)
{
	if (v->started) {
		pthread_join(v->thread, NULL);
		v->started = false;
	}
}

void vcpu_destroy(struct vcpu *v)
{
	arch_vcpu_free(v);
	if (v->run)
		munmap(v->run, v->run_size);
	v->run = NULL;
	if (v->fd >= 0)
		close(v->fd);
	v->fd = -1;
}
