/* Unit tests for udsproxyd's stream engine without a network: the peer link is one end of a
 * socketpair driven by the test, targets are real unix sockets in a temporary directory. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <signal.h>
#include <unistd.h>

#include <cmocka.h>

#include "udsproxy/daemon.h"
#include "udsproxy/udsproxy_client.h"
#include "util.h"

#define PEER_NONCE 1 /* ours is 2: our stream ids are odd, the peer's even */

struct fx {
	struct udsp_daemon d;
	int peer; /* the test's end of the link */
	int lsn;  /* the target listener */
	char dir[64];
	char path[128];
	uint32_t next; /* next even stream id for the peer */
};

static void run(struct fx *f)
{
	int i;

	for (i = 0; i < 5; i++)
		loop_run_once(f->d.loop, 10);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct udsp_link_offer *o = malloc(sizeof(*o));
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct errmsg e = {""};
	char allow[256];
	int sv[2], p[2];

	assert_non_null(f);
	assert_non_null(o);
	strcpy(f->dir, "/tmp/udsp-stream-test.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/t.sock", f->dir);
	f->lsn = socket(AF_UNIX, SOCK_STREAM, 0);
	strcpy(sa.sun_path, f->path);
	assert_int_equal(bind(f->lsn, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(f->lsn, 16), 0);

	f->d.loop = loop_new();
	assert_non_null(f->d.loop);
	f->d.window = 65536;
	f->d.nonce = 2;
	f->d.inotify_fd = -1;
	pthread_mutex_init(&f->d.mu, NULL);
	pthread_cond_init(&f->d.cond, NULL);
	wire_buf_init(&f->d.scratch);
	snprintf(allow, sizeof(allow), "%s\n@listed\n", f->dir);
	f->d.policy.allow = allow_parse(allow, strlen(allow), "test-allow", &e);
	assert_non_null(f->d.policy.allow);
	snprintf(f->d.policy.list_file, sizeof(f->d.policy.list_file), "%s/none.list", f->dir);

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	f->peer = sv[1];
	o->conn = xport_conn_from_fd(sv[0], XPORT_UNIX);
	o->peer_nonce = PEER_NONCE;
	o->we_dialed = false;
	assert_int_equal(pipe(p), 0);
	assert_int_equal(write(p[1], &o, sizeof(o)), (ssize_t)sizeof(o));
	udsp_link_on_offer(f->d.loop, p[0], EPOLLIN, &f->d);
	close(p[0]);
	close(p[1]);
	assert_true(f->d.link.up);
	f->next = 2;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	udsp_stream_close_all(&f->d);
	udsp_ctl_stop(&f->d);
	if (f->d.link.conn)
		xport_close(f->d.link.conn);
	free(f->d.link.in);
	free(f->d.link.out);
	close(f->peer);
	close(f->lsn);
	allow_free(f->d.policy.allow);
	wire_buf_free(&f->d.scratch);
	loop_free(f->d.loop);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static void peer_send(struct fx *f, const struct wire_buf *b)
{
	size_t off = 0;

	/* The daemon runs on this thread: a frame larger than the socket buffer is written
	 * while it reads. */
	while (off < b->len) {
		ssize_t n = send(f->peer, b->data + off, b->len - off, MSG_DONTWAIT);

		if (n < 0) {
			assert_int_equal(errno, EAGAIN);
			loop_run_once(f->d.loop, 10);
			continue;
		}
		off += (size_t)n;
	}
}

static void peer_send_raw(struct fx *f, uint8_t type, uint32_t stream, const void *p, size_t len)
{
	struct wire_buf b;

	wire_buf_init(&b);
	wire_frame_begin(&b);
	wire_put_raw(&b, p, len);
	assert_int_equal(wire_frame_end(&b, type, stream, 0), 0);
	peer_send(f, &b);
	wire_buf_free(&b);
}

/* Reads the next frame the daemon sent, skipping PINGs; false on EOF/timeout. */
static bool peer_recv(struct fx *f, struct udsp_msg *m, uint8_t *buf, size_t cap)
{
	for (;;) {
		struct pollfd p = {.fd = f->peer, .events = POLLIN};
		struct wire_header h;
		struct errmsg e = {""};

		run(f);
		if (poll(&p, 1, 200) <= 0)
			return false;
		if (read_full(f->peer, buf, WIRE_HEADER_SIZE))
			return false;
		assert_int_equal(wire_header_decode(buf, WIRE_HEADER_SIZE, UDSP_MAX_PAYLOAD, &h),
				 0);
		assert_true(h.length <= cap - WIRE_HEADER_SIZE);
		assert_int_equal(read_full(f->peer, buf + WIRE_HEADER_SIZE, h.length), 0);
		assert_int_equal(udsp_msg_decode(&h, buf + WIRE_HEADER_SIZE, m, &e), 0);
		if (m->type != WIRE_T_PING && m->type != WIRE_T_PONG)
			return true;
	}
}

static bool link_closed(struct fx *f)
{
	char c;
	struct pollfd p = {.fd = f->peer, .events = POLLIN};

	run(f);
	while (poll(&p, 1, 200) > 0) {
		ssize_t n = read(f->peer, &c, 1);

		if (n <= 0)
			return true;
	}
	return false;
}

/* Opens a stream of the socket type to path as the peer would; expects OPEN_OK with our
 * window, or OPEN_ERR with expect_err. */
static uint32_t open_socket(struct fx *f, uint8_t socktype, const char *path, uint32_t expect_err)
{
	uint32_t window = f->d.window;
	static uint8_t buf[WIRE_HEADER_SIZE + UDSP_MAX_PAYLOAD];
	struct wire_buf b;
	struct udsp_msg m;
	uint32_t id = f->next;

	f->next += 2;
	wire_buf_init(&b);
	assert_int_equal(udsp_put_open(&b, id, socktype, 65536, 0, 0, path), 0);
	peer_send(f, &b);
	wire_buf_free(&b);
	assert_true(peer_recv(f, &m, buf, sizeof(buf)));
	assert_int_equal(m.stream, id);
	if (expect_err) {
		assert_int_equal(m.type, UDSP_T_OPEN_ERR);
		assert_int_equal(m.err, expect_err);
	} else {
		assert_int_equal(m.type, UDSP_T_OPEN_OK);
		assert_int_equal(m.window, window);
	}
	return id;
}

static uint32_t open_stream(struct fx *f, const char *path, uint32_t expect_err)
{
	return open_socket(f, UDSP_SOCK_STREAM, path, expect_err);
}

static int accept_target(struct fx *f)
{
	int fd = accept(f->lsn, NULL, NULL);

	assert_true(fd >= 0);
	return fd;
}

static void test_open_to_a_listening_target_answers_open_ok(void **state)
{
	struct fx *f = *state;

	open_stream(f, f->path, 0);
	close(accept_target(f));
	assert_int_equal(f->d.n_streams, 1);
}

static void test_open_to_a_missing_path_answers_enoent(void **state)
{
	struct fx *f = *state;
	char p[160];

	snprintf(p, sizeof(p), "%s/missing.sock", f->dir);
	open_stream(f, p, ENOENT);
	assert_int_equal(f->d.n_streams, 0);
}

static void test_open_with_no_listener_answers_econnrefused(void **state)
{
	struct fx *f = *state;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int s = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/dead.sock", f->dir);
	assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
	open_stream(f, sa.sun_path, ECONNREFUSED);
	close(s);
}

static void test_open_outside_the_allowlist_answers_eacces(void **state)
{
	struct fx *f = *state;

	open_stream(f, "/run/not-listed.sock", EACCES);
	open_stream(f, "@not-listed", EACCES);
}

static void test_open_escaping_the_allowlist_by_dot_dot_answers_eacces(void **state)
{
	struct fx *f = *state;
	char p[200];

	snprintf(p, sizeof(p), "%s/../%s/t.sock", f->dir, f->dir + 5);
	/* Lexically /tmp/x/../x/t.sock is inside; via a symlink out it would not be. */
	open_stream(f, p, 0);
	snprintf(p, sizeof(p), "%s/esc", f->dir);
	assert_int_equal(symlink("/tmp", p), 0);
	snprintf(p, sizeof(p), "%s/esc/x.sock", f->dir);
	open_stream(f, p, EACCES);
}

static void test_data_flows_both_ways(void **state)
{
	static uint8_t buf[WIRE_HEADER_SIZE + UDSP_MAX_PAYLOAD];
	struct fx *f = *state;
	struct udsp_msg m;
	uint32_t id = open_stream(f, f->path, 0);
	int t = accept_target(f);
	char got[16] = "";

	peer_send_raw(f, UDSP_T_DATA, id, "hello", 5);
	run(f);
	assert_int_equal(read(t, got, sizeof(got)), 5);
	assert_memory_equal(got, "hello", 5);
	assert_int_equal(write(t, "world", 5), 5);
	assert_true(peer_recv(f, &m, buf, sizeof(buf)));
	assert_int_equal(m.type, UDSP_T_DATA);
	assert_int_equal(m.stream, id);
	assert_int_equal(m.data_len, 5);
	assert_memory_equal(m.data, "world", 5);
	close(t);
}

static void test_shut_from_the_peer_gives_the_target_eof(void **state)
{
	struct fx *f = *state;
	uint32_t id = open_stream(f, f->path, 0);
	int t = accept_target(f);
	char c;

	peer_send_raw(f, UDSP_T_DATA, id, "x", 1);
	peer_send_raw(f, UDSP_T_SHUT, id, NULL, 0);
	run(f);
	assert_int_equal(read(t, &c, 1), 1);
	assert_int_equal(read(t, &c, 1), 0);
	close(t);
}

static void test_target_close_sends_shut_and_both_shut_frees_the_stream(void **state)
{
	static uint8_t buf[WIRE_HEADER_SIZE + UDSP_MAX_PAYLOAD];
	struct fx *f = *state;
	struct udsp_msg m;
	uint32_t id = open_stream(f, f->path, 0);
	int t = accept_target(f);

	shutdown(t, SHUT_WR);
	assert_true(peer_recv(f, &m, buf, sizeof(buf)));
	assert_int_equal(m.type, UDSP_T_SHUT);
	assert_int_equal(m.stream, id);
	assert_int_equal(f->d.n_streams, 1);
	peer_send_raw(f, UDSP_T_SHUT, id, NULL, 0);
	run(f);
	assert_int_equal(f->d.n_streams, 0);
	close(t);
}

static void test_reset_closes_the_target(void **state)
{
	struct fx *f = *state;
	uint32_t id = open_stream(f, f->path, 0);
	int t = accept_target(f);
	uint8_t err[4] = {0, 0, 0, ECONNRESET};
	char c;

	peer_send_raw(f, UDSP_T_RESET, id, err, 4);
	run(f);
	assert_int_equal(read(t, &c, 1), 0);
	assert_int_equal(f->d.n_streams, 0);
	close(t);
}

static void test_a_stalled_target_holds_at_most_the_window(void **state)
{
	static uint8_t buf[WIRE_HEADER_SIZE + UDSP_MAX_PAYLOAD];
	static uint8_t chunk[65536];
	const size_t win = 2u << 20;
	struct fx *f = *state;
	struct udsp_msg m;
	uint32_t id, credit = 0;
	size_t sent = 0, drained = 0;
	struct udsp_stream *s;
	int t, i;

	f->d.window = win;
	id = open_stream(f, f->path, 0);
	t = accept_target(f);
	/* The target reads nothing: what its socket cannot take waits in the daemon. */
	while (sent < win) {
		peer_send_raw(f, UDSP_T_DATA, id, chunk, sizeof(chunk));
		sent += sizeof(chunk);
		run(f);
	}
	s = udsp_stream_find(&f->d, id);
	assert_non_null(s);
	assert_true(s->q_bytes > 0);
	assert_true(s->q_bytes <= win);
	while (peer_recv(f, &m, buf, sizeof(buf)))
		if (m.type == UDSP_T_CREDIT)
			credit += m.credit;
	/* Credit came back only for what the target's socket took. */
	assert_true(credit <= win - s->q_bytes);
	fd_set_nonblock(t, true);
	for (i = 0; i < 1000 && drained < sent; i++) {
		ssize_t n = read(t, chunk, sizeof(chunk));

		if (n > 0)
			drained += (size_t)n;
		else
			run(f);
	}
	assert_int_equal(drained, sent);
	while (peer_recv(f, &m, buf, sizeof(buf)))
		if (m.type == UDSP_T_CREDIT)
			credit += m.credit;
	/* All of it, less what is still batched (under a quarter window). */
	assert_true(credit > win - win / 4 && credit <= win);
	close(t);
}

static void test_data_beyond_the_window_fails_the_link(void **state)
{
	static uint8_t chunk[65536];
	struct fx *f = *state;
	uint32_t id;
	int t, i;

	f->d.window = 1u << 20;
	id = open_stream(f, f->path, 0);
	t = accept_target(f);
	/* 3 MiB into a 1 MiB window while the target reads nothing. */
	for (i = 0; i < 48 && f->d.link.up; i++) {
		peer_send_raw(f, UDSP_T_DATA, id, chunk, sizeof(chunk));
		run(f);
	}
	assert_true(link_closed(f));
	assert_false(f->d.link.up);
	close(t);
}

static void test_link_loss_closes_every_proxied_socket(void **state)
{
	struct fx *f = *state;
	int t1, t2;
	char c;

	open_stream(f, f->path, 0);
	t1 = accept_target(f);
	open_stream(f, f->path, 0);
	t2 = accept_target(f);
	close(f->peer);
	f->peer = -1;
	run(f);
	assert_int_equal(read(t1, &c, 1), 0);
	assert_int_equal(read(t2, &c, 1), 0);
	assert_int_equal(f->d.n_streams, 0);
	assert_false(f->d.link.up);
	close(t1);
	close(t2);
}

static void test_frames_for_unknown_streams_are_ignored(void **state)
{
	struct fx *f = *state;
	uint8_t credit[4] = {0, 0, 16, 0};

	peer_send_raw(f, UDSP_T_CREDIT, 98, credit, 4);
	peer_send_raw(f, UDSP_T_DATA, 98, "zz", 2);
	assert_false(link_closed(f));
	assert_true(f->d.link.up);
}

static void test_a_malformed_frame_closes_the_link(void **state)
{
	struct fx *f = *state;

	peer_send_raw(f, UDSP_T_CREDIT, 4, "x", 1);
	assert_true(link_closed(f));
}

static void test_open_with_an_id_from_our_half_closes_the_link(void **state)
{
	struct fx *f = *state;
	struct wire_buf b;

	wire_buf_init(&b);
	assert_int_equal(udsp_put_open(&b, 3, UDSP_SOCK_STREAM, 65536, 0, 0, f->path), 0);
	peer_send(f, &b);
	wire_buf_free(&b);
	assert_true(link_closed(f));
}

static void test_vsock_peer_cid_not_in_allowlist_is_refused(void **state)
{
	/* The daemon hands --vsock-cid values to lib/xport as its allowlist. */
	uint32_t cids[] = {3};
	struct xport_opts o = {.vsock_cids = cids, .n_vsock_cids = 1}, none = {0};
	struct errmsg e = {""};

	assert_true(xport_vsock_cid_allowed(&o, 3));
	assert_false(xport_vsock_cid_allowed(&o, 4));
	assert_false(xport_vsock_cid_allowed(&none, 3));
	assert_null(xport_listen("vsock:1:12121", &none, &e));
}

struct client_call {
	const char *path;
	int fd;
	struct udsproxy_info info;
	atomic_bool done;
};

static void *client_thread(void *arg)
{
	struct client_call *c = arg;

	c->fd = udsproxy_connect(c->path, SOCK_STREAM, 0, NULL, &c->info);
	atomic_store(&c->done, true);
	return NULL;
}

/* Starts the control socket and a client thread; returns the stream id the daemon opened. */
static uint32_t client_open(struct fx *f, struct client_call *c, pthread_t *th)
{
	static uint8_t buf[WIRE_HEADER_SIZE + UDSP_MAX_PAYLOAD];
	struct errmsg e = {""};
	struct udsp_msg m;

	if (!f->d.ctl) {
		snprintf(f->d.ctl_path, sizeof(f->d.ctl_path), "%s/ctl.sock", f->dir);
		assert_int_equal(udsp_ctl_start(&f->d, &e), 0);
		setenv("UDSPROXY_SOCK", f->d.ctl_path, 1);
	}
	c->path = f->path;
	atomic_store(&c->done, false);
	assert_int_equal(pthread_create(th, NULL, client_thread, c), 0);
	assert_true(peer_recv(f, &m, buf, sizeof(buf)));
	assert_int_equal(m.type, UDSP_T_OPEN);
	assert_string_equal(m.path, f->path);
	assert_int_equal(m.stream & 1, 1); /* our half */
	return m.stream;
}

static void run_until(struct fx *f, atomic_bool *flag)
{
	int i;

	for (i = 0; i < 500 && !atomic_load(flag); i++)
		run(f);
	assert_true(atomic_load(flag));
}

static void test_client_api_returns_a_connected_fd(void **state)
{
	struct fx *f = *state;
	struct client_call c;
	pthread_t th;
	uint8_t win[4] = {0, 1, 0, 0};
	char got[8] = "";
	uint32_t id = client_open(f, &c, &th);

	peer_send_raw(f, UDSP_T_OPEN_OK, id, win, 4);
	run_until(f, &c.done);
	pthread_join(th, NULL);
	assert_true(c.fd >= 0);
	peer_send_raw(f, UDSP_T_DATA, id, "hi", 2);
	run(f);
	assert_int_equal(read(c.fd, got, sizeof(got)), 2);
	assert_memory_equal(got, "hi", 2);
	close(c.fd);
	udsp_ctl_stop(&f->d);
}

static void test_client_api_returns_the_far_errno(void **state)
{
	struct fx *f = *state;
	struct client_call c;
	pthread_t th;
	uint8_t err[4] = {0, 0, 0, ECONNREFUSED};
	uint32_t id = client_open(f, &c, &th);

	peer_send_raw(f, UDSP_T_OPEN_ERR, id, err, 4);
	run_until(f, &c.done);
	pthread_join(th, NULL);
	assert_int_equal(c.fd, -ECONNREFUSED);
	assert_true(c.info.remote);
	assert_int_equal(f->d.n_streams, 0);
	udsp_ctl_stop(&f->d);
}

struct start_call {
	const char *path;
	int fd, ctl;
	atomic_bool done;
};

static void *start_thread(void *arg)
{
	struct start_call *c = arg;

	c->fd = udsproxy_connect_start(c->path, SOCK_STREAM, UDSPROXY_NONBLOCK, NULL, &c->ctl,
				       NULL);
	atomic_store(&c->done, true);
	return NULL;
}

static void test_async_connect_stays_unwritable_until_open_ok(void **state)
{
	static uint8_t buf[WIRE_HEADER_SIZE + UDSP_MAX_PAYLOAD];
	struct fx *f = *state;
	struct start_call c = {.path = f->path};
	struct errmsg e = {""};
	struct udsp_msg m;
	struct pollfd p;
	pthread_t th;
	uint8_t win[4] = {0, 1, 0, 0};
	int i;

	snprintf(f->d.ctl_path, sizeof(f->d.ctl_path), "%s/ctl.sock", f->dir);
	assert_int_equal(udsp_ctl_start(&f->d, &e), 0);
	setenv("UDSPROXY_SOCK", f->d.ctl_path, 1);
	assert_int_equal(pthread_create(&th, NULL, start_thread, &c), 0);
	run_until(f, &c.done);
	pthread_join(th, NULL);
	assert_true(c.fd >= 0);
	assert_true(c.ctl >= 0);
	assert_true(peer_recv(f, &m, buf, sizeof(buf)));
	assert_int_equal(m.type, UDSP_T_OPEN);
	p = (struct pollfd){.fd = c.fd, .events = POLLOUT};
	assert_int_equal(poll(&p, 1, 50), 0); /* not writable while the far side is silent */
	assert_int_equal(udsproxy_connect_finish(c.ctl, NULL), -EINPROGRESS);
	peer_send_raw(f, UDSP_T_OPEN_OK, m.stream, win, 4);
	for (i = 0; i < 50 && poll(&p, 1, 0) == 0; i++)
		run(f);
	assert_true(p.revents & POLLOUT);
	assert_int_equal(udsproxy_connect_finish(c.ctl, NULL), 0);
	/* Nothing of the filler reaches the far side; the client's own bytes do. */
	assert_int_equal(write(c.fd, "ab", 2), 2);
	assert_true(peer_recv(f, &m, buf, sizeof(buf)));
	assert_int_equal(m.type, UDSP_T_DATA);
	assert_int_equal(m.data_len, 2);
	assert_memory_equal(m.data, "ab", 2);
	close(c.fd);
	udsp_ctl_stop(&f->d);
}

/* A target socket of another type in the test directory; sends up to 1 MiB messages. */
static int msg_target(struct fx *f, int type, const char *name, char *path, size_t n)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, type, 0), big = 1 << 20;

	assert_true(fd >= 0);
	snprintf(path, n, "%s/%s", f->dir, name);
	strcpy(sa.sun_path, path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof(big)), 0);
	if (type == SOCK_SEQPACKET)
		assert_int_equal(listen(fd, 4), 0);
	return fd;
}

