/* rexec session: one client connection served in its own forked process. */
#ifndef SV_REXEC_SESSION_H
#define SV_REXEC_SESSION_H

#include <stdint.h>

#include "env.h"
#include "rules.h"
#include "xport.h"

/* What a session needs from the server; read-only in the session process. */
struct rexec_server_ctx {
	const struct rexec_rules *rules;
	struct rexec_envpolicy env;
	const char *search_path;
	const char *procs_dir;
	const char *detach_log_dir; /* NULL: detached programs' output goes to /dev/null */
	uint32_t window;
	int handshake_timeout_ms;
};

/* Serves one connection (HELLO, one request) and closes it. Returns a process exit code. */
int rexec_session_run(const struct rexec_server_ctx *ctx, struct xport_conn *c);

#endif
