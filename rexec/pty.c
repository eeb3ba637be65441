/* rexec pty: pseudo-terminal allocation on the server and raw mode on the client. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "pty.h"

int rexec_pty_open(uint16_t rows, uint16_t cols, char *name, size_t namelen)
{
	int fd = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
	int ret;

	if (fd < 0)
		return -errno;
	if (grantpt(fd) < 0 || unlockpt(fd) < 0 || ptsname_r(fd, name, namelen) != 0) {
		ret = -errno;
		close(fd);
		return ret ? ret : -EIO;
	}
	if (rows && cols) {
		ret = rexec_pty_resize(fd, rows, cols);
		if (ret) {
			close(fd);
			return ret;
		}
	}
	return fd;
}

int rexec_pty_attach_child(const char *name)
{
	int fd;

	if (setsid() < 0)
		return -errno;
	fd = open(name, O_RDWR);
	if (fd < 0)
		return -errno;
	if (ioctl(fd, TIOCSCTTY, 0) < 0)
		return -errno;
	if (dup2(fd, 0) < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
		return -errno;
	if (fd > 2)
		close(fd);
	return 0;
}

int rexec_pty_resize(int master, uint16_t rows, uint16_t cols)
{
	struct winsize ws = {.ws_row = rows, .ws_col = cols};

	return ioctl(master, TIOCSWINSZ, &ws) < 0 ? -errno : 0;
}

int rexec_tty_size(int fd, uint16_t *rows, uint16_t *cols)
{
	struct winsize ws;

	if (ioctl(fd, TIOCGWINSZ, &ws) < 0)
		return -errno;
	*rows = ws.ws_row;
	*cols = ws.ws_col;
	return 0;
}

int rexec_rawmode_enter(struct rexec_rawmode *rm, int fd)
{
	struct termios t;

	rm->active = false;
	rm->fd = fd;
	if (tcgetattr(fd, &rm->saved) < 0)
		return -errno;
	t = rm->saved;
	cfmakeraw(&t);
	/* Keep output post-processing off too: the remote pty already did it. */
	if (tcsetattr(fd, TCSADRAIN, &t) < 0)
		return -errno;
	rm->active = true;
	return 0;
}

void rexec_rawmode_leave(struct rexec_rawmode *rm)
{
	if (!rm->active)
		return;
	/* Best effort on the way out; nothing more can be done if the tty is gone. */
	(void)tcsetattr(rm->fd, TCSADRAIN, &rm->saved);
	rm->active = false;
}
