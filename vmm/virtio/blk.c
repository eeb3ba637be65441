/*
 * blk: virtio-blk device: request parsing (hostile-guest safe), the three I/O engines
 * (io_uring, libaio, thread pool), out-of-order completion, the iops token bucket.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <libaio.h>
#include <liburing.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "log.h"
#include "loop.h"
#include "util.h"
#include "vmm/seccomp.h"
#include "vmm/virtio/blk.h"
#include "vmm/virtio/mmio.h"

/* Feature bits (virtio 1.2, 5.2.3). */
#define VIRTIO_BLK_F_SEG_MAX	  2
#define VIRTIO_BLK_F_RO		  5
#define VIRTIO_BLK_F_BLK_SIZE	  6
#define VIRTIO_BLK_F_FLUSH	  9
#define VIRTIO_BLK_F_MQ		  12
#define VIRTIO_BLK_F_DISCARD	  13
#define VIRTIO_BLK_F_WRITE_ZEROES 14

#define VIRTIO_BLK_T_IN		  0
#define VIRTIO_BLK_T_OUT	  1
#define VIRTIO_BLK_T_FLUSH	  4
#define VIRTIO_BLK_T_GET_ID	  8
#define VIRTIO_BLK_T_DISCARD	  11
#define VIRTIO_BLK_T_WRITE_ZEROES 13

#define VIRTIO_BLK_S_OK	    0
#define VIRTIO_BLK_S_IOERR  1
#define VIRTIO_BLK_S_UNSUPP 2

#define VIRTIO_BLK_ID_BYTES	 20
#define VIRTIO_BLK_WZ_FLAG_UNMAP 1

#define SECTOR		 512u
#define BLK_CONFIG_SIZE	 60u
#define BLK_REQ_HDR	 16u
#define BLK_MAX_INFLIGHT 1024u
#define BLK_CACHE	 64u /* cached request/element pairs (see req_free) */
#define BLK_POOL_THREADS 4u
/* Discard/write-zeroes: one range per request, at most this many sectors. */
#define BLK_MAX_DISCARD_SECTORS (1u << 22) /* 2 GiB */

enum blk_op { OP_READ, OP_WRITE, OP_FLUSH, OP_DISCARD, OP_WZ, OP_WZ_UNMAP };

struct virtio_blk;

struct blk_req {
	struct virtio_blk *b;
	struct blk_req *next; /* pool queues */
	uint32_t queue;
	enum blk_op op;
	uint64_t offset;
	uint64_t len; /* data bytes (read/write), range bytes (discard/zeroes) */
	struct iovec *iov;
	uint32_t niov;
	uint8_t *status;
	uint32_t used_len; /* bytes written into the driver's buffers, status included */
	void *bounce;	   /* O_DIRECT with unaligned guest buffers */
	struct iovec bounce_iov;
	long res;
	struct iocb iocb; /* aio=native */
	struct vq_elem *elem;
};

struct blk_pool {
	pthread_t threads[BLK_POOL_THREADS];
	uint32_t nthreads;
	pthread_mutex_t mu;
	pthread_cond_t work;
	pthread_cond_t idle;
	struct blk_req *pending, **pending_tail;
	struct blk_req *done;
	uint32_t busy;
	uint32_t running; /* workers past their start-up (see pool_start) */
	bool stop;
	int efd;
};

struct virtio_blk {
	struct virtio_blk_params p;
	struct virtio_mmio *vdev;
	struct virtio_dev_ops ops;
	char name[64];
	int fd;
	bool readonly;
	bool direct;
	enum vm_aio aio;
	uint64_t capacity; /* bytes, a multiple of 512 */
	uint8_t config[BLK_CONFIG_SIZE];
	char serial[VIRTIO_BLK_ID_BYTES];
	uint32_t num_queues;
	/* Everything below: transport lock held (virtio_mmio_lock). */
	struct vq_elem *spare;
	/* Finished requests and their (16 KiB) elements kept for reuse: no allocator round
	 * trip per request on the hot path. */
	struct blk_req *req_cache[BLK_CACHE];
	struct vq_elem *elem_cache[BLK_CACHE];
	uint32_t n_req_cache, n_elem_cache;
	uint32_t inflight;
	bool stalled; /* stopped popping at the in-flight limit or the throttle */
	bool resetting;
	/* io_uring */
	struct io_uring ring;
	bool ring_ok;
	int uring_efd;
	uint32_t uring_pending; /* prepared, not yet submitted */
	/* libaio */
	io_context_t aio_ctx;
	int aio_efd;
	struct iocb *aio_batch[256];
	uint32_t aio_nbatch;
	/* aio=off and the non-data requests of every mode */
	struct blk_pool pool;
	/* throttling.iops-total */
	uint64_t iops;
	double tokens;
	uint64_t tokens_ns;
	struct loop_timer *throttle_timer;
	bool timer_armed;
};

/* ---- completion ---------------------------------------------------------------------------- */

static void req_free(struct blk_req *r)
{
	struct virtio_blk *b = r->b;

	free(r->bounce);
	if (r->elem && b->n_elem_cache < BLK_CACHE)
		b->elem_cache[b->n_elem_cache++] = r->elem;
	else
		free(r->elem);
	if (b->n_req_cache < BLK_CACHE)
		b->req_cache[b->n_req_cache++] = r;
	else
		free(r);
}

