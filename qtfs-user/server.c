/* server: qtfsd's listeners, one thread per connection for its lifetime, an I/O thread
 * per connection (link), and a shared pool of workers that grows for blocking calls. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "qtfs-user/resolve.h"
#include "qtfs-user/server.h"
#include "util.h"

static int qtfsd_stop_fd = -1;

static void qtfsd_sigusr1(int sig)
{
	(void)sig; /* only there to make a blocked syscall of a worker return EINTR */
}

static void *qtfsd_worker(void *arg);

static void qtfsd_enqueue(struct qtfsd *s, struct qtfsd_job *j)
{
	pthread_t t;

	pthread_mutex_lock(&s->qlock);
	j->next = NULL;
	if (s->qtail)
		s->qtail->next = j;
	else
		s->qhead = j;
	s->qtail = j;
	/* every worker may be blocked in a FIFO open or read: add one rather than wait */
	if (s->idle == 0 && s->nworkers < s->conf->max_workers) {
		if (pthread_create(&t, NULL, qtfsd_worker, s) == 0) {
			pthread_detach(t);
			s->nworkers++;
		}
	}
	pthread_cond_signal(&s->qcond);
	pthread_mutex_unlock(&s->qlock);
}

static void qtfsd_job_done(struct qtfsd_conn *c, struct qtfsd_job *j)
{
	pthread_mutex_lock(&c->lock);
	if (j->cprev)
		j->cprev->cnext = j->cnext;
	else
		c->jobs = j->cnext;
	if (j->cnext)
		j->cnext->cprev = j->cprev;
	c->refs--;
	/* only the connection's thread waits, and only for the last job of a dead link:
	 * waking it after every request would cost a context switch per request */
	if (c->refs == 0 && c->dead)
		pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
	wire_frame_free(&j->f);
	free(j);
}

static void qtfsd_run_job(struct qtfsd_job *j)
{
	struct qtfsd_conn *c = j->conn;
	struct qtfs_req *rq = malloc(sizeof(*rq));
	struct qtfs_rep rp;
	struct wire_buf b;
	void *to_free = NULL;
	int ret;

	memset(&rp, 0, sizeof(rp));
	if (!rq) {
		qtfs_link_close_async(&c->link);
		goto out;
	}
	ret = qtfs_req_decode(j->f.payload, j->f.h.length, rq);
	if (ret) {
		log_warn("%s: malformed request %u: %s; closing", c->peer, j->f.h.request,
			 strerror(-ret));
		qtfs_link_close_async(&c->link);
		goto out;
	}
	qtfsd_execute(c, j, rq, &rp, &to_free);
	log_debug("%s: request %u %s: %d", c->peer, j->f.h.request, qtfs_op_name(rq->op),
		  rp.status);
	if (rp.status)
		log_debug("%s: %s: %s", c->peer, qtfs_op_name(rq->op), strerror(-rp.status));
	wire_buf_init(&b);
	wire_frame_begin(&b);
	ret = qtfs_rep_encode(&b, &rp);
	if (ret) {
		wire_buf_free(&b);
		log_warn("%s: cannot encode a %s reply: %s", c->peer, qtfs_op_name(rq->op),
			 strerror(-ret));
		qtfs_link_close_async(&c->link);
		goto out;
	}
	if (j->oneway)
		wire_buf_free(&b);
	else
		qtfs_link_send_buf(&c->link, &b, QTFS_T_REP, j->f.h.request);
out:
	free(to_free);
	free(rq);
	qtfsd_job_done(c, j);
}

static void *qtfsd_worker(void *arg)
{
	struct qtfsd *s = arg;
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	pthread_mutex_lock(&s->qlock);
	for (;;) {
		struct qtfsd_job *j;

		while (!s->qhead && !atomic_load(&s->stopping)) {
			s->idle++;
			pthread_cond_wait(&s->qcond, &s->qlock);
			s->idle--;
		}
		if (!s->qhead)
			break;
		j = s->qhead;
		s->qhead = j->next;
		if (!s->qhead)
			s->qtail = NULL;
		pthread_mutex_unlock(&s->qlock);

		pthread_mutex_lock(&j->conn->lock);
		j->worker = pthread_self();
		j->running = true;
		pthread_mutex_unlock(&j->conn->lock);
		qtfsd_run_job(j);

		pthread_mutex_lock(&s->qlock);
		/* shrink back after a burst of blocking calls */
		if (s->nworkers > s->conf->workers && s->idle >= s->conf->workers)
			break;
	}
	s->nworkers--;
	pthread_mutex_unlock(&s->qlock);
	return NULL;
}

