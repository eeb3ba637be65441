/* link: one connection driven by its own I/O thread: a send queue in, frames out. */
#ifndef QTFS_LINK_H
#define QTFS_LINK_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "wire.h"
#include "xport.h"

struct qtfs_link;

/* Called on the I/O thread for each complete frame; takes ownership of f->payload. */
typedef void (*qtfs_link_frame_cb)(struct qtfs_link *l, struct wire_frame *f, void *arg);
/* Called on the I/O thread once, when the connection ends (err 0 on EOF or stop). */
typedef void (*qtfs_link_close_cb)(struct qtfs_link *l, int err, void *arg);

struct qtfs_out {
	struct qtfs_out *next;
	uint8_t *data;
	size_t len, off;
};

struct qtfs_link {
	struct xport_conn *conn; /* owned; the I/O thread reads, senders may write (lock) */
	int wake_fd;		 /* eventfd: new output or stop */
	pthread_t thread;
	bool started;
	bool inited; /* between qtfs_link_start and qtfs_link_stop */
	/* senders write themselves when nothing is queued */
	bool direct;
	/* TLS: reads and SSL_pending also take lock (one SSL object, several threads) */
	bool ssl_lock;
	atomic_bool stop;
	pthread_mutex_t lock; /* guards the queue, closed, and every write to conn */
	struct qtfs_out *head, *tail;
	size_t queued;
	/* head != NULL, readable without the lock: the I/O thread checks it every turn */
	atomic_bool has_out;
	bool closed;
	uint32_t max_payload;
	qtfs_link_frame_cb on_frame;
	qtfs_link_close_cb on_close;
	void *arg;
};

/* Takes over conn (made non-blocking) and starts the I/O thread. 0 or -errno. */
int qtfs_link_start(struct qtfs_link *l, struct xport_conn *conn, uint32_t max_payload,
		    qtfs_link_frame_cb on_frame, qtfs_link_close_cb on_close, void *arg);
/* Queues a whole frame (malloc'd, taken over). -EPIPE once the link is closed. */
int qtfs_link_send(struct qtfs_link *l, uint8_t *frame, size_t len);
/* Frames a wire_buf built with wire_frame_begin and queues it (b is reset). */
int qtfs_link_send_buf(struct qtfs_link *l, struct wire_buf *b, uint8_t type, uint32_t req);
/* Stops the thread (if running), closes the connection, frees the queue. Not from the
 * I/O thread itself. */
void qtfs_link_stop(struct qtfs_link *l);

/* Asks the I/O thread to end the connection (from any thread, the I/O thread included). */
void qtfs_link_close_async(struct qtfs_link *l);
#endif