static struct blk_req *req_alloc(struct virtio_blk *b)
{
	struct blk_req *r;

	if (!b->n_req_cache)
		return calloc(1, sizeof(*r));
	r = b->req_cache[--b->n_req_cache];
	memset(r, 0, sizeof(*r));
	return r;
}

static void process_queue(struct virtio_blk *b, uint32_t q);

/* Finishes r with status st (lock held): status byte, used ring; the caller notifies. */
static void req_done(struct virtio_blk *b, struct blk_req *r, uint8_t st)
{
	struct virtq *vq = virtio_mmio_queue(b->vdev, r->queue);

	if (st == VIRTIO_BLK_S_OK && r->op == OP_READ && r->bounce) {
		/* Copy the bounce buffer back into the guest's buffers. */
		size_t off = 0;
		uint32_t i;

		for (i = 0; i < r->niov; i++) {
			memcpy(r->iov[i].iov_base, (uint8_t *)r->bounce + off, r->iov[i].iov_len);
			off += r->iov[i].iov_len;
		}
	}
	if (r->status && !b->resetting)
		*r->status = st;
	if (vq && !b->resetting)
		vq_push(vq, r->elem->head, r->used_len);
	b->inflight--;
	req_free(r);
}

/* Completion of an engine request with result res (bytes or -errno). */
static void req_complete(struct virtio_blk *b, struct blk_req *r, long res)
{
	uint8_t st = VIRTIO_BLK_S_OK;

	if (res < 0 || ((r->op == OP_READ || r->op == OP_WRITE) && (uint64_t)res != r->len)) {
		st = VIRTIO_BLK_S_IOERR;
		log_debug("%s: %s at %llu (%llu bytes): %s", b->name,
			  r->op == OP_READ ? "read" : "write", (unsigned long long)r->offset,
			  (unsigned long long)r->len, res < 0 ? strerror((int)-res) : "short");
		if (r->op == OP_READ)
			r->used_len = 1; /* no data delivered */
	}
	req_done(b, r, st);
}

/* After completions: interrupts, and more work where we had stopped. Lock held. */
static void after_completions(struct virtio_blk *b, const bool *touched)
{
	uint32_t q;

	for (q = 0; q < b->num_queues; q++)
		if (touched[q])
			virtio_mmio_notify(b->vdev, q);
	if (b->stalled) {
		b->stalled = false;
		for (q = 0; q < b->num_queues; q++)
			process_queue(b, q);
	}
}

/* ---- thread pool ----------------------------------------------------------------------------- */

static long pool_do(struct virtio_blk *b, struct blk_req *r)
{
	ssize_t n;
	int mode;

	switch (r->op) {
	case OP_READ:
		n = preadv(b->fd, r->bounce ? &r->bounce_iov : r->iov, r->bounce ? 1 : (int)r->niov,
			   (off_t)r->offset);
		return n < 0 ? -errno : n;
	case OP_WRITE:
		n = pwritev(b->fd, r->bounce ? &r->bounce_iov : r->iov,
			    r->bounce ? 1 : (int)r->niov, (off_t)r->offset);
		return n < 0 ? -errno : n;
	case OP_FLUSH:
		return fdatasync(b->fd) < 0 ? -errno : 0;
	case OP_DISCARD:
		mode = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
		return fallocate(b->fd, mode, (off_t)r->offset, (off_t)r->len) < 0 ? -errno : 0;
	case OP_WZ:
	case OP_WZ_UNMAP:
		mode = r->op == OP_WZ_UNMAP ? FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE
					    : FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE;
		if (fallocate(b->fd, mode, (off_t)r->offset, (off_t)r->len) == 0)
			return 0;
		if (errno != EOPNOTSUPP)
			return -errno;
		{
			/* No fallocate mode here: write zeroes by hand. */
			static const uint8_t zero[65536] __attribute__((aligned(4096)));
			uint64_t done = 0;

			while (done < r->len) {
				size_t chunk = r->len - done < sizeof(zero) ? r->len - done
									    : sizeof(zero);

				n = pwrite(b->fd, zero, chunk, (off_t)(r->offset + done));
				if (n <= 0)
					return n < 0 ? -errno : -EIO;
				done += (uint64_t)n;
			}
			return 0;
		}
	}
	return -EINVAL;
}

static void *pool_thread(void *arg)
{
	struct virtio_blk *b = arg;
	struct blk_pool *pl = &b->pool;
	uint64_t one = 1;

	pthread_mutex_lock(&pl->mu);
	pl->running++;
	pthread_cond_broadcast(&pl->idle);
	for (;;) {
		struct blk_req *r;

		while (!pl->stop && !pl->pending)
			pthread_cond_wait(&pl->work, &pl->mu);
		if (pl->stop)
			break;
		r = pl->pending;
		pl->pending = r->next;
		if (!pl->pending)
			pl->pending_tail = &pl->pending;
		pl->busy++;
		pthread_mutex_unlock(&pl->mu);
		r->res = pool_do(b, r);
		pthread_mutex_lock(&pl->mu);
		r->next = pl->done;
		pl->done = r;
		pl->busy--;
		if (!pl->busy && !pl->pending)
			pthread_cond_broadcast(&pl->idle);
		if (write(pl->efd, &one, sizeof(one)) < 0)
			log_debug("%s: pool eventfd: %s", b->name, strerror(errno));
	}
	pthread_mutex_unlock(&pl->mu);
	return NULL;
}