/*
 * Operations that never wait on another party (a FIFO peer, a lock holder) and are
 * quick. Reads, writes, fsync and open (a FIFO open blocks) go to the workers.
 */
static bool qtfsd_inline_op(const struct wire_frame *f)
{
	uint16_t op;

	if (f->h.length < 2)
		return false;
	op = (uint16_t)(f->payload[0] << 8 | f->payload[1]);
	switch (op) {
	case QTFS_OP_LOOKUP:
	case QTFS_OP_GETATTR:
	case QTFS_OP_SETATTR:
	case QTFS_OP_READLINK:
	case QTFS_OP_MKNOD:
	case QTFS_OP_MKDIR:
	case QTFS_OP_UNLINK:
	case QTFS_OP_RMDIR:
	case QTFS_OP_SYMLINK:
	case QTFS_OP_RENAME:
	case QTFS_OP_LINK:
	case QTFS_OP_CREATE:
	case QTFS_OP_FLUSH:
	case QTFS_OP_RELEASE:
	case QTFS_OP_STATFS:
	case QTFS_OP_SETXATTR:
	case QTFS_OP_GETXATTR:
	case QTFS_OP_LISTXATTR:
	case QTFS_OP_REMOVEXATTR:
	case QTFS_OP_ACCESS:
	case QTFS_OP_LSEEK:
		return true;
	default:
		return false;
	}
}

static void qtfsd_on_frame(struct qtfs_link *l, struct wire_frame *f, void *arg)
{
	struct qtfsd_conn *c = arg;
	struct qtfsd_job *j, *k;

	switch (f->h.type) {
	case QTFS_T_REQ:
	case QTFS_T_ONEWAY:
		j = calloc(1, sizeof(*j));
		if (j)
			j->oneway = f->h.type == QTFS_T_ONEWAY;
		if (j && qtfsd_inline_op(f)) {
			/* quick metadata operations run here: no hop to a worker and back */
			j->conn = c;
			j->f = *f;
			atomic_init(&j->intr, false);
			pthread_mutex_lock(&c->lock);
			j->cnext = c->jobs;
			if (c->jobs)
				c->jobs->cprev = j;
			c->jobs = j;
			c->refs++;
			j->worker = pthread_self();
			pthread_mutex_unlock(&c->lock);
			qtfsd_run_job(j);
			return;
		}
		if (!j) {
			wire_frame_free(f);
			qtfs_link_close_async(l);
			return;
		}
		j->conn = c;
		j->f = *f;
		atomic_init(&j->intr, false);
		pthread_mutex_lock(&c->lock);
		j->cnext = c->jobs;
		if (c->jobs)
			c->jobs->cprev = j;
		c->jobs = j;
		c->refs++;
		pthread_mutex_unlock(&c->lock);
		qtfsd_enqueue(c->srv, j);
		return;
	case QTFS_T_INTR:
		pthread_mutex_lock(&c->lock);
		for (k = c->jobs; k; k = k->cnext) {
			if (k->f.h.request == f->h.request) {
				atomic_store(&k->intr, true);
				if (k->running)
					pthread_kill(k->worker, SIGUSR1);
			}
		}
		pthread_mutex_unlock(&c->lock);
		break;
	case WIRE_T_PING: {
		uint8_t *pong = malloc(WIRE_HEADER_SIZE);
		struct wire_header h = {WIRE_VERSION, WIRE_T_PONG, 0, f->h.request, 0};

		if (pong) {
			wire_header_encode(&h, pong);
			qtfs_link_send(l, pong, WIRE_HEADER_SIZE);
		}
		break;
	}
	default:
		log_warn("%s: unexpected frame type %u; closing", c->peer, f->h.type);
		qtfs_link_close_async(l);
		break;
	}
	wire_frame_free(f);
}

