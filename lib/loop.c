/* loop: epoll event loop; fd callbacks, timerfd timers, signalfd signals, eventfd stop. */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "loop.h"

enum loop_src_kind {
	LOOP_SRC_FD,
	LOOP_SRC_TIMER,
	LOOP_SRC_SIGNAL,
	LOOP_SRC_STOP,
};

/*
 * One epoll registration; epoll_event.data.ptr points here. A deleted source
 * is only marked dead and moved to the zombie list, because events for it may
 * still sit in the batch being dispatched; zombies are freed after the batch.
 */
struct loop_src {
	enum loop_src_kind kind;
	int fd;
	bool dead;
	loop_fd_cb cb;
	void *arg;
	struct loop_src *next_zombie;
};

struct loop_timer {
	struct loop_src src; /* first: a timer's source is the timer */
	loop_timer_cb cb;
	void *arg;
};

struct loop_sig {
	loop_signal_cb cb;
	void *arg;
};

#define LOOP_MAX_EVENTS 64

struct loop {
	int epfd;
	struct loop_src stop_src; /* eventfd written by loop_stop */
	_Atomic bool stop;	  /* set by loop_stop from any thread or signal handler */

	struct loop_src **fds; /* user fd -> its source (NULL if none), by fd number */
	size_t nfds;

	struct loop_src sig_src; /* signalfd, fd -1 until the first loop_add_signal */
	sigset_t sig_mask;
	struct loop_sig sigs[_NSIG];

	/* Every live timer, so loop_free can release the ones still registered. */
	struct loop_timer **timers;
	size_t ntimers;
	size_t cap_timers;

	struct loop_src *zombies;
	unsigned dispatch_depth;
};

static void loop_bury(struct loop *l, struct loop_src *src)
{
	src->dead = true;
	src->next_zombie = l->zombies;
	l->zombies = src;
}

static void loop_free_zombies(struct loop *l)
{
	while (l->zombies) {
		struct loop_src *src = l->zombies;

		l->zombies = src->next_zombie;
		/* fd sources are plain loop_src; timers embed theirs first */
		free(src);
	}
}

struct loop *loop_new(void)
{
	struct epoll_event ev = {.events = EPOLLIN};
	struct loop *l;
	int err;

	l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	l->sig_src.fd = -1;
	l->sig_src.kind = LOOP_SRC_SIGNAL;
	sigemptyset(&l->sig_mask);
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0)
		goto err_free;
	l->stop_src.kind = LOOP_SRC_STOP;
	l->stop_src.fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (l->stop_src.fd < 0)
		goto err_close_ep;
	ev.data.ptr = &l->stop_src;
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->stop_src.fd, &ev) < 0)
		goto err_close_stop;
	return l;

err_close_stop:
	err = errno;
	close(l->stop_src.fd);
	errno = err;
err_close_ep:
	err = errno;
	close(l->epfd);
	errno = err;
err_free:
	err = errno;
	free(l);
	errno = err;
	return NULL;
}

void loop_free(struct loop *l)
{
	size_t i;

	if (!l)
		return;
	for (i = 0; i < l->nfds; i++)
		free(l->fds[i]); /* user fds are the caller's to close */
	free(l->fds);
	for (i = 0; i < l->ntimers; i++) {
		close(l->timers[i]->src.fd);
		free(l->timers[i]);
	}
	free(l->timers);
	loop_free_zombies(l);
	if (l->sig_src.fd >= 0)
		close(l->sig_src.fd);
	close(l->stop_src.fd);
	close(l->epfd);
	free(l);
}

/* Level-triggered by contract: edge/one-shot flags are not ours to offer. */
static uint32_t loop_events(uint32_t events)
{
	return events & ~(uint32_t)(EPOLLET | EPOLLONESHOT | EPOLLEXCLUSIVE | EPOLLWAKEUP);
}

static int loop_fds_reserve(struct loop *l, int fd)
{
	size_t n = l->nfds, bytes;
	struct loop_src **nf;

	if ((size_t)fd < n)
		return 0;
	while (n <= (size_t)fd)
		n = n ? n * 2 : 64;
	if (__builtin_mul_overflow(n, sizeof(*nf), &bytes))
		return -ENOMEM;
	nf = realloc(l->fds, bytes);
	if (!nf)
		return -ENOMEM;
	memset(nf + l->nfds, 0, (n - l->nfds) * sizeof(*nf));
	l->fds = nf;
	l->nfds = n;
	return 0;
}

