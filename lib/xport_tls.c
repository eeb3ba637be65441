/*
 * xport_tls: tls:HOST:PORT, mutual TLS over the TCP layer with OpenSSL. Both ends
 * present a certificate and require the peer's to be signed by the configured CA.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "xport.h"
#include "xport_impl.h"

/* ---- a socket BIO that never raises SIGPIPE ------------------------------ */

/*
 * OpenSSL's own socket BIO write()s, so a peer that went away kills a process
 * that has not ignored SIGPIPE. This one send()s with MSG_NOSIGNAL instead.
 */
static BIO_METHOD *sock_method;
static pthread_once_t sock_method_once = PTHREAD_ONCE_INIT;

static int bio_fd(BIO *b)
{
	return (int)(intptr_t)BIO_get_data(b);
}

static int sock_write(BIO *b, const char *buf, int len)
{
	ssize_t n;

	BIO_clear_retry_flags(b);
	do
		n = send(bio_fd(b), buf, (size_t)len, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		BIO_set_retry_write(b);
	return (int)n;
}

static int sock_read(BIO *b, char *buf, int len)
{
	ssize_t n;

	BIO_clear_retry_flags(b);
	do
		n = recv(bio_fd(b), buf, (size_t)len, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		BIO_set_retry_read(b);
	return (int)n;
}

static long sock_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	switch (cmd) {
	case BIO_CTRL_FLUSH:
		return 1;
	case BIO_C_GET_FD:
		if (ptr)
			*(int *)ptr = bio_fd(b);
		return bio_fd(b);
	default:
		return 0;
	}
}

static int sock_create(BIO *b)
{
	BIO_set_init(b, 1);
	return 1;
}

static int sock_destroy(BIO *b)
{
	return 1; /* the fd belongs to the xport_conn */
}

static void sock_method_init(void)
{
	BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK |
					     BIO_TYPE_DESCRIPTOR,
				     "splitvirt socket");

	if (!m)
		return;
	if (!BIO_meth_set_write(m, sock_write) || !BIO_meth_set_read(m, sock_read) ||
	    !BIO_meth_set_ctrl(m, sock_ctrl) || !BIO_meth_set_create(m, sock_create) ||
	    !BIO_meth_set_destroy(m, sock_destroy)) {
		BIO_meth_free(m);
		return;
	}
	sock_method = m;
}

/* ---- context: certificates and verification ------------------------------ */

static const char *ssl_reason(void)
{
	unsigned long code = ERR_peek_last_error();
	const char *r = code ? ERR_reason_error_string(code) : NULL;

	return r ? r : "OpenSSL error";
}

/* A clear errno-based message for a file OpenSSL would only call "system lib". */
static int tls_check_file(const char *what, const char *path, struct errmsg *e)
{
	int fd;

	if (!path || !path[0]) {
		errmsg_set(e, "tls: needs a %s file (none configured)", what);
		return -EINVAL;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int ret = -errno;

		errmsg_set(e, "cannot read %s %s: %s", what, path, strerror(-ret));
		return ret;
	}
	close(fd);
	return 0;
}

/* Client: a session ticket arrived, so the server finished its side of the handshake. */
static int tls_ticket_seen(SSL *ssl, SSL_SESSION *sess)
{
	struct xport_conn *c = SSL_get_app_data(ssl);

	if (c)
		c->tls_accepted = true;
	return 0; /* not kept: the session is freed by OpenSSL */
}

