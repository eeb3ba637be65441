/*
 * qmp: the QMP control server on a unix socket (JSON via json-c): greeting,
 * capabilities negotiation, the core commands, commands registered by devices,
 * and events broadcast to every connected client.
 */
#ifndef SV_VMM_QMP_H
#define SV_VMM_QMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <json-c/json.h>

#include "errmsg.h"

struct loop;
struct qmp_server;

/* Run states as query-status names them. */
enum qmp_run_state {
	QMP_RUN_STATE_PRELAUNCH = 0, /* -S before the first cont, and machine none */
	QMP_RUN_STATE_RUNNING,
	QMP_RUN_STATE_PAUSED,
	QMP_RUN_STATE_SHUTDOWN,
	QMP_RUN_STATE_INTERNAL_ERROR,
};

const char *qmp_run_state_name(enum qmp_run_state s);

/* One vCPU for query-cpus-fast. */
struct qmp_cpu_info {
	uint32_t cpu_index;
	int64_t thread_id; /* host TID */
	uint32_t socket_id;
	uint32_t die_id;
	uint32_t cluster_id;
	uint32_t core_id;
	uint32_t thread_id_in_core;
};

/*
 * What the VM does for the core commands. Called on the loop thread; each
 * returns 0 or -errno (the client gets a GenericError naming the reason). A NULL
 * member makes its command answer GenericError "... not supported by this
 * machine" (machine none leaves them all NULL).
 *
 * The ops only act: the VM reports the resulting state changes itself with
 * qmp_server_event() (STOP, RESUME, RESET, POWERDOWN, SHUTDOWN), so that
 * guest-initiated changes are reported the same way. Events emitted from inside
 * an op reach the client before the command's return, as in QEMU.
 */
struct qmp_vm_ops {
	int (*pause)(void *opaque);	/* stop */
	int (*resume)(void *opaque);	/* cont */
	int (*reset)(void *opaque);	/* system_reset */
	int (*powerdown)(void *opaque); /* system_powerdown (ACPI button / guest request) */
	int (*quit)(void *opaque);	/* quit: the reply is flushed before this is called */
	enum qmp_run_state (*run_state)(void *opaque);
	/* Fills at most max entries, sets *n. */
	int (*query_cpus)(void *opaque, struct qmp_cpu_info *out, size_t max, size_t *n);
};

struct qmp_server_info {
	const char *name;  /* -name (query-name), may be NULL */
	int version_major; /* query-version and the greeting */
	int version_minor;
	int version_micro;
	const char *package; /* e.g. "splitvirt", may be NULL */
	bool kvm_present;    /* query-kvm */
	bool kvm_enabled;
};

/*
 * A command handler. args is the "arguments" object (never NULL: an empty object
 * when the client sent none). On success return 0 and optionally set *ret to a
 * new json object (NULL means {}); ownership passes to the server. On failure
 * return -errno with a message in e; the error class is "DeviceNotFound" for
 * -ENOENT, "DeviceNotActive" for -ENODEV, else "GenericError".
 */
typedef int (*qmp_cmd_fn)(struct qmp_server *s, struct json_object *args, struct json_object **ret,
			  struct errmsg *e, void *opaque);

/* Bounds that protect the server from a hostile client. */
#define QMP_MAX_CLIENTS 8
#define QMP_MAX_INPUT	65536	   /* bytes of one pending (incomplete) JSON value */
#define QMP_MAX_OUTPUT	(1u << 20) /* queued output per client before it is dropped */
#define QMP_MAX_DEPTH	32

/*
 * Creates a server on loop l (the server's callbacks and all functions below
 * run on l's thread). ops/opaque may be NULL (no VM). info is copied. l may be
 * NULL for the fuzz target (then only qmp_server_feed_for_test works). NULL with
 * errno and a message on failure.
 */
struct qmp_server *qmp_server_new(struct loop *l, const struct qmp_vm_ops *ops, void *opaque,
				  const struct qmp_server_info *info, struct errmsg *e);
/* Closes every client and the listener (unlinking its socket file). */
void qmp_server_free(struct qmp_server *s);

/*
 * Listens on the unix socket at path (a stale socket file nobody listens on is
 * replaced; anything else at path is refused). Mode 0600. 0 or -errno with e.
 */
int qmp_server_listen(struct qmp_server *s, const char *path, struct errmsg *e);
/* The listening fd, or -1. */
int qmp_server_listen_fd(const struct qmp_server *s);
/* Adopts an already connected stream fd as a client (tests, socketpair). Sends the
 * greeting. 0, or -errno (fd is closed on failure). */
int qmp_server_add_client(struct qmp_server *s, int fd);
size_t qmp_server_client_count(const struct qmp_server *s);

/* Registers a command (name is copied). -EEXIST if the name is taken. */
int qmp_server_register(struct qmp_server *s, const char *name, qmp_cmd_fn fn, void *opaque);
/*
 * For devices created before the server exists (splitvm creates devices first): the
 * command is registered on every server qmp_server_new creates afterwards. name must stay
 * valid (a literal). Main thread, set-up only. -E2BIG beyond 16 commands.
 */
int qmp_preregister(const char *name, qmp_cmd_fn fn, void *opaque);
/* Forgets the pre-registered commands of opaque (a device being destroyed). */
void qmp_preregister_remove(void *opaque);

/*
 * Broadcasts an event to every client that has finished negotiation:
 * {"event": name, "data": data, "timestamp": {"seconds": S, "microseconds": U}}.
 * data is taken over (NULL: {}). Returns the number of clients it was queued for.
 */
int qmp_server_event(struct qmp_server *s, const char *name, struct json_object *data);
/* Conveniences for the core events. reason: QEMU's ShutdownCause names, e.g.
 * "host-qmp-quit", "guest-shutdown", "guest-reset", "host-qmp-system-reset". */
int qmp_server_event_shutdown(struct qmp_server *s, bool guest, const char *reason);
int qmp_server_event_reset(struct qmp_server *s, bool guest, const char *reason);
int qmp_server_event_simple(struct qmp_server *s, const char *name); /* STOP, RESUME, POWERDOWN */

/* Processes one complete input buffer as if a client had sent it and returns the
 * server's replies (one JSON text per line) in a malloc'd NUL-terminated string;
 * for the fuzz target. The pseudo-client starts un-negotiated unless negotiated. */
char *qmp_server_feed_for_test(struct qmp_server *s, const uint8_t *data, size_t len,
			       bool negotiated);

#endif
