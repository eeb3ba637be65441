/* store: domain definitions and their state persisted under /var/lib/splitvirt/domains. */
#ifndef SV_DPUD_STORE_H
#define SV_DPUD_STORE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "domain.h"
#include "errmsg.h"

#define STORE_DIR "/var/lib/splitvirt/domains"

/* libvirt's virDomainState numbering, so --json consumers can share code. */
enum dom_state {
	DOM_ST_NOSTATE = 0,
	DOM_ST_RUNNING = 1,
	DOM_ST_PAUSED = 3,
	DOM_ST_SHUTDOWN = 4, /* "in shutdown": powerdown requested */
	DOM_ST_SHUTOFF = 5,
	DOM_ST_CRASHED = 6,
};

const char *dom_state_name(enum dom_state s);
int dom_state_parse(const char *s, enum dom_state *out);

/* What is remembered about a domain besides its definition. */
struct store_state {
	enum dom_state state;
	char reason[32];     /* "booted", "destroyed", "shutdown", "crashed", "user", ... */
	int32_t id;	     /* libvirt-style domain id while active, else -1 */
	pid_t pid;	     /* splitvm's pid on the host while active, else 0 */
	uint64_t started_ms; /* CLOCK_REALTIME ms of the last start, 0 if never */
};

struct store {
	int dirfd;
	char dir[256];
};

/* Creates the directory if needed (mode 0700). 0 or -errno with a message. */
int store_open(struct store *s, const char *dir, struct errmsg *e);
void store_close(struct store *s);

/*
 * Writes a file in the store atomically: a temporary file in the same
 * directory, fsync, rename over the target, fsync of the directory. A crash
 * leaves the old or the new contents, never a mix or nothing.
 */
int store_write_file(struct store *s, const char *file, const void *data, size_t len);

int store_save_def(struct store *s, const struct domain_def *d, struct errmsg *e);
/* Loads NAME.xml; -ENOENT if absent, -EINVAL with a message if it does not parse. */
int store_load_def(struct store *s, const char *name, struct domain_def **out, struct errmsg *e);
/* Removes the definition, its state and its autostart mark. */
int store_remove(struct store *s, const char *name);

int store_save_state(struct store *s, const char *name, const struct store_state *st);
/* Absent or unreadable state reads as shut off. */
void store_load_state(struct store *s, const char *name, struct store_state *st);

int store_set_autostart(struct store *s, const char *name, bool on);
bool store_get_autostart(struct store *s, const char *name);

/*
 * Calls cb for every NAME.xml in the store, in name order. Files that do not
 * parse are reported through bad (may be NULL) and skipped; leftover
 * temporary files are removed.
 */
typedef void (*store_each_cb)(const char *name, void *arg);
typedef void (*store_bad_cb)(const char *file, const char *why, void *arg);
int store_list(struct store *s, store_each_cb cb, store_bad_cb bad, void *arg);

#endif
