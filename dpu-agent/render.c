/* render: a domain definition to the splitvm command line (StratoVirt-style options). */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "render.h"
#include "util.h"

void argv_init(struct argv *a)
{
	memset(a, 0, sizeof(*a));
}

void argv_free(struct argv *a)
{
	for (size_t i = 0; i < a->n; i++)
		free(a->v[i]);
	free(a->v);
	argv_init(a);
}

static void argv_push(struct argv *a, char *s)
{
	if (a->err || !s) {
		if (!a->err)
			a->err = -ENOMEM;
		free(s);
		return;
	}
	/* Room for the new entry and the terminating NULL. */
	if (a->n + 2 > a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 16;
		char **v = realloc(a->v, cap * sizeof(*v));

		if (!v) {
			a->err = -ENOMEM;
			free(s);
			return;
		}
		a->v = v;
		a->cap = cap;
	}
	a->v[a->n++] = s;
	a->v[a->n] = NULL;
}

void argv_add(struct argv *a, const char *s)
{
	argv_push(a, str_dup(s));
}

void argv_addf(struct argv *a, const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	argv_push(a, s);
}

static const char *run_dir(const struct render_opts *o)
{
	return o->run_dir ? o->run_dir : RENDER_RUN_DIR;
}

int render_vm_path(const struct render_opts *o, const char *name, const char *file, char *buf,
		   size_t len)
{
	int n;

	if (file)
		n = snprintf(buf, len, "%s/%s/%s", run_dir(o), name, file);
	else
		n = snprintf(buf, len, "%s/%s", run_dir(o), name);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int render_tap_name(const struct render_opts *o, const struct domain_def *d, size_t i, char *buf,
		    size_t len)
{
	const char *pfx = o->tap_prefix ? o->tap_prefix : RENDER_TAP_PREFIX;
	int n;

	if (i >= d->n_ifaces)
		return -EINVAL;
	if (d->ifaces[i].target[0])
		return str_copy(buf, len, d->ifaces[i].target);
	if (strlen(pfx) > 6)
		return -ENAMETOOLONG;
	n = snprintf(buf, len, "%s%02x%02x%02x%02x%zu", pfx, d->uuid[0], d->uuid[1], d->uuid[2],
		     d->uuid[3], i);
	return n < 0 || (size_t)n >= len || n > 15 ? -ENAMETOOLONG : 0;
}

static const char *aio_name(enum dom_io io)
{
	switch (io) {
	case DOM_IO_NATIVE:
		return "native";
	case DOM_IO_URING:
		return "io_uring";
	case DOM_IO_THREADS:
		return "off";
	case DOM_IO_DEFAULT:
		break;
	}
	return NULL;
}

int render_argv(const struct domain_def *d, const struct render_opts *o, struct argv *a,
		struct errmsg *e)
{
	char path[256], tap[32];
	uint64_t mib;
	size_t i;

	argv_init(a);
	argv_add(a, d->emulator ? d->emulator : (o->splitvm ? o->splitvm : "splitvm"));
	argv_add(a, "-name");
	argv_add(a, d->name);
	argv_add(a, "-machine");
	argv_add(a, "microvm");
	argv_add(a, "-smp");
	if (d->vcpus_cur != d->vcpus)
		argv_addf(a, "%u,maxcpus=%u", d->vcpus_cur, d->vcpus);
	else
		argv_addf(a, "%u", d->vcpus);
	/* splitvm's -m takes MiB; libvirt rounds memory up to its alignment too. */
	mib = (d->memory_kib + 1023) / 1024;
	argv_add(a, "-m");
	argv_addf(a, "%" PRIu64 "M", mib);
	argv_add(a, "-kernel");
	argv_add(a, d->kernel);
	if (d->initrd) {
		argv_add(a, "-initrd");
		argv_add(a, d->initrd);
	}
	if (d->cmdline && d->cmdline[0]) {
		argv_add(a, "-append");
		argv_add(a, d->cmdline);
	}
	for (i = 0; i < d->n_disks; i++) {
		const struct dom_disk *k = &d->disks[i];
		bool direct = k->cache == DOM_CACHE_NONE || k->cache == DOM_CACHE_DIRECTSYNC;
		const char *aio = aio_name(k->io);

		argv_add(a, "-drive");
		argv_addf(a, "id=drive-%s,file=%s,readonly=%s,direct=%s%s%s", k->target, k->source,
			  k->readonly ? "on" : "off", direct ? "on" : "off", aio ? ",aio=" : "",
			  aio ? aio : "");
		argv_add(a, "-device");
		argv_addf(a, "virtio-blk-device,drive=drive-%s,id=%s%s%s", k->target, k->target,
			  k->serial[0] ? ",serial=" : "", k->serial);
	}
	for (i = 0; i < d->n_ifaces; i++) {
		const struct dom_iface *ifc = &d->ifaces[i];
		int ret = render_tap_name(o, d, i, tap, sizeof(tap));

		if (ret) {
			errmsg_set(e, "interface %zu: tap prefix too long for a generated name", i);
			argv_free(a);
			return ret;
		}
		argv_add(a, "-netdev");
		if (ifc->queues > 1)
			argv_addf(a, "tap,id=net%zu,ifname=%s,queues=%u", i, tap, ifc->queues);
		else
			argv_addf(a, "tap,id=net%zu,ifname=%s", i, tap);
		argv_add(a, "-device");
		argv_addf(a,
			  "virtio-net-device,id=net%zu-dev,netdev=net%zu,mac=%02x:%02x:%02x:%02x:%"
			  "02x:%02x%s",
			  i, i, ifc->mac[0], ifc->mac[1], ifc->mac[2], ifc->mac[3], ifc->mac[4],
			  ifc->mac[5], ifc->queues > 1 ? ",mq=on" : "");
	}
	if (d->serial == DOM_SERIAL_PTY) {
		if (render_vm_path(o, d->name, "serial.sock", path, sizeof(path)) ||
		    strlen(path) >= 108) {
			errmsg_set(e, "%s: serial socket path too long", d->name);
			argv_free(a);
			return -ENAMETOOLONG;
		}
		argv_add(a, "-serial");
		argv_addf(a, "socket,path=%s,server,nowait", path);
	} else if (d->serial == DOM_SERIAL_UNIX) {
		argv_add(a, "-serial");
		argv_addf(a, "socket,path=%s,server,nowait", d->serial_path);
	}
	if (d->rng) {
		argv_add(a, "-object");
		argv_addf(a, "rng-random,id=rng0,filename=%s",
			  d->rng_backend ? d->rng_backend : "/dev/urandom");
		argv_add(a, "-device");
		if (d->rng_bytes)
			argv_addf(a, "virtio-rng-device,rng=rng0,max-bytes=%u,period=%u",
				  d->rng_bytes, d->rng_period_ms);
		else
			argv_add(a, "virtio-rng-device,rng=rng0");
	}
	if (d->balloon) {
		argv_add(a, "-device");
		argv_addf(a, "virtio-balloon-device%s%s",
			  d->balloon_deflate_on_oom ? ",deflate-on-oom=true" : "",
			  d->balloon_free_page_reporting ? ",free-page-reporting=true" : "");
	}
	if (d->vsock) {
		argv_add(a, "-device");
		argv_addf(a, "vhost-vsock-device,id=vsock0,guest-cid=%u", d->vsock_cid);
	}
	if (render_vm_path(o, d->name, "qmp.sock", path, sizeof(path)) || strlen(path) >= 108) {
		errmsg_set(e, "%s: QMP socket path too long", d->name);
		argv_free(a);
		return -ENAMETOOLONG;
	}
	argv_add(a, "-qmp");
	argv_addf(a, "unix:%s,server,nowait", path);
	/* Paused until the agent has its QMP connection: no event can be missed. */
	argv_add(a, "-S");
	argv_add(a, "-D");
	render_vm_path(o, d->name, "splitvm.log", path, sizeof(path));
	argv_add(a, path);
	argv_add(a, "-daemonize");
	argv_add(a, "-pidfile");
	render_vm_path(o, d->name, "pid", path, sizeof(path));
	argv_add(a, path);
	if (a->err) {
		int ret = a->err;

		errmsg_set(e, "%s: out of memory rendering the command line", d->name);
		argv_free(a);
		return ret;
	}
	return 0;
}
