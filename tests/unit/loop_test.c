/* Unit tests for lib/loop: real pipes, timerfd timers, signalfd signals, stop from anywhere. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "loop.h"

/* Rounds to wait for something that should happen within milliseconds. */
#define ROUNDS	 200
#define ROUND_MS 50

struct hits {
	int n;
	int last_fd;
	uint32_t last_events;
	struct loop_timer *timer;
	int other_fd;
	struct loop_timer *other_timer;
	int limit;
	int signos[8];
};

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void count_fd(struct loop *l, int fd, uint32_t events, void *arg)
{
	struct hits *h = arg;

	h->n++;
	h->last_fd = fd;
	h->last_events = events;
}

static void make_pipe(int p[2])
{
	assert_int_equal(pipe(p), 0);
}

static void write_byte(int fd)
{
	assert_int_equal(write(fd, "x", 1), 1);
}

static void test_loop_calls_fd_callback_when_pipe_is_readable(void **state)
{
	struct loop *l = loop_new();
	struct hits h = {0};
	int p[2];

	assert_non_null(l);
	make_pipe(p);
	assert_int_equal(loop_add_fd(l, p[0], EPOLLIN, count_fd, &h), 0);
	assert_int_equal(loop_run_once(l, 0), 0);
	assert_int_equal(h.n, 0);
	write_byte(p[1]);
	assert_int_equal(loop_run_once(l, 1000), 0);
	assert_int_equal(h.n, 1);
	assert_int_equal(h.last_fd, p[0]);
	assert_true(h.last_events & EPOLLIN);
	loop_free(l);
	close(p[0]);
	close(p[1]);
}

static void test_loop_is_level_triggered(void **state)
{
	struct loop *l = loop_new();
	struct hits h = {0};
	int p[2];

	make_pipe(p);
	/* EPOLLET is asked for but not granted: unread data keeps calling back. */
	assert_int_equal(loop_add_fd(l, p[0], EPOLLIN | EPOLLET, count_fd, &h), 0);
	write_byte(p[1]);
	for (int i = 0; i < 3; i++)
		assert_int_equal(loop_run_once(l, 1000), 0);
	assert_int_equal(h.n, 3);
	loop_free(l);
	close(p[0]);
	close(p[1]);
}

static void test_loop_mod_fd_changes_watched_events(void **state)
{
	struct loop *l = loop_new();
	struct hits h = {0};
	int p[2];

	make_pipe(p);
	assert_int_equal(loop_add_fd(l, p[1], 0, count_fd, &h), 0);
	assert_int_equal(loop_run_once(l, 0), 0);
	assert_int_equal(h.n, 0);
	assert_int_equal(loop_mod_fd(l, p[1], EPOLLOUT), 0);
	assert_int_equal(loop_run_once(l, 1000), 0);
	assert_int_equal(h.n, 1);
	assert_true(h.last_events & EPOLLOUT);
	assert_int_equal(loop_mod_fd(l, p[0], EPOLLIN), -ENOENT);
	loop_free(l);
	close(p[0]);
	close(p[1]);
}

static void test_loop_refuses_second_registration_and_unknown_fds(void **state)
{
	struct loop *l = loop_new();
	struct hits h = {0};
	int p[2];

	make_pipe(p);
	assert_int_equal(loop_add_fd(l, p[0], EPOLLIN, count_fd, &h), 0);
	assert_int_equal(loop_add_fd(l, p[0], EPOLLIN, count_fd, &h), -EEXIST);
	assert_int_equal(loop_del_fd(l, p[1]), -ENOENT);
	assert_int_equal(loop_del_fd(l, 100000), -ENOENT);
	assert_int_equal(loop_add_fd(l, -1, EPOLLIN, count_fd, &h), -EINVAL);
	assert_int_equal(loop_add_fd(l, p[1], EPOLLOUT, NULL, &h), -EINVAL);
	assert_int_equal(loop_del_fd(l, p[0]), 0);
	assert_int_equal(loop_del_fd(l, p[0]), -ENOENT);
	loop_free(l);
	close(p[0]);
	close(p[1]);
}

static void test_loop_reports_hangup(void **state)
{
	struct loop *l = loop_new();
	struct hits h = {0};
	int p[2];

	make_pipe(p);
	assert_int_equal(loop_add_fd(l, p[0], EPOLLIN, count_fd, &h), 0);
	close(p[1]);
	assert_int_equal(loop_run_once(l, 1000), 0);
	assert_int_equal(h.n, 1);
	assert_true(h.last_events & EPOLLHUP);
	loop_free(l);
	close(p[0]);
}

