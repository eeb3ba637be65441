/*
 * vm_config: the validated splitvm configuration, parsed from a StratoVirt-style
 * command line (see reference/stratovirt-config-guidebook.txt) by cmdline.c.
 */
#ifndef SV_VMM_VM_CONFIG_H
#define SV_VMM_VM_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "errmsg.h"

#define VMCFG_MAX_CPUS	  254u
#define VMCFG_MEM_MIN	  (128ull << 20)
#define VMCFG_MEM_MAX	  (512ull << 30)
#define VMCFG_MEM_DEFAULT (256ull << 20)
/* microvm on x86_64: at most 11 user-creatable (virtio-mmio) devices; the
 * devices array also holds virtconsole/virtserialport ports, which take no slot. */
#define VMCFG_MAX_MMIO_DEVICES 11u
#define VMCFG_MAX_DEVICES      24u
#define VMCFG_MAX_DRIVES       11u
#define VMCFG_MAX_NETDEVS      11u
#define VMCFG_MAX_CHARDEVS     16u
#define VMCFG_MAX_IOTHREADS    8u
#define VMCFG_MAX_RNGS	       4u
/* Longest id= accepted (bytes, without the NUL). */
#define VMCFG_ID_MAX	       63u
#define VMCFG_BLK_MAX_QUEUES   32u
#define VMCFG_NET_MAX_QUEUES   16u
#define VMCFG_SERIAL_MAX_PORTS 31u

/* The id -serial stdio|pty|file|socket gives the chardev it creates. */
#define VMCFG_SERIAL_CHARDEV_ID "#serial0"

enum vm_machine_type {
	VM_MACHINE_MICROVM = 0,
	/* No VM: answers QMP capability queries only. */
	VM_MACHINE_NONE,
};

struct vm_machine_config {
	enum vm_machine_type type;
	bool dump_guest_core; /* default true; false: MADV_DONTDUMP on guest RAM */
	bool mem_share;	      /* default false; true: shared memfd (or MAP_SHARED mem-path) */
	bool acpi;	      /* default true; -machine ...,acpi=off */
};

/* After parsing: sockets*dies*clusters*cores*threads == maxcpus >= cpus, all >= 1. */
struct vm_smp_config {
	uint32_t cpus;
	uint32_t maxcpus;
	uint32_t sockets;
	uint32_t dies;
	uint32_t clusters;
	uint32_t cores;
	uint32_t threads;
};

enum vm_chardev_backend {
	VM_CHARDEV_STDIO = 0,
	VM_CHARDEV_PTY,
	VM_CHARDEV_FILE,   /* output only */
	VM_CHARDEV_SOCKET, /* unix socket, server,nowait */
};

struct vm_chardev_config {
	char *id;
	enum vm_chardev_backend backend;
	char *path; /* file and socket; NULL otherwise */
	bool server;
	bool nowait;
};

enum vm_aio {
	VM_AIO_NATIVE = 0, /* libaio */
	VM_AIO_IO_URING,
	VM_AIO_OFF, /* thread pool */
};

enum vm_discard {
	VM_DISCARD_IGNORE = 0,
	VM_DISCARD_UNMAP,
};

enum vm_detect_zeroes {
	VM_DETECT_ZEROES_OFF = 0,
	VM_DETECT_ZEROES_ON,
	VM_DETECT_ZEROES_UNMAP,
};

/* -drive id=,file=[,readonly=][,direct=][,aio=][,discard=][,detect-zeroes=]
 *        [,throttling.iops-total=][,if=none][,format=raw] */
struct vm_drive_config {
	char *id;
	char *file;
	bool readonly;	 /* default off */
	bool direct;	 /* default on (O_DIRECT) */
	enum vm_aio aio; /* default native if direct, else off */
	enum vm_discard discard;
	enum vm_detect_zeroes detect_zeroes;
	uint64_t iops_total; /* 0: unlimited */
};

/* -netdev tap,id=,ifname=|fd=[,queues=N][,vhost=on|off][,vhostfd=N] */
struct vm_netdev_config {
	char *id;
	char *ifname;	 /* NULL when fd is used */
	int fd;		 /* -1 unless fd= */
	uint32_t queues; /* default 1, at most VMCFG_NET_MAX_QUEUES */
	bool vhost;
	int vhostfd; /* -1 unless vhostfd= */
};

/* -object iothread,id= */
struct vm_iothread_config {
	char *id;
};

/* -object rng-random,id=,filename= */
struct vm_rng_config {
	char *id;
	char *filename;
};

enum vm_device_kind {
	VM_DEV_VIRTIO_BLK = 0, /* virtio-blk-device */
	VM_DEV_VIRTIO_NET,     /* virtio-net-device */
	VM_DEV_VHOST_VSOCK,    /* vhost-vsock-device */
	VM_DEV_VIRTIO_RNG,     /* virtio-rng-device */
	VM_DEV_VIRTIO_BALLOON, /* virtio-balloon-device */
	VM_DEV_VIRTIO_SERIAL,  /* virtio-serial-device */
	VM_DEV_VIRTCONSOLE,    /* virtconsole (a port of the virtio-serial-device) */
	VM_DEV_VIRTSERIALPORT, /* virtserialport (likewise) */
};

