/* daemon: udsproxyd's state (one struct, owned by the event-loop thread unless a field says
 * otherwise) and the functions the daemon's files call on each other. */
#ifndef UDSP_DAEMON_H
#define UDSP_DAEMON_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/epoll.h>
#include <sys/un.h>

#include "allow.h"
#include "ctlmsg.h"
#include "flow.h"
#include "loop.h"
#include "proto.h"
#include "wire.h"
#include "xport.h"

#define UDSP_DEFAULT_CONF_DIR "/etc/udsproxy"
#define UDSP_DEFAULT_WINDOW   (1u * 1024 * 1024)
/* The link's output queue: above HIGH every stream stops reading, below LOW they resume. */
#define UDSP_LINK_HIGH	     (8u * 1024 * 1024)
#define UDSP_LINK_LOW	     (2u * 1024 * 1024)
#define UDSP_STREAM_BUCKETS  4096u
#define UDSP_MAX_MIRROR_DIRS 16
#define UDSP_MAX_SHARED	     16
/* A control client has this long to send its whole request. */
#define UDSP_CTL_REQUEST_MS 5000u

/* Data waiting to be written to a local fd (the peer sent it, the fd was full). */
struct udsp_chunk {
	struct udsp_chunk *next;
	size_t len, off;
	int *fds; /* attached to the chunk's first byte; sent with it */
	size_t nfds;
	uint8_t data[];
};

enum udsp_stream_state {
	UDSP_ST_OPENING,    /* we sent OPEN, waiting for OPEN_OK/OPEN_ERR */
	UDSP_ST_CONNECTING, /* we got OPEN, our connect to the target is in progress */
	UDSP_ST_OPEN,
};

struct udsp_ctl_client;

struct udsp_stream {
	struct udsp_daemon *d;
	uint32_t id;
	uint8_t socktype; /* UDSP_SOCK_* */
	uint8_t state;
	int fd;		 /* the local end: socketpair end, target socket, pipe end */
	int app_fd;	 /* opener via the control socket: the end handed to the client */
	uint32_t events; /* what fd is registered for (0: not registered) */
	bool rd_open;	 /* we still read fd and send to the peer */
	bool wr_open;	 /* we still take the peer's data and write it to fd */
	bool peer_shut;	 /* SHUT received: shut fd's write side once the queue drains */
	bool blocked;	 /* parked on the link's blocked list (link congested) */
	bool is_file_fd; /* pipes: fd is not a socket */
	struct udsp_flow flow;
	struct udsp_chunk *q_head, *q_tail;
	size_t q_bytes;
	struct udsp_ctl_client *waiter; /* control client waiting for the OPEN result */
	/* async connect: the client holds app_fd already; it stays unwritable (filled with
	 * junk we read back from fd) until the far side answered */
	bool async;
	uint32_t junk_bytes, junk_msgs;
	int app_sndbuf;
	struct sockaddr_un reply_to; /* dgram: where replies go (the client's own name) */
	socklen_t reply_len;
	char path[UDSP_PATH_MAX];
	uint32_t uid, gid;
	uint32_t ngroups; /* target side: the requester's supplementary groups */
	uint32_t groups[UDSP_MAX_GROUPS];
	struct loop_timer *retry; /* target connect hit a full backlog: retry */
	uint64_t retry_deadline;
	uint64_t bytes_tx, bytes_rx;
	uint64_t app_ino;	 /* dgram via the control socket: the client's socket inode */
	uint64_t last_active_ms; /* dgram: last traffic or liveness check */
	/* mirrored datagram socket (mirror.c): fd is a dup of the shared mirror socket, which
	 * mirror.c reads and demultiplexes by sender; the stream only writes replies to it */
	bool shared_fd;
	struct udsp_mirror_sock *mirror;
	struct udsp_stream *mnext;	      /* mirror->streams */
	struct udsp_chunk *up_head, *up_tail; /* datagrams waiting for OPEN_OK */
	size_t up_bytes;
	struct udsp_stream *hnext;
	struct udsp_stream *bnext;
};

struct udsp_link {
	struct xport_conn *conn;
	int fd;
	bool up;
	bool dead; /* failed: torn down at the end of the current callback */
	bool we_dialed;
	uint64_t peer_nonce;
	uint32_t next_id;
	uint8_t *in;
	size_t in_len, in_cap;
	uint8_t *out;
	size_t out_head, out_len, out_cap;
	uint32_t events;
	uint64_t last_rx_ms, last_tx_ms;
	char desc[160];
};

/* A connection handed from the connector threads to the loop thread. */
struct udsp_link_offer {
	struct xport_conn *conn;
	uint64_t peer_nonce;
	bool we_dialed;
};

