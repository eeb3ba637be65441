/* domain: a validated domain definition (the libvirt domain XML subset splitvm runs). */
#ifndef SV_DPUD_DOMAIN_H
#define SV_DPUD_DOMAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "errmsg.h"

#define DOM_NAME_MAX	 63 /* bytes, without the NUL; names become path components */
#define DOM_MAX_DISKS	 16
#define DOM_MAX_IFACES	 8
#define DOM_MAX_WARNINGS 16
#define DOM_XML_MAX	 (1u << 20) /* largest XML document accepted */
/* splitvm's -m range (StratoVirt guidebook: 128M..512G), in KiB. */
#define DOM_MEM_MIN_KIB (128ull * 1024)
#define DOM_MEM_MAX_KIB (512ull * 1024 * 1024)
#define DOM_VCPU_MAX	254

enum dom_action {
	DOM_ACT_DESTROY = 0,
	DOM_ACT_RESTART,
	DOM_ACT_PRESERVE, /* on_crash only: keep the record in "crashed" */
};

enum dom_cache {
	DOM_CACHE_DEFAULT = 0,
	DOM_CACHE_NONE,
	DOM_CACHE_WRITETHROUGH,
	DOM_CACHE_WRITEBACK,
	DOM_CACHE_DIRECTSYNC,
	DOM_CACHE_UNSAFE,
};

enum dom_io {
	DOM_IO_DEFAULT = 0,
	DOM_IO_NATIVE,
	DOM_IO_URING,
	DOM_IO_THREADS,
};

struct dom_disk {
	char *source; /* absolute path of the image file */
	char target[16];
	char serial[21]; /* virtio-blk serial: at most 20 bytes */
	bool readonly;
	enum dom_cache cache;
	enum dom_io io;
};

enum dom_iface_type {
	DOM_IF_BRIDGE = 0,
	DOM_IF_ETHERNET,
};

struct dom_iface {
	enum dom_iface_type type;
	char bridge[16]; /* type bridge: the host bridge */
	char target[16]; /* tap name; "" means generated at start */
	uint8_t mac[6];
	uint32_t queues; /* 0 or 1: single queue */
	uint32_t mtu;	 /* 0: leave the default */
};

enum dom_serial_type {
	DOM_SERIAL_NONE = 0,
	DOM_SERIAL_PTY,	 /* rendered as a socket in the VM's run directory */
	DOM_SERIAL_UNIX, /* a socket at the given path */
};

struct domain_def {
	char name[DOM_NAME_MAX + 1];
	uint8_t uuid[16];
	uint64_t memory_kib;
	uint64_t current_memory_kib;
	uint32_t vcpus;	    /* maximum */
	uint32_t vcpus_cur; /* online at boot, <= vcpus */
	char *emulator;	    /* NULL: the configured splitvm */
	char *kernel;
	char *initrd;
	char *cmdline;
	enum dom_action on_poweroff;
	enum dom_action on_reboot;
	enum dom_action on_crash;
	struct dom_disk disks[DOM_MAX_DISKS];
	size_t n_disks;
	struct dom_iface ifaces[DOM_MAX_IFACES];
	size_t n_ifaces;
	enum dom_serial_type serial;
	char *serial_path; /* DOM_SERIAL_UNIX only */
	bool rng;
	char *rng_backend;		   /* NULL: /dev/urandom */
	uint32_t rng_period_ms, rng_bytes; /* 0: unlimited */
	bool balloon;
	bool balloon_deflate_on_oom;
	bool balloon_free_page_reporting;
	bool vsock;
	uint32_t vsock_cid;
};

/* Harmless things the parser skipped, reported to the user as warnings. */
struct dom_warnings {
	char text[DOM_MAX_WARNINGS][160];
	size_t n;
	size_t dropped; /* warnings beyond the array */
};

/*
 * Parses and validates domain XML. On success *out is a new definition (free
 * with domain_free) and warnings (may be NULL) holds what was ignored. On
 * failure returns -EINVAL (or -ENOMEM) with a one-line message naming the
 * element or value and the reason; nothing is allocated. A missing uuid is
 * generated.
 */
int domain_parse(const char *xml, size_t len, struct domain_def **out,
		 struct dom_warnings *warnings, struct errmsg *e);
void domain_free(struct domain_def *d);
struct domain_def *domain_dup(const struct domain_def *d);

/* Formats the definition as libvirt domain XML (malloc'd, NUL-terminated). NULL with errno. */
char *domain_format(const struct domain_def *d);

/* Validates a name alone ("-EINVAL" with a message); used for verbs that take a name. */
int domain_name_check(const char *name, struct errmsg *e);

void domain_uuid_format(const uint8_t uuid[16], char out[37]);
int domain_uuid_parse(const char *s, uint8_t uuid[16]);
const char *domain_action_name(enum dom_action a);

#endif
