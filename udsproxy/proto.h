/* proto: the udsproxy peer protocol: message types carried in lib/wire frames, decoded
 * field by field into a validated struct (see docs/udsproxy.md). */
#ifndef UDSP_PROTO_H
#define UDSP_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sys/types.h>

#include "errmsg.h"
#include "wire.h"

#define UDSP_PROTO_NAME	   "udsproxy"
#define UDSP_PROTO_VERSION 1
#define UDSP_ROLE_PEER	   0

/* Largest DATA payload a sender produces; frames carry a little more for fd descriptors. */
#define UDSP_DATA_MAX	 (256u * 1024)
#define UDSP_MAX_PAYLOAD (UDSP_DATA_MAX + 64u * 1024)
/* sun_path is 108 bytes including the NUL. */
#define UDSP_PATH_MAX 108
/* Shared-tree file paths passed with SCM_RIGHTS. */
#define UDSP_FILE_PATH_MAX 4096
/* The kernel's SCM_MAX_FD. */
#define UDSP_MAX_FDS 253
/* Supplementary groups carried with an OPEN (more are cut: stricter, never looser). */
#define UDSP_MAX_GROUPS 64
/* Per-stream receive window bounds. */
#define UDSP_WINDOW_MIN 4096u
#define UDSP_WINDOW_MAX (64u * 1024 * 1024)

enum udsp_type {
	UDSP_T_LINK = WIRE_T_PROTO_FIRST, /* stream 0: u64 nonce, u32 flags[, u64 linked] */
	UDSP_T_OPEN, /* u8 socktype, u32 window, u32 uid, u32 gid, str path, u32 n, n * u32 group */
	UDSP_T_OPEN_OK,	     /* u32 window */
	UDSP_T_OPEN_ERR,     /* u32 errno; the stream is gone */
	UDSP_T_DATA,	     /* raw bytes (one message for seqpacket/dgram) */
	UDSP_T_DATA_FDS,     /* u32 nfds, nfds * fd descriptor, raw bytes */
	UDSP_T_CREDIT,	     /* u32 bytes the receiver delivered */
	UDSP_T_SHUT,	     /* the sender will send no more data on this stream */
	UDSP_T_RESET,	     /* u32 errno; the stream is gone both ways */
	UDSP_T_MIRROR_WATCH, /* stream 0: str dir: tell me about listeners under dir */
	UDSP_T_MIRROR,	     /* stream 0: u8 op, u8 socktype, str path */
	UDSP_T_LAST = UDSP_T_MIRROR,
};

/* LINK flags. LINKED: the sender has a link up already, to the peer whose nonce follows. */
#define UDSP_LINK_F_LINKED 1u

enum udsp_socktype {
	UDSP_SOCK_STREAM = 1,
	UDSP_SOCK_SEQPACKET = 2,
	UDSP_SOCK_DGRAM = 3,
	UDSP_SOCK_PIPE = 4, /* a bridged pipe/FIFO: one direction only */
};

enum udsp_mirror_op {
	UDSP_MIRROR_ADD = 1,
	UDSP_MIRROR_DEL = 2,
};

/* What the receiver of a passed fd gets. */
enum udsp_fd_kind {
	UDSP_FD_PIPE_READ = 1,	/* a read end; the data comes from the sender's side */
	UDSP_FD_PIPE_WRITE = 2, /* a write end; the data goes to the sender's side */
	UDSP_FD_STREAM = 3,	/* a connected unix stream socket */
	UDSP_FD_FILE = 4,	/* a regular file reopened by path under the shared tree */
};

struct udsp_fd_desc {
	uint8_t kind;
	uint32_t stream; /* PIPE/STREAM: the new stream's id (sender's id space) */
	char *path;	 /* FILE: malloc'd */
	uint32_t flags;	 /* FILE: open flags (O_ACCMODE | O_APPEND | O_NONBLOCK) */
	uint64_t offset; /* FILE: file offset */
};