SSL_CTX *xport_tls_ctx_new(const struct xport_opts *o, bool server, struct errmsg *e)
{
	SSL_CTX *ctx;
	int ret;

	ret = tls_check_file("certificate", o->tls_cert, e);
	if (!ret)
		ret = tls_check_file("key", o->tls_key, e);
	if (!ret)
		ret = tls_check_file("CA", o->tls_ca, e);
	if (ret) {
		errno = -ret;
		return NULL;
	}
	ERR_clear_error();
	ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
	if (!ctx) {
		errmsg_set(e, "tls: cannot create a context: %s", ssl_reason());
		errno = ENOMEM;
		return NULL;
	}
	ret = -EINVAL;
	if (!SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION)) {
		errmsg_set(e, "tls: cannot require TLS 1.2: %s", ssl_reason());
		goto err;
	}
	if (SSL_CTX_use_certificate_chain_file(ctx, o->tls_cert) != 1) {
		errmsg_set(e, "certificate %s: %s", o->tls_cert, ssl_reason());
		goto err;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, o->tls_key, SSL_FILETYPE_PEM) != 1) {
		if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH)
			errmsg_set(e, "key %s does not match certificate %s", o->tls_key,
				   o->tls_cert);
		else
			errmsg_set(e, "key %s: %s", o->tls_key, ssl_reason());
		goto err;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		errmsg_set(e, "key %s does not match certificate %s", o->tls_key, o->tls_cert);
		goto err;
	}
	if (SSL_CTX_load_verify_locations(ctx, o->tls_ca, NULL) != 1) {
		errmsg_set(e, "CA %s: %s", o->tls_ca, ssl_reason());
		goto err;
	}
	if (server) {
		STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(o->tls_ca);

		/* Tells clients which CA we accept; harmless if it fails. */
		if (names)
			SSL_CTX_set_client_CA_list(ctx, names);
		/*
		 * One session ticket, sent once the client's certificate has been
		 * verified: under TLS 1.3 it is the client's only sign that the server
		 * accepted it (see tls_await_acceptance). Resumption itself is not used.
		 */
		SSL_CTX_set_num_tickets(ctx, 1);
	} else {
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT |
							    SSL_SESS_CACHE_NO_INTERNAL_STORE);
		SSL_CTX_sess_set_new_cb(ctx, tls_ticket_seen);
	}
	/* Mutual: each end insists on a certificate from the other, signed by the CA. */
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	/* Frames carry their own lengths, so a missing close_notify is an ordinary EOF. */
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF);
	ERR_clear_error();
	return ctx;
err:
	ERR_clear_error();
	SSL_CTX_free(ctx);
	errno = -ret;
	return NULL;
}

void xport_tls_ctx_free(SSL_CTX *ctx)
{
	SSL_CTX_free(ctx);
}

/* ---- handshake ------------------------------------------------------------ */

/* errno for an OpenSSL failure: certificate problems are EACCES, the rest EPROTO. */
static int tls_errno(const SSL *ssl)
{
	unsigned long code = ERR_peek_last_error();

	if (ssl && SSL_get_verify_result(ssl) != X509_V_OK)
		return EACCES;
	if (ERR_GET_LIB(code) == ERR_LIB_SSL) {
		switch (ERR_GET_REASON(code)) {
		case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
		case SSL_R_CERTIFICATE_VERIFY_FAILED:
		case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
		case SSL_R_TLSV1_ALERT_ACCESS_DENIED:
		case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
		case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
		case SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED:
		case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:
			return EACCES;
		}
	}
	return EPROTO;
}

/*
 * Under TLS 1.3 a client's handshake is over before the server has looked at
 * the client's certificate, so a refusal would only show up at the first read,
 * as a reset or an alert. Our servers send a session ticket after accepting
 * the certificate; waiting for it (or for data, or the alert) here makes a
 * refused client fail in xport_connect with the server's reason. The fd is
 * non-blocking.
 */
static int tls_wait_ticket(struct xport_conn *c, uint64_t deadline, struct errmsg *e);

static int tls_await_acceptance(struct xport_conn *c, uint64_t deadline, struct errmsg *e)
{
	int ret;

	if (SSL_version(c->ssl) < TLS1_3_VERSION)
		return 0; /* TLS 1.2: the client certificate was checked inside the handshake */
	/*
	 * Without auto-retry SSL_peek returns right after processing the ticket, so
	 * data the server sent after it stays in the socket (where poll sees it)
	 * rather than being decrypted into OpenSSL's buffer here.
	 */
	SSL_clear_mode(c->ssl, SSL_MODE_AUTO_RETRY);
	ret = tls_wait_ticket(c, deadline, e);
	SSL_set_mode(c->ssl, SSL_MODE_AUTO_RETRY);
	return ret;
}

