/* machine: VM creation, device-facing helpers, run control (pause/resume/reset/shutdown)
 * and requests from vCPU threads to the main loop. */
#include "machine.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "arch.h"
#include "log.h"
#include "loop.h"
#include "util.h"
#include "vcpu.h"

static void machine_request_cb(struct loop *l, int fd, uint32_t events, void *arg)
{
	struct machine *m = arg;
	uint64_t v;
	unsigned int reqs;

	if (read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_warn("machine: request eventfd: %s", strerror(errno));
	reqs = atomic_exchange(&m->requests, 0);
	if (reqs && m->on_request)
		m->on_request(m, reqs, m->on_request_opaque);
}

void machine_request(struct machine *m, unsigned int req)
{
	uint64_t one = 1;
	uint32_t i;

	/* Reset, power-off and exit end what the guest is doing: no vCPU runs another guest
	 * instruction until the main loop has acted (a rebooting kernel would otherwise go on
	 * to its next reset method and ask twice). machine_reset lets them go again. */
	if (req & (MACHINE_REQ_RESET | MACHINE_REQ_POWEROFF | MACHINE_REQ_EXIT_CODE)) {
		pthread_mutex_lock(&m->lock);
		m->stop_vcpus = true;
		for (i = 0; i < m->nr_vcpus && m->vcpus; i++)
			vcpu_kick(&m->vcpus[i]);
		pthread_mutex_unlock(&m->lock);
	}

	atomic_fetch_or(&m->requests, req);
	if (write(m->request_efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_warn("machine: request eventfd: %s", strerror(errno));
}

static int machine_open_kvm(struct machine *m, struct errmsg *e)
{
	int ret;

	m->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (m->kvm_fd < 0) {
		errmsg_set(e, "/dev/kvm: %s", strerror(errno));
		return -errno;
	}
	ret = ioctl(m->kvm_fd, KVM_GET_API_VERSION, 0);
	if (ret != KVM_API_VERSION) {
		errmsg_set(e, "/dev/kvm: unsupported KVM API version %d", ret);
		return -ENOTSUP;
	}
	m->vm_fd = ioctl(m->kvm_fd, KVM_CREATE_VM, 0);
	if (m->vm_fd < 0) {
		errmsg_set(e, "KVM_CREATE_VM: %s", strerror(errno));
		return -errno;
	}
	return 0;
}

int machine_create(struct machine *m, const struct vm_config *cfg, struct loop *l,
		   struct chardev *serial, struct errmsg *e)
{
	struct gmem_layout lay;
	struct gmem_opts mo = {
		.size = cfg->mem_size,
		.mem_path = cfg->mem_path,
		.prealloc = cfg->mem_prealloc,
		.shared = cfg->machine.mem_share,
		.dump_core = cfg->machine.dump_guest_core,
	};
	uint64_t stride, end;
	uint32_t i;
	int ret;

	memset(m, 0, sizeof(*m));
	m->cfg = cfg;
	m->loop = l;
	m->serial_chr = serial;
	m->kvm_fd = m->vm_fd = m->request_efd = -1;
	m->mem.fd = -1;
	m->start_ns = now_ns();
	pthread_mutex_init(&m->lock, NULL);
	pthread_cond_init(&m->cond, NULL);
	m->state = cfg->start_paused ? MACHINE_PRELAUNCH : MACHINE_RUNNING;
	arch_mmio_window(&m->mmio_next, &stride, &end);
	m->gsi_next = arch_next_device_gsi(0);

	m->request_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (m->request_efd < 0) {
		errmsg_set(e, "eventfd: %s", strerror(errno));
		ret = -errno;
		goto err;
	}
	if (l) {
		ret = loop_add_fd(l, m->request_efd, EPOLLIN, machine_request_cb, m);
		if (ret) {
			errmsg_set(e, "event loop: %s", strerror(-ret));
			goto err;
		}
	}
	ret = machine_open_kvm(m, e);
	if (ret)
		goto err;
	arch_gmem_layout(&lay);
	ret = gmem_init(&m->mem, &mo, &lay, e);
	if (ret) {
		errmsg_prefix(e, "-m");
		goto err;
	}
	ret = gmem_kvm_register(&m->mem, m->vm_fd);
	if (ret) {
		errmsg_set(e, "KVM_SET_USER_MEMORY_REGION: %s", strerror(-ret));
		goto err;
	}
	m->pio = bus_new(BUS_PIO, m->vm_fd);
	m->mmio = bus_new(BUS_MMIO, m->vm_fd);
	if (!m->pio || !m->mmio) {
		ret = -ENOMEM;
		errmsg_set(e, "out of memory");
		goto err;
	}
	ret = arch_machine_init(m, e);
	if (ret)
		goto err;

	m->nr_vcpus = cfg->smp.cpus;
	m->vcpus = calloc(m->nr_vcpus, sizeof(*m->vcpus));
	if (!m->vcpus) {
		ret = -ENOMEM;
		errmsg_set(e, "out of memory");
		goto err;
	}
	for (i = 0; i < m->nr_vcpus; i++)
		m->vcpus[i].fd = -1;
	for (i = 0; i < m->nr_vcpus; i++) {
		ret = vcpu_create(m, i, e);
		if (ret)
			goto err;
	}
	return 0;

err:
	machine_destroy(m);
	return ret;
}

/* Boot-time work that must follow device creation (the command line holds their entries). */
static int machine_boot_setup(struct machine *m, struct errmsg *e)
{
	uint32_t i;
	int ret;

	ret = arch_load_kernel(m, e);
	if (ret)
		return ret;
	for (i = 0; i < m->nr_vcpus; i++) {
		ret = arch_vcpu_reset(&m->vcpus[i]);
		if (ret) {
			errmsg_set(e, "vCPU %u: initial state: %s", i, strerror(-ret));
			return ret;
		}
	}
	return 0;
}

int machine_start(struct machine *m, struct errmsg *e)
{
	uint32_t i;
	int ret;

	ret = machine_boot_setup(m, e);
	if (ret)
		return ret;
	/* The threads start parked: machine_release lets them run once the sandbox is on. */
	pthread_mutex_lock(&m->lock);
	m->stop_vcpus = true;
	pthread_mutex_unlock(&m->lock);
	for (i = 0; i < m->nr_vcpus; i++) {
		ret = vcpu_start(&m->vcpus[i]);
		if (ret) {
			errmsg_set(e, "vCPU %u: cannot start thread: %s", i, strerror(-ret));
			return ret;
		}
	}
	return 0;
}

static void machine_unpark_locked(struct machine *m);

void machine_release(struct machine *m)
{
	pthread_mutex_lock(&m->lock);
	if (m->state == MACHINE_RUNNING)
		machine_unpark_locked(m);
	pthread_mutex_unlock(&m->lock);
}

/* Parks every vCPU (m->lock held on entry and exit). */
static void machine_park_locked(struct machine *m)
{
	uint32_t i;

	m->stop_vcpus = true;
	for (i = 0; i < m->nr_vcpus; i++)
		vcpu_kick(&m->vcpus[i]);
	while (m->nr_parked < m->nr_running)
		pthread_cond_wait(&m->cond, &m->lock);
}

static void machine_unpark_locked(struct machine *m)
{
	m->stop_vcpus = false;
	pthread_cond_broadcast(&m->cond);
}

int machine_pause(struct machine *m)
{
	int ret = 0;

	pthread_mutex_lock(&m->lock);
	if (m->state == MACHINE_RUNNING) {
		machine_park_locked(m);
		m->state = MACHINE_PAUSED;
	} else if (m->state == MACHINE_SHUTDOWN) {
		ret = -EINVAL;
	}
	pthread_mutex_unlock(&m->lock);
	return ret;
}

int machine_resume(struct machine *m)
{
	int ret = 0;

	pthread_mutex_lock(&m->lock);
	if (m->state == MACHINE_PAUSED || m->state == MACHINE_PRELAUNCH) {
		m->state = MACHINE_RUNNING;
		machine_unpark_locked(m);
	} else if (m->state != MACHINE_RUNNING) {
		ret = -EINVAL;
	}
	pthread_mutex_unlock(&m->lock);
	return ret;
}

int machine_reset(struct machine *m)
{
	struct errmsg e = {{0}};
	uint32_t i;
	int ret;

	pthread_mutex_lock(&m->lock);
	if (m->state == MACHINE_SHUTDOWN) {
		pthread_mutex_unlock(&m->lock);
		return -EINVAL;
	}
	machine_park_locked(m);
	ret = arch_machine_reset(m);
	if (ret)
		log_error("reset: machine state: %s", strerror(-ret));
	for (i = 0; i < m->nr_reset_hooks; i++)
		m->reset_hooks[i].fn(m->reset_hooks[i].opaque);
	if (!ret) {
		ret = machine_boot_setup(m, &e);
		if (ret)
			log_error("reset: %s", errmsg_str(&e));
	}
	if (ret)
		m->state = MACHINE_INTERNAL_ERROR;
	else if (m->state == MACHINE_INTERNAL_ERROR)
		m->state = MACHINE_PAUSED; /* as in QEMU: after the reset, cont runs it again */
	if (m->state == MACHINE_RUNNING)
		machine_unpark_locked(m);
	pthread_mutex_unlock(&m->lock);
	return ret;
}

void machine_shutdown(struct machine *m)
{
	uint32_t i;

	pthread_mutex_lock(&m->lock);
	m->quit_vcpus = true;
	m->stop_vcpus = true;
	m->state = MACHINE_SHUTDOWN;
	for (i = 0; i < m->nr_vcpus; i++)
		vcpu_kick(&m->vcpus[i]);
	pthread_cond_broadcast(&m->cond);
	pthread_mutex_unlock(&m->lock);
	for (i = 0; m->vcpus && i < m->nr_vcpus; i++)
		vcpu_join(&m->vcpus[i]);
}

enum machine_state machine_get_state(struct machine *m)
{
	enum machine_state s;

	pthread_mutex_lock(&m->lock);
	s = m->state;
	pthread_mutex_unlock(&m->lock);
	return s;
}

void machine_destroy(struct machine *m)
{
	uint32_t i;

	if (m->vcpus) {
		machine_shutdown(m);
		for (i = 0; i < m->nr_vcpus; i++)
			vcpu_destroy(&m->vcpus[i]);
		free(m->vcpus);
		m->vcpus = NULL;
	}
	if (m->arch)
		arch_machine_free(m);
	bus_free(m->pio);
	bus_free(m->mmio);
	m->pio = m->mmio = NULL;
	gmem_free(&m->mem);
	if (m->request_efd >= 0) {
		if (m->loop)
			loop_del_fd(m->loop, m->request_efd);
		close(m->request_efd);
	}
	if (m->vm_fd >= 0)
		close(m->vm_fd);
	if (m->kvm_fd >= 0)
		close(m->kvm_fd);
	m->request_efd = m->vm_fd = m->kvm_fd = -1;
}

int machine_alloc_mmio(struct machine *m, uint64_t size, const char *name, uint64_t *base,
		       struct irq_line *irq)
{
	uint64_t first, stride, end, slots;
	struct machine_mmio_dev *d;

	arch_mmio_window(&first, &stride, &end);
	if (size == 0)
		return -EINVAL;
	slots = (size + stride - 1) / stride;
	if (m->nr_mmio_devs >= MACHINE_MAX_MMIO_DEVS || m->gsi_next == 0 ||
	    slots > (end - m->mmio_next) / stride)
		return -ENOSPC;
	d = &m->mmio_devs[m->nr_mmio_devs++];
	d->base = m->mmio_next;
	d->size = size;
	d->gsi = m->gsi_next;
	snprintf(d->name, sizeof(d->name), "%s", name ? name : "device");
	m->mmio_next += slots * stride;
	m->gsi_next = arch_next_device_gsi(m->gsi_next + 1);
	*base = d->base;
	irq->vm_fd = m->vm_fd;
	irq->gsi = d->gsi;
	return 0;
}

int machine_cmdline_append(struct machine *m, const char *str)
{
	size_t cur = strlen(m->cmdline_extra), add = strlen(str);

	if (cur + 1 + add + 1 > sizeof(m->cmdline_extra))
		return -E2BIG;
	m->cmdline_extra[cur] = ' ';
	memcpy(m->cmdline_extra + cur + 1, str, add + 1);
	return 0;
}

int machine_add_reset_hook(struct machine *m, machine_reset_fn fn, void *opaque)
{
	if (m->nr_reset_hooks >= MACHINE_MAX_RESET_HOOKS)
		return -ENOSPC;
	m->reset_hooks[m->nr_reset_hooks].fn = fn;
	m->reset_hooks[m->nr_reset_hooks].opaque = opaque;
	m->nr_reset_hooks++;
	return 0;
}
