/*
 * chardev: stdio (raw tty, restored on exit), pty, file and unix-socket-server backends
 * for the serial port and virtio-console, with input flow control on the main loop.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "chardev.h"
#include "log.h"
#include "loop.h"
#include "util.h"

#define CHARDEV_READ_MAX 4096

struct chardev {
	struct loop *l;
	enum vm_chardev_backend backend;
	char *id;
	char *path; /* socket path (unlinked on close) */
	char pty_path[64];
	int listen_fd; /* socket backend */
	int pty_slave; /* kept open so the master never reports hang-up */
	int kick_fd;   /* eventfd: chardev_input_ready from any thread */

	/* Loop thread only. */
	struct chardev_frontend fe;
	bool have_fe;
	bool in_watched; /* in_fd registered with the loop */
	bool in_eof;

	struct chardev *next_open; /* the open-chardev list (chardev_lookup) */
	/* in_fd/out_fd change only on the loop thread, under lock; writers read them under it. */
	pthread_mutex_t lock;
	int in_fd;
	int out_fd;
};

/* stdin's terminal settings before a stdio chardev made it raw; used by signal handlers. */
static struct termios saved_tty;
static volatile sig_atomic_t tty_saved;
static bool atexit_done;
/* Every open chardev, so devices can find theirs by id (set-up, main thread). */
static struct chardev *open_list;

struct chardev *chardev_lookup(const char *id)
{
	struct chardev *c;

	for (c = open_list; c; c = c->next_open)
		if (strcmp(c->id, id) == 0)
			return c;
	return NULL;
}

void chardev_restore_tty(void)
{
	if (tty_saved)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved_tty);
}

static void restore_tty_atexit(void)
{
	chardev_restore_tty();
}

static int stdio_make_raw(struct errmsg *e)
{
	struct termios t;

	if (!isatty(STDIN_FILENO))
		return 0;
	if (tcgetattr(STDIN_FILENO, &saved_tty) < 0) {
		errmsg_set(e, "chardev stdio: tcgetattr: %s", strerror(errno));
		return -errno;
	}
	t = saved_tty;
	/* Raw input (every byte to the guest, no echo, no line editing); keep ISIG so ^C
	 * still stops splitvm, and output processing so host newlines stay sane. */
	t.c_iflag &= ~(tcflag_t)(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON);
	t.c_oflag |= OPOST;
	t.c_lflag &= ~(tcflag_t)(ECHO | ECHONL | ICANON | IEXTEN);
	t.c_cflag &= ~(tcflag_t)(CSIZE | PARENB);
	t.c_cflag |= CS8;
	t.c_cc[VMIN] = 1;
	t.c_cc[VTIME] = 0;
	tty_saved = 1;
	if (!atexit_done) {
		atexit(restore_tty_atexit);
		atexit_done = true;
	}
	if (tcsetattr(STDIN_FILENO, TCSANOW, &t) < 0) {
		tty_saved = 0;
		errmsg_set(e, "chardev stdio: tcsetattr: %s", strerror(errno));
		return -errno;
	}
	return 0;
}

/* ---- input -------------------------------------------------------------------------------- */

static void in_cb(struct loop *l, int fd, uint32_t events, void *arg);

static void in_unwatch(struct chardev *c)
{
	if (c->in_watched) {
		loop_del_fd(c->l, c->in_fd);
		c->in_watched = false;
	}
}

/* Watches in_fd when there is one, a frontend with room, and no EOF yet. */
static void in_update(struct chardev *c)
{
	bool want = c->in_fd >= 0 && c->have_fe && !c->in_eof;

	if (want && c->fe.can_read && c->fe.can_read(c->fe.opaque) == 0)
		want = false;
	if (want && !c->in_watched) {
		if (loop_add_fd(c->l, c->in_fd, EPOLLIN, in_cb, c) == 0)
			c->in_watched = true;
		else if (c->backend == VM_CHARDEV_STDIO)
			c->in_eof = true; /* stdin is a regular file or /dev/null: no input */
	} else if (!want) {
		in_unwatch(c);
	}
}