struct udsp_mirror_sock {
	struct udsp_mirror_sock *next;
	char path[UDSP_PATH_MAX];
	uint8_t socktype;
	int fd;
	bool seen;		     /* exporter: mark for the rescan diff */
	ino_t ino;		     /* mirrorer: the socket file we bound */
	struct udsp_stream *streams; /* mirrorer, datagram: one stream per sender */
};

struct udsp_policy {
	char allow_file[4096]; /* --allow: "" if none */
	char list_file[4096];  /* the qtcfg udsconnect list */
	struct allowlist *allow;
	struct allowlist *list;
	/* stat of the list file when last loaded: reloaded when it changes */
	uint64_t list_ino, list_mtime_ns, list_size;
	bool list_present;
};

struct udsp_stats {
	uint64_t streams_opened, streams_refused, links_up, link_drops, proto_errors;
	uint64_t bytes_tx, bytes_rx;
	uint64_t msgs_too_big; /* seqpacket/dgram messages over UDSP_DATA_MAX from a local socket */
	uint64_t dgrams_dropped; /* mirrored datagrams with no credit or room left (overload) */
};

struct udsp_daemon {
	struct loop *loop;
	/* configuration (read-only after start) */
	char listen_addr[300];
	char peer_addr[300];
	char ctl_path[UDSP_PATH_MAX];
	char conf_dir[4096];
	struct xport_opts xopts;
	uint32_t window;
	char *mirror_dirs[UDSP_MAX_MIRROR_DIRS];
	size_t n_mirror_dirs;
	char *shared[UDSP_MAX_SHARED];
	size_t n_shared;
	uint64_t nonce;

	struct udsp_policy policy;

	/* loop thread */
	struct udsp_link link;
	struct udsp_stream *buckets[UDSP_STREAM_BUCKETS];
	size_t n_streams;
	struct udsp_stream *blocked_head; /* streams waiting for the link to drain */
	struct xport_listener *ctl;
	struct udsp_ctl_client *ctl_clients; /* every control client, for the request timeout */
	struct loop_timer *tick;
	struct wire_buf scratch;
	struct udsp_stats stats;
	uint8_t *rbuf; /* one message read buffer (seqpacket/dgram with fds) */

	/* mirroring, loop thread */
	struct udsp_mirror_sock *mirrors;  /* mirrorer: the local listening copies */
	struct udsp_mirror_sock *exported; /* exporter: what we told the peer about */
	char *watch_dirs[UDSP_MAX_MIRROR_DIRS];
	size_t n_watch_dirs;
	int inotify_fd;
	struct loop_timer *rescan;

	/* connector threads <-> loop thread */
	struct xport_listener *listener; /* owned by the acceptor thread after start */
	int offer_pipe[2];
	pthread_mutex_t mu;
	pthread_cond_t cond;
	bool want_dial; /* under mu */
	atomic_bool link_up_flag;
	/* the nonce of the peer the link is up with, 0 if none: written by the loop thread,
	 * sent in the connector threads' LINK so a late duplicate dial is refused */
	_Atomic uint64_t linked_nonce;
	/* second connections to the same peer dropped or replacing the link (any thread) */
	_Atomic uint64_t dup_links;
};

/* link.c */
int udsp_link_start_threads(struct udsp_daemon *d);
void udsp_link_on_offer(struct loop *l, int fd, uint32_t events, void *arg);
/* Appends a ready-made frame to the link's output and tries to send it. */
void udsp_link_send(struct udsp_daemon *d, const void *frame, size_t len);
/* Reserves room for a frame of up to payload_max bytes; NULL if the link is down. */
uint8_t *udsp_link_reserve(struct udsp_daemon *d, size_t payload_max);
/* Completes a reserved frame with its real payload length. */
void udsp_link_commit(struct udsp_daemon *d, uint8_t type, uint32_t stream, size_t payload_len);
bool udsp_link_congested(const struct udsp_daemon *d);
void udsp_link_fail(struct udsp_daemon *d, const char *why);
/* Tears a failed link down; called at the end of every loop callback. */
void udsp_link_reap(struct udsp_daemon *d);
void udsp_link_tick(struct udsp_daemon *d);
uint32_t udsp_link_new_stream_id(struct udsp_daemon *d);
void udsp_send_u32(struct udsp_daemon *d, uint8_t type, uint32_t stream, uint32_t v);

