/* rexec link: a non-blocking framed connection with an output queue, for an event loop. */
#ifndef SV_REXEC_LINK_H
#define SV_REXEC_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire.h"
#include "xport.h"

struct rexec_link {
	struct xport_conn *conn;
	int fd;
	struct wire_decoder dec;
	struct wire_buf scratch; /* for building control frames */
	uint8_t *out;		 /* queued bytes [head, len) not yet written */
	size_t head, len, cap;
	uint8_t *rbuf;
	size_t rcap;
};

/* Called for each complete frame; a negative return stops reading and is passed up. */
typedef int (*rexec_frame_cb)(void *arg, const struct wire_frame *f);

/* Takes the connection (made non-blocking). 0 or -errno. */
int rexec_link_init(struct rexec_link *lk, struct xport_conn *c);
/* Frees buffers and closes the connection. */
void rexec_link_close(struct rexec_link *lk);

/* Queues the frame built in lk->scratch (or any bytes). 0 or -ENOMEM. */
int rexec_link_queue(struct rexec_link *lk, const void *p, size_t len);
int rexec_link_queue_scratch(struct rexec_link *lk);
/*
 * Space for a data frame of up to max payload bytes at the tail of the queue:
 * fill the payload at the returned pointer, then commit with the real length.
 */
uint8_t *rexec_link_reserve(struct rexec_link *lk, size_t max);
void rexec_link_commit(struct rexec_link *lk, uint8_t type, size_t len);
size_t rexec_link_queued(const struct rexec_link *lk);

/* Writes what it can without blocking: 0 (maybe bytes left), or -errno (link broken). */
int rexec_link_flush(struct rexec_link *lk);
/* Writes everything, blocking in poll; for the last frames before closing. */
int rexec_link_flush_all(struct rexec_link *lk, int timeout_ms);

/*
 * Reads until the socket would block (draining TLS's buffered bytes too) and
 * hands each complete frame to cb. 0; -EPIPE at EOF; -EBADMSG/-EMSGSIZE/...
 * on a malformed stream; or cb's negative return.
 */
int rexec_link_read(struct rexec_link *lk, rexec_frame_cb cb, void *arg);

#endif