static void socket_drop_client(struct chardev *c);

static void in_cb(struct loop *l, int fd, uint32_t events, void *arg)
{
	struct chardev *c = arg;
	uint8_t buf[CHARDEV_READ_MAX];
	size_t room = sizeof(buf);
	ssize_t n;

	if (!c->have_fe) {
		in_update(c);
		return;
	}
	if (c->fe.can_read) {
		room = c->fe.can_read(c->fe.opaque);
		if (room == 0) {
			in_update(c);
			return;
		}
		if (room > sizeof(buf))
			room = sizeof(buf);
	}
	n = read(fd, buf, room);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		if (c->backend == VM_CHARDEV_SOCKET) {
			socket_drop_client(c);
		} else {
			c->in_eof = true;
			in_update(c);
		}
		return;
	}
	c->fe.read(c->fe.opaque, buf, (size_t)n);
}

static void kick_cb(struct loop *l, int fd, uint32_t events, void *arg)
{
	struct chardev *c = arg;
	uint64_t v;

	if (read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_debug("chardev %s: eventfd read: %s", c->id, strerror(errno));
	in_update(c);
}

void chardev_input_ready(struct chardev *c)
{
	uint64_t one = 1;

	if (write(c->kick_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_debug("chardev %s: eventfd write: %s", c->id, strerror(errno));
}

void chardev_set_frontend(struct chardev *c, const struct chardev_frontend *fe)
{
	if (fe) {
		c->fe = *fe;
		c->have_fe = fe->read != NULL;
	} else {
		memset(&c->fe, 0, sizeof(c->fe));
		c->have_fe = false;
	}
	in_update(c);
}

/* ---- output ------------------------------------------------------------------------------- */

/* All of buf to a file or terminal: plain write(2) (one syscall per chunk, and within the
 * seccomp allowlist), waiting in poll while a non-blocking fd is full. */
static int write_all(int fd, const uint8_t *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				struct pollfd p = {.fd = fd, .events = POLLOUT};

				if (poll(&p, 1, -1) < 0 && errno != EINTR)
					return -errno;
				continue;
			}
			return -errno;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

ssize_t chardev_write(struct chardev *c, const void *buf, size_t len)
{
	ssize_t ret;
	int fd;

	pthread_mutex_lock(&c->lock);
	fd = c->out_fd;
	if (fd < 0) {
		ret = 0; /* nobody connected: the bytes go nowhere, like an unplugged line */
		goto out;
	}
	if (c->backend == VM_CHARDEV_STDIO || c->backend == VM_CHARDEV_FILE) {
		int r = write_all(fd, buf, len);

		ret = r ? r : (ssize_t)len;
		goto out;
	}
	/* pty, socket: never block a vCPU on a slow or absent reader. */
	if (c->backend == VM_CHARDEV_SOCKET)
		ret = send(fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
	else
		ret = write(fd, buf, len);
	if (ret < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EIO)
			ret = 0;
		else if (errno == EPIPE || errno == ECONNRESET)
			ret = 0; /* the client left; the loop thread notices on read */
		else
			ret = -errno;
	}
out:
	pthread_mutex_unlock(&c->lock);
	return ret;
}

/* ---- socket backend ------------------------------------------------------------------------ */

static void listen_cb(struct loop *l, int fd, uint32_t events, void *arg);

static void socket_set_client(struct chardev *c, int cfd)
{
	pthread_mutex_lock(&c->lock);
	c->in_fd = cfd;
	c->out_fd = cfd;
	pthread_mutex_unlock(&c->lock);
}

static void socket_drop_client(struct chardev *c)
{
	int fd = c->in_fd;

	in_unwatch(c);
	socket_set_client(c, -1);
	if (fd >= 0)
		close(fd);
	/* Accept the next client. */
	if (loop_add_fd(c->l, c->listen_fd, EPOLLIN, listen_cb, c))
		log_error("chardev %s: cannot watch %s for clients", c->id, c->path);
	log_info("chardev %s: client disconnected from %s", c->id, c->path);
}

static void listen_cb(struct loop *l, int fd, uint32_t events, void *arg)
{
	struct chardev *c = arg;
	int cfd;

	cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (cfd < 0) {
		if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
			log_warn("chardev %s: accept on %s: %s", c->id, c->path, strerror(errno));
		return;
	}
	/* One client at a time: later ones wait in the backlog until this one leaves. */
	loop_del_fd(c->l, c->listen_fd);
	c->in_eof = false;
	socket_set_client(c, cfd);
	in_update(c);
	log_info("chardev %s: client connected to %s", c->id, c->path);
}

static int socket_open(struct chardev *c, const char *path, struct errmsg *e)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct stat st;
	int fd, ret;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		errmsg_set(e, "chardev %s: socket path %s is too long", c->id, path);
		return -ENAMETOOLONG;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			errmsg_set(e, "chardev %s: %s exists and is not a socket", c->id, path);
			return -EEXIST;
		}
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			close(fd);
			errmsg_set(e, "chardev %s: %s: another process is listening on it", c->id,
				   path);
			return -EADDRINUSE;
		}
		if (fd >= 0)
			close(fd);
		unlink(path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		ret = -errno;
		errmsg_set(e, "chardev %s: socket: %s", c->id, strerror(errno));
		return ret;
	}
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		ret = -errno;
		errmsg_set(e, "chardev %s: bind %s: %s", c->id, path, strerror(errno));
		close(fd);
		return ret;
	}
	if (chmod(path, 0600) < 0 || listen(fd, 4) < 0) {
		ret = -errno;
		errmsg_set(e, "chardev %s: listen on %s: %s", c->id, path, strerror(errno));
		unlink(path);
		close(fd);
		return ret;
	}
	c->path = str_dup(path);
	if (!c->path) {
		unlink(path);
		close(fd);
		errmsg_set(e, "chardev %s: out of memory", c->id);
		return -ENOMEM;
	}
	c->listen_fd = fd;
	ret = loop_add_fd(c->l, fd, EPOLLIN, listen_cb, c);
	if (ret) {
		errmsg_set(e, "chardev %s: event loop: %s", c->id, strerror(-ret));
		return ret;
	}
	return 0;
}

