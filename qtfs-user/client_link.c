/* client_link: the connection to qtfsd: pipelined requests matched to replies by id,
 * reconnect with backoff, resend of what is safe to resend, EIO for the rest. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "qtfs-user/client.h"
#include "util.h"

#define QC_BUCKETS 1024

static struct qc_pending **qc_slot(struct qc *qc, uint32_t id)
{
	struct qc_pending **pp = &qc->pending[id % QC_BUCKETS];

	while (*pp && (*pp)->id != id)
		pp = &(*pp)->next;
	return pp;
}

/* Sends a copy of p's frame if the link is up. Called with qc->lock held. */
static void qc_send_locked(struct qc *qc, struct qc_pending *p)
{
	uint8_t *copy;

	pthread_mutex_lock(&qc->send_lock);
	if (qc->link_up && qc->connected) {
		copy = malloc(p->frame_len);
		if (copy) {
			memcpy(copy, p->frame, p->frame_len);
			if (qtfs_link_send(&qc->link, copy, p->frame_len) == 0)
				p->sent = true;
		}
	}
	pthread_mutex_unlock(&qc->send_lock);
}

static void qc_complete(struct qc *qc, struct qc_pending *p, const struct qtfs_rep *rep)
{
	p->done(qc, p, rep);
	free(p->frame);
	free(p);
}

static void qc_fail(struct qc *qc, struct qc_pending *p, int err)
{
	struct qtfs_rep rep;

	memset(&rep, 0, sizeof(rep));
	rep.op = p->op;
	rep.status = err;
	qc_complete(qc, p, &rep);
}

static void qc_intr_cb(fuse_req_t req, void *data)
{
	struct qc *qc = fuse_req_userdata(req);

	qc_interrupt(qc, (uint32_t)(uintptr_t)data);
}

/* Starts a frame in b holding rq (the header is written by wire_frame_end). */
static int qc_encode(struct wire_buf *b, const struct qtfs_req *rq)
{
	int ret;

	wire_buf_init(b);
	wire_frame_begin(b);
	ret = qtfs_req_encode(b, rq);
	if (ret)
		wire_buf_free(b);
	return ret;
}

int qc_submit(struct qc *qc, struct qtfs_req *rq, struct qc_pending *p)
{
	struct wire_buf b;
	int ret;

	ret = qc_encode(&b, rq);
	if (ret)
		return ret;
	p->op = rq->op;
	p->idempotent = qtfs_op_idempotent(rq);
	pthread_mutex_lock(&qc->lock);
	if (qc->stopping) {
		pthread_mutex_unlock(&qc->lock);
		wire_buf_free(&b);
		return -ENOTCONN;
	}
	do
		p->id = ++qc->next_id;
	while (p->id == 0 || *qc_slot(qc, p->id));
	ret = wire_frame_end(&b, QTFS_T_REQ, 0, p->id);
	if (ret) {
		pthread_mutex_unlock(&qc->lock);
		wire_buf_free(&b);
		return ret;
	}
	p->frame = b.data;
	p->frame_len = b.len;
	p->next = NULL;
	*qc_slot(qc, p->id) = p;
	/* the reply cannot be handled before we let go of qc->lock */
	if (p->intr && p->req)
		fuse_req_interrupt_func(p->req, qc_intr_cb, (void *)(uintptr_t)p->id);
	qc_send_locked(qc, p);
	pthread_mutex_unlock(&qc->lock);
	return 0;
}

int qc_send_oneway(struct qc *qc, const struct qtfs_req *rq)
{
	struct wire_buf b;
	int ret;

	ret = qc_encode(&b, rq);
	if (ret)
		return ret;
	pthread_mutex_lock(&qc->send_lock);
	if (qc->link_up && qc->connected)
		ret = qtfs_link_send_buf(&qc->link, &b, QTFS_T_ONEWAY, 0);
	else
		ret = -ENOTCONN;
	pthread_mutex_unlock(&qc->send_lock);
	wire_buf_free(&b);
	return ret;
}

