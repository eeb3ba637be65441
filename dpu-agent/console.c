/* console: the per-VM serial broker: holds the socket, rings the output, one client at a time. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "console.h"
#include "log.h"
#include "util.h"

struct console {
	struct hostsock hs;
	char name[64];
	char path[108];
	pthread_t thread;
	atomic_bool stop;
	atomic_bool serial_up; /* the thread holds the serial socket */
	pthread_mutex_t lock;
	int pending; /* under lock: a new client's fd, taken by the thread */
	bool busy;   /* under lock: a client is attached */
	/* Owned by the thread. */
	int serial;
	int client;
	char ring[CONSOLE_RING];
	size_t head, len;
};

static void ring_put(struct console *c, const char *p, size_t n)
{
	if (n >= CONSOLE_RING) {
		p += n - CONSOLE_RING;
		n = CONSOLE_RING;
	}
	for (size_t i = 0; i < n; i++)
		c->ring[(c->head + c->len + i) % CONSOLE_RING] = p[i];
	if (c->len + n > CONSOLE_RING) {
		c->head = (c->head + c->len + n - CONSOLE_RING) % CONSOLE_RING;
		c->len = CONSOLE_RING;
	} else {
		c->len += n;
	}
}

/* Replays the ring to a new client (blocking writes: a local socketpair). */
static int ring_replay(struct console *c, int fd)
{
	size_t first = c->len;

	if (c->head + first > CONSOLE_RING)
		first = CONSOLE_RING - c->head;
	if (write_full(fd, c->ring + c->head, first))
		return -EPIPE;
	if (c->len > first && write_full(fd, c->ring, c->len - first))
		return -EPIPE;
	return 0;
}

static void drop_client(struct console *c)
{
	if (c->client >= 0)
		close(c->client);
	c->client = -1;
	pthread_mutex_lock(&c->lock);
	c->busy = false;
	pthread_mutex_unlock(&c->lock);
}

static void *console_thread(void *arg)
{
	struct console *c = arg;
	char buf[16384];
	uint64_t next_try = 0;

	while (!atomic_load(&c->stop)) {
		struct pollfd p[2] = {{.fd = c->serial, .events = POLLIN},
				      {.fd = c->client, .events = POLLIN}};
		ssize_t n;
		int fd;

		pthread_mutex_lock(&c->lock);
		fd = c->pending;
		c->pending = -1;
		pthread_mutex_unlock(&c->lock);
		if (fd >= 0) {
			c->client = fd;
			if (ring_replay(c, fd))
				drop_client(c);
			continue;
		}
		if (c->serial < 0 && now_ms() >= next_try) {
			struct errmsg e;

			c->serial = hostsock_connect(&c->hs, c->path, &e);
			if (c->serial < 0) {
				c->serial = -1;
				next_try = now_ms() + 200;
			} else {
				atomic_store(&c->serial_up, true);
			}
			continue;
		}
		/* A short timeout: attaches and stop requests are noticed promptly. */
		if (poll(p, 2, 100) <= 0)
			continue;
		if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			n = read(c->serial, buf, sizeof(buf));
			if (n <= 0) {
				atomic_store(&c->serial_up, false);
				close(c->serial);
				c->serial = -1;
				next_try = now_ms() + 200;
				continue;
			}
			ring_put(c, buf, (size_t)n);
			if (c->client >= 0 && write_full(c->client, buf, (size_t)n))
				drop_client(c);
		}
		if (c->client >= 0 && (p[1].revents & (POLLIN | POLLHUP | POLLERR))) {
			n = read(c->client, buf, sizeof(buf));
			if (n <= 0) {
				drop_client(c);
				continue;
			}
			if (c->serial >= 0 && write_full(c->serial, buf, (size_t)n))
				log_warn("%s: console input lost: serial socket write failed",
					 c->name);
		}
	}
	if (c->serial >= 0)
		close(c->serial);
	if (c->client >= 0)
		close(c->client);
	return NULL;
}

struct console *console_start(const struct hostsock *hs, const char *name, const char *path)
{
	struct console *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->hs = *hs;
	str_copy(c->name, sizeof(c->name), name);
	if (str_copy(c->path, sizeof(c->path), path)) {
		free(c);
		errno = ENAMETOOLONG;
		return NULL;
	}
	c->serial = c->client = c->pending = -1;
	pthread_mutex_init(&c->lock, NULL);
	if (pthread_create(&c->thread, NULL, console_thread, c)) {
		pthread_mutex_destroy(&c->lock);
		free(c);
		errno = EAGAIN;
		return NULL;
	}
	return c;
}

int console_attach(struct console *c, struct errmsg *e)
{
	int sv[2];

	pthread_mutex_lock(&c->lock);
	if (c->busy) {
		pthread_mutex_unlock(&c->lock);
		errmsg_set(e, "operation failed: Active console session exists for this domain");
		return -EBUSY;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		pthread_mutex_unlock(&c->lock);
		errmsg_set(e, "%s: console: %s", c->name, strerror(errno));
		return -errno;
	}
	c->busy = true;
	c->pending = sv[0];
	pthread_mutex_unlock(&c->lock);
	return sv[1];
}

int console_wait_serial(struct console *c, int timeout_ms)
{
	uint64_t deadline = now_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);

	while (!atomic_load(&c->serial_up)) {
		if (now_ms() >= deadline)
			return -ETIMEDOUT;
		/* the thread connects within a few milliseconds of console_start */
		poll(NULL, 0, 5);
	}
	return 0;
}

void console_stop(struct console *c)
{
	if (!c)
		return;
	atomic_store(&c->stop, true);
	pthread_join(c->thread, NULL);
	if (c->pending >= 0)
		close(c->pending);
	pthread_mutex_destroy(&c->lock);
	free(c);
}
