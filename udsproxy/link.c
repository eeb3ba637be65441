/* link: the one peer link between two udsproxyd: connector threads (dial with backoff,
 * accept, HELLO and LINK exchange), then framed I/O on the event loop. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"
#include "util.h"

#define LINK_HANDSHAKE_MS   5000
#define LINK_PING_MS	    1000
#define LINK_DEAD_MS	    6000
#define LINK_BACKOFF_MIN_MS 100
#define LINK_BACKOFF_MAX_MS 3000
#define LINK_IN_CAP	    (2 * (WIRE_HEADER_SIZE + UDSP_MAX_PAYLOAD))

static void link_on_io(struct loop *l, int fd, uint32_t events, void *arg);

/* ---- connector threads (they never touch loop-thread state except through the pipe) ---- */

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* HELLO, then LINK nonces, blocking with a deadline. */
static int link_greet(struct udsp_daemon *d, struct xport_conn *c, uint64_t *peer_nonce,
		      struct errmsg *e)
{
	struct wire_hello mine = {.proto = UDSP_PROTO_NAME,
				  .version = UDSP_PROTO_VERSION,
				  .role = UDSP_ROLE_PEER,
				  .max_payload = UDSP_MAX_PAYLOAD};
	struct wire_hello peer;
	struct wire_frame f = {0};
	struct wire_buf b;
	struct udsp_msg m;
	struct timeval tv = {LINK_HANDSHAKE_MS / 1000, 0};
	uint64_t linked = atomic_load(&d->linked_nonce);
	int ret;