static uint32_t open_typed(struct fx *f, uint8_t socktype, const char *path)
{
	return open_socket(f, socktype, path, 0);
}

/* The next frame other than CREDIT. */
static void peer_recv_skip_credit(struct fx *f, struct udsp_msg *m, uint8_t *buf, size_t cap)
{
	do
		assert_true(peer_recv(f, m, buf, cap));
	while (m->type == UDSP_T_CREDIT);
}

static void test_a_256k_datagram_passes_whole_and_a_longer_one_is_dropped(void **state)
{
	static uint8_t buf[WIRE_HEADER_SIZE + UDSP_MAX_PAYLOAD];
	static uint8_t big[(1 << 20)];
	struct fx *f = *state;
	struct sockaddr_un from;
	socklen_t flen = sizeof(from);
	char path[128];
	int t = msg_target(f, SOCK_DGRAM, "d.sock", path, sizeof(path));
	uint32_t id = open_typed(f, UDSP_SOCK_DGRAM, path);
	struct udsp_msg m;

	/* The daemon's socket sends a whole UDSP_DATA_MAX message (the default send buffer
	 * would refuse it). */
	memset(big, 'a', UDSP_DATA_MAX);
	peer_send_raw(f, UDSP_T_DATA, id, big, UDSP_DATA_MAX);
	run(f);
	assert_int_equal(
		recvfrom(t, big, sizeof(big), MSG_DONTWAIT, (struct sockaddr *)&from, &flen),
		UDSP_DATA_MAX);
	/* A longer reply cannot cross the link: dropped, counted; the stream lives on. */
	assert_int_equal(sendto(t, big, UDSP_DATA_MAX + 1, 0, (struct sockaddr *)&from, flen),
			 UDSP_DATA_MAX + 1);
	assert_int_equal(sendto(t, "ok", 2, 0, (struct sockaddr *)&from, flen), 2);
	peer_recv_skip_credit(f, &m, buf, sizeof(buf));
	assert_int_equal(m.type, UDSP_T_DATA);
	assert_int_equal(m.data_len, 2);
	assert_int_equal(f->d.stats.msgs_too_big, 1);
	assert_int_equal(f->d.n_streams, 1);
	close(t);
}