static void pool_submit(struct virtio_blk *b, struct blk_req *r)
{
	struct blk_pool *pl = &b->pool;

	r->next = NULL;
	pthread_mutex_lock(&pl->mu);
	*pl->pending_tail = r;
	pl->pending_tail = &r->next;
	pthread_cond_signal(&pl->work);
	pthread_mutex_unlock(&pl->mu);
}

static void pool_efd_cb(struct loop *l, int fd, uint32_t events, void *arg)
{
	struct virtio_blk *b = arg;
	bool touched[VIRTIO_MMIO_MAX_QUEUES] = {false};
	struct blk_req *list, *r;
	uint64_t v;

	if (read(fd, &v, sizeof(v)) < 0)
		return;
	virtio_mmio_lock(b->vdev);
	pthread_mutex_lock(&b->pool.mu);
	list = b->pool.done;
	b->pool.done = NULL;
	pthread_mutex_unlock(&b->pool.mu);
	while ((r = list) != NULL) {
		list = r->next;
		touched[r->queue] = true;
		req_complete(b, r, r->res);
	}
	after_completions(b, touched);
	virtio_mmio_unlock(b->vdev);
}

/* Waits for the pool to go idle and drops what it finished (device reset). Lock held. */
static void pool_drain(struct virtio_blk *b)
{
	struct blk_pool *pl = &b->pool;
	struct blk_req *r;

	pthread_mutex_lock(&pl->mu);
	while (pl->busy || pl->pending)
		pthread_cond_wait(&pl->idle, &pl->mu);
	while ((r = pl->done) != NULL) {
		pl->done = r->next;
		b->inflight--;
		req_free(r);
	}
	pthread_mutex_unlock(&pl->mu);
}

static int pool_start(struct virtio_blk *b, uint32_t nthreads, struct errmsg *e)
{
	struct blk_pool *pl = &b->pool;
	sigset_t all, old;
	uint32_t i;
	int ret;

	pthread_mutex_init(&pl->mu, NULL);
	pthread_cond_init(&pl->work, NULL);
	pthread_cond_init(&pl->idle, NULL);
	pl->pending_tail = &pl->pending;
	pl->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (pl->efd < 0) {
		errmsg_set(e, "%s: eventfd: %s", b->name, strerror(errno));
		return -errno;
	}
	ret = loop_add_fd(b->p.loop, pl->efd, EPOLLIN, pool_efd_cb, b);
	if (ret) {
		errmsg_set(e, "%s: event loop: %s", b->name, strerror(-ret));
		return ret;
	}
	/* Workers take no signals (SIGSYS excepted: seccomp must be able to name a call). */
	sigfillset(&all);
	sigdelset(&all, SIGSYS);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (i = 0; i < nthreads; i++) {
		ret = pthread_create(&pl->threads[i], NULL, pool_thread, b);
		if (ret)
			break;
		pl->nthreads++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (ret) {
		errmsg_set(e, "%s: worker thread: %s", b->name, strerror(ret));
		return -ret;
	}
	/* A new thread's libc start-up (rseq, robust list) must be over before the seccomp
	 * filter goes on, which may happen as soon as we return. */
	pthread_mutex_lock(&pl->mu);
	while (pl->running < pl->nthreads)
		pthread_cond_wait(&pl->idle, &pl->mu);
	pthread_mutex_unlock(&pl->mu);
	return 0;
}

static void pool_stop(struct virtio_blk *b)
{
	struct blk_pool *pl = &b->pool;
	uint32_t i;

	if (pl->efd <= 0 && !pl->nthreads)
		return;
	pthread_mutex_lock(&pl->mu);
	pl->stop = true;
	pthread_cond_broadcast(&pl->work);
	pthread_mutex_unlock(&pl->mu);
	for (i = 0; i < pl->nthreads; i++)
		pthread_join(pl->threads[i], NULL);
	if (pl->efd > 0) {
		loop_del_fd(b->p.loop, pl->efd);
		close(pl->efd);
	}
	pthread_mutex_destroy(&pl->mu);
	pthread_cond_destroy(&pl->work);
	pthread_cond_destroy(&pl->idle);
}

/* ---- io_uring ------------------------------------------------------------------------------------ */

static int uring_submit_rw(struct virtio_blk *b, struct blk_req *r)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&b->ring);
	const struct iovec *iov = r->bounce ? &r->bounce_iov : r->iov;
	unsigned niov = r->bounce ? 1 : r->niov;

	if (!sqe) {
		io_uring_submit(&b->ring);
		b->uring_pending = 0;
		sqe = io_uring_get_sqe(&b->ring);
		if (!sqe)
			return -EAGAIN;
	}
	if (r->op == OP_READ)
		io_uring_prep_readv(sqe, b->fd, iov, niov, r->offset);
	else
		io_uring_prep_writev(sqe, b->fd, iov, niov, r->offset);
	io_uring_sqe_set_data(sqe, r);
	b->uring_pending++;
	return 0;
}

static void uring_reap(struct virtio_blk *b, bool *touched)
{
	struct io_uring_cqe *cqe;

	while (io_uring_peek_cqe(&b->ring, &cqe) == 0) {
		struct blk_req *r = io_uring_cqe_get_data(cqe);
		long res = cqe->res;

		io_uring_cqe_seen(&b->ring, cqe);
		if (!r)
			continue;
		if (touched)
			touched[r->queue] = true;
		req_complete(b, r, res);
	}
}

