/* client: the qtfs FUSE client: node table, the link to qtfsd with pipelined requests,
 * reconnection, and the FUSE operations. */
#ifndef QTFS_CLIENT_H
#define QTFS_CLIENT_H

#define FUSE_USE_VERSION 34
#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "qtfs-user/client_opts.h"
#include "qtfs-user/link.h"
#include "qtfs-user/proto.h"

/* ---- nodes: FUSE node ids for server blobs ---- */
struct qc_node {
	struct qc_node *next;
	uint64_t nlookup;
	/* until this monotonic ms, "security.capability" is known absent: the kernel asks on
	 * every write and chown, and the answer is cached like attributes are */
	_Atomic uint64_t nocap_until_ms;
	atomic_bool remote_fifo;  /* fifo=remote: a host FIFO shown as a regular file */
	atomic_bool posix_locked; /* someone took a POSIX lock: closes must tell the server */
	/* a node's attributes as the server reported them right after an operation here
	 * changed it (a directory's after a create in it, a file's after a setattr): the
	 * kernel often asks for them next, and gets them without a round trip, once, within
	 * a short time, and only while no other change to this node (mods) and no unlink,
	 * rename or link (qc_nodes.names) was sent since; guarded by the table's lock */
	struct qtfs_attr post;
	uint64_t post_until_ms;
	uint64_t post_mods, post_names;
	_Atomic uint64_t mods; /* operations sent that change this node */
	uint32_t hash;
	struct qtfs_blob blob;
};

struct qc_nodes {
	pthread_mutex_t lock;
	struct qc_node **buckets;
	size_t nbuckets, count;
	/* unlinks, renames and links sent: they change nodes other than the directories
	 * named in them (see qc_node.post) */
	_Atomic uint64_t names;
	struct qc_node root; /* node id 1, never forgotten */
};

int qc_nodes_init(struct qc_nodes *t);
void qc_nodes_fini(struct qc_nodes *t);
/* Copies the blob of a node id; -ESTALE for an unknown id. */
int qc_node_blob(struct qc_nodes *t, fuse_ino_t ino, struct qtfs_blob *out);
/* The node id for a blob, counting one more lookup (creates the node). 0 on ENOMEM. */
fuse_ino_t qc_node_ref(struct qc_nodes *t, const struct qtfs_blob *b);
void qc_node_forget(struct qc_nodes *t, fuse_ino_t ino, uint64_t n);
/* Remembers a's attributes after an operation sent when t->names and the node's mods were
 * names and mods; nothing if another change was sent since (a might predate it). */
void qc_node_post_set(struct qc_nodes *t, fuse_ino_t ino, const struct qtfs_attr *a,
		      uint64_t until_ms, uint64_t names, uint64_t mods);
/* Before sending an operation that changes the node. */
void qc_node_changing(struct qc_nodes *t, fuse_ino_t ino);
/* The node's mods now (0 for an unknown node). */
uint64_t qc_node_mods(struct qc_nodes *t, fuse_ino_t ino);
bool qc_node_post_take(struct qc_nodes *t, fuse_ino_t ino, struct qtfs_attr *a);
/* The node behind an id the kernel holds a lookup on (valid until its forget). */
struct qc_node *qc_node_get(struct qc_nodes *t, fuse_ino_t ino);

/* ---- requests in flight ---- */
struct qc;
struct qc_pending;
/* Runs on the link's I/O thread (or the reconnecting thread with an error status). */
typedef void (*qc_done_fn)(struct qc *qc, struct qc_pending *p, const struct qtfs_rep *rep);

struct qc_pending {
	struct qc_pending *next; /* hash chain */
	uint32_t id;
	uint16_t op;
	bool idempotent;
	bool sent;	/* handed to the current link */
	bool intr;	/* register a FUSE interrupt handler for it */
	uint8_t *frame; /* kept while it may have to be sent again */
	size_t frame_len;
	qc_done_fn done;
	fuse_req_t req;
	/* per-operation context */
	struct fuse_file_info fi;
	fuse_ino_t ino;
	size_t size;
	uint64_t off;
	void *ctx;
	/* qc_nodes.names, and the mods of ino and of the node in off (rename), when sent */
	uint64_t names, mods, mods2;
	/* synchronous callers */
	pthread_mutex_t *sync_lock;
	pthread_cond_t *sync_cond;
	bool *sync_done;
	struct qtfs_rep *sync_rep;
	uint8_t **sync_data;
};

struct qc_file {
	uint64_t id;
	uint32_t flags;
	struct qtfs_blob node;
};

struct qc {
	struct qc_opts opts;
	char src[QTFS_PATH_MAX + 1];
	struct xport_opts xopts;
	struct qc_nodes nodes;
	uint32_t attach_flags;
	double attr_timeout, entry_timeout;
	double neg_timeout; /* negative entries: entry_timeout, at most 1 s */
	struct fuse_session *se;

	pthread_mutex_t lock; /* pending, connected, next_id */
	pthread_cond_t cond;
	struct qc_pending *pending[1024];
	uint32_t next_id;
	bool connected;
	bool link_dead; /* the link's thread has ended: the manager must reconnect */
	bool stopping;
	struct qtfs_link link;
	bool link_up; /* guarded by send_lock */
	pthread_mutex_t send_lock;
	pthread_t manager;
	atomic_uint_fast64_t next_fh;
	unsigned reconnects;
};

/* Connects, attaches and starts the link (first mount: errors are reported). */
int qc_start(struct qc *qc, struct errmsg *e);
/* Ends the link and the reconnect manager; fails what is still pending with EIO. */
void qc_stop(struct qc *qc);
/*
 * Sends a request; done is called with the reply. A request that cannot be
 * sent now waits for the link to come back. Returns 0 or -errno (then done is
 * not called).
 */
int qc_submit(struct qc *qc, struct qtfs_req *rq, struct qc_pending *p);
/* Sends rq as QTFS_T_ONEWAY (no reply, nothing kept): dropped while the link is down. */
int qc_send_oneway(struct qc *qc, const struct qtfs_req *rq);
/* Submits and waits; *data receives a malloc'd copy of the reply data (if any). */
int qc_call(struct qc *qc, struct qtfs_req *rq, struct qtfs_rep *rep, uint8_t **data);
/* Asks the server to interrupt request id. */
void qc_interrupt(struct qc *qc, uint32_t id);
/* Fills the request's credentials from the FUSE request. */
void qc_fill_cred(struct qc *qc, fuse_req_t req, struct qtfs_req *rq);

extern const struct fuse_lowlevel_ops qc_ops;

#endif