static void del_self(struct loop *l, int fd, uint32_t events, void *arg)
{
	struct hits *h = arg;

	h->n++;
	assert_int_equal(loop_del_fd(l, fd), 0);
}

static void test_loop_fd_callback_may_delete_its_own_fd(void **state)
{
	struct loop *l = loop_new();
	struct hits h = {0}, other = {0};
	int p[2], q[2];

	make_pipe(p);
	make_pipe(q);
	assert_int_equal(loop_add_fd(l, p[0], EPOLLIN, del_self, &h), 0);
	assert_int_equal(loop_add_fd(l, q[0], EPOLLIN, count_fd, &other), 0);
	write_byte(p[1]);
	write_byte(q[1]);
	for (int i = 0; i < 3; i++)
		assert_int_equal(loop_run_once(l, 100), 0);
	assert_int_equal(h.n, 1);
	assert_int_equal(other.n, 3);
	loop_free(l);
	close(p[0]);
	close(p[1]);
	close(q[0]);
	close(q[1]);
}

/* Two ready fds share this: whichever runs first deletes and closes the other. */
struct pair {
	int n;
	int fd_a, fd_b;
	struct loop_timer *ta, *tb;
	int closed_fd;
	bool deleted;
};

static void del_other(struct loop *l, int fd, uint32_t events, void *arg)
{
	struct pair *pr = arg;
	int other = fd == pr->fd_a ? pr->fd_b : pr->fd_a;

	pr->n++;
	if (pr->deleted)
		return;
	assert_int_equal(loop_del_fd(l, other), 0);
	close(other);
	pr->closed_fd = other;
	pr->deleted = true;
}

static void test_loop_callback_may_delete_another_ready_fd(void **state)
{
	struct loop *l = loop_new();
	struct pair pr = {0};
	int p[2], q[2];

	make_pipe(p);
	make_pipe(q);
	pr.fd_a = p[0];
	pr.fd_b = q[0];
	assert_int_equal(loop_add_fd(l, p[0], EPOLLIN, del_other, &pr), 0);
	assert_int_equal(loop_add_fd(l, q[0], EPOLLIN, del_other, &pr), 0);
	write_byte(p[1]);
	write_byte(q[1]);
	/* Both are ready in one batch: the second's pending event must be skipped. */
	assert_int_equal(loop_run_once(l, 1000), 0);
	assert_int_equal(pr.n, 1);
	for (int i = 0; i < 2; i++)
		assert_int_equal(loop_run_once(l, 50), 0);
	assert_int_equal(pr.n, 3); /* the survivor, level-triggered */
	loop_free(l);
	close(pr.closed_fd == p[0] ? q[0] : p[0]);
	close(p[1]);
	close(q[1]);
}

struct reuse {
	int victim;
	int new_pipe[2];
	struct hits victim_hits;
	struct hits new_hits;
	int n;
};

static void del_and_reuse(struct loop *l, int fd, uint32_t events, void *arg)
{
	struct reuse *r = arg;
	char c;

	r->n++;
	assert_int_equal(read(fd, &c, 1), 1);
	if (r->victim < 0)
		return;
	assert_int_equal(loop_del_fd(l, r->victim), 0);
	close(r->victim);
	/* the freed number is handed out again at once */
	make_pipe(r->new_pipe);
	assert_int_equal(r->new_pipe[0], r->victim);
	assert_int_equal(loop_add_fd(l, r->new_pipe[0], EPOLLIN, count_fd, &r->new_hits), 0);
	r->victim = -1;
}

static void test_loop_stale_event_is_not_delivered_to_a_reused_fd_number(void **state)
{
	struct loop *l = loop_new();
	struct reuse r = {0};
	int p[2], q[2];

	make_pipe(q); /* lower numbers: q[0] is the lowest free number once q[1] and q[0] close */
	make_pipe(p);
	/* p becomes ready first, then q (hang-up): epoll's ready list is FIFO, so p's
	 * callback runs first and deletes q while q's event waits in the same batch. */
	assert_int_equal(loop_add_fd(l, p[0], EPOLLIN, del_and_reuse, &r), 0);
	write_byte(p[1]);
	r.victim = q[0];
	close(q[1]);
	assert_int_equal(loop_add_fd(l, q[0], EPOLLIN, count_fd, &r.victim_hits), 0);
	assert_int_equal(loop_run_once(l, 1000), 0);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.victim_hits.n, 0);
	/* the new registration on the reused number did not get q's stale event */
	assert_int_equal(r.new_hits.n, 0);
	write_byte(r.new_pipe[1]);
	assert_int_equal(loop_run_once(l, 1000), 0);
	assert_int_equal(r.new_hits.n, 1);
	loop_free(l);
	close(p[0]);
	close(p[1]);
	close(r.new_pipe[0]);
	close(r.new_pipe[1]);
}

