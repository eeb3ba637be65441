/* ctlmsg: the local control protocol between clients (client API, preload shim, qtcfg,
 * --status) and udsproxyd, over its unix control socket, in lib/wire frames. */
#ifndef UDSP_CTLMSG_H
#define UDSP_CTLMSG_H

#include <stddef.h>
#include <stdint.h>

#include <sys/types.h>

#include "errmsg.h"
#include "wire.h"

#define UDSP_DEFAULT_CTL     "/run/udsproxy/udsproxy.sock"
#define UDSP_CTL_MAX_PAYLOAD 1024u
#define UDSP_CTL_STATUS_MAX  (64u * 1024)

enum udsp_ctl_type {
	UDSP_CTL_CONNECT = 32, /* u8 socktype, u32 flags, str path, str reply_to ("": none) */
	UDSP_CTL_RESULT,       /* u32 errno (0: the connected fd rides along), str shared */
	UDSP_CTL_STATUS,       /* empty */
	UDSP_CTL_STATUS_TEXT,  /* str text */
	UDSP_CTL_PENDING,      /* str shared; the not-yet-connected fd rides along (ASYNC) */
};

/* CONNECT flags */
#define UDSP_CTL_F_ASYNC 0x1u /* answer PENDING with the fd at once, RESULT when known */

struct udsp_ctl_connect {
	uint8_t socktype;
	uint32_t flags;
	char path[108];
	char reply_to[108]; /* "" if none */
};

int udsp_ctl_put_connect(struct wire_buf *b, const struct udsp_ctl_connect *c);
/* Validates a CONNECT payload. 0 or -EBADMSG with a message. */
int udsp_ctl_decode_connect(const uint8_t *p, size_t len, struct udsp_ctl_connect *c,
			    struct errmsg *e);
int udsp_ctl_put_result(struct wire_buf *b, uint32_t err, const char *shared);
int udsp_ctl_put_pending(struct wire_buf *b, const char *shared);
/* shared: copied into buf (size n). */
int udsp_ctl_decode_result(const uint8_t *p, size_t len, uint32_t *err, char *shared, size_t n);

#endif
