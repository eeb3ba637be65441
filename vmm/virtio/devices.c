/*
 * devices: creates the -device list on the machine: a virtio-mmio slot and interrupt line
 * each, the guest command-line entry that lets kernels find it, the VM reset hook, and the
 * iothreads devices run on. Replaces main.c's weak vmm_devices_create.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "loop.h"
#include "vmm/arch/x86_64/acpi.h"
#include "vmm/machine.h"
#include "vmm/chardev.h"
#include "vmm/virtio/balloon.h"
#include "vmm/virtio/blk.h"
#include "vmm/virtio/console.h"
#include "vmm/virtio/mmio.h"
#include "vmm/virtio/net.h"
#include "vmm/virtio/rng.h"
#include "vmm/virtio/vsock.h"

struct iothread {
	const char *id;
	struct loop *loop;
	pthread_t thread;
	bool started;
	/* Set by the thread once its libc start-up is over (the seccomp filter may follow). */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool running;
};

/*
 * The devices live as long as the process: splitvm creates them once, and the kernel
 * reclaims everything at exit. This is the process's device context (set up on the main
 * thread before any vCPU or iothread runs).
 */
static struct {
	struct iothread iothreads[VMCFG_MAX_IOTHREADS];
	struct virtio_blk *blks[VMCFG_MAX_DEVICES];
	size_t n_blks;
	struct virtio_rng *rngs[VMCFG_MAX_DEVICES];
	size_t n_rngs;
	struct virtio_console *consoles[VMCFG_MAX_DEVICES];
	size_t n_consoles;
	struct virtio_balloon *balloon;
	struct virtio_net *nets[VMCFG_MAX_DEVICES];
	size_t n_nets;
	struct virtio_vsock *vsock;
} devs;

static void *iothread_main(void *arg)
{
	struct iothread *t = arg;
	int ret;

	pthread_mutex_lock(&t->lock);
	t->running = true;
	pthread_cond_broadcast(&t->cond);
	pthread_mutex_unlock(&t->lock);
	ret = loop_run(t->loop);

	if (ret)
		log_error("iothread %s: event loop: %s", t->id, strerror(-ret));
	return NULL;
}

static struct loop *device_loop(struct machine *m, int iothread, struct errmsg *e)
{
	struct iothread *t;

	if (iothread < 0)
		return m->loop;
	t = &devs.iothreads[iothread];
	if (!t->loop) {
		t->id = m->cfg->iothreads[iothread].id;
		t->loop = loop_new();
		if (!t->loop) {
			errmsg_set(e, "-object iothread,id=%s: %s", t->id, strerror(errno));
			return NULL;
		}
	}
	return t->loop;
}