/* ---- pty backend ------------------------------------------------------------------------------ */

static int pty_open(struct chardev *c, struct errmsg *e)
{
	struct termios t;
	int m, ret;

	m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (m < 0) {
		ret = -errno;
		errmsg_set(e, "chardev %s: posix_openpt: %s", c->id, strerror(errno));
		return ret;
	}
	if (grantpt(m) < 0 || unlockpt(m) < 0 || ptsname_r(m, c->pty_path, sizeof(c->pty_path))) {
		ret = -errno;
		errmsg_set(e, "chardev %s: pty set-up: %s", c->id, strerror(errno));
		close(m);
		return ret;
	}
	/* A raw line: the guest's bytes reach the reader unchanged. */
	if (tcgetattr(m, &t) == 0) {
		cfmakeraw(&t);
		tcsetattr(m, TCSANOW, &t);
	}
	c->pty_slave = open(c->pty_path, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (c->pty_slave < 0) {
		ret = -errno;
		errmsg_set(e, "chardev %s: open %s: %s", c->id, c->pty_path, strerror(errno));
		close(m);
		return ret;
	}
	ret = fd_set_nonblock(m, true);
	if (ret) {
		errmsg_set(e, "chardev %s: pty: %s", c->id, strerror(-ret));
		close(m);
		return ret;
	}
	c->in_fd = m;
	c->out_fd = m;
	/* QEMU prints this line too; scripts look for it. */
	fprintf(stderr, "char device redirected to %s (label %s)\n", c->pty_path, c->id);
	log_info("chardev %s: redirected to %s", c->id, c->pty_path);
	return 0;
}

/* ---- open / close ---------------------------------------------------------------------------- */

struct chardev *chardev_open(struct loop *l, const struct vm_chardev_config *cfg, struct errmsg *e)
{
	struct chardev *c = calloc(1, sizeof(*c));
	const char *id = cfg->id ? cfg->id : "?";
	int ret = -ENOMEM;

	if (!c) {
		errmsg_set(e, "chardev %s: out of memory", id);
		errno = ENOMEM;
		return NULL;
	}
	c->l = l;
	c->backend = cfg->backend;
	c->listen_fd = -1;
	c->pty_slave = -1;
	c->in_fd = -1;
	c->out_fd = -1;
	pthread_mutex_init(&c->lock, NULL);
	c->id = str_dup(id);
	c->kick_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (!c->id || c->kick_fd < 0) {
		ret = c->kick_fd < 0 ? -errno : -ENOMEM;
		errmsg_set(e, "chardev %s: %s", id, strerror(-ret));
		goto err;
	}
	ret = loop_add_fd(l, c->kick_fd, EPOLLIN, kick_cb, c);
	if (ret) {
		errmsg_set(e, "chardev %s: event loop: %s", id, strerror(-ret));
		close(c->kick_fd);
		c->kick_fd = -1;
		goto err;
	}
	switch (cfg->backend) {
	case VM_CHARDEV_STDIO:
		ret = stdio_make_raw(e);
		if (ret)
			goto err;
		c->in_fd = STDIN_FILENO;
		c->out_fd = STDOUT_FILENO;
		break;
	case VM_CHARDEV_PTY:
		ret = pty_open(c, e);
		if (ret)
			goto err;
		break;
	case VM_CHARDEV_FILE:
		if (!cfg->path) {
			errmsg_set(e, "chardev %s: file: no path", id);
			ret = -EINVAL;
			goto err;
		}
		c->out_fd = open(cfg->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		if (c->out_fd < 0) {
			ret = -errno;
			errmsg_set(e, "chardev %s: %s: %s", id, cfg->path, strerror(errno));
			goto err;
		}
		break;
	case VM_CHARDEV_SOCKET:
		if (!cfg->path) {
			errmsg_set(e, "chardev %s: socket: no path", id);
			ret = -EINVAL;
			goto err;
		}
		ret = socket_open(c, cfg->path, e);
		if (ret)
			goto err;
		break;
	default:
		errmsg_set(e, "chardev %s: unknown backend", id);
		ret = -EINVAL;
		goto err;
	}
	c->next_open = open_list;
	open_list = c;
	return c;

err:
	chardev_close(c);
	errno = -ret;
	return NULL;
}

void chardev_close(struct chardev *c)
{
	if (!c)
		return;
	for (struct chardev **pp = &open_list; *pp; pp = &(*pp)->next_open) {
		if (*pp == c) {
			*pp = c->next_open;
			break;
		}
	}
	in_unwatch(c);
	if (c->kick_fd >= 0) {
		loop_del_fd(c->l, c->kick_fd);
		close(c->kick_fd);
	}
	switch (c->backend) {
	case VM_CHARDEV_STDIO:
		chardev_restore_tty();
		tty_saved = 0;
		break;
	case VM_CHARDEV_PTY:
		if (c->in_fd >= 0)
			close(c->in_fd);
		if (c->pty_slave >= 0)
			close(c->pty_slave);
		break;
	case VM_CHARDEV_FILE:
		if (c->out_fd >= 0)
			close(c->out_fd);
		break;
	case VM_CHARDEV_SOCKET:
		if (c->in_fd >= 0)
			close(c->in_fd);
		if (c->listen_fd >= 0) {
			loop_del_fd(c->l, c->listen_fd);
			close(c->listen_fd);
			unlink(c->path);
		}
		break;
	}
	pthread_mutex_destroy(&c->lock);
	free(c->path);
	free(c->id);
	free(c);
}

const char *chardev_pty_path(const struct chardev *c)
{
	return c->backend == VM_CHARDEV_PTY ? c->pty_path : NULL;
}

const char *chardev_id(const struct chardev *c)
{
	return c->id;
}

bool chardev_connected(const struct chardev *c)
{
	if (c->backend != VM_CHARDEV_SOCKET)
		return true;
	return c->in_fd >= 0;
}