	ret = wire_handshake(c, &mine, UDSP_ROLE_PEER, &peer, LINK_HANDSHAKE_MS, e);
	if (ret)
		return ret;
	wire_buf_init(&b);
	ret = udsp_put_link(&b, d->nonce, linked);
	if (!ret)
		ret = xport_write_all(c, b.data, b.len);
	wire_buf_free(&b);
	if (ret) {
		errmsg_set(e, "sending LINK: %s", strerror(-ret));
		return ret;
	}
	/* Bound the read: a peer that sends HELLO but never LINK must not hang us. */
	(void)setsockopt(xport_fd(c), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	ret = wire_recv(c, UDSP_MAX_PAYLOAD, &f);
	tv.tv_sec = 0;
	(void)setsockopt(xport_fd(c), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (ret) {
		errmsg_set(e, "reading LINK: %s", wire_strerror(ret));
		return ret;
	}
	ret = udsp_msg_decode(&f.h, f.payload, &m, e);
	if (!ret && m.type != UDSP_T_LINK) {
		errmsg_set(e, "expected LINK, got %s", udsp_type_name(m.type));
		ret = -EPROTO;
	}
	if (!ret && m.nonce == d->nonce) {
		errmsg_set(e, "the peer is this daemon itself");
		ret = -ELOOP;
	}
	/*
	 * A dial that was under way (or in backoff) when the other side's dial brought the
	 * link up must not replace that link and the streams on it: both ends see the same
	 * two LINK frames, so both drop this connection.
	 */
	if (!ret && udsp_link_duplicate(d->nonce, linked, m.nonce, m.linked)) {
		errmsg_set(e, "a link with this peer is up already");
		atomic_fetch_add(&d->dup_links, 1);
		ret = -EALREADY;
	}
	if (!ret)
		*peer_nonce = m.nonce;
	udsp_msg_release(&m);
	wire_frame_free(&f);
	return ret;
}

static void link_offer(struct udsp_daemon *d, struct xport_conn *c, uint64_t nonce, bool dialed)
{
	struct udsp_link_offer *o = malloc(sizeof(*o));

	if (!o) {
		xport_close(c);
		return;
	}
	o->conn = c;
	o->peer_nonce = nonce;
	o->we_dialed = dialed;
	if (write_full(d->offer_pipe[1], &o, sizeof(o))) {
		xport_close(c);
		free(o);
	}
}

static void *link_dialer(void *arg)
{
	struct udsp_daemon *d = arg;
	unsigned backoff = LINK_BACKOFF_MIN_MS;
	char last_err[512] = "";

	for (;;) {
		struct xport_conn *c;
		struct errmsg e = {""};
		uint64_t nonce;
		int ret;

		pthread_mutex_lock(&d->mu);
		if (!d->want_dial) {
			/* A link came up since: the next outage starts a fresh backoff. */
			backoff = LINK_BACKOFF_MIN_MS;
			last_err[0] = '\0';
		}
		while (!d->want_dial)
			pthread_cond_wait(&d->cond, &d->mu);
		pthread_mutex_unlock(&d->mu);

		c = xport_connect(d->peer_addr, &d->xopts, &e);
		ret = c ? link_greet(d, c, &nonce, &e) : -ENOTCONN;
		if (ret == 0) {
			backoff = LINK_BACKOFF_MIN_MS;
			last_err[0] = '\0';
			pthread_mutex_lock(&d->mu);
			d->want_dial = false;
			pthread_mutex_unlock(&d->mu);
			link_offer(d, c, nonce, true);
			continue;
		}
		if (c)
			xport_close(c);
		/* A duplicate (-EALREADY): ours is up, and the dialer now waits for want_dial,
		 * or the peer has not yet noticed our previous link died: retry, quietly. */
		if (ret == -EALREADY) {
			log_debug("peer %s: %s", d->peer_addr, errmsg_str(&e));
		} else if (strcmp(last_err, errmsg_str(&e))) {
			/* Say it once per distinct reason, not every retry. */
			log_warn("peer %s: %s (retrying)", d->peer_addr, errmsg_str(&e));
			snprintf(last_err, sizeof(last_err), "%s", errmsg_str(&e));
		}
		/* Jitter so two daemons dialling each other do not stay in step. */
		sleep_ms(backoff / 2 + (unsigned)(random() % (backoff / 2 + 1)));
		if (backoff < LINK_BACKOFF_MAX_MS)
			backoff *= 2;
	}
	return NULL;
}

static void *link_acceptor(void *arg)
{
	struct udsp_daemon *d = arg;

	for (;;) {
		struct errmsg e = {""};
		struct xport_conn *c;
		uint64_t nonce;
		int ret;

		c = xport_accept(d->listener, &e);
		if (!c) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			log_warn("%s: refused a peer: %s", d->listen_addr, errmsg_str(&e));
			if (errno == EMFILE || errno == ENFILE || errno == ENOMEM)
				sleep_ms(100);
			continue;
		}
		ret = link_greet(d, c, &nonce, &e);
		if (ret) {
			if (ret == -EALREADY)
				log_debug("%s: peer %s: %s", d->listen_addr, xport_peer_desc(c),
					  errmsg_str(&e));
			else
				log_warn("%s: peer %s: %s", d->listen_addr, xport_peer_desc(c),
					 errmsg_str(&e));
			xport_close(c);
			continue;
		}
		link_offer(d, c, nonce, false);
	}
	return NULL;
}

int udsp_link_start_threads(struct udsp_daemon *d)
{
	pthread_t t;
	int ret;

	if (d->listener) {
		ret = pthread_create(&t, NULL, link_acceptor, d);
		if (ret)
			return -ret;
		pthread_detach(t);
	}
	if (d->peer_addr[0]) {
		ret = pthread_create(&t, NULL, link_dialer, d);
		if (ret)
			return -ret;
		pthread_detach(t);
	}
	return 0;
}

/* ---- the loop thread's side ---- */

static void set_want_dial(struct udsp_daemon *d, bool on)
{
	pthread_mutex_lock(&d->mu);
	d->want_dial = on && d->peer_addr[0];
	pthread_cond_broadcast(&d->cond);
	pthread_mutex_unlock(&d->mu);
}

static uint64_t dialer_nonce(struct udsp_daemon *d, bool we_dialed, uint64_t peer_nonce)
{
	return we_dialed ? d->nonce : peer_nonce;
}

static int link_install(struct udsp_daemon *d, struct udsp_link_offer *o)
{
	struct udsp_link *k = &d->link;
	int ret;

	memset(k, 0, sizeof(*k));
	k->in = malloc(LINK_IN_CAP);
	k->out_cap = 4 * (WIRE_HEADER_SIZE + UDSP_MAX_PAYLOAD);
	k->out = malloc(k->out_cap);
	if (!k->in || !k->out) {
		ret = -ENOMEM;
		goto err;
	}
	k->in_cap = LINK_IN_CAP;
	k->conn = o->conn;
	k->fd = xport_fd(o->conn);
	k->we_dialed = o->we_dialed;
	k->peer_nonce = o->peer_nonce;
	/* Each side allocates stream ids from its own half: no collisions. */
	k->next_id = d->nonce > o->peer_nonce ? 1 : 2;
	snprintf(k->desc, sizeof(k->desc), "%s", xport_peer_desc(o->conn));
	ret = xport_set_nonblock(o->conn, true);
	if (ret)
		goto err;
	ret = loop_add_fd(d->loop, k->fd, EPOLLIN, link_on_io, d);
	if (ret)
		goto err;
	k->events = EPOLLIN;
	k->last_rx_ms = k->last_tx_ms = now_ms();
	k->up = true;
	atomic_store(&d->link_up_flag, true);
	atomic_store(&d->linked_nonce, k->peer_nonce);
	/* A link is up whoever dialled it: our dialer stops (see link_greet for one that was
	 * already under way). */
	set_want_dial(d, false);
	d->stats.links_up++;
	log_info("peer link up: %s (%s)", k->desc, o->we_dialed ? "dialled" : "accepted");
	udsp_mirror_link_up(d);
	return 0;
err:
	free(k->in);
	free(k->out);
	memset(k, 0, sizeof(*k));
	return ret;
}

static void link_teardown(struct udsp_daemon *d, bool redial)
{
	struct udsp_link *k = &d->link;

	if (!k->conn)
		return;
	loop_del_fd(d->loop, k->fd);
	k->up = false;
	atomic_store(&d->link_up_flag, false);
	atomic_store(&d->linked_nonce, 0);
	/* Every proxied socket closes now: applications see EOF/ECONNRESET, never a hang. */
	udsp_stream_close_all(d);
	udsp_mirror_link_down(d);
	xport_close(k->conn);
	free(k->in);
	free(k->out);
	memset(k, 0, sizeof(*k));
	d->blocked_head = NULL;
	d->stats.link_drops++;
	if (redial)
		set_want_dial(d, true);
}

void udsp_link_on_offer(struct loop *l, int fd, uint32_t events, void *arg)
{
	struct udsp_daemon *d = arg;
	struct udsp_link_offer *o;
	int ret;

	if (read_full(fd, &o, sizeof(o)))
		return;
	if (d->link.up && !d->link.dead) {
		/*
		 * Both daemons dialled at once: both LINK exchanges finished before either
		 * link was installed (a later dial is refused in link_greet). Both keep the
		 * link dialled by the side with the larger nonce, so they agree without
		 * another round trip.
		 */
		uint64_t cur = dialer_nonce(d, d->link.we_dialed, d->link.peer_nonce);
		uint64_t neu = dialer_nonce(d, o->we_dialed, o->peer_nonce);

		if (o->peer_nonce == d->link.peer_nonce && neu <= cur) {
			log_debug("duplicate peer link from %s dropped", xport_peer_desc(o->conn));
			atomic_fetch_add(&d->dup_links, 1);
			xport_close(o->conn);
			free(o);
			return;
		}
		/* The same peer's winning link, or a restarted peer (new nonce). */
		log_info("peer link replaced by %s", xport_peer_desc(o->conn));
		if (o->peer_nonce == d->link.peer_nonce)
			atomic_fetch_add(&d->dup_links, 1);
		link_teardown(d, false);
	} else if (d->link.conn) {
		link_teardown(d, false);
	}
	ret = link_install(d, o);
	if (ret) {
		log_error("peer link: %s", strerror(-ret));
		xport_close(o->conn);
		set_want_dial(d, true);
	}
	free(o);
}

void udsp_link_fail(struct udsp_daemon *d, const char *why)
{
	if (!d->link.conn || d->link.dead)
		return;
	log_warn("peer link %s lost: %s", d->link.desc, why);
	d->link.dead = true;
}

void udsp_link_reap(struct udsp_daemon *d)
{
	if (d->link.dead)
		link_teardown(d, true);
}

bool udsp_link_congested(const struct udsp_daemon *d)
{
	return d->link.out_len - d->link.out_head > UDSP_LINK_HIGH;
}

static void link_set_events(struct udsp_daemon *d, uint32_t ev)
{
	struct udsp_link *k = &d->link;

	if (k->events == ev)
		return;
	if (loop_mod_fd(d->loop, k->fd, ev)) {
		udsp_link_fail(d, "epoll");
		return;
	}
	k->events = ev;
}

static void link_flush(struct udsp_daemon *d)
{
	struct udsp_link *k = &d->link;
	bool was_congested = udsp_link_congested(d);

	while (k->out_head < k->out_len) {
		ssize_t n = xport_write(k->conn, k->out + k->out_head, k->out_len - k->out_head);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			udsp_link_fail(d, strerror(errno));
			return;
		}
		k->out_head += (size_t)n;
		d->stats.bytes_tx += (uint64_t)n;
		k->last_tx_ms = now_ms();
	}
	if (k->out_head == k->out_len)
		k->out_head = k->out_len = 0;
	link_set_events(d, EPOLLIN | (k->out_len ? EPOLLOUT : 0));
	if (was_congested && k->out_len - k->out_head < UDSP_LINK_LOW)
		udsp_stream_wake_blocked(d);
}