void qc_interrupt(struct qc *qc, uint32_t id)
{
	uint8_t *f = malloc(WIRE_HEADER_SIZE);
	struct wire_header h = {WIRE_VERSION, QTFS_T_INTR, 0, id, 0};

	if (!f)
		return;
	wire_header_encode(&h, f);
	pthread_mutex_lock(&qc->send_lock);
	if (qc->link_up)
		qtfs_link_send(&qc->link, f, WIRE_HEADER_SIZE);
	else
		free(f);
	pthread_mutex_unlock(&qc->send_lock);
}

static void qc_sync_done(struct qc *qc, struct qc_pending *p, const struct qtfs_rep *rep)
{
	pthread_mutex_lock(p->sync_lock);
	*p->sync_rep = *rep;
	p->sync_rep->data = NULL;
	if (p->sync_data && rep->data && rep->data_len) {
		*p->sync_data = malloc(rep->data_len);
		if (*p->sync_data)
			memcpy(*p->sync_data, rep->data, rep->data_len);
		else
			p->sync_rep->status = -ENOMEM;
	}
	*p->sync_done = true;
	pthread_cond_broadcast(p->sync_cond);
	pthread_mutex_unlock(p->sync_lock);
}

int qc_call(struct qc *qc, struct qtfs_req *rq, struct qtfs_rep *rep, uint8_t **data)
{
	pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
	pthread_cond_t c = PTHREAD_COND_INITIALIZER;
	struct qc_pending *p = calloc(1, sizeof(*p));
	bool done = false;
	int ret;

	if (!p)
		return -ENOMEM;
	if (data)
		*data = NULL;
	p->done = qc_sync_done;
	p->sync_lock = &m;
	p->sync_cond = &c;
	p->sync_done = &done;
	p->sync_rep = rep;
	p->sync_data = data;
	ret = qc_submit(qc, rq, p);
	if (ret) {
		free(p);
		return ret;
	}
	pthread_mutex_lock(&m);
	while (!done)
		pthread_cond_wait(&c, &m);
	pthread_mutex_unlock(&m);
	return rep->status;
}

void qc_fill_cred(struct qc *qc, fuse_req_t req, struct qtfs_req *rq)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	gid_t groups[QTFS_GROUPS_MAX];
	int n, i;

	rq->cred.uid = ctx->uid;
	rq->cred.gid = ctx->gid;
	rq->cred.pid = (uint32_t)ctx->pid;
	rq->cred.ngroups = 0;
	if (!(qc->attach_flags & QTFS_ATTACH_CALLER_IDS))
		return;
	n = fuse_req_getgroups(req, QTFS_GROUPS_MAX, groups);
	if (n < 0)
		return;
	if (n > QTFS_GROUPS_MAX)
		n = QTFS_GROUPS_MAX;
	for (i = 0; i < n; i++)
		rq->cred.groups[i] = groups[i];
	rq->cred.ngroups = (uint32_t)n;
}

static void qc_on_frame(struct qtfs_link *l, struct wire_frame *f, void *arg)
{
	struct qc *qc = arg;
	struct qc_pending *p, **pp;
	struct qtfs_rep rep;

	if (f->h.type == WIRE_T_PONG) {
		wire_frame_free(f);
		return;
	}
	if (f->h.type != QTFS_T_REP) {
		log_warn("%s: unexpected frame type %u; reconnecting", qc->opts.server, f->h.type);
		wire_frame_free(f);
		qtfs_link_close_async(l);
		return;
	}
	pthread_mutex_lock(&qc->lock);
	pp = qc_slot(qc, f->h.request);
	p = *pp;
	if (p)
		*pp = p->next;
	pthread_mutex_unlock(&qc->lock);
	if (!p) {
		log_warn("%s: reply to unknown request %u; reconnecting", qc->opts.server,
			 f->h.request);
		wire_frame_free(f);
		qtfs_link_close_async(l);
		return;
	}
	if (qtfs_rep_decode(p->op, f->payload, f->h.length, &rep)) {
		log_warn("%s: malformed %s reply; reconnecting", qc->opts.server,
			 qtfs_op_name(p->op));
		qc_fail(qc, p, -EIO);
		wire_frame_free(f);
		qtfs_link_close_async(l);
		return;
	}
	qc_complete(qc, p, &rep);
	wire_frame_free(f);
}