static int tls_wait_ticket(struct xport_conn *c, uint64_t deadline, struct errmsg *e)
{
	char byte;
	int r, err, ret;

	while (!c->tls_accepted) {
		ERR_clear_error();
		errno = 0;
		r = SSL_peek(c->ssl, &byte, 1);
		if (r > 0)
			return 0; /* the server already talks to us */
		err = SSL_get_error(c->ssl, r);
		if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
			if (c->tls_accepted)
				break;
			ret = xport_poll_fd(c->fd, err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT,
					    deadline);
			if (ret == -ETIMEDOUT) {
				errmsg_set(e, "timed out waiting for the server to accept our "
					      "certificate");
				return ret;
			}
			if (ret) {
				errmsg_set(e, "poll: %s", strerror(-ret));
				return ret;
			}
			continue;
		}
		c->ssl_dead = true;
		if (err == SSL_ERROR_SSL) {
			ret = -tls_errno(c->ssl);
			errmsg_set(e, "%s%s",
				   ret == -EACCES ? "the server refused our certificate: " : "",
				   ssl_reason());
			return ret;
		}
		if (err == SSL_ERROR_ZERO_RETURN || errno == 0) {
			errmsg_set(e, "the server closed the connection after the handshake");
			return -ECONNRESET;
		}
		ret = -errno;
		errmsg_set(e, "the server dropped the connection after the handshake: %s",
			   strerror(errno));
		return ret;
	}
	return 0;
}

int xport_tls_begin(struct xport_conn *c, SSL_CTX *ctx, struct errmsg *e)
{
	BIO *bio;

	pthread_once(&sock_method_once, sock_method_init);
	if (!sock_method) {
		errmsg_set(e, "tls: cannot create the socket BIO");
		return -ENOMEM;
	}
	c->ssl = SSL_new(ctx);
	bio = BIO_new(sock_method);
	if (!c->ssl || !bio) {
		BIO_free(bio);
		errmsg_set(e, "tls: out of memory");
		return -ENOMEM;
	}
	BIO_set_data(bio, (void *)(intptr_t)c->fd);
	SSL_set_bio(c->ssl, bio, bio);
	SSL_set_app_data(c->ssl, c);
	return 0;
}

int xport_tls_step(struct xport_conn *c, bool server, short *events, struct errmsg *e)
{
	int r, err, ret;

	ERR_clear_error();
	errno = 0;
	r = server ? SSL_accept(c->ssl) : SSL_connect(c->ssl);
	if (r == 1) {
		ERR_clear_error();
		return 0;
	}
	err = SSL_get_error(c->ssl, r);
	if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
		ERR_clear_error();
		*events = err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
		return -EAGAIN;
	}
	c->ssl_dead = true;
	if (SSL_get_verify_result(c->ssl) != X509_V_OK) {
		errmsg_set(e, "peer certificate refused: %s",
			   X509_verify_cert_error_string(SSL_get_verify_result(c->ssl)));
		ret = -EACCES;
	} else if (err == SSL_ERROR_SSL) {
		ret = -tls_errno(c->ssl);
		errmsg_set(e, "%s", ssl_reason());
	} else if (errno) {
		ret = -errno;
		errmsg_set(e, "%s", strerror(errno));
	} else {
		ret = -ECONNRESET;
		errmsg_set(e, "peer closed the connection");
	}
	ERR_clear_error();
	return ret;
}

int xport_tls_handshake(struct xport_conn *c, SSL_CTX *ctx, bool server, uint64_t deadline,
			struct errmsg *e)
{
	short events = 0;
	int flags, ret;

	ret = xport_tls_begin(c, ctx, e);
	if (ret)
		return ret;
	/* Non-blocking for the handshake so the deadline holds; restored after. */
	flags = fcntl(c->fd, F_GETFL);
	if (flags < 0 || fcntl(c->fd, F_SETFL, flags | O_NONBLOCK) < 0) {
		ret = -errno;
		errmsg_set(e, "fcntl: %s", strerror(-ret));
		return ret;
	}
	while ((ret = xport_tls_step(c, server, &events, e)) == -EAGAIN) {
		ret = xport_poll_fd(c->fd, events, deadline);
		if (ret == -ETIMEDOUT) {
			errmsg_set(e, "timed out");
			break;
		}
		if (ret) {
			errmsg_set(e, "poll: %s", strerror(-ret));
			break;
		}
	}
	if (ret == 0 && !server)
		ret = tls_await_acceptance(c, deadline, e);
	ERR_clear_error();
	if (fcntl(c->fd, F_SETFL, flags) < 0 && ret == 0) {
		ret = -errno;
		errmsg_set(e, "fcntl: %s", strerror(-ret));
	}
	return ret;
}