/* Makes room for need more bytes at the end of the output queue. */
static int link_out_room(struct udsp_link *k, size_t need)
{
	size_t used = k->out_len - k->out_head, cap;
	uint8_t *p;

	if (k->out_cap - k->out_len >= need)
		return 0;
	if (k->out_head && k->out_cap - used >= need) {
		memmove(k->out, k->out + k->out_head, used);
		k->out_len = used;
		k->out_head = 0;
		return 0;
	}
	if (__builtin_add_overflow(k->out_len, need, &cap))
		return -ENOMEM;
	cap = cap * 2;
	p = realloc(k->out, cap);
	if (!p)
		return -ENOMEM;
	k->out = p;
	k->out_cap = cap;
	return 0;
}

void udsp_link_send(struct udsp_daemon *d, const void *frame, size_t len)
{
	struct udsp_link *k = &d->link;

	if (!k->up || k->dead)
		return;
	if (link_out_room(k, len)) {
		udsp_link_fail(d, "out of memory");
		return;
	}
	memcpy(k->out + k->out_len, frame, len);
	k->out_len += len;
	/* Only write now if nothing is queued behind an EAGAIN already. */
	if (!(k->events & EPOLLOUT))
		link_flush(d);
}

uint8_t *udsp_link_reserve(struct udsp_daemon *d, size_t payload_max)
{
	struct udsp_link *k = &d->link;

	if (!k->up || k->dead)
		return NULL;
	if (link_out_room(k, WIRE_HEADER_SIZE + payload_max)) {
		udsp_link_fail(d, "out of memory");
		return NULL;
	}
	return k->out + k->out_len + WIRE_HEADER_SIZE;
}