static void qc_on_close(struct qtfs_link *l, int err, void *arg)
{
	struct qc *qc = arg;
	struct qc_pending *failed = NULL, *p;
	size_t i;

	(void)l;
	pthread_mutex_lock(&qc->lock);
	qc->connected = false;
	qc->link_dead = true;
	for (i = 0; i < QC_BUCKETS; i++) {
		struct qc_pending **pp = &qc->pending[i];

		while ((p = *pp)) {
			if (p->sent && !p->idempotent) {
				/* it may or may not have happened: say so rather than repeat it */
				*pp = p->next;
				p->next = failed;
				failed = p;
				continue;
			}
			p->sent = false;
			pp = &p->next;
		}
	}
	pthread_cond_broadcast(&qc->cond);
	pthread_mutex_unlock(&qc->lock);
	if (!qc->stopping)
		log_warn("%s: connection lost%s%s; reconnecting", qc->opts.server, err ? ": " : "",
			 err ? strerror(-err) : "");
	while ((p = failed)) {
		failed = p->next;
		qc_fail(qc, p, -EIO);
	}
}

/* Connects, handshakes and attaches on a blocking connection. */
static int qc_connect_once(struct qc *qc, struct xport_conn **out, struct errmsg *e)
{
	struct wire_hello mine = {0}, peer;
	struct xport_conn *xc;
	struct qtfs_req *rq = NULL;
	struct qtfs_rep rep;
	struct wire_frame f = {0};
	struct wire_buf b;
	int ret;

	xc = xport_connect(qc->opts.server, &qc->xopts, e);
	if (!xc)
		return -errno ? -errno : -ECONNREFUSED;
	str_copy(mine.proto, sizeof(mine.proto), QTFS_PROTO_NAME);
	mine.version = QTFS_PROTO_VERSION;
	mine.role = QTFS_ROLE_CLIENT;
	mine.max_payload = WIRE_MAX_PAYLOAD;
	ret = wire_handshake(xc, &mine, QTFS_ROLE_SERVER, &peer, 10000, e);
	if (ret)
		goto err;
	rq = calloc(1, sizeof(*rq));
	if (!rq) {
		ret = -ENOMEM;
		goto err;
	}
	rq->op = QTFS_OP_ATTACH;
	str_copy(rq->path, sizeof(rq->path), qc->src);
	rq->flags = qc->opts.ro ? QTFS_ATTACH_RDONLY : 0;
	wire_buf_init(&b);
	ret = qtfs_req_encode(&b, rq);
	if (!ret)
		ret = wire_send(xc, QTFS_T_REQ, 0, 0, b.data, b.len);
	wire_buf_free(&b);
	if (ret) {
		errmsg_set(e, "%s: sending attach: %s", qc->opts.server, strerror(-ret));
		goto err;
	}
	ret = wire_recv(xc, WIRE_MAX_PAYLOAD, &f);
	if (ret) {
		errmsg_set(e, "%s: attach: %s", qc->opts.server, wire_strerror(ret));
		goto err;
	}
	if (f.h.type != QTFS_T_REP ||
	    qtfs_rep_decode(QTFS_OP_ATTACH, f.payload, f.h.length, &rep)) {
		errmsg_set(e, "%s: attach: malformed reply", qc->opts.server);
		ret = -EPROTO;
		goto err;
	}
	if (rep.status) {
		ret = rep.status;
		errmsg_set(e, "%s: %s: %s", qc->opts.server, qc->src,
			   ret == -ENOENT ? "not exported by the server" : strerror(-ret));
		goto err;
	}
	pthread_mutex_lock(&qc->nodes.lock);
	if (qc->nodes.root.blob.len &&
	    (qc->nodes.root.blob.len != rep.node.len ||
	     memcmp(qc->nodes.root.blob.data, rep.node.data, rep.node.len)))
		log_warn("%s: the server names the export root differently now (new handle key?); "
			 "old nodes will be stale",
			 qc->opts.server);
	qc->nodes.root.blob = rep.node;
	pthread_mutex_unlock(&qc->nodes.lock);
	qc->attach_flags = (uint32_t)rep.value;
	wire_frame_free(&f);
	free(rq);
	*out = xc;
	return 0;
err:
	wire_frame_free(&f);
	free(rq);
	xport_close(xc);
	return ret;
}

