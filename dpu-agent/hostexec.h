/*
 * hostexec: runs a program on the host: through the rexec client (the split
 * deployment) or directly (agent and VMs on one machine, and tests).
 */
#ifndef SV_DPUD_HOSTEXEC_H
#define SV_DPUD_HOSTEXEC_H

#include <stddef.h>

#include "errmsg.h"

enum hostexec_mode {
	HOSTEXEC_LOCAL = 0,
	HOSTEXEC_REXEC,
};

struct hostexec {
	enum hostexec_mode mode;
	char rexec[256];  /* the rexec client program */
	char server[256]; /* REXEC_SERVER address; "" for the client's default */
};

/*
 * Runs argv (argv[0] an absolute path on the host) and waits for it, at most
 * timeout_ms (then it is killed). stdout is captured into out (NUL-terminated,
 * truncated to outlen - 1; out may be NULL). Returns the exit status (0-255;
 * 128+N for a signal death), or -errno if it could not be run. When the status
 * is not 0, e holds "PROGRAM: <last stderr line>" (or the status).
 */
int hostexec_run(const struct hostexec *h, char *const argv[], int timeout_ms, char *out,
		 size_t outlen, struct errmsg *e);

#endif