struct udsp_msg {
	uint8_t type;
	uint32_t stream;
	uint64_t nonce;	   /* LINK */
	uint32_t flags;	   /* LINK */
	uint64_t linked;   /* LINK: the nonce of the sender's current peer, 0 if none */
	uint8_t socktype;  /* OPEN, MIRROR */
	uint32_t window;   /* OPEN, OPEN_OK */
	uint32_t uid, gid; /* OPEN */
	uint32_t ngroups;  /* OPEN: supplementary groups */
	uint32_t groups[UDSP_MAX_GROUPS];
	uint32_t err;		       /* OPEN_ERR, RESET */
	uint32_t credit;	       /* CREDIT */
	uint8_t op;		       /* MIRROR */
	char path[UDSP_FILE_PATH_MAX]; /* OPEN, MIRROR, MIRROR_WATCH */
	const uint8_t *data;	       /* DATA, DATA_FDS: points into the frame payload */
	size_t data_len;
	uint32_t nfds;
	struct udsp_fd_desc *fds; /* DATA_FDS: malloc'd array; udsp_msg_release frees */
};

/*
 * Splits one frame off a byte buffer. Returns the frame's total size when a
 * whole frame is there (h and *payload filled), 0 when more bytes are needed,
 * or a negative errno for a malformed header (the link must be closed).
 */
ssize_t udsp_frame_split(const uint8_t *buf, size_t len, struct wire_header *h,
			 const uint8_t **payload);

/* Decodes and validates one frame's payload. 0, or -EBADMSG with a message. */
int udsp_msg_decode(const struct wire_header *h, const uint8_t *payload, struct udsp_msg *m,
		    struct errmsg *e);
void udsp_msg_release(struct udsp_msg *m);

/* Validates a proxied socket address as carried on the wire: "/abs/path" or "@abstract". */
int udsp_path_check(const char *path);

/* Frame builders: the whole frame (header included) appended to b. 0 or -errno. */
/* linked: the nonce of the peer we have a link up with, 0 if none. */
int udsp_put_link(struct wire_buf *b, uint64_t nonce, uint64_t linked);
/*
 * After a LINK exchange: true if the new connection duplicates a link that either side
 * already has up with the other (a late dial). Symmetric, so both ends drop the new
 * connection and keep the established one without another round trip.
 */
bool udsp_link_duplicate(uint64_t a_nonce, uint64_t a_linked, uint64_t b_nonce, uint64_t b_linked);
int udsp_put_open(struct wire_buf *b, uint32_t stream, uint8_t socktype, uint32_t window,
		  uint32_t uid, uint32_t gid, const char *path);
/* The same with the requester's supplementary groups (at most UDSP_MAX_GROUPS). */
int udsp_put_open_groups(struct wire_buf *b, uint32_t stream, uint8_t socktype, uint32_t window,
			 uint32_t uid, uint32_t gid, const uint32_t *groups, uint32_t ngroups,
			 const char *path);
int udsp_put_u32_msg(struct wire_buf *b, uint8_t type, uint32_t stream, uint32_t v);
int udsp_put_empty(struct wire_buf *b, uint8_t type, uint32_t stream);
int udsp_put_mirror(struct wire_buf *b, uint8_t op, uint8_t socktype, const char *path);
int udsp_put_mirror_watch(struct wire_buf *b, const char *dir);
/* DATA_FDS header part: nfds descriptors; the caller appends the data with wire_put_raw
 * and ends the frame with wire_frame_end(b, UDSP_T_DATA_FDS, stream, 0). */
void udsp_put_fds_begin(struct wire_buf *b, const struct udsp_fd_desc *fds, uint32_t nfds);

const char *udsp_type_name(uint8_t type);
const char *udsp_socktype_name(uint8_t socktype);
/* SOCK_STREAM etc. <-> UDSP_SOCK_*; 0 / -1 if unknown. */
uint8_t udsp_socktype_from_sys(int type);
int udsp_socktype_to_sys(uint8_t socktype);

#endif
