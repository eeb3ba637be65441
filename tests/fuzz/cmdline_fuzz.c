/* Fuzz target: vm_config_parse (splitvm's command line). The input is split into argv at
 * newlines; a config that parses must satisfy the invariants the VMM relies on. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/vm_config.h"

#define FUZZ_MAX_ARGS 128

static void check_invariants(const struct vm_config *c)
{
	const struct vm_smp_config *s = &c->smp;
	size_t i;

	if (c->action != VM_ACTION_RUN)
		return;
	if (s->cpus < 1 || s->cpus > s->maxcpus || s->maxcpus > VMCFG_MAX_CPUS)
		abort();
	if ((uint64_t)s->sockets * s->dies * s->clusters * s->cores * s->threads != s->maxcpus)
		abort();
	if (c->mem_size < VMCFG_MEM_MIN || c->mem_size > VMCFG_MEM_MAX)
		abort();
	if (c->serial >= (int)c->n_chardevs)
		abort();
	for (i = 0; i < c->n_devices; i++) {
		const struct vm_device_config *d = &c->devices[i];

		if (!d->id)
			abort();
		if (d->kind == VM_DEV_VIRTIO_BLK &&
		    (d->blk.drive < 0 || d->blk.drive >= (int)c->n_drives))
			abort();
		if (d->kind == VM_DEV_VIRTIO_NET &&
		    (d->net.netdev < 0 || d->net.netdev >= (int)c->n_netdevs))
			abort();
		if (d->kind == VM_DEV_VIRTIO_RNG &&
		    (d->rng.rng < 0 || d->rng.rng >= (int)c->n_rngs))
			abort();
		if ((d->kind == VM_DEV_VIRTCONSOLE || d->kind == VM_DEV_VIRTSERIALPORT) &&
		    (d->port.chardev < 0 || d->port.chardev >= (int)c->n_chardevs ||
		     d->port.nr < 0 || d->port.bus < 0))
			abort();
		if (d->iothread >= (int)c->n_iothreads)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *argv[FUZZ_MAX_ARGS + 1];
	struct vm_config cfg;
	struct errmsg e;
	char *buf, *p;
	int argc = 0;

	buf = malloc(size + 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	argv[argc++] = "splitvm";
	p = buf;
	while (argc < FUZZ_MAX_ARGS) {
		char *nl = memchr(p, '\n', (size_t)(buf + size - p));

		argv[argc++] = p;
		if (!nl)
			break;
		*nl = '\0';
		p = nl + 1;
	}
	argv[argc] = NULL;
	if (vm_config_parse(&cfg, argc, argv, &e) == 0)
		check_invariants(&cfg);
	else if (errmsg_str(&e)[0] == '\0')
		abort(); /* every refusal names its reason */
	vm_config_free(&cfg);
	free(buf);
	return 0;
}
