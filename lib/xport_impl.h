/* xport_impl: state and helpers shared by the lib/xport*.c files only (not a public API). */
#ifndef SV_XPORT_IMPL_H
#define SV_XPORT_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <openssl/ssl.h>

#include "errmsg.h"
#include "xport.h"

#define XPORT_DEFAULT_TIMEOUT_MS 10000
#define XPORT_DESC_MAX		 384

struct xport_conn {
	enum xport_kind kind;
	int fd;
	SSL *ssl;	   /* tls: only */
	bool want_write;   /* tls: the last SSL call blocked needing POLLOUT, not POLLIN */
	bool wr_shut;	   /* xport_shutdown_write done */
	bool tls_accepted; /* tls: client: the server's session ticket arrived */
	bool ssl_dead;
	bool hs_pending;      /* tls: accepted by xport_accept_nb, handshake not finished */
	uint64_t hs_deadline; /* ... and when it times out */
	char hs_listen[200];
	/* ... the listening address, for messages */ /* tls: a fatal error happened; no more SSL calls but SSL_free */
	char desc[XPORT_DESC_MAX];
};

struct xport_listener {
	struct xport_addr addr;
	int fd;
	int timeout_ms;
	SSL_CTX *ssl_ctx;     /* tls: only */
	uint32_t *vsock_cids; /* vsock: owned copy of the allowlist */
	size_t n_vsock_cids;
	bool unlink_path; /* unix: we created the socket file ... */
	dev_t sock_dev;	  /* ... and it is still this inode */
	ino_t sock_ino;
};

/* Milliseconds left until deadline (>= 0), or -1 meaning no deadline (deadline 0). */
int xport_ms_left(uint64_t deadline);
/* Waits for events on fd until deadline; 0, -ETIMEDOUT or -errno. */
int xport_poll_fd(int fd, short events, uint64_t deadline);
/* connect() bounded by the deadline: non-blocking connect, poll, SO_ERROR. */
int xport_connect_fd(int fd, const struct sockaddr *sa, socklen_t salen, uint64_t deadline);
struct xport_conn *xport_conn_new(enum xport_kind kind, int fd);
/* "1.2.3.4:5" / "[::1]:5" / "@name" / "/path" for a socket address. */
void xport_sockaddr_str(const struct sockaddr *sa, socklen_t len, char *buf, size_t n);

/* write_all / read_full bounded by a deadline from xport_deadline_ms (0: no deadline). */
int xport_write_all_until(struct xport_conn *c, const void *buf, size_t len, uint64_t deadline);
int xport_read_full_until(struct xport_conn *c, void *buf, size_t len, uint64_t deadline);
/* The monotonic-clock deadline timeout_ms from now (<= 0 means the 10 s default). */
uint64_t xport_deadline_ms(int timeout_ms);

/* unix: */
int xport_unix_listen(struct xport_listener *l, const struct xport_opts *o, struct errmsg *e);
int xport_unix_connect(const struct xport_addr *a, uint64_t deadline, struct errmsg *e);
/* Fills c->desc with the address and SO_PEERCRED of the peer. */
void xport_unix_describe(struct xport_conn *c, const char *path);
void xport_unix_listener_cleanup(struct xport_listener *l);

/* tcp: (also the socket layer of tls:) */
int xport_tcp_listen(const struct xport_addr *a, struct errmsg *e);
int xport_tcp_connect(const struct xport_addr *a, uint64_t deadline, struct errmsg *e);
/* Refuses without test mode; logs the once-per-process warning. */
int xport_tcp_check_mode(const char *addr, const struct xport_opts *o, struct errmsg *e);
void xport_tcp_setup_conn(int fd);

/* tls: */
SSL_CTX *xport_tls_ctx_new(const struct xport_opts *o, bool server, struct errmsg *e);
void xport_tls_ctx_free(SSL_CTX *ctx);
/* Creates c->ssl on c->fd. */
int xport_tls_begin(struct xport_conn *c, SSL_CTX *ctx, struct errmsg *e);
/* One SSL_accept/SSL_connect on a non-blocking fd: 0 done, -EAGAIN (wait for *events), -errno. */
int xport_tls_step(struct xport_conn *c, bool server, short *events, struct errmsg *e);
/* Runs the handshake on c->fd (c->ssl is created here) within the deadline. */
int xport_tls_handshake(struct xport_conn *c, SSL_CTX *ctx, bool server, uint64_t deadline,
			struct errmsg *e);
ssize_t xport_tls_read(struct xport_conn *c, void *buf, size_t len);
ssize_t xport_tls_write(struct xport_conn *c, const void *buf, size_t len);
int xport_tls_shutdown(struct xport_conn *c);
void xport_tls_free(struct xport_conn *c);
/* Appends " CN=..." of the peer certificate to c->desc. */
void xport_tls_describe(struct xport_conn *c);

/* vsock: */
int xport_vsock_listen(struct xport_listener *l, const struct xport_opts *o, struct errmsg *e);
int xport_vsock_connect(const struct xport_addr *a, const struct xport_opts *o, uint64_t deadline,
			struct errmsg *e);
/* Accept-time check of the peer address; -EACCES (logged) for a refused CID. */
int xport_vsock_check_peer(const struct xport_listener *l, const struct sockaddr *sa, socklen_t len,
			   struct errmsg *e);

#endif