int loop_add_fd(struct loop *l, int fd, uint32_t events, loop_fd_cb cb, void *arg)
{
	struct epoll_event ev = {.events = loop_events(events)};
	struct loop_src *src, *old;
	int ret;

	if (!l || fd < 0 || !cb)
		return -EINVAL;
	ret = loop_fds_reserve(l, fd);
	if (ret)
		return ret;
	src = calloc(1, sizeof(*src));
	if (!src)
		return -ENOMEM;
	src->kind = LOOP_SRC_FD;
	src->fd = fd;
	src->cb = cb;
	src->arg = arg;
	ev.data.ptr = src;
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		ret = -errno;
		free(src);
		return ret;
	}
	/*
	 * epoll accepted the fd although we hold a registration for that number:
	 * the caller closed the old fd without loop_del_fd (epoll dropped it then).
	 */
	old = l->fds[fd];
	if (old)
		loop_bury(l, old);
	l->fds[fd] = src;
	return 0;
}

int loop_mod_fd(struct loop *l, int fd, uint32_t events)
{
	struct epoll_event ev = {.events = loop_events(events)};

	if (!l || fd < 0 || (size_t)fd >= l->nfds || !l->fds[fd])
		return -ENOENT;
	ev.data.ptr = l->fds[fd];
	if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev) < 0)
		return -errno;
	return 0;
}

int loop_del_fd(struct loop *l, int fd)
{
	struct loop_src *src;
	int ret = 0;

	if (!l || fd < 0 || (size_t)fd >= l->nfds || !l->fds[fd])
		return -ENOENT;
	src = l->fds[fd];
	l->fds[fd] = NULL;
	/* EBADF: the caller already closed fd; its registration is gone already. */
	if (epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL) < 0 && errno != EBADF && errno != ENOENT)
		ret = -errno;
	loop_bury(l, src);
	return ret;
}

static void ms_to_timespec(uint64_t ms, struct timespec *ts)
{
	ts->tv_sec = (time_t)(ms / 1000);
	ts->tv_nsec = (long)(ms % 1000) * 1000000L;
}

int loop_timer_set(struct loop_timer *t, uint64_t first_ms, uint64_t interval_ms)
{
	struct itimerspec its = {0};

	if (!t || t->src.dead)
		return -EINVAL;
	if (first_ms) {
		ms_to_timespec(first_ms, &its.it_value);
		ms_to_timespec(interval_ms, &its.it_interval);
	}
	/* Re-arming also resets the expiration count, so a stale tick is not delivered. */
	if (timerfd_settime(t->src.fd, 0, &its, NULL) < 0)
		return -errno;
	return 0;
}

struct loop_timer *loop_add_timer(struct loop *l, uint64_t first_ms, uint64_t interval_ms,
				  loop_timer_cb cb, void *arg)
{
	struct epoll_event ev = {.events = EPOLLIN};
	struct loop_timer *t;
	int ret;

	if (!l || !cb) {
		errno = EINVAL;
		return NULL;
	}
	if (l->ntimers == l->cap_timers) {
		size_t ncap = l->cap_timers ? l->cap_timers * 2 : 16, bytes;
		struct loop_timer **nt;

		if (__builtin_mul_overflow(ncap, sizeof(*nt), &bytes)) {
			errno = ENOMEM;
			return NULL;
		}
		nt = realloc(l->timers, bytes);
		if (!nt)
			return NULL;
		l->timers = nt;
		l->cap_timers = ncap;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->src.kind = LOOP_SRC_TIMER;
	t->cb = cb;
	t->arg = arg;
	t->src.fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (t->src.fd < 0)
		goto err_free;
	ret = loop_timer_set(t, first_ms, interval_ms);
	if (ret) {
		errno = -ret;
		goto err_close;
	}
	ev.data.ptr = &t->src;
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, t->src.fd, &ev) < 0)
		goto err_close;
	l->timers[l->ntimers++] = t;
	return t;

err_close:
	ret = errno;
	close(t->src.fd);
	errno = ret;
err_free:
	ret = errno;
	free(t);
	errno = ret;
	return NULL;
}

void loop_del_timer(struct loop *l, struct loop_timer *t)
{
	size_t i;

	if (!l || !t || t->src.dead)
		return;
	for (i = 0; i < l->ntimers; i++) {
		if (l->timers[i] == t) {
			l->timers[i] = l->timers[--l->ntimers];
			break;
		}
	}
	/* Closing the timerfd removes it from epoll; events already fetched are skipped. */
	close(t->src.fd);
	t->src.fd = -1;
	loop_bury(l, &t->src);
}

