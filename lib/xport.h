/* xport: connections by address string: unix:/path, tcp:HOST:PORT, tls:HOST:PORT, vsock:CID:PORT. */
#ifndef SV_XPORT_H
#define SV_XPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "errmsg.h"

enum xport_kind {
	XPORT_UNIX,
	XPORT_TCP,
	XPORT_TLS,
	XPORT_VSOCK,
};

struct xport_addr {
	enum xport_kind kind;
	char path[108]; /* unix: NUL-terminated; abstract addresses start with '@' */
	char host[256]; /* tcp/tls: name or literal, IPv6 literals in [brackets] */
	uint16_t port;	/* tcp/tls/vsock */
	uint32_t cid;	/* vsock */
};

/* Parses an address string. -EINVAL with a message naming the address on error. */
int xport_addr_parse(const char *s, struct xport_addr *out, struct errmsg *e);
/* Formats back to the canonical string; -ENAMETOOLONG if it does not fit. */
int xport_addr_format(const struct xport_addr *a, char *buf, size_t len);
const char *xport_kind_name(enum xport_kind kind);

struct xport_opts {
	/* tcp: is cleartext and unauthenticated: refused unless this is set, and then a
	 * warning is logged once per process. */
	bool test_mode;
	/* tls: (both ends) PEM files; the peer must present a certificate signed by ca. */
	const char *tls_cert;
	const char *tls_key;
	const char *tls_ca;
	/* vsock: the peer CIDs accepted (listen side: the connecting CID; connect side:
	 * the CID dialled). A vsock listener without a list is refused. */
	const uint32_t *vsock_cids;
	size_t n_vsock_cids;
	/* unix: listen: the socket file's mode (0 means 0600); an existing socket file
	 * at the path is replaced only if nothing listens on it. */
	unsigned unix_mode;
	/* connect and TLS handshake timeout in ms (0 means 10000). */
	int timeout_ms;
};

struct xport_listener;
struct xport_conn;

struct xport_listener *xport_listen(const char *addr, const struct xport_opts *opts,
				    struct errmsg *e);
/* The listening fd, for an event loop (EPOLLIN means accept will not block). */
int xport_listener_fd(const struct xport_listener *l);
const struct xport_addr *xport_listener_addr(const struct xport_listener *l);
/* Closes the listener and unlinks its unix socket file. */
void xport_listener_close(struct xport_listener *l);

/*
 * Accepts one connection and, for tls:, completes the handshake (bounded by
 * opts->timeout_ms) with the peer's certificate verified; for vsock:, checks
 * the peer CID. NULL with errno (EAGAIN if a non-blocking listener has none
 * pending; EACCES for a refused peer) and a message. The new connection is
 * blocking; use xport_set_nonblock for an event loop.
 */
struct xport_conn *xport_accept(struct xport_listener *l, struct errmsg *e);
/*
 * Event-loop form of xport_accept: accepts and checks the peer like it, but a
 * tls: handshake is only started, to be driven by xport_handshake_step, so a
 * slow or silent client cannot stall the loop. The connection is non-blocking.
 * Other kinds come back ready. Reads and writes fail with ENOTCONN until the
 * handshake is done.
 */
struct xport_conn *xport_accept_nb(struct xport_listener *l, struct errmsg *e);
/*
 * Advances a pending handshake: 0 when the connection is ready (also when none
 * is pending); -EAGAIN to be called again once xport_fd(c) is ready for
 * *events (POLLIN or POLLOUT); -ETIMEDOUT once the listener's timeout_ms has
 * passed since the accept; another -errno (EACCES: certificate refused) with
 * a message. After an error other than -EAGAIN the caller closes c.
 */
int xport_handshake_step(struct xport_conn *c, short *events, struct errmsg *e);
/* ms until a pending handshake times out (for the caller's timer); -1 if none is pending. */
int xport_handshake_ms_left(const struct xport_conn *c);
/* Connects (and for tls: verifies the server's certificate against the CA). */
struct xport_conn *xport_connect(const char *addr, const struct xport_opts *opts, struct errmsg *e);
/* Wraps an already connected fd (unix/tcp kinds only; takes ownership). */
struct xport_conn *xport_conn_from_fd(int fd, enum xport_kind kind);

int xport_fd(const struct xport_conn *c);
enum xport_kind xport_conn_kind(const struct xport_conn *c);
int xport_set_nonblock(struct xport_conn *c, bool on);
/* "unix:/path pid=12 uid=0", "tls:10.77.0.2:4000 CN=dpu", for log lines. */
const char *xport_peer_desc(const struct xport_conn *c);

/*
 * read/write like the syscalls: >0 bytes, 0 on EOF (read), -1 with errno
 * (EAGAIN when non-blocking and the operation would block, whatever TLS
 * needs underneath). Writes may be partial.
 */
ssize_t xport_read(struct xport_conn *c, void *buf, size_t len);
ssize_t xport_write(struct xport_conn *c, const void *buf, size_t len);
/* Writes all of buf, waiting with poll() if the fd is non-blocking. 0 or -errno. */
int xport_write_all(struct xport_conn *c, const void *buf, size_t len);
/* Reads exactly len bytes. 0, -EPIPE on early EOF, or -errno. */
int xport_read_full(struct xport_conn *c, void *buf, size_t len);
/* Bytes already decrypted and buffered (TLS): an event loop must drain these
 * before waiting on the fd again. */
size_t xport_pending(const struct xport_conn *c);
/* Half-close the sending direction (TLS: close_notify, then shutdown(SHUT_WR)). */
int xport_shutdown_write(struct xport_conn *c);
void xport_close(struct xport_conn *c);

/* SCM_RIGHTS over a unix socket fd. Sends len >= 1 bytes with nfds descriptors. */
ssize_t xport_unix_send_fds(int fd, const void *buf, size_t len, const int *fds, size_t nfds);
/* Receives up to len bytes; *nfds is the capacity on entry and the count on return.
 * Received fds are close-on-exec; extra fds beyond capacity are closed and the
 * call fails with EMSGSIZE (never silently dropped). */
ssize_t xport_unix_recv_fds(int fd, void *buf, size_t len, int *fds, size_t *nfds);

/* True if cid is in opts' vsock allowlist. */
bool xport_vsock_cid_allowed(const struct xport_opts *opts, uint32_t cid);

#endif