static void uring_efd_cb(struct loop *l, int fd, uint32_t events, void *arg)
{
	struct virtio_blk *b = arg;
	bool touched[VIRTIO_MMIO_MAX_QUEUES] = {false};
	uint64_t v;

	if (read(fd, &v, sizeof(v)) < 0)
		return;
	virtio_mmio_lock(b->vdev);
	uring_reap(b, touched);
	after_completions(b, touched);
	virtio_mmio_unlock(b->vdev);
}

/* ---- libaio ---------------------------------------------------------------------------------------- */

static void aio_flush_batch(struct virtio_blk *b)
{
	uint32_t done = 0;

	while (done < b->aio_nbatch) {
		int n = io_submit(b->aio_ctx, (long)(b->aio_nbatch - done), b->aio_batch + done);

		if (n <= 0) {
			/* Fail what could not be queued. */
			uint32_t i;
			bool touched[VIRTIO_MMIO_MAX_QUEUES] = {false};

			for (i = done; i < b->aio_nbatch; i++) {
				struct blk_req *r = b->aio_batch[i]->data;

				touched[r->queue] = true;
				req_complete(b, r, n < 0 ? n : -EIO);
			}
			for (i = 0; i < b->num_queues; i++)
				if (touched[i])
					virtio_mmio_notify(b->vdev, i);
			break;
		}
		done += (uint32_t)n;
	}
	b->aio_nbatch = 0;
}

static int aio_submit_rw(struct virtio_blk *b, struct blk_req *r)
{
	const struct iovec *iov = r->bounce ? &r->bounce_iov : r->iov;
	int niov = r->bounce ? 1 : (int)r->niov;

	if (r->op == OP_READ)
		io_prep_preadv(&r->iocb, b->fd, iov, niov, (long long)r->offset);
	else
		io_prep_pwritev(&r->iocb, b->fd, iov, niov, (long long)r->offset);
	io_set_eventfd(&r->iocb, b->aio_efd);
	r->iocb.data = r;
	if (b->aio_nbatch == ARRAY_SIZE(b->aio_batch))
		aio_flush_batch(b);
	b->aio_batch[b->aio_nbatch++] = &r->iocb;
	return 0;
}

/* The completion ring the kernel maps at the io_context_t address (fs/aio.c). */
struct blk_aio_ring {
	unsigned int id, nr, head, tail;
	unsigned int magic, compat_features, incompat_features, header_length;
	struct io_event events[];
};
#define BLK_AIO_RING_MAGIC 0xa10a10a1u

/*
 * Takes up to max completions straight from the ring, without the io_getevents system call
 * (the eventfd already said there are some). -1 if the ring is not in the known format, so
 * the caller falls back to io_getevents. Lock held: the only consumer at a time.
 */
static int aio_ring_reap(struct virtio_blk *b, struct io_event *ev, int max)
{
	struct blk_aio_ring *ring = (struct blk_aio_ring *)b->aio_ctx;
	unsigned int head, tail, nr;
	int n = 0;

	if (ring->magic != BLK_AIO_RING_MAGIC || ring->incompat_features)
		return -1;
	nr = ring->nr;
	head = __atomic_load_n(&ring->head, __ATOMIC_RELAXED);
	tail = __atomic_load_n(&ring->tail, __ATOMIC_ACQUIRE);
	if (head >= nr || tail >= nr)
		return -1;
	while (head != tail && n < max) {
		ev[n++] = ring->events[head];
		head = head + 1 == nr ? 0 : head + 1;
	}
	__atomic_store_n(&ring->head, head, __ATOMIC_RELEASE);
	return n;
}

static void aio_reap(struct virtio_blk *b, bool *touched, long min)
{
	struct io_event ev[64];
	struct timespec zero = {0, 0};
	int n, i;

	do {
		n = min ? -1 : aio_ring_reap(b, ev, (int)ARRAY_SIZE(ev));
		if (n < 0)
			n = io_getevents(b->aio_ctx, min, ARRAY_SIZE(ev), ev, min ? NULL : &zero);
		for (i = 0; i < n; i++) {
			struct blk_req *r = ev[i].data;

			if (touched)
				touched[r->queue] = true;
			req_complete(b, r, (long)ev[i].res);
		}
		min = 0;
	} while (n == (int)ARRAY_SIZE(ev));
}

static void aio_efd_cb(struct loop *l, int fd, uint32_t events, void *arg)
{
	struct virtio_blk *b = arg;
	bool touched[VIRTIO_MMIO_MAX_QUEUES] = {false};
	uint64_t v;

	if (read(fd, &v, sizeof(v)) < 0)
		return;
	virtio_mmio_lock(b->vdev);
	aio_reap(b, touched, 0);
	after_completions(b, touched);
	virtio_mmio_unlock(b->vdev);
}

/* ---- requests -------------------------------------------------------------------------------------- */

/* Drops the first n bytes of iov[0..*niov) in place. */
static void iov_skip(struct iovec **iov, uint32_t *niov, size_t n)
{
	while (n && *niov) {
		if ((*iov)->iov_len <= n) {
			n -= (*iov)->iov_len;
			(*iov)++;
			(*niov)--;
		} else {
			(*iov)->iov_base = (uint8_t *)(*iov)->iov_base + n;
			(*iov)->iov_len -= n;
			n = 0;
		}
	}
}

