/* rexec spawn: fork and exec an allowed program with its stdio, session, cwd and env. */
#ifndef SV_REXEC_SPAWN_H
#define SV_REXEC_SPAWN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "errmsg.h"
#include "rules.h"

struct rexec_spawn {
	const struct rexec_decision *d;
	char **argv; /* argv[0] already the decision's argv0 */
	char **env;
	const char *cwd; /* "" = "/" */
	bool cwd_strict;
	const char *pty_name; /* non-NULL: the slave becomes fds 0-2 and the ctty */
	int fds[3];	      /* without a pty: the child's stdin/stdout/stderr */
	/* detached only: where stdout/stderr go (NULL: /dev/null); the registry dir */
	const char *log_file;
	const char *procs_dir;
};

/*
 * Starts the program in its own process group (a new session with a pty),
 * killed if this process dies (PR_SET_PDEATHSIG). Returns 0 with *pid once the
 * exec succeeded, or -errno with a message ("chdir /x: No such file ...").
 */
int rexec_spawn(const struct rexec_spawn *s, pid_t *pid, struct errmsg *e);

/*
 * Starts the program detached: a monitor process in a session of its own forks
 * the program into another new session (stdin /dev/null, stdout/stderr to
 * log_file), records it in the registry, reaps it and records its exit status.
 * Neither the caller's death nor the server's restart affects either.
 */
int rexec_spawn_detached(const struct rexec_spawn *s, pid_t *pid, uint64_t *start,
			 struct errmsg *e);

/* Wait status -> protocol exit (code or signal). */
struct rexec_exit;
void rexec_exit_from_status(int status, struct rexec_exit *x);

#endif