static void test_a_seqpacket_message_over_the_limit_resets_the_stream(void **state)
{
	static uint8_t buf[WIRE_HEADER_SIZE + UDSP_MAX_PAYLOAD];
	static uint8_t big[(1 << 20)];
	struct fx *f = *state;
	char path[128];
	int l = msg_target(f, SOCK_SEQPACKET, "s.sock", path, sizeof(path)), t, v = 1 << 20;
	uint32_t id = open_typed(f, UDSP_SOCK_SEQPACKET, path);
	struct udsp_msg m;

	t = accept(l, NULL, NULL);
	assert_true(t >= 0);
	assert_int_equal(setsockopt(t, SOL_SOCKET, SO_SNDBUFFORCE, &v, sizeof(v)), 0);
	memset(big, 'b', sizeof(big));
	assert_int_equal(send(t, big, UDSP_DATA_MAX + 1, 0), UDSP_DATA_MAX + 1);
	/* Silently losing a message of a reliable stream is not an option: RESET EMSGSIZE. */
	peer_recv_skip_credit(f, &m, buf, sizeof(buf));
	assert_int_equal(m.type, UDSP_T_RESET);
	assert_int_equal(m.stream, id);
	assert_int_equal(m.err, EMSGSIZE);
	assert_int_equal(f->d.n_streams, 0);
	close(t);
	close(l);
}