/*
 * One -device. Cross references (drive=, netdev=, rng=, chardev=, iothread=) are
 * resolved by the parser into indexes of the vm_config arrays; -1 means none.
 */
struct vm_device_config {
	enum vm_device_kind kind;
	char *id;     /* always set; the parser names devices given without id= */
	int iothread; /* index into iothreads, -1: main loop */
	union {
		struct {
			int drive;
			char *serial; /* NULL: none; at most 20 bytes (VIRTIO_BLK_ID_BYTES) */
			uint32_t num_queues; /* default min(cpus, 32) */
			uint32_t queue_size; /* (2, 1024], power of two, default 256 */
			int bootindex;	     /* -1: unset, else 0..255 */
		} blk;
		struct {
			int netdev;
			uint8_t mac[6];
			bool mac_set; /* false: the device makes one up */
			bool mq;
			uint32_t queue_size; /* [256, 4096], power of two, default 256 */
		} net;
		struct {
			uint64_t guest_cid; /* 3 <= cid < UINT32_MAX */
			int vhostfd;	    /* -1 unless vhostfd= */
			/* splitvm extension: userspace backend; host side is the unix socket at
			 * this path (Firecracker's model). NULL: vhost-vsock. */
			char *uds_path;
		} vsock;
		struct {
			int rng;
			uint64_t max_bytes; /* 0 with period_ms 0: no limit */
			uint64_t period_ms;
		} rng;
		struct {
			bool deflate_on_oom;
			bool free_page_reporting;
		} balloon;
		struct {
			uint32_t max_ports; /* [1, 31], default 31 */
		} serial;
		struct {
			int chardev;
			int nr;	 /* -1: unset (then assigned in order: console 0, ports from 1) */
			int bus; /* index of the virtio-serial-device in devices */
		} port;
	};
};

enum vm_config_action {
	VM_ACTION_RUN = 0,
	VM_ACTION_HELP,	   /* -h / --help: print vm_config_usage() and exit 0 */
	VM_ACTION_VERSION, /* -version / --version */
};

struct vm_config {
	enum vm_config_action action;
	struct vm_machine_config machine;
	struct vm_smp_config smp;
	uint64_t mem_size; /* bytes */
	char *mem_path;	   /* absolute; a directory (hugetlbfs) or a file; NULL: anonymous */
	bool mem_prealloc;
	char *kernel;
	char *append; /* NULL: empty command line */
	char *initrd;
	char *name;
	bool start_paused; /* -S */
	bool log;	   /* -D given */
	char *log_file;	   /* -D FILE; NULL: stderr */
	bool daemonize;
	bool no_reboot; /* -no-reboot: a guest reboot ends splitvm instead of resetting the VM */
	char *pidfile;
	bool seccomp;	/* default true; -disable-seccomp clears it */
	char *qmp_path; /* -qmp unix:PATH,server,nowait; NULL: no QMP socket */
	int serial;	/* index into chardevs, -1: no serial backend */

	struct vm_chardev_config chardevs[VMCFG_MAX_CHARDEVS];
	size_t n_chardevs;
	struct vm_drive_config drives[VMCFG_MAX_DRIVES];
	size_t n_drives;
	struct vm_netdev_config netdevs[VMCFG_MAX_NETDEVS];
	size_t n_netdevs;
	struct vm_iothread_config iothreads[VMCFG_MAX_IOTHREADS];
	size_t n_iothreads;
	struct vm_rng_config rngs[VMCFG_MAX_RNGS];
	size_t n_rngs;
	/* Command-line order, which is also virtio-mmio slot order. */
	struct vm_device_config devices[VMCFG_MAX_DEVICES];
	size_t n_devices;
};

/*
 * Parses argv[1..argc-1] into cfg (which it initialises; call vm_config_free
 * afterwards whatever the result). Returns 0, or -EINVAL (-ENOMEM) with a
 * one-line message naming the option and the reason, without the program name,
 * e.g. "-smp: maxcpus (4) must be >= cpus (8)". Never exits or prints.
 */
int vm_config_parse(struct vm_config *cfg, int argc, char *const argv[], struct errmsg *e);
void vm_config_free(struct vm_config *cfg);

/* The -h text (static). */
const char *vm_config_usage(void);

const char *vm_device_kind_name(enum vm_device_kind kind);
const char *vm_aio_name(enum vm_aio aio);
const char *vm_chardev_backend_name(enum vm_chardev_backend b);

/* Index of the entry with that id, or -1. */
int vm_config_find_chardev(const struct vm_config *cfg, const char *id);
int vm_config_find_drive(const struct vm_config *cfg, const char *id);
int vm_config_find_netdev(const struct vm_config *cfg, const char *id);
int vm_config_find_iothread(const struct vm_config *cfg, const char *id);
int vm_config_find_rng(const struct vm_config *cfg, const char *id);

#endif
