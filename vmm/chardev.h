/*
 * chardev: character device backends (stdio, pty, file, unix socket server) for
 * the serial port and virtio-console: non-blocking, input delivered through
 * callbacks on the main loop with backpressure.
 */
#ifndef SV_VMM_CHARDEV_H
#define SV_VMM_CHARDEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "errmsg.h"
#include "vm_config.h"

struct loop;
struct chardev;

/*
 * Input side, called on the loop thread. can_read returns how many bytes the
 * frontend can take now (e.g. free UART FIFO space); when it returns 0 the
 * chardev stops polling its fd until chardev_input_ready() is called. read gets
 * at most that many bytes.
 */
struct chardev_frontend {
	size_t (*can_read)(void *opaque);
	void (*read)(void *opaque, const uint8_t *buf, size_t len);
	void *opaque;
};

/*
 * Opens the backend described by cfg and registers it with loop l:
 * - stdio: stdin is put in raw mode when it is a tty (restored by chardev_close,
 *   at exit, and by chardev_restore_tty() from signal handlers);
 * - pty: opens a pty master and logs "char device redirected to /dev/pts/N";
 * - file: output appended to path (created 0600), no input;
 * - socket: a unix socket server at path (nowait: does not wait for a client);
 *   one client at a time, a new one may connect after the previous left.
 * NULL with errno and a one-line message on failure.
 */
struct chardev *chardev_open(struct loop *l, const struct vm_chardev_config *cfg, struct errmsg *e);
void chardev_close(struct chardev *c);

/* Attaches the frontend (NULL detaches). Loop thread only. */
void chardev_set_frontend(struct chardev *c, const struct chardev_frontend *fe);

/*
 * Thread-safe (e.g. from a vCPU thread): the frontend has room again; input
 * polling resumes on the loop thread.
 */
void chardev_input_ready(struct chardev *c);

/*
 * Thread-safe output. stdio and file: writes everything (waits while the fd is
 * full). pty and socket: never blocks; bytes that do not fit, or that have no
 * client to go to, are dropped (a serial line with nobody listening). Returns the
 * number of bytes accepted, or -errno on a write error.
 */
ssize_t chardev_write(struct chardev *c, const void *buf, size_t len);

/* The pty slave path (pty backend), else NULL. */
const char *chardev_pty_path(const struct chardev *c);
/* The config's id. */
const char *chardev_id(const struct chardev *c);
/* True when a socket backend has a client, and always for the others. */
bool chardev_connected(const struct chardev *c);

/* The open chardev with that id (e.g. a virtconsole's chardev=), or NULL. Main thread,
 * during set-up. */
struct chardev *chardev_lookup(const char *id);

/* Async-signal-safe: puts stdin's saved terminal attributes back, if a stdio
 * chardev changed them. */
void chardev_restore_tty(void);

#endif