static void test_sock_diag_tells_a_closed_datagram_socket(void **state)
{
	struct stat st;
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv), 0);
	assert_int_equal(fstat(sv[0], &st), 0);
	assert_int_equal(udsp_unix_sock_alive(st.st_ino), 1);
	close(sv[0]);
	assert_int_equal(udsp_unix_sock_alive(st.st_ino), 0);
	close(sv[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(x) cmocka_unit_test_setup_teardown(x, setup, teardown)
		T(test_open_to_a_listening_target_answers_open_ok),
		T(test_open_to_a_missing_path_answers_enoent),
		T(test_open_with_no_listener_answers_econnrefused),
		T(test_open_outside_the_allowlist_answers_eacces),
		T(test_open_escaping_the_allowlist_by_dot_dot_answers_eacces),
		T(test_data_flows_both_ways),
		T(test_shut_from_the_peer_gives_the_target_eof),
		T(test_target_close_sends_shut_and_both_shut_frees_the_stream),
		T(test_reset_closes_the_target),
		T(test_a_stalled_target_holds_at_most_the_window),
		T(test_data_beyond_the_window_fails_the_link),
		T(test_link_loss_closes_every_proxied_socket),
		T(test_frames_for_unknown_streams_are_ignored),
		T(test_a_malformed_frame_closes_the_link),
		T(test_open_with_an_id_from_our_half_closes_the_link),
		T(test_client_api_returns_a_connected_fd),
		T(test_client_api_returns_the_far_errno),
		T(test_async_connect_stays_unwritable_until_open_ok),
		T(test_a_256k_datagram_passes_whole_and_a_longer_one_is_dropped),
		T(test_a_seqpacket_message_over_the_limit_resets_the_stream),
		cmocka_unit_test(test_vsock_peer_cid_not_in_allowlist_is_refused),
		cmocka_unit_test(test_sock_diag_tells_a_closed_datagram_socket),
#undef T
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("udsproxy_stream", tests, NULL, NULL);
}