void udsp_link_commit(struct udsp_daemon *d, uint8_t type, uint32_t stream, size_t payload_len)
{
	struct udsp_link *k = &d->link;
	struct wire_header h = {
		.version = WIRE_VERSION,
		.type = type,
		.stream = stream,
		.request = 0,
		.length = (uint32_t)payload_len,
	};

	wire_header_encode(&h, k->out + k->out_len);
	k->out_len += WIRE_HEADER_SIZE + payload_len;
	if (!(k->events & EPOLLOUT))
		link_flush(d);
}

void udsp_send_u32(struct udsp_daemon *d, uint8_t type, uint32_t stream, uint32_t v)
{
	if (udsp_put_u32_msg(&d->scratch, type, stream, v) == 0)
		udsp_link_send(d, d->scratch.data, d->scratch.len);
}

uint32_t udsp_link_new_stream_id(struct udsp_daemon *d)
{
	struct udsp_link *k = &d->link;
	uint32_t id;

	do {
		id = k->next_id;
		k->next_id += 2;
		if (k->next_id < 3) /* wrapped: keep our parity, skip 0 */
			k->next_id = (id & 1) ? 1 : 2;
	} while (udsp_stream_find(d, id));
	return id;
}

static void link_on_frame(struct udsp_daemon *d, const struct wire_header *h,
			  const uint8_t *payload)
{
	struct errmsg e = {""};
	struct udsp_msg m;

	if (udsp_msg_decode(h, payload, &m, &e)) {
		char why[600];

		d->stats.proto_errors++;
		snprintf(why, sizeof(why), "malformed %s frame: %s", udsp_type_name(h->type),
			 errmsg_str(&e));
		udsp_link_fail(d, why);
		return;
	}
	switch (m.type) {
	case WIRE_T_PING:
		if (udsp_put_empty(&d->scratch, WIRE_T_PONG, 0) == 0)
			udsp_link_send(d, d->scratch.data, d->scratch.len);
		break;
	case WIRE_T_PONG:
	case UDSP_T_LINK:
		break;
	case WIRE_T_ERROR:
		udsp_link_fail(d, "the peer reported an error");
		break;
	case UDSP_T_MIRROR_WATCH:
	case UDSP_T_MIRROR:
		udsp_mirror_on_frame(d, &m);
		break;
	case UDSP_T_OPEN:
		udsp_target_open(d, &m);
		break;
	default:
		udsp_stream_on_frame(d, &m);
		break;
	}
	udsp_msg_release(&m);
}