static bool iov_aligned(const struct iovec *iov, uint32_t n)
{
	uint32_t i;

	for (i = 0; i < n; i++)
		if (((uintptr_t)iov[i].iov_base | iov[i].iov_len) & (SECTOR - 1))
			return false;
	return true;
}

static bool iov_all_zero(const struct iovec *iov, uint32_t n)
{
	uint32_t i;

	for (i = 0; i < n; i++) {
		const uint8_t *p = iov[i].iov_base;
		size_t j;

		for (j = 0; j < iov[i].iov_len; j++)
			if (p[j])
				return false;
	}
	return true;
}

/* Spends one token if the bucket has one; else arms the timer and returns false. */
static bool throttle_take(struct virtio_blk *b)
{
	uint64_t now;
	double wait_ms;

	if (!b->iops)
		return true;
	now = now_ns();
	b->tokens += (double)(now - b->tokens_ns) * (double)b->iops / 1e9;
	b->tokens_ns = now;
	if (b->tokens > (double)b->iops)
		b->tokens = (double)b->iops; /* a one-second burst at most */
	if (b->tokens >= 1.0) {
		b->tokens -= 1.0;
		return true;
	}
	if (!b->timer_armed) {
		wait_ms = (1.0 - b->tokens) * 1000.0 / (double)b->iops;
		loop_timer_set(b->throttle_timer, (uint64_t)wait_ms + 1, 0);
		b->timer_armed = true;
	}
	return false;
}

static void throttle_cb(struct loop *l, struct loop_timer *t, void *arg)
{
	struct virtio_blk *b = arg;
	uint32_t q;

	virtio_mmio_lock(b->vdev);
	b->timer_armed = false;
	b->stalled = false;
	if (virtio_mmio_status(b->vdev) & VIRTIO_STATUS_DRIVER_OK)
		for (q = 0; q < b->num_queues; q++)
			process_queue(b, q);
	virtio_mmio_unlock(b->vdev);
}

/* Sends r to the engine for its op. */
static void req_submit(struct virtio_blk *b, struct blk_req *r)
{
	int ret = 0;

	if (r->op == OP_READ || r->op == OP_WRITE) {
		if (b->aio == VM_AIO_IO_URING)
			ret = uring_submit_rw(b, r);
		else if (b->aio == VM_AIO_NATIVE)
			ret = aio_submit_rw(b, r);
		else
			pool_submit(b, r);
	} else {
		pool_submit(b, r);
	}
	if (ret)
		req_complete(b, r, ret);
}

/*
 * Parses one popped request and either finishes it at once (bad request, get-id, read-only
 * refusal) or hands it to an engine. Takes e. Returns true if it completed immediately.
 */