/* stream.c */
struct udsp_stream *udsp_stream_new(struct udsp_daemon *d, uint32_t id, uint8_t socktype, int fd);
struct udsp_stream *udsp_stream_find(struct udsp_daemon *d, uint32_t id);
void udsp_stream_destroy(struct udsp_stream *s);
/* Registers the fd for what the stream currently wants (read/write). */
void udsp_stream_update(struct udsp_stream *s);
void udsp_stream_reset(struct udsp_stream *s, int err);
void udsp_stream_on_frame(struct udsp_daemon *d, const struct udsp_msg *m);
void udsp_stream_wake_blocked(struct udsp_daemon *d);
void udsp_stream_close_all(struct udsp_daemon *d);
/* Seqpacket/dgram sockets: the daemon's own ends can send whole UDSP_DATA_MAX messages. */
void udsp_msg_sock_prepare(int fd, uint8_t socktype);
/* The end handed to an application: the kernel refuses its messages over UDSP_DATA_MAX. */
void udsp_msg_sock_cap(int fd, uint8_t socktype);
/* The opener's side became open (OPEN_OK), or the target side connected. */
void udsp_stream_opened(struct udsp_stream *s);
/* A mirrored datagram for the peer: sent now, held until OPEN_OK, or (no credit, link
 * congested, too much held) dropped: 0 or -ENOBUFS. */
int udsp_stream_send_msg(struct udsp_stream *s, const uint8_t *p, size_t len);

/* target.c: OPEN arrived: policy check and the real connect */
void udsp_target_open(struct udsp_daemon *d, const struct udsp_msg *m);

/* policy.c */
int udsp_policy_init(struct udsp_policy *p, const char *allow_file, const char *conf_dir,
		     struct errmsg *e);
void udsp_policy_free(struct udsp_policy *p);
/* 0 if path may be connected to; -EACCES otherwise. Reloads the qtcfg list if it changed. */
int udsp_policy_check(struct udsp_policy *p, const char *path);
/* Checks path, resolves symlinks and checks the result too: the address to connect to
 * goes into out. 0, -EACCES, or the errno of the resolution (-ENOENT ...). */
int udsp_policy_resolve(struct udsp_policy *p, const char *path, char *out, size_t n);

/* ctl.c */
int udsp_ctl_start(struct udsp_daemon *d, struct errmsg *e);
void udsp_ctl_stop(struct udsp_daemon *d);
/* Closes control clients that sent no complete request within UDSP_CTL_REQUEST_MS (a stalled
 * client must not pin an fd and a buffer forever); called from the tick. */
void udsp_ctl_sweep(struct udsp_daemon *d);
/* The OPEN result for a control client waiting on stream s (err 0: hand over app_fd). */
void udsp_ctl_reply(struct udsp_stream *s, int err);
/* The supplementary groups of a unix socket's peer (SO_PEERGROUPS); the count, 0 if none. */
uint32_t udsp_peer_groups(int fd, uint32_t *groups, uint32_t max);

/* status.c */
int udsp_status_format(struct udsp_daemon *d, char *buf, size_t len);

/* mirror.c */
int udsp_mirror_check_dir(const char *dir, struct errmsg *e);
void udsp_mirror_link_up(struct udsp_daemon *d);
void udsp_mirror_link_down(struct udsp_daemon *d);
void udsp_mirror_on_frame(struct udsp_daemon *d, const struct udsp_msg *m);
void udsp_mirror_shutdown(struct udsp_daemon *d);
/* A mirrored datagram stream is going away: off its mirror's list. */
void udsp_mirror_stream_gone(struct udsp_stream *s);
/* 1 if a mirrored datagram stream's sender is gone (its socket file), 0 if not known. */
int udsp_mirror_sender_gone(const struct udsp_stream *s, uint64_t idle_ms);

/* dgram.c */
/* 1 if a unix socket with this inode exists (sock_diag), 0 if not, -errno if unknown. */
int udsp_unix_sock_alive(uint64_t ino);
/* Resets idle datagram streams whose client socket is gone; called from the tick. */
void udsp_dgram_reap(struct udsp_daemon *d);

/* fdpass.c */
/* Bridges fds received from a local socket; builds a DATA_FDS frame. 0 or -errno
 * (the stream is then reset). Takes ownership of the fds. */
int udsp_fdpass_send(struct udsp_stream *s, const uint8_t *data, size_t len, int *fds, size_t nfds);
/* Materialises the fds a DATA_FDS frame describes; *fds malloc'd. 0 or -errno. */
int udsp_fdpass_recv(struct udsp_stream *parent, const struct udsp_msg *m, int **fds);
/* DATA_FDS for a stream that is gone: the sender's child streams are reset. */
void udsp_fdpass_refuse(struct udsp_daemon *d, const struct udsp_msg *m);
bool udsp_path_in_shared(struct udsp_daemon *d, const char *path);

#endif