static void qtfsd_on_close(struct qtfs_link *l, int err, void *arg)
{
	struct qtfsd_conn *c = arg;

	if (err)
		log_info("%s: connection closed: %s", c->peer, strerror(-err));
	else
		log_info("%s: disconnected", c->peer);
	pthread_mutex_lock(&c->lock);
	c->dead = true;
	/* nobody waits for these replies any more: wake whatever blocks */
	for (struct qtfsd_job *j = c->jobs; j; j = j->cnext) {
		atomic_store(&j->intr, true);
		if (j->running && !pthread_equal(j->worker, pthread_self()))
			pthread_kill(j->worker, SIGUSR1);
	}
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

static void *qtfsd_conn_thread(void *arg)
{
	struct qtfsd_conn *c = arg;
	struct xport_conn *xc = c->xc;
	struct wire_hello mine = {0}, peer;
	struct errmsg e = {{0}};
	int ret;

	c->xc = NULL;
	/*
	 * The accept loop only started a tls: handshake (xport_accept_nb) so that a
	 * silent client cannot stall it; finish it here, bounded by the listener's
	 * timeout, then go back to blocking I/O for the link threads.
	 */
	for (;;) {
		short ev = 0;
		struct pollfd pf;
		int left;

		ret = xport_handshake_step(xc, &ev, &e);
		if (ret != -EAGAIN)
			break;
		left = xport_handshake_ms_left(xc);
		pf.fd = xport_fd(xc);
		pf.events = ev;
		if (poll(&pf, 1, left < 0 ? 1000 : left) < 0 && errno != EINTR) {
			ret = -errno;
			errmsg_set(&e, "poll: %s", strerror(errno));
			break;
		}
	}
	if (!ret && xport_set_nonblock(xc, false))
		ret = -errno ? -errno : -EIO;
	if (ret) {
		log_warn("%s: tls handshake failed: %s", c->peer, errmsg_str(&e));
		xport_close(xc);
		goto out_free;
	}
	str_copy(mine.proto, sizeof(mine.proto), QTFS_PROTO_NAME);
	mine.version = QTFS_PROTO_VERSION;
	mine.role = QTFS_ROLE_SERVER;
	mine.max_payload = WIRE_MAX_PAYLOAD;
	ret = wire_handshake(xc, &mine, QTFS_ROLE_CLIENT, &peer, 10000, &e);
	if (ret) {
		log_warn("%s: handshake failed: %s", c->peer, errmsg_str(&e));
		xport_close(xc);
		goto out_free;
	}
	ret = qtfs_link_start(&c->link, xc, WIRE_MAX_PAYLOAD, qtfsd_on_frame, qtfsd_on_close, c);
	if (ret) {
		log_error("%s: %s", c->peer, strerror(-ret));
		xport_close(xc);
		goto out_free;
	}
	pthread_mutex_lock(&c->lock);
	while (!c->dead || c->refs)
		pthread_cond_wait(&c->cond, &c->lock);
	pthread_mutex_unlock(&c->lock);
	qtfs_link_stop(&c->link);
	qtfsd_conn_close_files(c);
out_free:
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->cond);
	free(c);
	return NULL;
}

static int qtfsd_open_exports(struct qtfsd *s, struct errmsg *e)
{
	size_t i;

	for (i = 0; i < s->conf->nexports; i++) {
		struct qtfsd_export *x = &s->conf->exports[i];
		struct stat st;
		int fd, ret;

		fd = open(x->path, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0 || fstat(fd, &st) < 0) {
			errmsg_set(e, "export %s: %s: %s", x->name, x->path, strerror(errno));
			if (fd >= 0)
				close(fd);
			return -errno;
		}
		ret = qh_init(&x->hs, fd, x->path, x->kind != QTFSD_KIND_NORMAL,
			      x->kind == QTFSD_KIND_NORMAL ? QTFS_RESOLVE_NO_MAGIC : 0, s->key, 0);
		if (ret) {
			close(fd);
			errmsg_set(e, "export %s: %s", x->name, strerror(-ret));
			return ret;
		}
		x->hs_ready = true;
		log_info("export %s: %s%s%s%s", x->name, x->path, x->ro ? " ro" : "",
			 x->idmode == QTFSD_ID_CALLER ? " identity=caller" : "",
			 x->kind == QTFSD_KIND_PROC  ? " kind=proc"
			 : x->kind == QTFSD_KIND_SYS ? " kind=sys"
						     : "");
	}
	return 0;
}