static void test_loop_accepts_new_fd_with_number_of_one_closed_without_del(void **state)
{
	struct loop *l = loop_new();
	struct hits h1 = {0}, h2 = {0};
	int p[2], q[2];

	make_pipe(p);
	assert_int_equal(loop_add_fd(l, p[0], EPOLLIN, count_fd, &h1), 0);
	close(p[0]);
	close(p[1]);
	make_pipe(q);
	assert_int_equal(q[0], p[0]);
	assert_int_equal(loop_add_fd(l, q[0], EPOLLIN, count_fd, &h2), 0);
	write_byte(q[1]);
	assert_int_equal(loop_run_once(l, 1000), 0);
	assert_int_equal(h1.n, 0);
	assert_int_equal(h2.n, 1);
	loop_free(l);
	close(q[0]);
	close(q[1]);
}

static void count_timer(struct loop *l, struct loop_timer *t, void *arg)
{
	struct hits *h = arg;

	h->n++;
	if (h->limit && h->n >= h->limit)
		loop_del_timer(l, t);
}

/* Runs rounds until *n reaches want (or ROUNDS pass). */
static void run_until(struct loop *l, const int *n, int want)
{
	for (int i = 0; i < ROUNDS && *n < want; i++)
		assert_int_equal(loop_run_once(l, ROUND_MS), 0);
}

static void test_loop_one_shot_timer_fires_once(void **state)
{
	struct loop *l = loop_new();
	struct hits h = {0};
	struct loop_timer *t;

	t = loop_add_timer(l, 5, 0, count_timer, &h);
	assert_non_null(t);
	run_until(l, &h.n, 1);
	assert_int_equal(h.n, 1);
	for (int i = 0; i < 3; i++)
		assert_int_equal(loop_run_once(l, 20), 0);
	assert_int_equal(h.n, 1);
	loop_free(l); /* frees the disarmed timer too */
}

static void test_loop_periodic_timer_may_delete_itself(void **state)
{
	struct loop *l = loop_new();
	struct hits h = {.limit = 3};

	assert_non_null(loop_add_timer(l, 1, 1, count_timer, &h));
	run_until(l, &h.n, 3);
	assert_int_equal(h.n, 3);
	for (int i = 0; i < 5; i++)
		assert_int_equal(loop_run_once(l, 10), 0);
	assert_int_equal(h.n, 3);
	loop_free(l);
}

static void del_other_timer(struct loop *l, struct loop_timer *t, void *arg)
{
	struct pair *pr = arg;

	pr->n++;
	if (pr->deleted)
		return;
	loop_del_timer(l, t == pr->ta ? pr->tb : pr->ta);
	pr->deleted = true;
}

static void test_loop_timer_callback_may_delete_another_due_timer(void **state)
{
	struct loop *l = loop_new();
	struct pair pr = {0};

	pr.ta = loop_add_timer(l, 1, 0, del_other_timer, &pr);
	pr.tb = loop_add_timer(l, 1, 0, del_other_timer, &pr);
	assert_non_null(pr.ta);
	assert_non_null(pr.tb);
	sleep_ms(20); /* both are due before the round starts */
	assert_int_equal(loop_run_once(l, 1000), 0);
	assert_int_equal(pr.n, 1);
	for (int i = 0; i < 3; i++)
		assert_int_equal(loop_run_once(l, 10), 0);
	assert_int_equal(pr.n, 1);
	loop_free(l);
}