static int qc_bring_up(struct qc *qc, struct errmsg *e)
{
	struct xport_conn *xc;
	size_t i;
	int ret;

	ret = qc_connect_once(qc, &xc, e);
	if (ret)
		return ret;
	ret = qtfs_link_start(&qc->link, xc, WIRE_MAX_PAYLOAD, qc_on_frame, qc_on_close, qc);
	if (ret) {
		xport_close(xc);
		errmsg_set(e, "%s: %s", qc->opts.server, strerror(-ret));
		return ret;
	}
	pthread_mutex_lock(&qc->lock);
	pthread_mutex_lock(&qc->send_lock);
	qc->link_up = true;
	pthread_mutex_unlock(&qc->send_lock);
	qc->connected = true;
	qc->link_dead = false;
	/* what waited for the link goes now */
	for (i = 0; i < QC_BUCKETS; i++) {
		struct qc_pending *p;

		for (p = qc->pending[i]; p; p = p->next)
			if (!p->sent)
				qc_send_locked(qc, p);
	}
	pthread_mutex_unlock(&qc->lock);
	return 0;
}

static void *qc_manager(void *arg)
{
	struct qc *qc = arg;

	pthread_mutex_lock(&qc->lock);
	for (;;) {
		unsigned delay_ms = 50;

		while (!qc->link_dead && !qc->stopping)
			pthread_cond_wait(&qc->cond, &qc->lock);
		if (qc->stopping)
			break;
		pthread_mutex_unlock(&qc->lock);
		pthread_mutex_lock(&qc->send_lock);
		qc->link_up = false;
		pthread_mutex_unlock(&qc->send_lock);
		qtfs_link_stop(&qc->link);
		for (;;) {
			struct errmsg e = {{0}};
			struct timespec ts;

			if (qc_bring_up(qc, &e) == 0) {
				qc->reconnects++;
				log_info("%s: reconnected", qc->opts.server);
				break;
			}
			log_debug("reconnect: %s", errmsg_str(&e));
			pthread_mutex_lock(&qc->lock);
			if (qc->stopping) {
				pthread_mutex_unlock(&qc->lock);
				return NULL;
			}
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += (long)delay_ms * 1000000;
			ts.tv_sec += ts.tv_nsec / 1000000000;
			ts.tv_nsec %= 1000000000;
			pthread_cond_timedwait(&qc->cond, &qc->lock, &ts);
			pthread_mutex_unlock(&qc->lock);
			if (delay_ms < 1000)
				delay_ms *= 2;
		}
		pthread_mutex_lock(&qc->lock);
	}
	pthread_mutex_unlock(&qc->lock);
	return NULL;
}

int qc_start(struct qc *qc, struct errmsg *e)
{
	int ret;

	pthread_mutex_init(&qc->lock, NULL);
	pthread_mutex_init(&qc->send_lock, NULL);
	pthread_cond_init(&qc->cond, NULL);
	atomic_init(&qc->next_fh, 1);
	qc->xopts.test_mode = qc->opts.test_mode;
	qc->xopts.tls_cert = qc->opts.tls_cert[0] ? qc->opts.tls_cert : NULL;
	qc->xopts.tls_key = qc->opts.tls_key[0] ? qc->opts.tls_key : NULL;
	qc->xopts.tls_ca = qc->opts.tls_ca[0] ? qc->opts.tls_ca : NULL;
	ret = qc_bring_up(qc, e);
	if (ret)
		return ret;
	ret = -pthread_create(&qc->manager, NULL, qc_manager, qc);
	if (ret) {
		errmsg_set(e, "cannot start the reconnect thread: %s", strerror(-ret));
		return ret;
	}
	return 0;
}

void qc_stop(struct qc *qc)
{
	struct qc_pending *p;
	size_t i;

	pthread_mutex_lock(&qc->lock);
	qc->stopping = true;
	pthread_cond_broadcast(&qc->cond);
	pthread_mutex_unlock(&qc->lock);
	pthread_join(qc->manager, NULL);
	pthread_mutex_lock(&qc->send_lock);
	qc->link_up = false;
	pthread_mutex_unlock(&qc->send_lock);
	qtfs_link_stop(&qc->link);
	for (i = 0; i < QC_BUCKETS; i++) {
		while ((p = qc->pending[i])) {
			qc->pending[i] = p->next;
			qc_fail(qc, p, -EIO);
		}
	}
}
