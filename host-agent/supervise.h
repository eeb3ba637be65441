/* supervise: start child daemons, restart them with backoff when they die, say why. */
#ifndef SV_SUPERVISE_H
#define SV_SUPERVISE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "errmsg.h"

#define SUP_MAX_CHILDREN 16
#define SUP_MAX_ARGS	 64

struct sup_child {
	char name[32];
	char *argv[SUP_MAX_ARGS + 1]; /* malloc'd words of the command line */
	char ready_path[256];	      /* "" or a path that exists once the child is ready */
	pid_t pid;		      /* 0 when not running */
	unsigned restarts;
	uint64_t started_ms;
	uint64_t next_start_ms; /* when stopped: the earliest restart */
	uint64_t backoff_ms;
};

struct sup {
	struct sup_child c[SUP_MAX_CHILDREN];
	size_t n;
	uint64_t backoff_min_ms, backoff_max_ms;
	uint64_t stable_ms; /* a child that ran this long gets its backoff reset */
};

void sup_init(struct sup *s);
void sup_free(struct sup *s);

/*
 * Adds a child from a command line split at white space ('...' and "..."
 * quote words). The program must be an absolute path. -EINVAL with a message.
 */
int sup_add(struct sup *s, const char *name, const char *cmdline, const char *ready_path,
	    struct errmsg *e);

/* Appends the words of cmdline to child i's command line (for long lines). */
int sup_add_args(struct sup *s, size_t i, const char *cmdline, struct errmsg *e);

struct config;
/*
 * Adds a child for every [child.NAME] section of cfg: exec = PROGRAM ARGS
 * (required), args = MORE ARGS (repeatable, appended in order: INI lines are
 * short), ready = PATH. Unknown keys and repeated sections are refused with
 * "file:line: [section] ..." messages.
 */
int sup_load_config(struct sup *s, const struct config *cfg, struct errmsg *e);

/* Starts children that are due; reaps dead ones (logging why) and schedules restarts. */
void sup_poll(struct sup *s);
/* Waits until every child with a ready path has it, or timeout. 0 or -ETIMEDOUT. */
int sup_wait_ready(struct sup *s, int timeout_ms);
/* SIGTERM to all, then SIGKILL after timeout_ms. */
void sup_stop_all(struct sup *s, int timeout_ms);
/* Splits a command line into words (the same rules as sup_add); 0 or -EINVAL. */
int sup_split(const char *cmdline, char **argv, size_t max, struct errmsg *e);

#endif