int loop_add_signal(struct loop *l, int signo, loop_signal_cb cb, void *arg)
{
	sigset_t one, mask;
	int fd, ret;

	if (!l || !cb || signo <= 0 || signo >= _NSIG || signo == SIGKILL || signo == SIGSTOP)
		return -EINVAL;
	if (l->sigs[signo].cb)
		return -EEXIST;
	sigemptyset(&one);
	sigaddset(&one, signo);
	mask = l->sig_mask;
	sigaddset(&mask, signo);
	/* Block first, so the signal is never delivered the old way once we own it. */
	ret = pthread_sigmask(SIG_BLOCK, &one, NULL);
	if (ret)
		return -ret;
	fd = signalfd(l->sig_src.fd, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (l->sig_src.fd < 0) {
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &l->sig_src};

		if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			ret = -errno;
			close(fd);
			return ret;
		}
		l->sig_src.fd = fd;
	}
	l->sig_mask = mask;
	l->sigs[signo].cb = cb;
	l->sigs[signo].arg = arg;
	return 0;
}

static void loop_dispatch_timer(struct loop *l, struct loop_timer *t)
{
	uint64_t ticks;
	ssize_t n;

	n = read(t->src.fd, &ticks, sizeof(ticks));
	/* EAGAIN: re-armed or disarmed since epoll saw it; nothing is due. */
	if (n != (ssize_t)sizeof(ticks))
		return;
	t->cb(l, t, t->arg);
}

static void loop_dispatch_signals(struct loop *l)
{
	struct signalfd_siginfo si;

	/* Drain every pending signal; callbacks may delete other sources but not this one. */
	for (;;) {
		ssize_t n = read(l->sig_src.fd, &si, sizeof(si));
		int signo;

		if (n < 0 && errno == EINTR)
			continue;
		if (n != (ssize_t)sizeof(si))
			return;
		signo = (int)si.ssi_signo;
		if (signo > 0 && signo < _NSIG && l->sigs[signo].cb)
			l->sigs[signo].cb(l, signo, l->sigs[signo].arg);
	}
}

static void loop_drain_stop(struct loop *l)
{
	uint64_t v;

	while (read(l->stop_src.fd, &v, sizeof(v)) < 0 && errno == EINTR)
		;
}

int loop_run_once(struct loop *l, int timeout_ms)
{
	struct epoll_event evs[LOOP_MAX_EVENTS];
	int n, i;

	if (!l)
		return -EINVAL;
	n = epoll_wait(l->epfd, evs, LOOP_MAX_EVENTS, timeout_ms);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	l->dispatch_depth++;
	for (i = 0; i < n; i++) {
		struct loop_src *src = evs[i].data.ptr;

		if (src->dead)
			continue; /* deleted by an earlier callback of this batch */
		switch (src->kind) {
		case LOOP_SRC_FD:
			src->cb(l, src->fd, evs[i].events, src->arg);
			break;
		case LOOP_SRC_TIMER:
			loop_dispatch_timer(l, (struct loop_timer *)src);
			break;
		case LOOP_SRC_SIGNAL:
			loop_dispatch_signals(l);
			break;
		case LOOP_SRC_STOP:
			loop_drain_stop(l);
			break;
		}
	}
	/* A callback may run a nested round; only the outermost frees what was deleted. */
	if (--l->dispatch_depth == 0)
		loop_free_zombies(l);
	return 0;
}

int loop_run(struct loop *l)
{
	int ret;

	if (!l)
		return -EINVAL;
	while (!atomic_load(&l->stop)) {
		ret = loop_run_once(l, -1);
		if (ret)
			return ret;
	}
	return 0;
}

void loop_stop(struct loop *l)
{
	int saved_errno = errno; /* may run in a signal handler */
	uint64_t one = 1;

	if (!l)
		return;
	atomic_store(&l->stop, true);
	/* Wakes epoll_wait; EAGAIN means a wake-up is already pending, which is enough. */
	while (write(l->stop_src.fd, &one, sizeof(one)) < 0 && errno == EINTR)
		;
	errno = saved_errno;
}

bool loop_stopped(const struct loop *l)
{
	return l ? atomic_load(&l->stop) : true;
}