/* Starts the iothreads that have devices, after every device registered its fds. */
static int iothreads_start(struct errmsg *e)
{
	sigset_t all, old;
	size_t i;
	int ret = 0;

	/* No signals on iothreads except SIGSYS, which seccomp needs to name a syscall. */
	sigfillset(&all);
	sigdelset(&all, SIGSYS);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (i = 0; i < VMCFG_MAX_IOTHREADS; i++) {
		struct iothread *t = &devs.iothreads[i];

		if (!t->loop || t->started)
			continue;
		pthread_mutex_init(&t->lock, NULL);
		pthread_cond_init(&t->cond, NULL);
		ret = pthread_create(&t->thread, NULL, iothread_main, t);
		if (ret) {
			errmsg_set(e, "-object iothread,id=%s: %s", t->id, strerror(ret));
			ret = -ret;
			break;
		}
		t->started = true;
		pthread_setname_np(t->thread, "iothread");
		pthread_mutex_lock(&t->lock);
		while (!t->running)
			pthread_cond_wait(&t->cond, &t->lock);
		pthread_mutex_unlock(&t->lock);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return ret;
}

static void reset_hook(void *opaque)
{
	virtio_mmio_reset(opaque);
}

/* Slot, interrupt line, guest command-line entry and reset hook for one transport. */
static int place_device(struct machine *m, const char *id, uint64_t *base, struct irq_line *irq,
			struct errmsg *e)
{
	int ret = machine_alloc_mmio(m, VIRTIO_MMIO_SIZE, id, base, irq);

	if (ret) {
		errmsg_set(e, "-device %s: no free virtio-mmio slot or interrupt line", id);
		return ret;
	}
	return 0;
}

static int announce_device(struct machine *m, const char *id, uint64_t base,
			   const struct irq_line *irq, struct virtio_mmio *vdev, struct errmsg *e)
{
	char entry[80];
	int ret;

	/* Linux's virtio_mmio.device=<size>@<base>:<irq> (Firecracker and StratoVirt too). */
	snprintf(entry, sizeof(entry), "virtio_mmio.device=0x%x@0x%llx:%u", VIRTIO_MMIO_SIZE,
		 (unsigned long long)base, irq->gsi);
	ret = machine_cmdline_append(m, entry);
	if (ret) {
		errmsg_set(e, "-device %s: kernel command line full", id);
		return ret;
	}
	ret = machine_add_reset_hook(m, reset_hook, vdev);
	if (ret)
		errmsg_set(e, "-device %s: too many reset hooks", id);
	return ret;
}

static int create_blk(struct machine *m, const struct vm_device_config *d, struct errmsg *e)
{
	struct virtio_blk_params p = {
		.mem = &m->mem,
		.mmio = m->mmio,
		.drive = &m->cfg->drives[d->blk.drive],
		.dev = d,
	};
	struct virtio_blk *b;
	int ret;

	p.loop = device_loop(m, d->iothread, e);
	if (!p.loop)
		return -ENOMEM;
	ret = place_device(m, d->id, &p.base, &p.irq, e);
	if (ret)
		return ret;
	b = virtio_blk_create(&p, e);
	if (!b)
		return errno ? -errno : -EIO;
	devs.blks[devs.n_blks++] = b;
	return announce_device(m, d->id, p.base, &p.irq, virtio_blk_transport(b), e);
}

static int create_rng(struct machine *m, const struct vm_device_config *d, struct errmsg *e)
{
	struct virtio_rng_params p = {
		.mem = &m->mem,
		.mmio = m->mmio,
		.filename = m->cfg->rngs[d->rng.rng].filename,
		.dev = d,
		.loop = m->loop,
	};
	struct virtio_rng *r;
	int ret;

	ret = place_device(m, d->id, &p.base, &p.irq, e);
	if (ret)
		return ret;
	r = virtio_rng_create(&p, e);
	if (!r)
		return errno ? -errno : -EIO;
	devs.rngs[devs.n_rngs++] = r;
	return announce_device(m, d->id, p.base, &p.irq, virtio_rng_transport(r), e);
}

static int create_net(struct machine *m, const struct vm_device_config *d, struct errmsg *e)
{
	struct virtio_net_params p = {
		.mem = &m->mem,
		.mmio = m->mmio,
		.netdev = &m->cfg->netdevs[d->net.netdev],
		.dev = d,
	};
	struct virtio_net *n;
	int ret;

	p.loop = device_loop(m, d->iothread, e);
	if (!p.loop)
		return -ENOMEM;
	ret = place_device(m, d->id, &p.base, &p.irq, e);
	if (ret)
		return ret;
	n = virtio_net_create(&p, e);
	if (!n)
		return errno ? -errno : -EIO;
	devs.nets[devs.n_nets++] = n;
	return announce_device(m, d->id, p.base, &p.irq, virtio_net_transport(n), e);
}

static int create_vsock(struct machine *m, const struct vm_device_config *d, struct errmsg *e)
{
	struct virtio_vsock_params p = {
		.mem = &m->mem,
		.mmio = m->mmio,
		.loop = m->loop,
		.id = d->id,
		.guest_cid = d->vsock.guest_cid,
		.uds_path = d->vsock.uds_path,
	};
	int ret;

	ret = place_device(m, d->id, &p.base, &p.irq, e);
	if (ret)
		return ret;
	devs.vsock = virtio_vsock_create(&p, e);
	if (!devs.vsock)
		return errno ? -errno : -EIO;
	return announce_device(m, d->id, p.base, &p.irq, virtio_vsock_transport(devs.vsock), e);
}

static int create_balloon(struct machine *m, const struct vm_device_config *d, struct errmsg *e)
{
	struct virtio_balloon_params p = {
		.mem = &m->mem,
		.mmio = m->mmio,
		.loop = m->loop,
		.dev = d,
	};
	int ret;

	ret = place_device(m, d->id, &p.base, &p.irq, e);
	if (ret)
		return ret;
	devs.balloon = virtio_balloon_create(&p, e);
	if (!devs.balloon)
		return errno ? -errno : -EIO;
	return announce_device(m, d->id, p.base, &p.irq, virtio_balloon_transport(devs.balloon), e);
}

/* virtio-serial-device and its port (one, as in StratoVirt's microvm). */
static int create_console(struct machine *m, size_t idx, struct errmsg *e)
{
	const struct vm_config *cfg = m->cfg;
	const struct vm_device_config *d = &cfg->devices[idx];
	struct virtio_console_params p = {
		.mem = &m->mem,
		.mmio = m->mmio,
		.loop = m->loop, /* chardev callbacks run on the main loop */
		.id = d->id,
	};
	const struct vm_device_config *port = NULL;
	struct virtio_console *c;
	size_t i;
	int ret;

	for (i = 0; i < cfg->n_devices; i++) {
		const struct vm_device_config *pd = &cfg->devices[i];

		if ((pd->kind != VM_DEV_VIRTCONSOLE && pd->kind != VM_DEV_VIRTSERIALPORT) ||
		    pd->port.bus != (int)idx)
			continue;
		if (port) {
			errmsg_set(e,
				   "-device %s: only one port per virtio-serial-device is "
				   "supported on microvm (%s and %s)",
				   pd->id, port->id, pd->id);
			return -ENOTSUP;
		}
		port = pd;
	}
	if (port) {
		const char *cid = cfg->chardevs[port->port.chardev].id;

		p.chr = chardev_lookup(cid);
		if (!p.chr) {
			errmsg_set(e, "-device %s: chardev %s is not open", port->id, cid);
			return -ENOENT;
		}
	}
	ret = place_device(m, d->id, &p.base, &p.irq, e);
	if (ret)
		return ret;
	c = virtio_console_create(&p, e);
	if (!c)
		return errno ? -errno : -EIO;
	devs.consoles[devs.n_consoles++] = c;
	return announce_device(m, d->id, p.base, &p.irq, virtio_console_transport(c), e);
}

int vmm_devices_create(struct machine *m, struct errmsg *e)
{
	const struct vm_config *cfg = m->cfg;
	size_t i;
	int ret;

	for (i = 0; i < cfg->n_devices; i++) {
		const struct vm_device_config *d = &cfg->devices[i];

		switch (d->kind) {
		case VM_DEV_VIRTIO_BLK:
			ret = create_blk(m, d, e);
			break;
		case VM_DEV_VIRTIO_RNG:
			ret = create_rng(m, d, e);
			break;
		case VM_DEV_VIRTIO_NET:
			ret = create_net(m, d, e);
			break;
		case VM_DEV_VHOST_VSOCK:
			ret = create_vsock(m, d, e);
			break;
		case VM_DEV_VIRTIO_BALLOON:
			ret = create_balloon(m, d, e);
			break;
		case VM_DEV_VIRTIO_SERIAL:
			ret = create_console(m, i, e);
			break;
		case VM_DEV_VIRTCONSOLE:
		case VM_DEV_VIRTSERIALPORT:
			ret = 0; /* created with their virtio-serial-device */
			break;
		default:
			errmsg_set(e, "-device %s (%s): not implemented in this build of splitvm",
				   vm_device_kind_name(d->kind), d->id);
			ret = -ENOTSUP;
			break;
		}
		if (ret)
			return ret;
	}
	/* ACPI tables describe the devices just placed (-machine acpi=off: none). */
	ret = x86_acpi_install(m, e);
	if (ret)
		return ret;
	return iothreads_start(e);
}