static void test_loop_timer_set_rearms_and_disarms(void **state)
{
	struct loop *l = loop_new();
	struct hits h = {0};
	struct loop_timer *t;

	t = loop_add_timer(l, 0, 0, count_timer, &h); /* created disarmed */
	assert_non_null(t);
	assert_int_equal(loop_run_once(l, 20), 0);
	assert_int_equal(h.n, 0);
	assert_int_equal(loop_timer_set(t, 1, 0), 0);
	run_until(l, &h.n, 1);
	assert_int_equal(h.n, 1);
	/* re-arm the fired one-shot */
	assert_int_equal(loop_timer_set(t, 1, 0), 0);
	run_until(l, &h.n, 2);
	assert_int_equal(h.n, 2);
	/* arm, let it expire, then disarm before dispatch: no stale tick */
	assert_int_equal(loop_timer_set(t, 1, 0), 0);
	sleep_ms(20);
	assert_int_equal(loop_timer_set(t, 0, 0), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(loop_run_once(l, 10), 0);
	assert_int_equal(h.n, 2);
	loop_del_timer(l, t);
	loop_free(l);
}

static void count_signal(struct loop *l, int signo, void *arg)
{
	struct hits *h = arg;

	if (h->n < (int)(sizeof(h->signos) / sizeof(h->signos[0])))
		h->signos[h->n] = signo;
	h->n++;
}

static void test_loop_delivers_raised_signals_through_signalfd(void **state)
{
	struct loop *l = loop_new();
	struct hits h = {0};

	assert_int_equal(loop_add_signal(l, SIGUSR1, count_signal, &h), 0);
	assert_int_equal(loop_add_signal(l, SIGUSR2, count_signal, &h), 0);
	assert_int_equal(raise(SIGUSR1), 0); /* blocked: would otherwise kill the test */
	run_until(l, &h.n, 1);
	assert_int_equal(h.n, 1);
	assert_int_equal(h.signos[0], SIGUSR1);
	assert_int_equal(raise(SIGUSR2), 0);
	assert_int_equal(raise(SIGUSR1), 0);
	run_until(l, &h.n, 3);
	assert_int_equal(h.n, 3);
	assert_true((h.signos[1] == SIGUSR1 && h.signos[2] == SIGUSR2) ||
		    (h.signos[1] == SIGUSR2 && h.signos[2] == SIGUSR1));
	loop_free(l);
}

static void test_loop_refuses_bad_or_duplicate_signals(void **state)
{
	struct loop *l = loop_new();
	struct hits h = {0};

	assert_int_equal(loop_add_signal(l, SIGKILL, count_signal, &h), -EINVAL);
	assert_int_equal(loop_add_signal(l, SIGSTOP, count_signal, &h), -EINVAL);
	assert_int_equal(loop_add_signal(l, 0, count_signal, &h), -EINVAL);
	assert_int_equal(loop_add_signal(l, 100000, count_signal, &h), -EINVAL);
	assert_int_equal(loop_add_signal(l, SIGHUP, count_signal, &h), 0);
	assert_int_equal(loop_add_signal(l, SIGHUP, count_signal, &h), -EEXIST);
	loop_free(l);
}

static void *stop_later(void *arg)
{
	sleep_ms(30);
	loop_stop(arg);
	return NULL;
}

static void test_loop_stop_from_another_thread_wakes_blocked_run(void **state)
{
	struct loop *l = loop_new();
	pthread_t th;

	assert_false(loop_stopped(l));
	assert_int_equal(pthread_create(&th, NULL, stop_later, l), 0);
	/* Blocks in epoll_wait(-1) with nothing else registered: only the eventfd wakes it
	 * (the alarm set in main kills the test if it never does). */
	assert_int_equal(loop_run(l), 0);
	assert_true(loop_stopped(l));
	assert_int_equal(pthread_join(th, NULL), 0);
	loop_free(l);
}

static struct loop *handler_loop;

static void stop_handler(int signo)
{
	loop_stop(handler_loop);
}

static void raise_from_timer(struct loop *l, struct loop_timer *t, void *arg)
{
	assert_int_equal(raise(SIGWINCH), 0); /* the handler runs before raise returns */
}

static void test_loop_stop_is_async_signal_safe_from_a_handler(void **state)
{
	struct sigaction sa = {.sa_handler = stop_handler}, old;
	struct loop *l = loop_new();

	handler_loop = l;
	sigemptyset(&sa.sa_mask);
	assert_int_equal(sigaction(SIGWINCH, &sa, &old), 0);
	assert_non_null(loop_add_timer(l, 1, 0, raise_from_timer, NULL));
	assert_int_equal(loop_run(l), 0);
	assert_true(loop_stopped(l));
	assert_int_equal(sigaction(SIGWINCH, &old, NULL), 0);
	loop_free(l);
}

static void stop_on_signal(struct loop *l, int signo, void *arg)
{
	*(int *)arg = signo;
	loop_stop(l);
}

static void test_loop_run_stops_from_a_signal_callback(void **state)
{
	struct loop *l = loop_new();
	int got = 0;

	assert_int_equal(loop_add_signal(l, SIGTERM, stop_on_signal, &got), 0);
	assert_int_equal(raise(SIGTERM), 0);
	assert_int_equal(loop_run(l), 0);
	assert_int_equal(got, SIGTERM);
	loop_free(l);
}

static void test_loop_stop_before_run_is_sticky(void **state)
{
	struct loop *l = loop_new();

	loop_stop(l);
	loop_stop(l);
	assert_true(loop_stopped(l));
	assert_int_equal(loop_run(l), 0);
	assert_true(loop_stopped(l));
	loop_free(l);
}

static void del_fd_from_timer(struct loop *l, struct loop_timer *t, void *arg)
{
	struct hits *h = arg;

	h->n++;
	if (h->other_fd >= 0) {
		assert_int_equal(loop_del_fd(l, h->other_fd), 0);
		h->other_fd = -1;
	}
	loop_del_timer(l, t);
}

static void del_timer_from_fd(struct loop *l, int fd, uint32_t events, void *arg)
{
	struct hits *h = arg;

	h->n++;
	if (h->other_timer) {
		loop_del_timer(l, h->other_timer);
		h->other_timer = NULL;
	}
	assert_int_equal(loop_del_fd(l, fd), 0);
}

static void test_loop_timer_and_fd_may_delete_each_other_in_one_batch(void **state)
{
	struct loop *l = loop_new();
	struct hits th = {0}, fh = {0};
	struct loop_timer *t;
	int p[2];

	make_pipe(p);
	t = loop_add_timer(l, 1, 0, del_fd_from_timer, &th);
	assert_non_null(t);
	th.other_fd = p[0];
	fh.other_timer = t;
	assert_int_equal(loop_add_fd(l, p[0], EPOLLIN, del_timer_from_fd, &fh), 0);
	write_byte(p[1]);
	sleep_ms(20);
	assert_int_equal(loop_run_once(l, 1000), 0);
	assert_int_equal(th.n + fh.n, 1);
	for (int i = 0; i < 3; i++)
		assert_int_equal(loop_run_once(l, 10), 0);
	assert_int_equal(th.n + fh.n, 1);
	loop_free(l);
	close(p[0]);
	close(p[1]);
}

static void test_loop_free_releases_live_registrations(void **state)
{
	struct loop *l = loop_new();
	struct hits h = {0};
	int p[2];

	make_pipe(p);
	assert_int_equal(loop_add_fd(l, p[0], EPOLLIN, count_fd, &h), 0);
	assert_non_null(loop_add_timer(l, 100000, 1000, count_timer, &h));
	assert_non_null(loop_add_timer(l, 1, 0, count_timer, &h));
	assert_int_equal(loop_add_signal(l, SIGUSR1, count_signal, &h), 0);
	loop_free(l); /* LeakSanitizer checks the rest */
	/* the fd is still the caller's */
	write_byte(p[1]);
	close(p[0]);
	close(p[1]);
	loop_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_loop_calls_fd_callback_when_pipe_is_readable),
		cmocka_unit_test(test_loop_is_level_triggered),
		cmocka_unit_test(test_loop_mod_fd_changes_watched_events),
		cmocka_unit_test(test_loop_refuses_second_registration_and_unknown_fds),
		cmocka_unit_test(test_loop_reports_hangup),
		cmocka_unit_test(test_loop_fd_callback_may_delete_its_own_fd),
		cmocka_unit_test(test_loop_callback_may_delete_another_ready_fd),
		cmocka_unit_test(test_loop_stale_event_is_not_delivered_to_a_reused_fd_number),
		cmocka_unit_test(test_loop_accepts_new_fd_with_number_of_one_closed_without_del),
		cmocka_unit_test(test_loop_one_shot_timer_fires_once),
		cmocka_unit_test(test_loop_periodic_timer_may_delete_itself),
		cmocka_unit_test(test_loop_timer_callback_may_delete_another_due_timer),
		cmocka_unit_test(test_loop_timer_set_rearms_and_disarms),
		cmocka_unit_test(test_loop_delivers_raised_signals_through_signalfd),
		cmocka_unit_test(test_loop_refuses_bad_or_duplicate_signals),
		cmocka_unit_test(test_loop_stop_from_another_thread_wakes_blocked_run),
		cmocka_unit_test(test_loop_stop_is_async_signal_safe_from_a_handler),
		cmocka_unit_test(test_loop_run_stops_from_a_signal_callback),
		cmocka_unit_test(test_loop_stop_before_run_is_sticky),
		cmocka_unit_test(test_loop_timer_and_fd_may_delete_each_other_in_one_batch),
		cmocka_unit_test(test_loop_free_releases_live_registrations),
	};

	/* A loop that never wakes must fail the test run, not hang it. */
	alarm(60);
	return cmocka_run_group_tests_name("loop", tests, NULL, NULL);
}
