/*
 * Unit tests for lib/xport_tls.c: mutual TLS over loopback with certificates made at
 * test time (two CAs) by the openssl command; refusals of every wrong certificate.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/ssl.h>

#include "wire.h"
#include "xport.h"

static char dir[64];
static char path_buf[16][160];
static int n_paths;

static const char *pem(const char *name)
{
	char *p = path_buf[n_paths++ % 16];

	snprintf(p, sizeof(path_buf[0]), "%s/%s", dir, name);
	return p;
}

static int make_certs(void **state)
{
	char cmd[2048];

	snprintf(dir, sizeof(dir), "/tmp/xport_tls_test.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	/* Two CAs; a server and a client signed by each; EC keys to keep it fast. */
	snprintf(cmd, sizeof(cmd),
		 "{ set -e; cd '%s'; "
		 "ca() { openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
		 "-days 2 -subj /CN=$1 -keyout $1.key -out $1.crt; }; "
		 "leaf() { openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
		 "-subj /CN=$1 -keyout $1.key -out $1.csr; "
		 "openssl x509 -req -in $1.csr -CA $2.crt -CAkey $2.key -CAcreateserial -days 2 "
		 "-out $1.crt; }; "
		 "ca ca; ca otherca; leaf server ca; leaf client ca; "
		 "leaf rogue-client otherca; leaf rogue-server otherca; "
		 "echo 'not a certificate' > garbage.crt; cp client.key unreadable.key; "
		 "chmod 000 unreadable.key; } >/dev/null 2>&1",
		 dir);
	if (system(cmd) != 0) {
		fprintf(stderr, "xport_tls_test: openssl could not make the test certificates\n");
		return -1;
	}
	return 0;
}

