/* loop: a small epoll event loop with fd callbacks, timerfd timers and signalfd signals. */
#ifndef SV_LOOP_H
#define SV_LOOP_H

#include <stdbool.h>
#include <stdint.h>

struct loop;
struct loop_timer;

/* events: EPOLLIN/EPOLLOUT/EPOLLERR/EPOLLHUP/EPOLLRDHUP bits as returned by epoll. */
typedef void (*loop_fd_cb)(struct loop *l, int fd, uint32_t events, void *arg);
typedef void (*loop_timer_cb)(struct loop *l, struct loop_timer *t, void *arg);
typedef void (*loop_signal_cb)(struct loop *l, int signo, void *arg);

/* NULL with errno on failure. Single-threaded: only the thread running loop_run
 * may call the other functions, except loop_stop which any thread may call. */
struct loop *loop_new(void);
void loop_free(struct loop *l);

/* Watches fd (level-triggered). One registration per fd. 0 or -errno. */
int loop_add_fd(struct loop *l, int fd, uint32_t events, loop_fd_cb cb, void *arg);
int loop_mod_fd(struct loop *l, int fd, uint32_t events);
/* Safe to call from inside any callback, including fd's own; no further
 * callbacks for fd are made after it returns. Does not close fd. */
int loop_del_fd(struct loop *l, int fd);

/* A timer firing after first_ms, then every interval_ms (0: once). NULL with errno.
 * A fired one-shot timer stays allocated (disarmed) until loop_del_timer or loop_free. */
struct loop_timer *loop_add_timer(struct loop *l, uint64_t first_ms, uint64_t interval_ms,
				  loop_timer_cb cb, void *arg);
/* Re-arms (first_ms 0 disarms). */
int loop_timer_set(struct loop_timer *t, uint64_t first_ms, uint64_t interval_ms);
/* Safe from inside callbacks, including the timer's own. */
void loop_del_timer(struct loop *l, struct loop_timer *t);

/* Blocks signo in the calling thread and delivers it through a signalfd. 0 or -errno
 * (-EEXIST if signo already has a callback, -EINVAL for SIGKILL/SIGSTOP/bad numbers).
 * Call it before starting threads, which inherit the mask; otherwise a process-directed
 * signal may go to a thread that has it unblocked. loop_free leaves signo blocked. */
int loop_add_signal(struct loop *l, int signo, loop_signal_cb cb, void *arg);

/* Runs until loop_stop. 0, or -errno if epoll itself failed. A stop is sticky:
 * after loop_stop, loop_run returns at once and loop_stopped stays true. */
int loop_run(struct loop *l);
/* Runs one round: waits at most timeout_ms (-1 forever), dispatches. */
int loop_run_once(struct loop *l, int timeout_ms);
/* Async-signal-safe and thread-safe (writes an eventfd). */
void loop_stop(struct loop *l);
bool loop_stopped(const struct loop *l);

#endif