int qtfsd_start(struct qtfsd *s, struct qtfsd_conf *conf, struct errmsg *e)
{
	struct sigaction sa;
	int ret;

	memset(s, 0, sizeof(*s));
	s->conf = conf;
	if (!conf->workers)
		conf->workers = 4;
	if (!conf->max_workers || conf->max_workers < conf->workers)
		conf->max_workers = conf->workers > 64 ? conf->workers : 64;
	if (conf->nexports == 0) {
		errmsg_set(e, "no exports configured ([export NAME] Path= or -e PATH)");
		return -EINVAL;
	}
	if (conf->nlisten == 0) {
		errmsg_set(e, "no listen address (Listen= or -l ADDR)");
		return -EINVAL;
	}
	umask(0); /* modes arrive already masked by the client's kernel */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = qtfsd_sigusr1; /* no SA_RESTART: interrupts must interrupt */
	sigaction(SIGUSR1, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (conf->whitelist && conf->whitelist[0]) {
		s->wl = qtfs_wl_load(conf->whitelist, e);
		if (!s->wl)
			return -errno ? -errno : -EINVAL;
	}
	ret = qh_load_key(conf->handle_key ? conf->handle_key : "/var/lib/qtfs/handle.key", s->key,
			  e);
	if (ret)
		return ret;
	ret = qtfsd_open_exports(s, e);
	if (ret)
		return ret;
	s->xopts.test_mode = conf->test_mode;
	s->xopts.tls_cert = conf->tls_cert;
	s->xopts.tls_key = conf->tls_key;
	s->xopts.tls_ca = conf->tls_ca;
	pthread_mutex_init(&s->qlock, NULL);
	pthread_cond_init(&s->qcond, NULL);
	atomic_init(&s->stopping, false);
	return 0;
}

void qtfsd_stop(struct qtfsd *s)
{
	uint64_t one = 1;

	atomic_store(&s->stopping, true);
	if (qtfsd_stop_fd >= 0 && write(qtfsd_stop_fd, &one, sizeof(one)) < 0)
		return;
}

int qtfsd_serve(struct qtfsd *s, struct errmsg *e)
{
	struct xport_listener *ls[QTFSD_MAX_LISTEN];
	struct pollfd p[QTFSD_MAX_LISTEN + 1];
	size_t i, n = s->conf->nlisten;
	int ret = 0;

	qtfsd_stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (qtfsd_stop_fd < 0)
		return -errno;
	for (i = 0; i < n; i++) {
		ls[i] = xport_listen(s->conf->listen[i], &s->xopts, e);
		if (!ls[i]) {
			ret = -errno ? -errno : -EINVAL;
			while (i-- > 0)
				xport_listener_close(ls[i]);
			return ret;
		}
		log_info("listening on %s", s->conf->listen[i]);
	}
	while (!atomic_load(&s->stopping)) {
		for (i = 0; i < n; i++) {
			p[i].fd = xport_listener_fd(ls[i]);
			p[i].events = POLLIN;
		}
		p[n].fd = qtfsd_stop_fd;
		p[n].events = POLLIN;
		if (poll(p, n + 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			ret = -errno;
			break;
		}
		for (i = 0; i < n; i++) {
			struct errmsg ae = {{0}};
			struct qtfsd_conn *c;
			struct xport_conn *xc;
			pthread_t t;

			if (!(p[i].revents & POLLIN))
				continue;
			xc = xport_accept_nb(ls[i], &ae);
			if (!xc) {
				if (errno != EAGAIN)
					log_warn("accept on %s: %s", s->conf->listen[i],
						 errmsg_str(&ae));
				continue;
			}
			c = calloc(1, sizeof(*c));
			if (!c) {
				xport_close(xc);
				continue;
			}
			c->srv = s;
			str_copy(c->peer, sizeof(c->peer), xport_peer_desc(xc));
			pthread_mutex_init(&c->lock, NULL);
			pthread_cond_init(&c->cond, NULL);
			c->xc = xc;
			log_info("%s: connected", c->peer);
			if (pthread_create(&t, NULL, qtfsd_conn_thread, c)) {
				xport_close(xc);
				free(c);
				continue;
			}
			pthread_detach(t);
		}
	}
	for (i = 0; i < n; i++)
		xport_listener_close(ls[i]);
	close(qtfsd_stop_fd);
	qtfsd_stop_fd = -1;
	return ret;
}
