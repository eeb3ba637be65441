/* errmsg: a bounded buffer for the one-line message that describes a failure. */
#ifndef SV_ERRMSG_H
#define SV_ERRMSG_H

#include <stddef.h>

/*
 * Functions that can fail for a reason a user should read take a
 * `struct errmsg *` (which may be NULL) and fill it with one line naming the
 * thing and the reason, e.g. "tcp:1.2.3.4:99: refused: tcp: needs test mode".
 * A message longer than the buffer ends in "..." rather than being cut silently.
 */
struct errmsg {
	char text[512];
};

void errmsg_set(struct errmsg *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prepends "prefix: " to the message already held. */
void errmsg_prefix(struct errmsg *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The message, or "" for a NULL or empty errmsg. */
const char *errmsg_str(const struct errmsg *e);

#endif
