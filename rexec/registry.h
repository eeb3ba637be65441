/* rexec process registry: programs this server started, by pid + start time, under /var/run/rexec. */
#ifndef SV_REXEC_REGISTRY_H
#define SV_REXEC_REGISTRY_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "proto.h"

#define REXEC_RUN_DIR	"/var/run/rexec"
#define REXEC_PROCS_DIR REXEC_RUN_DIR "/procs"

struct rexec_reg_entry {
	pid_t pid;
	uint64_t start_time;
	bool detached;
};

/* /proc/PID/stat field 22 (start time in clock ticks since boot). 0 or -errno. */
int rexec_proc_start_time(pid_t pid, uint64_t *out);

/*
 * The registry lives in files so that it survives a server restart:
 * DIR/PID holds "PID START DETACHED", DIR/PID.exit holds "START HOW VALUE CORE"
 * once the program's parent (session or detach monitor) has reaped it.
 * Files are written atomically (temporary file + rename).
 */
int rexec_reg_add(const char *dir, const struct rexec_reg_entry *ent);
/* -ENOENT if the server never started pid (or forgot it). */
int rexec_reg_get(const char *dir, pid_t pid, struct rexec_reg_entry *out);
int rexec_reg_set_exit(const char *dir, const struct rexec_reg_entry *ent,
		       const struct rexec_exit *x);
/* -ENOENT while the program runs (or if its status belongs to an older pid). */
int rexec_reg_get_exit(const char *dir, const struct rexec_reg_entry *ent, struct rexec_exit *x);
void rexec_reg_remove(const char *dir, pid_t pid);

/*
 * Forgets finished programs: entries whose process is gone and whose exit record
 * is older than keep_s seconds (detached: keep_detached_s, since --wait may come
 * much later), and entries of vanished processes that never got one. Returns the
 * number removed.
 */
int rexec_reg_prune(const char *dir, unsigned keep_s, unsigned keep_detached_s);

/* The entry's process is alive: /proc/PID exists with the recorded start time. */
bool rexec_reg_alive(const struct rexec_reg_entry *ent);

/* Parses an entry / exit file's text (exported for the unit tests). */
int rexec_reg_parse_entry(const char *text, struct rexec_reg_entry *out);
int rexec_reg_parse_exit(const char *text, uint64_t *start, struct rexec_exit *x);

#endif