static bool handle_request(struct virtio_blk *b, uint32_t q, struct vq_elem *e)
{
	struct blk_req *r = req_alloc(b);
	uint8_t hdr[BLK_REQ_HDR];
	struct iovec *last;
	uint32_t type;
	uint64_t sector;

	if (!r) {
		/* No memory for the bookkeeping: give the buffers back untouched. */
		vq_push(virtio_mmio_queue(b->vdev, q), e->head, 0);
		free(e);
		return true;
	}
	r->b = b;
	r->queue = q;
	r->elem = e;
	b->inflight++;
	/* The status byte is the last writable byte; without one nothing can be reported. */
	if (e->n_in == 0 || vq_read_out(e, 0, hdr, sizeof(hdr)) != sizeof(hdr)) {
		log_debug("%s: request without header or status byte dropped", b->name);
		r->used_len = 0;
		req_done(b, r, 0);
		return true;
	}
	last = &e->iov[e->n_out + e->n_in - 1];
	r->status = (uint8_t *)last->iov_base + last->iov_len - 1;
	r->used_len = 1;
	memcpy(&type, hdr, 4);
	memcpy(&sector, hdr + 8, 8);
	type = le32toh(type);
	sector = le64toh(sector);

	switch (type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT: {
		bool in = type == VIRTIO_BLK_T_IN;

		if (in) {
			/* Data: every writable byte but the status. */
			r->iov = &e->iov[e->n_out];
			r->niov = e->n_in;
			if (last->iov_len == 1)
				r->niov--;
			else
				last->iov_len--;
			r->len = e->in_bytes - 1;
			r->op = OP_READ;
		} else {
			r->iov = e->iov;
			r->niov = e->n_out;
			iov_skip(&r->iov, &r->niov, BLK_REQ_HDR);
			r->len = e->out_bytes - BLK_REQ_HDR;
			r->op = OP_WRITE;
			if (b->readonly) {
				req_done(b, r, VIRTIO_BLK_S_IOERR);
				return true;
			}
		}
		if (r->len % SECTOR || sector > b->capacity / SECTOR ||
		    r->len > b->capacity - sector * SECTOR) {
			req_done(b, r, VIRTIO_BLK_S_IOERR);
			return true;
		}
		r->offset = sector * SECTOR;
		if (in)
			r->used_len = (uint32_t)(r->len + 1);
		if (r->len == 0) {
			req_done(b, r, VIRTIO_BLK_S_OK);
			return true;
		}
		if (!in && b->p.drive->detect_zeroes != VM_DETECT_ZEROES_OFF &&
		    iov_all_zero(r->iov, r->niov)) {
			r->op = b->p.drive->detect_zeroes == VM_DETECT_ZEROES_UNMAP &&
						b->p.drive->discard == VM_DISCARD_UNMAP
					? OP_WZ_UNMAP
					: OP_WZ;
			pool_submit(b, r);
			return false;
		}
		if (b->direct && !iov_aligned(r->iov, r->niov)) {
			if (posix_memalign(&r->bounce, 4096, r->len)) {
				r->bounce = NULL;
				req_done(b, r, VIRTIO_BLK_S_IOERR);
				return true;
			}
			r->bounce_iov.iov_base = r->bounce;
			r->bounce_iov.iov_len = r->len;
			if (!in) {
				size_t off = 0;
				uint32_t i;

				for (i = 0; i < r->niov; i++) {
					memcpy((uint8_t *)r->bounce + off, r->iov[i].iov_base,
					       r->iov[i].iov_len);
					off += r->iov[i].iov_len;
				}
			}
		}
		req_submit(b, r);
		return false;
	}
	case VIRTIO_BLK_T_FLUSH:
		r->op = OP_FLUSH;
		pool_submit(b, r);
		return false;
	case VIRTIO_BLK_T_GET_ID: {
		size_t n = e->in_bytes - 1 < VIRTIO_BLK_ID_BYTES ? e->in_bytes - 1
								 : VIRTIO_BLK_ID_BYTES;
		uint8_t st;

		/* The status byte may share a buffer with the id: write the id first. */
		n = vq_write_in(e, 0, b->serial, n);
		r->used_len = (uint32_t)n + 1;
		st = VIRTIO_BLK_S_OK;
		req_done(b, r, st);
		return true;
	}
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES: {
		uint8_t seg[16];
		uint64_t s;
		uint32_t n, flags;
		bool discard = type == VIRTIO_BLK_T_DISCARD;

		if (b->readonly) {
			req_done(b, r, VIRTIO_BLK_S_IOERR);
			return true;
		}
		if (discard && b->p.drive->discard != VM_DISCARD_UNMAP) {
			req_done(b, r, VIRTIO_BLK_S_UNSUPP);
			return true;
		}
		/* Exactly one range (max_discard_seg = max_write_zeroes_seg = 1). */
		if (e->out_bytes != BLK_REQ_HDR + sizeof(seg) ||
		    vq_read_out(e, BLK_REQ_HDR, seg, sizeof(seg)) != sizeof(seg)) {
			req_done(b, r, VIRTIO_BLK_S_UNSUPP);
			return true;
		}
		memcpy(&s, seg, 8);
		memcpy(&n, seg + 8, 4);
		memcpy(&flags, seg + 12, 4);
		s = le64toh(s);
		n = le32toh(n);
		flags = le32toh(flags);
		if ((flags & ~(uint32_t)VIRTIO_BLK_WZ_FLAG_UNMAP) || (discard && flags) ||
		    n > BLK_MAX_DISCARD_SECTORS || s > b->capacity / SECTOR ||
		    (uint64_t)n * SECTOR > b->capacity - s * SECTOR) {
			req_done(b, r, VIRTIO_BLK_S_IOERR);
			return true;
		}
		r->offset = s * SECTOR;
		r->len = (uint64_t)n * SECTOR;
		if (discard)
			r->op = OP_DISCARD;
		else if ((flags & VIRTIO_BLK_WZ_FLAG_UNMAP) &&
			 b->p.drive->discard == VM_DISCARD_UNMAP)
			r->op = OP_WZ_UNMAP;
		else
			r->op = OP_WZ;
		if (r->len == 0) {
			req_done(b, r, VIRTIO_BLK_S_OK);
			return true;
		}
		pool_submit(b, r);
		return false;
	}
	default:
		req_done(b, r, VIRTIO_BLK_S_UNSUPP);
		return true;
	}
}

static void engine_kick(struct virtio_blk *b)
{
	if (b->aio == VM_AIO_IO_URING && b->uring_pending) {
		io_uring_submit(&b->ring);
		b->uring_pending = 0;
	} else if (b->aio == VM_AIO_NATIVE && b->aio_nbatch) {
		aio_flush_batch(b);
	}
}

/* Pops and starts every available request of queue q. Lock held. */
static void process_queue(struct virtio_blk *b, uint32_t q)
{
	struct virtq *vq = virtio_mmio_queue(b->vdev, q);
	bool immediate = false;
	int ret;

	if (!vq)
		return;
	for (;;) {
		vq_set_notification(vq, false);
		for (;;) {
			if (b->inflight >= BLK_MAX_INFLIGHT || !throttle_take(b)) {
				b->stalled = true;
				goto out;
			}
			if (!b->spare && b->n_elem_cache)
				b->spare = b->elem_cache[--b->n_elem_cache];
			if (!b->spare) {
				b->spare = malloc(sizeof(*b->spare));
				if (!b->spare)
					goto out;
			}
			ret = vq_pop(vq, b->spare);
			if (ret == 0) {
				if (b->iops)
					b->tokens += 1.0; /* nothing to spend it on */
				break;
			}
			if (ret < 0) {
				virtio_mmio_needs_reset(b->vdev);
				goto out;
			}
			immediate |= handle_request(b, q, b->spare);
			b->spare = NULL;
		}
		if (!vq_set_notification(vq, true))
			break;
	}
out:
	engine_kick(b);
	if (immediate)
		virtio_mmio_notify(b->vdev, q);
}