void xport_tls_describe(struct xport_conn *c)
{
	X509 *cert = SSL_get1_peer_certificate(c->ssl);
	char cn[128];
	size_t used, i;
	int n;

	if (!cert)
		return;
	n = X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof(cn));
	X509_free(cert);
	if (n < 0)
		return;
	/* The CN goes into log lines: nothing but printable ASCII. */
	for (i = 0; cn[i]; i++)
		if (cn[i] < 0x20 || cn[i] > 0x7e)
			cn[i] = '?';
	used = strlen(c->desc);
	snprintf(c->desc + used, sizeof(c->desc) - used, " CN=%s", cn);
}

/* ---- data ---------------------------------------------------------------- */

/* Maps an SSL_read/SSL_write result to the syscall convention. */
static ssize_t tls_result(struct xport_conn *c, int r)
{
	int saved = errno;
	int err = SSL_get_error(c->ssl, r);

	c->want_write = false;
	switch (err) {
	case SSL_ERROR_ZERO_RETURN:
		ERR_clear_error();
		return 0;
	case SSL_ERROR_WANT_WRITE:
		c->want_write = true;
		/* fall through */
	case SSL_ERROR_WANT_READ:
		ERR_clear_error();
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_SYSCALL:
		c->ssl_dead = true;
		ERR_clear_error();
		if (saved == 0)
			return 0; /* EOF without close_notify */
		errno = saved;
		return -1;
	default:
		c->ssl_dead = true;
		errno = tls_errno(c->ssl);
		ERR_clear_error();
		return -1;
	}
}

ssize_t xport_tls_read(struct xport_conn *c, void *buf, size_t len)
{
	int r;

	if (len == 0)
		return 0;
	if (c->ssl_dead) {
		errno = EPIPE;
		return -1;
	}
	ERR_clear_error();
	errno = 0;
	r = SSL_read(c->ssl, buf, len > INT_MAX ? INT_MAX : (int)len);
	if (r > 0)
		return r;
	return tls_result(c, r);
}

ssize_t xport_tls_write(struct xport_conn *c, const void *buf, size_t len)
{
	int r;

	if (len == 0)
		return 0;
	if (c->ssl_dead || c->wr_shut) {
		errno = EPIPE;
		return -1;
	}
	ERR_clear_error();
	errno = 0;
	r = SSL_write(c->ssl, buf, len > INT_MAX ? INT_MAX : (int)len);
	if (r > 0)
		return r;
	if (tls_result(c, r) == 0) {
		errno = EPIPE; /* a write cannot hit EOF */
	}
	return -1;
}

int xport_tls_shutdown(struct xport_conn *c)
{
	uint64_t deadline = xport_deadline_ms(0);

	if (c->ssl_dead)
		return -EPIPE;
	for (;;) {
		int r, err;

		ERR_clear_error();
		errno = 0;
		r = SSL_shutdown(c->ssl);
		if (r >= 0) /* 0: our close_notify is out, the peer's not yet read */
			return 0;
		err = SSL_get_error(c->ssl, r);
		if (err == SSL_ERROR_WANT_WRITE || err == SSL_ERROR_WANT_READ) {
			int ret = xport_poll_fd(
				c->fd, err == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN, deadline);
			if (ret)
				return ret;
			continue;
		}
		c->ssl_dead = true;
		ERR_clear_error();
		return errno ? -errno : -EIO;
	}
}

void xport_tls_free(struct xport_conn *c)
{
	if (!c->ssl)
		return;
	if (!c->ssl_dead && !(SSL_get_shutdown(c->ssl) & SSL_SENT_SHUTDOWN) &&
	    SSL_is_init_finished(c->ssl)) {
		/* Best effort close_notify; never block closing. */
		int flags = fcntl(c->fd, F_GETFL);

		if (flags >= 0 && fcntl(c->fd, F_SETFL, flags | O_NONBLOCK) == 0)
			(void)SSL_shutdown(c->ssl);
	}
	ERR_clear_error();
	SSL_free(c->ssl);
	c->ssl = NULL;
}