static void link_read(struct udsp_daemon *d)
{
	struct udsp_link *k = &d->link;

	for (;;) {
		size_t off = 0, space = k->in_cap - k->in_len;
		ssize_t n;

		n = xport_read(k->conn, k->in + k->in_len, space);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				udsp_link_fail(d, strerror(errno));
			return;
		}
		if (n == 0) {
			udsp_link_fail(d, "closed by the peer");
			return;
		}
		k->in_len += (size_t)n;
		d->stats.bytes_rx += (uint64_t)n;
		k->last_rx_ms = now_ms();
		while (!k->dead) {
			struct wire_header h;
			const uint8_t *payload;
			ssize_t got = udsp_frame_split(k->in + off, k->in_len - off, &h, &payload);

			if (got < 0) {
				char why[128];

				d->stats.proto_errors++;
				snprintf(why, sizeof(why), "bad frame header: %s",
					 wire_strerror((int)got));
				udsp_link_fail(d, why);
				return;
			}
			if (got == 0)
				break;
			link_on_frame(d, &h, payload);
			off += (size_t)got;
		}
		if (k->dead)
			return;
		if (off) {
			memmove(k->in, k->in + off, k->in_len - off);
			k->in_len -= off;
		}
		/* A short read drained the socket: skip the read that would say EAGAIN (TLS
		 * may still hold decrypted bytes, which epoll cannot see). */
		if ((size_t)n < space && xport_pending(k->conn) == 0)
			return;
	}
}

static void link_on_io(struct loop *l, int fd, uint32_t events, void *arg)
{
	struct udsp_daemon *d = arg;

	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
		link_read(d);
	if (!d->link.dead && (events & EPOLLOUT))
		link_flush(d);
	udsp_link_reap(d);
}

void udsp_link_tick(struct udsp_daemon *d)
{
	struct udsp_link *k = &d->link;
	uint64_t now = now_ms();

	if (!k->up)
		return;
	udsp_dgram_reap(d);
	/* This process may itself have been stopped or starved, and the tick can run before
	 * the link's pending input is read: read it before calling the link dead. */
	if (now - k->last_rx_ms > LINK_DEAD_MS && !k->dead) {
		link_read(d);
		now = now_ms(); /* not before last_rx_ms */
	}
	if (!k->dead && now - k->last_rx_ms > LINK_DEAD_MS) {
		udsp_link_fail(d, "no traffic from the peer for 6 s");
	} else if (now - k->last_tx_ms >= LINK_PING_MS) {
		if (udsp_put_empty(&d->scratch, WIRE_T_PING, 0) == 0)
			udsp_link_send(d, d->scratch.data, d->scratch.len);
	}
	udsp_link_reap(d);
}