/* ---- transport callbacks ------------------------------------------------------------------------ */

static void blk_queue_notify(void *opaque, uint32_t q)
{
	process_queue(opaque, q);
}

static void blk_config_read(void *opaque, uint32_t off, uint8_t *data, uint32_t len)
{
	struct virtio_blk *b = opaque;

	memcpy(data, b->config + off, len);
}

/* Drops every request in flight (device reset): waits for the engines, reports nothing to
 * the driver, which is resetting its rings. Lock held; needs no loop thread. */
static void blk_reset(void *opaque)
{
	struct virtio_blk *b = opaque;

	b->resetting = true;
	engine_kick(b);
	pool_drain(b);
	while (b->inflight && b->aio == VM_AIO_IO_URING && b->ring_ok) {
		struct io_uring_cqe *cqe;

		if (io_uring_wait_cqe(&b->ring, &cqe))
			break;
		uring_reap(b, NULL);
	}
	while (b->inflight && b->aio == VM_AIO_NATIVE)
		aio_reap(b, NULL, 1);
	b->resetting = false;
	b->stalled = false;
}

/* ---- set-up ------------------------------------------------------------------------------------------ */

static void put_le16(uint8_t *p, uint16_t v)
{
	v = htole16(v);
	memcpy(p, &v, 2);
}

static void put_le32(uint8_t *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, 4);
}

static void put_le64(uint8_t *p, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, 8);
}

