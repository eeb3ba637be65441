/* qmp_client: the agent's side of QMP (greeting, capabilities, commands, events) on one fd. */
#ifndef SV_DPUD_QMP_CLIENT_H
#define SV_DPUD_QMP_CLIENT_H

#include <json-c/json.h>

#include "errmsg.h"

#define QMP_MSG_MAX (1u << 20) /* a longer message closes the connection */

struct qmp_client {
	int fd;
	json_tokener *tok;
	char buf[4096];
	size_t off, len;  /* unparsed bytes buf[off, len) */
	size_t msg_bytes; /* bytes fed into the current, unfinished message */
};

/*
 * Takes fd (a connected stream socket; closed by qmp_client_close), reads the
 * greeting and negotiates capabilities within timeout_ms. Events arriving
 * before the negotiation reply are dropped. 0 or -errno with a message.
 */
int qmp_client_open(struct qmp_client *c, int fd, int timeout_ms, struct errmsg *e);
void qmp_client_close(struct qmp_client *c);

/*
 * The next message (a JSON object) within timeout_ms (-1: wait forever).
 * -ETIMEDOUT, -EPIPE on EOF, -EBADMSG on malformed input.
 */
int qmp_client_read(struct qmp_client *c, int timeout_ms, json_object **out);
/* Sends {"execute": cmd[, "arguments": args]}; takes a reference on args. */
int qmp_client_send(struct qmp_client *c, const char *cmd, json_object *args);

/*
 * Sends cmd and reads until its reply, passing events to on_event (may be
 * NULL). Returns 0 with *ret (the "return" value, may be NULL) or -EIO with
 * the QMP error description in e.
 */
typedef void (*qmp_event_cb)(json_object *ev, void *arg);
int qmp_client_execute(struct qmp_client *c, const char *cmd, json_object *args, int timeout_ms,
		       qmp_event_cb on_event, void *arg, json_object **ret, struct errmsg *e);

/* The status name of a query-status return ("running", "paused", "prelaunch", ...). */
const char *qmp_status_of(json_object *ret);

#endif