static int remove_certs(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static struct xport_opts opts(const char *who, const char *ca)
{
	char name[64];
	struct xport_opts o = {.timeout_ms = 5000};

	snprintf(name, sizeof(name), "%s.crt", who);
	o.tls_cert = pem(name);
	snprintf(name, sizeof(name), "%s.key", who);
	o.tls_key = pem(name);
	snprintf(name, sizeof(name), "%s.crt", ca);
	o.tls_ca = pem(name);
	return o;
}

struct server {
	struct xport_listener *l;
	struct xport_conn *c;
	int err;
	struct errmsg e;
	pthread_t t;
	char addr[64];
};

static void *accept_thread(void *arg)
{
	struct server *s = arg;

	s->c = xport_accept(s->l, &s->e);
	s->err = s->c ? 0 : errno;
	return NULL;
}

/* A listener on 127.0.0.1 (port chosen by the kernel) accepting once in a thread. */
static void server_start(struct server *s, const struct xport_opts *o)
{
	memset(s, 0, sizeof(*s));
	s->l = xport_listen("tls:127.0.0.1:0", o, &s->e);
	if (!s->l)
		fail_msg("listen: %s", errmsg_str(&s->e));
	snprintf(s->addr, sizeof(s->addr), "tls:127.0.0.1:%u", xport_listener_addr(s->l)->port);
	assert_int_equal(pthread_create(&s->t, NULL, accept_thread, s), 0);
}

static void server_join(struct server *s)
{
	pthread_join(s->t, NULL);
}

static void server_stop(struct server *s)
{
	xport_close(s->c);
	xport_listener_close(s->l);
}

static void test_xport_tls_round_trip_names_both_certificates(void **state)
{
	struct xport_opts so = opts("server", "ca"), co = opts("client", "ca");
	struct server s;
	struct xport_conn *c;
	struct errmsg e = {""};
	char buf[128];

	server_start(&s, &so);
	c = xport_connect(s.addr, &co, &e);
	if (!c)
		fail_msg("connect: %s", errmsg_str(&e));
	server_join(&s);
	if (!s.c)
		fail_msg("accept: %s", errmsg_str(&s.e));
	assert_int_equal(xport_conn_kind(c), XPORT_TLS);
	assert_non_null(strstr(xport_peer_desc(c), "CN=server"));
	assert_non_null(strstr(xport_peer_desc(s.c), "CN=client"));
	assert_true(strncmp(xport_peer_desc(s.c), "tls:127.0.0.1:", 14) == 0);

	assert_int_equal(xport_write_all(c, "0123456789abcdefghij", 20), 0);
	assert_int_equal(xport_read_full(s.c, buf, 5), 0);
	assert_memory_equal(buf, "01234", 5);
	/* the rest of the record is decrypted and waiting: the fd alone would not say so */
	assert_int_equal(xport_pending(s.c), 15);
	assert_int_equal(xport_read_full(s.c, buf, 15), 0);
	assert_int_equal(xport_pending(s.c), 0);
	assert_int_equal(xport_write_all(s.c, "reply", 5), 0);
	assert_int_equal(xport_read_full(c, buf, 5), 0);
	assert_memory_equal(buf, "reply", 5);
	xport_close(c);
	/* the server sees an orderly EOF */
	assert_int_equal(xport_read(s.c, buf, sizeof(buf)), 0);
	server_stop(&s);
}

static void test_xport_tls_server_refuses_client_cert_from_other_ca(void **state)
{
	struct xport_opts so = opts("server", "ca"), co = opts("rogue-client", "ca");
	struct server s;
	struct xport_conn *c;
	struct errmsg e = {""};
	char buf[16];

	server_start(&s, &so);
	c = xport_connect(s.addr, &co, &e);
	server_join(&s);
	assert_null(s.c);
	assert_int_equal(s.err, EACCES);
	assert_non_null(strstr(errmsg_str(&s.e), "certificate"));
	/* The client learns it too, in connect, with the server's reason. */
	if (c) {
		ssize_t n = xport_read(c, buf, sizeof(buf));

		xport_close(c);
		fail_msg("refused client connected (first read: %zd)", n);
	}
	assert_int_equal(errno, EACCES);
	assert_non_null(strstr(errmsg_str(&e), "refused our certificate"));
	server_stop(&s);
}

static void test_xport_tls_client_refuses_server_cert_from_other_ca(void **state)
{
	struct xport_opts so = opts("rogue-server", "ca"), co = opts("client", "ca");
	struct server s;
	struct errmsg e = {""};

	server_start(&s, &so);
	assert_null(xport_connect(s.addr, &co, &e));
	assert_int_equal(errno, EACCES);
	assert_non_null(strstr(errmsg_str(&e), "certificate"));
	assert_non_null(strstr(errmsg_str(&e), s.addr));
	server_join(&s);
	assert_null(s.c);
	server_stop(&s);
}

/* A client with no certificate at all, made with OpenSSL directly (xport never allows it). */
static void test_xport_tls_server_refuses_client_without_certificate(void **state)
{
	struct xport_opts so = opts("server", "ca");
	struct server s;
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	SSL_CTX *ctx;
	SSL *ssl;
	char buf[8];
	int fd, r;

	server_start(&s, &so);
	sin.sin_port = htons(xport_listener_addr(s.l)->port);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ctx = SSL_CTX_new(TLS_client_method());
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	ssl = SSL_new(ctx);
	SSL_set_fd(ssl, fd);
	r = SSL_connect(ssl);
	if (r == 1)
		r = SSL_read(ssl, buf, sizeof(buf)); /* TLS 1.3: the refusal arrives here */
	assert_true(r <= 0);
	server_join(&s);
	assert_null(s.c);
	assert_int_equal(s.err, EACCES);
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	close(fd);
	server_stop(&s);
}

static void expect_listen_error(struct xport_opts o, const char *needle, const char *needle2)
{
	struct errmsg e = {""};

	assert_null(xport_listen("tls:127.0.0.1:0", &o, &e));
	if (!strstr(errmsg_str(&e), needle) || (needle2 && !strstr(errmsg_str(&e), needle2)))
		fail_msg("message lacks '%s': %s", needle, errmsg_str(&e));
	assert_null(strchr(errmsg_str(&e), '\n'));
}

static void test_xport_tls_bad_files_are_named_in_one_line(void **state)
{
	struct xport_opts o;

	o = opts("server", "ca");
	o.tls_cert = pem("missing.crt");
	expect_listen_error(o, pem("missing.crt"), "No such file");
	o = opts("server", "ca");
	o.tls_ca = pem("missing-ca.crt");
	expect_listen_error(o, pem("missing-ca.crt"), NULL);
	o = opts("server", "ca");
	o.tls_cert = pem("garbage.crt");
	expect_listen_error(o, pem("garbage.crt"), NULL);
	o = opts("server", "ca");
	o.tls_ca = pem("garbage.crt");
	expect_listen_error(o, pem("garbage.crt"), NULL);
	o = opts("server", "ca");
	o.tls_key = pem("client.key");
	expect_listen_error(o, "does not match", pem("client.key"));
	o = opts("server", "ca");
	o.tls_key = NULL;
	expect_listen_error(o, "key", NULL);
	if (geteuid() != 0) { /* root reads mode 000 files */
		o = opts("server", "ca");
		o.tls_key = pem("unreadable.key");
		expect_listen_error(o, pem("unreadable.key"), "Permission denied");
	}
	/* the client side checks the same way */
	struct errmsg e = {""};
	o = opts("client", "ca");
	o.tls_ca = pem("missing-ca.crt");
	assert_null(xport_connect("tls:127.0.0.1:1", &o, &e));
	assert_non_null(strstr(errmsg_str(&e), pem("missing-ca.crt")));
}

static void test_xport_tls_nonblocking_read_is_eagain_then_data(void **state)
{
	struct xport_opts so = opts("server", "ca"), co = opts("client", "ca");
	struct server s;
	struct xport_conn *c;
	struct errmsg e = {""};
	char buf[64];

	server_start(&s, &so);
	c = xport_connect(s.addr, &co, &e);
	assert_non_null(c);
	server_join(&s);
	assert_non_null(s.c);
	assert_int_equal(xport_set_nonblock(s.c, true), 0);
	assert_int_equal(xport_read(s.c, buf, sizeof(buf)), -1);
	assert_int_equal(errno, EAGAIN);
	assert_int_equal(xport_write_all(c, "late", 4), 0);
	/* read_full waits (poll) on a non-blocking connection */
	assert_int_equal(xport_read_full(s.c, buf, 4), 0);
	assert_memory_equal(buf, "late", 4);
	assert_int_equal(xport_read(s.c, buf, sizeof(buf)), -1);
	assert_int_equal(errno, EAGAIN);
	xport_close(c);
	server_stop(&s);
}

static void *accept_and_greet(void *arg)
{
	struct server *s = arg;

	accept_thread(s);
	if (s->c && xport_write_all(s->c, "greeting", 8) != 0)
		s->err = EIO;
	return NULL;
}

/* Data the server sends right after the handshake must wake poll() on the client. */
static void test_xport_tls_data_after_handshake_stays_visible_to_poll(void **state)
{
	struct xport_opts so = opts("server", "ca"), co = opts("client", "ca");
	struct server s;
	struct xport_conn *c;
	struct errmsg e = {""};
	struct pollfd pfd;
	char buf[8];

	memset(&s, 0, sizeof(s));
	s.l = xport_listen("tls:127.0.0.1:0", &so, &s.e);
	assert_non_null(s.l);
	snprintf(s.addr, sizeof(s.addr), "tls:127.0.0.1:%u", xport_listener_addr(s.l)->port);
	assert_int_equal(pthread_create(&s.t, NULL, accept_and_greet, &s), 0);
	c = xport_connect(s.addr, &co, &e);
	assert_non_null(c);
	server_join(&s);
	assert_int_equal(s.err, 0);
	assert_int_equal(xport_pending(c), 0);
	pfd.fd = xport_fd(c);
	pfd.events = POLLIN;
	assert_int_equal(poll(&pfd, 1, 5000), 1);
	assert_int_equal(xport_read_full(c, buf, 8), 0);
	assert_memory_equal(buf, "greeting", 8);
	xport_close(c);
	server_stop(&s);
}

struct drain {
	struct xport_conn *c;
	size_t want, got;
	int ret;
};

static void *drain_thread(void *arg)
{
	struct drain *d = arg;
	char buf[16384];

	while (d->got < d->want) {
		ssize_t n = xport_read(d->c, buf, sizeof(buf));

		if (n <= 0) {
			d->ret = n == 0 ? -EPIPE : -errno;
			return NULL;
		}
		for (ssize_t i = 0; i < n; i++)
			if (buf[i] != (char)((d->got + (size_t)i) % 251)) {
				d->ret = -EBADMSG;
				return NULL;
			}
		d->got += (size_t)n;
	}
	return NULL;
}

/* Non-blocking TLS writes: EAGAIN once the socket is full, and write_all waits it out. */
static void test_xport_tls_nonblocking_write_reports_eagain_then_completes(void **state)
{
	struct xport_opts so = opts("server", "ca"), co = opts("client", "ca");
	static char chunk[65536 * 2];
	struct server s;
	struct drain d = {0};
	struct xport_conn *c;
	struct errmsg e = {""};
	size_t sent = 0;
	pthread_t t;

	server_start(&s, &so);
	c = xport_connect(s.addr, &co, &e);
	assert_non_null(c);
	server_join(&s);
	assert_non_null(s.c);
	assert_int_equal(xport_set_nonblock(c, true), 0);
	for (;;) {
		for (size_t i = 0; i < 65536; i++)
			chunk[i] = (char)((sent + i) % 251);
		ssize_t n = xport_write(c, chunk, 65536);

		if (n < 0)
			break;
		sent += (size_t)n;
		assert_true(sent < (256u << 20));
	}
	assert_int_equal(errno, EAGAIN);
	/* The retry must offer the same bytes again; then finish with write_all. */
	d.c = s.c;
	d.want = sent + 65536 * 2;
	assert_int_equal(pthread_create(&t, NULL, drain_thread, &d), 0);
	for (size_t i = 0; i < sizeof(chunk); i++)
		chunk[i] = (char)((sent + i) % 251);
	assert_int_equal(xport_write_all(c, chunk, sizeof(chunk)), 0);
	pthread_join(t, NULL);
	assert_int_equal(d.ret, 0);
	assert_int_equal(d.got, d.want);
	xport_close(c);
	server_stop(&s);
}

static void test_xport_tls_shutdown_write_half_closes(void **state)
{
	struct xport_opts so = opts("server", "ca"), co = opts("client", "ca");
	struct server s;
	struct xport_conn *c;
	struct errmsg e = {""};
	char buf[16];

	server_start(&s, &so);
	c = xport_connect(s.addr, &co, &e);
	assert_non_null(c);
	server_join(&s);
	assert_non_null(s.c);
	assert_int_equal(xport_write_all(c, "req", 3), 0);
	assert_int_equal(xport_shutdown_write(c), 0);
	assert_int_equal(xport_read_full(s.c, buf, 3), 0);
	assert_int_equal(xport_read(s.c, buf, sizeof(buf)), 0); /* close_notify */
	assert_int_equal(xport_write_all(s.c, "resp", 4), 0);
	assert_int_equal(xport_read_full(c, buf, 4), 0);
	assert_memory_equal(buf, "resp", 4);
	assert_int_equal(xport_write(c, "x", 1), -1);
	assert_int_equal(errno, EPIPE);
	xport_close(c);
	server_stop(&s);
}

/* Writing to a peer that went away is an error return, never a SIGPIPE death. */
static void test_xport_tls_write_to_closed_peer_is_an_error_not_sigpipe(void **state)
{
	struct xport_opts so = opts("server", "ca"), co = opts("client", "ca");
	static char chunk[16384];
	struct server s;
	struct xport_conn *c;
	struct errmsg e = {""};
	int ret = 0;

	server_start(&s, &so);
	c = xport_connect(s.addr, &co, &e);
	assert_non_null(c);
	server_join(&s);
	assert_non_null(s.c);
	xport_close(c);
	for (int i = 0; i < 100 && ret == 0; i++)
		ret = xport_write_all(s.c, chunk, sizeof(chunk));
	assert_true(ret == -EPIPE || ret == -ECONNRESET);
	server_stop(&s);
}

static void test_xport_tls_handshake_times_out_on_silent_client(void **state)
{
	struct xport_opts so = opts("server", "ca");
	struct xport_opts to = {.test_mode = true};
	struct server s;
	struct xport_conn *raw;
	struct errmsg e = {""};
	char addr[64];

	so.timeout_ms = 300;
	server_start(&s, &so);
	snprintf(addr, sizeof(addr), "tcp:127.0.0.1:%u", xport_listener_addr(s.l)->port);
	raw = xport_connect(addr, &to, &e); /* TCP only: never says a word */
	assert_non_null(raw);
	server_join(&s);
	assert_null(s.c);
	assert_int_equal(s.err, ETIMEDOUT);
	assert_non_null(strstr(errmsg_str(&s.e), "timed out"));
	xport_close(raw);
	server_stop(&s);
}

static void test_xport_tls_refuses_plaintext_peer(void **state)
{
	struct xport_opts so = opts("server", "ca");
	struct xport_opts to = {.test_mode = true};
	struct server s;
	struct xport_conn *raw;
	struct errmsg e = {""};
	char addr[64];

	server_start(&s, &so);
	snprintf(addr, sizeof(addr), "tcp:127.0.0.1:%u", xport_listener_addr(s.l)->port);
	raw = xport_connect(addr, &to, &e);
	assert_non_null(raw);
	assert_int_equal(xport_write_all(raw, "GET / HTTP/1.0\r\n\r\n", 18), 0);
	server_join(&s);
	assert_null(s.c);
	assert_int_equal(s.err, EPROTO);
	xport_close(raw);
	server_stop(&s);
}

struct hs {
	struct xport_conn *c;
	struct wire_hello mine;
	int ret;
	struct errmsg e;
};

static void *hs_thread(void *arg)
{
	struct hs *h = arg;
	struct wire_hello peer;

	h->ret = wire_handshake(h->c, &h->mine, 1, &peer, 5000, &h->e);
	return NULL;
}

static void test_xport_tls_carries_wire_handshake_and_frames(void **state)
{
	struct xport_opts so = opts("server", "ca"), co = opts("client", "ca");
	struct server s;
	struct hs sh = {.mine = {.proto = "echo", .version = 1, .role = 2, .max_payload = 4096}};
	struct wire_hello mine = {.proto = "echo", .version = 1, .role = 1, .max_payload = 4096};
	struct wire_hello peer;
	struct xport_conn *c;
	struct wire_frame f;
	struct errmsg e = {""};
	pthread_t t;

	server_start(&s, &so);
	c = xport_connect(s.addr, &co, &e);
	assert_non_null(c);
	server_join(&s);
	assert_non_null(s.c);
	sh.c = s.c;
	assert_int_equal(pthread_create(&t, NULL, hs_thread, &sh), 0);
	assert_int_equal(wire_handshake(c, &mine, 2, &peer, 5000, &e), 0);
	pthread_join(t, NULL);
	assert_int_equal(sh.ret, 0);
	assert_int_equal(wire_send(c, 16, 1, 2, "over tls", 8), 0);
	assert_int_equal(wire_recv(s.c, 0, &f), 0);
	assert_int_equal(f.h.length, 8);
	assert_memory_equal(f.payload, "over tls", 8);
	wire_frame_free(&f);
	xport_close(c);
	assert_int_equal(wire_recv(s.c, 0, &f), -EPIPE);
	server_stop(&s);
}

struct client {
	const char *addr;
	struct xport_opts o;
	struct xport_conn *c;
	int err;
	struct errmsg e;
};

static void *connect_thread(void *arg)
{
	struct client *cl = arg;

	cl->c = xport_connect(cl->addr, &cl->o, &cl->e);
	cl->err = cl->c ? 0 : errno;
	if (cl->c && xport_write_all(cl->c, "hi", 2) != 0)
		cl->err = EIO;
	return NULL;
}

/* Drives xport_handshake_step like an event loop would; returns its final result. */
static int drive_handshake(struct xport_conn *c, struct errmsg *e)
{
	short ev;
	int ret;

	while ((ret = xport_handshake_step(c, &ev, e)) == -EAGAIN) {
		struct pollfd p = {.fd = xport_fd(c), .events = ev};
		int left = xport_handshake_ms_left(c);

		assert_true(ev == POLLIN || ev == POLLOUT);
		assert_true(left >= 0);
		assert_true(poll(&p, 1, left) >= 0);
	}
	return ret;
}

static void test_xport_tls_event_loop_accept_drives_handshake_in_steps(void **state)
{
	struct xport_opts so = opts("server", "ca");
	struct client cl = {.o = opts("client", "ca")};
	struct xport_listener *l;
	struct xport_conn *c;
	struct errmsg e = {""};
	char addr[64], buf[4];
	short ev;
	pthread_t t;

	l = xport_listen("tls:127.0.0.1:0", &so, &e);
	assert_non_null(l);
	snprintf(addr, sizeof(addr), "tls:127.0.0.1:%u", xport_listener_addr(l)->port);
	cl.addr = addr;
	assert_int_equal(pthread_create(&t, NULL, connect_thread, &cl), 0);
	assert_int_equal(
		poll(&(struct pollfd){.fd = xport_listener_fd(l), .events = POLLIN}, 1, 5000), 1);
	c = xport_accept_nb(l, &e);
	assert_non_null(c);
	assert_true(fcntl(xport_fd(c), F_GETFL) & O_NONBLOCK);
	if (drive_handshake(c, &e))
		fail_msg("handshake: %s", errmsg_str(&e));
	pthread_join(t, NULL);
	assert_int_equal(cl.err, 0);
	assert_non_null(strstr(xport_peer_desc(c), "CN=client"));
	assert_int_equal(xport_handshake_ms_left(c), -1);
	assert_int_equal(xport_handshake_step(c, &ev, &e), 0);
	assert_int_equal(xport_read_full(c, buf, 2), 0);
	assert_memory_equal(buf, "hi", 2);
	xport_close(cl.c);
	xport_close(c);
	xport_listener_close(l);
}

static void test_xport_tls_event_loop_accept_refuses_and_times_out(void **state)
{
	struct xport_opts so = opts("server", "ca");
	struct xport_opts to = {.test_mode = true};
	struct client cl = {.o = opts("rogue-client", "ca")};
	struct xport_listener *l;
	struct xport_conn *c, *raw;
	struct errmsg e = {""};
	char addr[64], buf[4];
	short ev;
	pthread_t t;

	so.timeout_ms = 300;
	l = xport_listen("tls:127.0.0.1:0", &so, &e);
	assert_non_null(l);
	/* a certificate from another CA: refused with EACCES */
	snprintf(addr, sizeof(addr), "tls:127.0.0.1:%u", xport_listener_addr(l)->port);
	cl.addr = addr;
	assert_int_equal(pthread_create(&t, NULL, connect_thread, &cl), 0);
	assert_int_equal(
		poll(&(struct pollfd){.fd = xport_listener_fd(l), .events = POLLIN}, 1, 5000), 1);
	c = xport_accept_nb(l, &e);
	assert_non_null(c);
	assert_int_equal(drive_handshake(c, &e), -EACCES);
	assert_non_null(strstr(errmsg_str(&e), "certificate"));
	xport_close(c);
	pthread_join(t, NULL);
	assert_null(cl.c);
	assert_int_equal(cl.err, EACCES);

	/* a client that never speaks: accept returns at once, the step times out */
	snprintf(addr, sizeof(addr), "tcp:127.0.0.1:%u", xport_listener_addr(l)->port);
	raw = xport_connect(addr, &to, &e);
	assert_non_null(raw);
	c = xport_accept_nb(l, &e);
	assert_non_null(c);
	assert_int_equal(xport_handshake_step(c, &ev, &e), -EAGAIN);
	assert_int_equal(ev, POLLIN);
	assert_true(xport_handshake_ms_left(c) > 0);
	assert_int_equal(xport_read(c, buf, sizeof(buf)), -1);
	assert_int_equal(errno, ENOTCONN);
	assert_int_equal(drive_handshake(c, &e), -ETIMEDOUT);
	assert_non_null(strstr(errmsg_str(&e), "timed out"));
	xport_close(c);
	xport_close(raw);
	xport_listener_close(l);
}

/* Refused handshakes on both sides close everything they opened. */
static void test_xport_tls_refusals_leak_no_descriptors(void **state)
{
	struct xport_opts so = opts("server", "ca"), co = opts("rogue-client", "ca");
	struct xport_opts ro = opts("rogue-server", "ca"), go = opts("client", "ca");
	struct server s;
	struct errmsg e;
	int before = count_fds();

	for (int i = 0; i < 5; i++) {
		server_start(&s, &so);
		assert_null(xport_connect(s.addr, &co, &e));
		server_join(&s);
		assert_null(s.c);
		server_stop(&s);
		server_start(&s, &ro);
		assert_null(xport_connect(s.addr, &go, &e));
		server_join(&s);
		assert_null(s.c);
		server_stop(&s);
	}
	assert_int_equal(count_fds(), before);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_xport_tls_round_trip_names_both_certificates),
		cmocka_unit_test(test_xport_tls_server_refuses_client_cert_from_other_ca),
		cmocka_unit_test(test_xport_tls_client_refuses_server_cert_from_other_ca),
		cmocka_unit_test(test_xport_tls_server_refuses_client_without_certificate),
		cmocka_unit_test(test_xport_tls_bad_files_are_named_in_one_line),
		cmocka_unit_test(test_xport_tls_nonblocking_read_is_eagain_then_data),
		cmocka_unit_test(test_xport_tls_data_after_handshake_stays_visible_to_poll),
		cmocka_unit_test(test_xport_tls_nonblocking_write_reports_eagain_then_completes),
		cmocka_unit_test(test_xport_tls_shutdown_write_half_closes),
		cmocka_unit_test(test_xport_tls_write_to_closed_peer_is_an_error_not_sigpipe),
		cmocka_unit_test(test_xport_tls_handshake_times_out_on_silent_client),
		cmocka_unit_test(test_xport_tls_refuses_plaintext_peer),
		cmocka_unit_test(test_xport_tls_carries_wire_handshake_and_frames),
		cmocka_unit_test(test_xport_tls_event_loop_accept_drives_handshake_in_steps),
		cmocka_unit_test(test_xport_tls_event_loop_accept_refuses_and_times_out),
		cmocka_unit_test(test_xport_tls_refusals_leak_no_descriptors),
	};

	return cmocka_run_group_tests(tests, make_certs, remove_certs);
}