static int open_image(struct virtio_blk *b, struct errmsg *e)
{
	const struct vm_drive_config *d = b->p.drive;
	int flags = (b->readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC;
	struct stat st;
	int ret;

	b->direct = d->direct;
	b->fd = open(d->file, flags | (b->direct ? O_DIRECT : 0));
	if (b->fd < 0 && b->direct && errno == EINVAL) {
		log_warn("%s: %s does not support O_DIRECT; using the page cache", b->name,
			 d->file);
		b->direct = false;
		b->fd = open(d->file, flags);
	}
	if (b->fd < 0) {
		ret = -errno;
		errmsg_set(e, "-drive %s: %s: %s", d->id, d->file, strerror(errno));
		return ret;
	}
	if (fstat(b->fd, &st) < 0) {
		ret = -errno;
		errmsg_set(e, "-drive %s: %s: %s", d->id, d->file, strerror(errno));
		return ret;
	}
	if (S_ISBLK(st.st_mode)) {
		uint64_t sz;

		if (ioctl(b->fd, BLKGETSIZE64, &sz) < 0) {
			ret = -errno;
			errmsg_set(e, "-drive %s: %s: %s", d->id, d->file, strerror(errno));
			return ret;
		}
		b->capacity = sz;
	} else if (S_ISREG(st.st_mode)) {
		b->capacity = (uint64_t)st.st_size;
	} else {
		errmsg_set(e, "-drive %s: %s: not a regular file or block device", d->id, d->file);
		return -EINVAL;
	}
	b->capacity &= ~(uint64_t)(SECTOR - 1);
	return 0;
}

static int engine_init(struct virtio_blk *b, uint32_t depth, struct errmsg *e)
{
	int ret;

	if (b->aio == VM_AIO_IO_URING) {
		ret = io_uring_queue_init(depth, &b->ring, 0);
		if (ret) {
			errmsg_set(e, "-drive %s: io_uring: %s", b->p.drive->id, strerror(-ret));
			return ret;
		}
		b->ring_ok = true;
		b->uring_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (b->uring_efd < 0 || io_uring_register_eventfd(&b->ring, b->uring_efd)) {
			errmsg_set(e, "-drive %s: io_uring eventfd failed", b->p.drive->id);
			return -EIO;
		}
		ret = loop_add_fd(b->p.loop, b->uring_efd, EPOLLIN, uring_efd_cb, b);
		if (ret)
			return ret;
		vmm_seccomp_allow("io_uring_enter");
	} else if (b->aio == VM_AIO_NATIVE) {
		ret = io_setup((int)depth, &b->aio_ctx);
		if (ret) {
			errmsg_set(e, "-drive %s: io_setup: %s", b->p.drive->id, strerror(-ret));
			return ret;
		}
		b->aio_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (b->aio_efd < 0) {
			errmsg_set(e, "-drive %s: eventfd: %s", b->p.drive->id, strerror(errno));
			return -errno;
		}
		ret = loop_add_fd(b->p.loop, b->aio_efd, EPOLLIN, aio_efd_cb, b);
		if (ret)
			return ret;
		vmm_seccomp_allow("io_submit");
		vmm_seccomp_allow("io_getevents");
	}
	/* The pool serves aio=off and, in every mode, flush/discard/write-zeroes. */
	vmm_seccomp_allow("preadv");
	vmm_seccomp_allow("pwritev");
	vmm_seccomp_allow("pwrite64");
	vmm_seccomp_allow("fdatasync");
	vmm_seccomp_allow("fallocate");
	return pool_start(b, b->aio == VM_AIO_OFF ? BLK_POOL_THREADS : 1, e);
}

struct virtio_blk *virtio_blk_create(const struct virtio_blk_params *p, struct errmsg *e)
{
	const struct vm_device_config *dev = p->dev;
	struct virtio_mmio_params mp;
	struct virtio_blk *b = calloc(1, sizeof(*b));
	uint64_t features;
	uint32_t seg_max;
	int ret;

	if (!b) {
		errmsg_set(e, "virtio-blk: out of memory");
		return NULL;
	}
	b->p = *p;
	b->fd = -1;
	b->uring_efd = b->aio_efd = -1;
	b->pool.efd = -1;
	snprintf(b->name, sizeof(b->name), "virtio-blk %s", dev->id);
	b->readonly = p->drive->readonly;
	b->aio = p->drive->aio;
	b->num_queues = dev->blk.num_queues ? dev->blk.num_queues : 1;
	if (b->num_queues > VIRTIO_MMIO_MAX_QUEUES)
		b->num_queues = VIRTIO_MMIO_MAX_QUEUES;
	if (dev->blk.serial)
		memcpy(b->serial, dev->blk.serial, strnlen(dev->blk.serial, sizeof(b->serial)));
	ret = open_image(b, e);
	if (ret)
		goto err;
	ret = engine_init(b,
			  dev->blk.queue_size * b->num_queues > 1024
				  ? 1024
				  : dev->blk.queue_size * b->num_queues,
			  e);
	if (ret)
		goto err;
	b->iops = p->drive->iops_total;
	if (b->iops) {
		b->tokens = (double)b->iops;
		b->tokens_ns = now_ns();
		b->throttle_timer = loop_add_timer(p->loop, 0, 0, throttle_cb, b);
		if (!b->throttle_timer) {
			ret = -errno;
			errmsg_set(e, "%s: timer: %s", b->name, strerror(errno));
			goto err;
		}
		vmm_seccomp_allow("timerfd_settime");
	}

	seg_max = dev->blk.queue_size - 2 < VQ_MAX_SEGS - 2 ? dev->blk.queue_size - 2
							    : VQ_MAX_SEGS - 2;
	features = (1ull << VIRTIO_BLK_F_SEG_MAX) | (1ull << VIRTIO_BLK_F_BLK_SIZE) |
		   (1ull << VIRTIO_BLK_F_FLUSH);
	if (b->readonly)
		features |= 1ull << VIRTIO_BLK_F_RO;
	else
		features |= 1ull << VIRTIO_BLK_F_WRITE_ZEROES;
	if (!b->readonly && p->drive->discard == VM_DISCARD_UNMAP)
		features |= 1ull << VIRTIO_BLK_F_DISCARD;
	if (b->num_queues > 1)
		features |= 1ull << VIRTIO_BLK_F_MQ;
	put_le64(b->config + 0, b->capacity / SECTOR);
	put_le32(b->config + 12, seg_max);
	put_le32(b->config + 20, SECTOR);
	put_le16(b->config + 34, (uint16_t)b->num_queues);
	put_le32(b->config + 36, BLK_MAX_DISCARD_SECTORS);
	put_le32(b->config + 40, 1);
	put_le32(b->config + 44, 1);
	put_le32(b->config + 48, BLK_MAX_DISCARD_SECTORS);
	put_le32(b->config + 52, 1);
	b->config[56] = p->drive->discard == VM_DISCARD_UNMAP;

	b->ops = (struct virtio_dev_ops){
		.name = b->name,
		.device_id = VIRTIO_ID_BLOCK,
		.features = features,
		.num_queues = b->num_queues,
		.queue_max = (uint16_t)dev->blk.queue_size,
		.config_size = BLK_CONFIG_SIZE,
		.config_read = blk_config_read,
		.reset = blk_reset,
		.queue_notify = blk_queue_notify,
	};
	mp = (struct virtio_mmio_params){
		.mem = p->mem,
		.mmio = p->mmio,
		.base = p->base,
		.irq = p->irq,
		.loop = p->loop,
		.ops = &b->ops,
		.opaque = b,
	};
	b->vdev = virtio_mmio_create(&mp, e);
	if (!b->vdev) {
		ret = -errno;
		goto err;
	}
	log_info("%s: %s, %llu bytes, aio=%s%s%s", b->name, p->drive->file,
		 (unsigned long long)b->capacity, vm_aio_name(b->aio),
		 b->direct ? ", O_DIRECT" : "", b->readonly ? ", read-only" : "");
	return b;

err:
	virtio_blk_destroy(b);
	errno = ret < 0 ? -ret : EIO;
	return NULL;
}

struct virtio_mmio *virtio_blk_transport(struct virtio_blk *b)
{
	return b->vdev;
}

void virtio_blk_destroy(struct virtio_blk *b)
{
	if (!b)
		return;
	if (b->vdev)
		virtio_mmio_destroy(b->vdev); /* resets: drains in-flight I/O */
	pool_stop(b);
	if (b->throttle_timer)
		loop_del_timer(b->p.loop, b->throttle_timer);
	if (b->ring_ok) {
		if (b->uring_efd >= 0)
			loop_del_fd(b->p.loop, b->uring_efd);
		io_uring_queue_exit(&b->ring);
	}
	if (b->uring_efd >= 0)
		close(b->uring_efd);
	if (b->aio_ctx)
		io_destroy(b->aio_ctx);
	if (b->aio_efd >= 0) {
		loop_del_fd(b->p.loop, b->aio_efd);
		close(b->aio_efd);
	}
	if (b->fd >= 0)
		close(b->fd);
	free(b->spare);
	while (b->n_elem_cache)
		free(b->elem_cache[--b->n_elem_cache]);
	while (b->n_req_cache)
		free(b->req_cache[--b->n_req_cache]);
	free(b);
}
