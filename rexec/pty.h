/* rexec pty: the server's pseudo-terminal for -t and the client's raw mode. */
#ifndef SV_REXEC_PTY_H
#define SV_REXEC_PTY_H

#include <stdbool.h>
#include <stdint.h>
#include <termios.h>

/* Opens a pty master (non-blocking, close-on-exec) sized rows x cols; returns the
 * slave's path in name. The master fd or -errno. */
int rexec_pty_open(uint16_t rows, uint16_t cols, char *name, size_t namelen);
/* In the child: new session, the slave as controlling tty and fds 0-2. 0 or -errno. */
int rexec_pty_attach_child(const char *name);
int rexec_pty_resize(int master, uint16_t rows, uint16_t cols);

/* Client side: the terminal size of fd, 0 or -errno. */
int rexec_tty_size(int fd, uint16_t *rows, uint16_t *cols);

struct rexec_rawmode {
	int fd;
	bool active;
	struct termios saved;
};

/* Puts fd in raw mode (like ssh -t / cfmakeraw), remembering the old settings. */
int rexec_rawmode_enter(struct rexec_rawmode *rm, int fd);
/* Restores; safe to call twice and from an exit path. */
void rexec_rawmode_leave(struct rexec_rawmode *rm);

#endif
