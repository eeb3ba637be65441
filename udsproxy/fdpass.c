/* fdpass: SCM_RIGHTS across the link. Pipes/FIFOs and connected unix stream sockets become
 * new streams; regular files under a shared tree are reopened by path on the far side;
 * anything else is refused, never dropped silently. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"
#include "util.h"

bool udsp_path_in_shared(struct udsp_daemon *d, const char *path)
{
	size_t i;

	for (i = 0; i < d->n_shared; i++)
		if (allow_path_match(d->shared[i], path))
			return true;
	return false;
}

static struct udsp_stream *child_new(struct udsp_stream *parent, uint32_t id, uint8_t socktype,
				     int fd, bool rd, bool wr)
{
	struct udsp_stream *c = udsp_stream_new(parent->d, id, socktype, fd);

	if (!c)
		return NULL;
	c->state = UDSP_ST_OPEN;
	c->rd_open = rd;
	c->wr_open = wr;
	c->is_file_fd = socktype == UDSP_SOCK_PIPE;
	c->uid = parent->uid;
	c->gid = parent->gid;
	snprintf(c->path, sizeof(c->path), "(fd passed on stream %u)", parent->id);
	udsp_flow_set_send_window(&c->flow, parent->flow.send_window);
	return c;
}

/* Describes one fd for the peer; may create a child stream. 0 or -errno (fd untouched). */
static int describe(struct udsp_stream *s, int fd, struct udsp_fd_desc *desc,
		    struct udsp_stream **child, char *pathbuf)
{
	struct udsp_daemon *d = s->d;
	struct stat st;
	int fl;

	*child = NULL;
	if (fstat(fd, &st))
		return -errno;
	fl = fcntl(fd, F_GETFL);
	if (fl < 0)
		return -errno;
	if (S_ISFIFO(st.st_mode)) {
		int acc = fl & O_ACCMODE;
		bool we_read = acc == O_RDONLY;

		if (acc == O_RDWR)
			return -EOPNOTSUPP; /* which way would the data go? */
		desc->kind = we_read ? UDSP_FD_PIPE_READ : UDSP_FD_PIPE_WRITE;
		desc->stream = udsp_link_new_stream_id(d);
		*child = child_new(s, desc->stream, UDSP_SOCK_PIPE, fd, we_read, !we_read);
		return *child ? 0 : -ENOMEM;
	}
	if (S_ISSOCK(st.st_mode)) {
		struct sockaddr_un peer;
		socklen_t len = sizeof(peer);
		int type = 0;
		socklen_t tl = sizeof(type);

		if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) || type != SOCK_STREAM ||
		    getpeername(fd, (struct sockaddr *)&peer, &len) || peer.sun_family != AF_UNIX)
			return -EOPNOTSUPP;
		desc->kind = UDSP_FD_STREAM;
		desc->stream = udsp_link_new_stream_id(d);
		*child = child_new(s, desc->stream, UDSP_SOCK_STREAM, fd, true, true);
		return *child ? 0 : -ENOMEM;
	}
	if (S_ISREG(st.st_mode)) {
		char proc[64];
		ssize_t n;
		off_t off;

		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
		n = readlink(proc, pathbuf, PATH_MAX - 1);
		if (n <= 0)
			return -EXDEV;
		pathbuf[n] = '\0';
		if (pathbuf[0] != '/' || !udsp_path_in_shared(d, pathbuf)) {
			log_warn("stream %u: refused to pass %s: not under a shared tree", s->id,
				 pathbuf);
			return -EXDEV;
		}
		off = lseek(fd, 0, SEEK_CUR);
		if (off < 0)
			return -errno;
		desc->kind = UDSP_FD_FILE;
		desc->path = pathbuf;
		desc->flags = (uint32_t)fl & (O_ACCMODE | O_APPEND | O_NONBLOCK);
		desc->offset = (uint64_t)off;
		return 0;
	}
	return -EOPNOTSUPP;
}

int udsp_fdpass_send(struct udsp_stream *s, const uint8_t *data, size_t len, int *fds, size_t nfds)
{
	struct udsp_daemon *d = s->d;
	struct udsp_fd_desc *desc = NULL;
	struct udsp_stream **kids = NULL;
	char(*paths)[PATH_MAX] = NULL;
	uint8_t *copy = NULL;
	struct wire_buf b;
	size_t i, made = 0;
	int ret = -ENOMEM;

	wire_buf_init(&b);
	/* data points into the link's output buffer: copy it before the link moves. */
	copy = malloc(len ? len : 1);
	desc = calloc(nfds, sizeof(*desc));
	kids = calloc(nfds, sizeof(*kids));
	paths = malloc(nfds * sizeof(*paths));
	if (!copy || !desc || !kids || !paths)
		goto fail;
	memcpy(copy, data, len);
	for (i = 0; i < nfds; i++) {
		ret = describe(s, fds[i], &desc[i], &kids[i], paths[i]);
		if (ret)
			goto fail;
		made = i + 1;
	}
	udsp_put_fds_begin(&b, desc, (uint32_t)nfds);
	wire_put_raw(&b, copy, len);
	ret = wire_frame_end(&b, UDSP_T_DATA_FDS, s->id, 0);
	if (ret)
		goto fail;
	udsp_link_send(d, b.data, b.len);
	/* Children own their fds now; files were described by path and are closed. */
	for (i = 0; i < nfds; i++) {
		if (kids[i])
			udsp_stream_update(kids[i]);
		else
			close(fds[i]);
	}
	ret = 0;
	goto out;
fail:
	log_warn("stream %u: cannot pass a descriptor: %s", s->id, strerror(-ret));
	for (i = 0; i < nfds; i++) {
		if (i < made && kids[i]) {
			kids[i]->fd = -1; /* closed below with the rest */
			udsp_stream_destroy(kids[i]);
		}
		close(fds[i]);
	}
out:
	wire_buf_free(&b);
	free(copy);
	free(desc);
	free(kids);
	free(paths);
	return ret;
}

int udsp_fdpass_recv(struct udsp_stream *parent, const struct udsp_msg *m, int **out)
{
	struct udsp_daemon *d = parent->d;
	int *fds = malloc(m->nfds * sizeof(int));
	struct udsp_stream **kids = calloc(m->nfds, sizeof(*kids));
	uint32_t i;
	int ret = 0;

	*out = NULL;
	if (!fds || !kids) {
		free(fds);
		free(kids);
		return -ENOMEM;
	}
	for (i = 0; i < m->nfds; i++)
		fds[i] = -1;
	for (i = 0; i < m->nfds && !ret; i++) {
		const struct udsp_fd_desc *desc = &m->fds[i];
		bool give_read = desc->kind == UDSP_FD_PIPE_READ;
		int p[2], keep;

		if (desc->kind != UDSP_FD_FILE && (udsp_stream_find(d, desc->stream) ||
						   (desc->stream & 1) == (d->link.next_id & 1))) {
			ret = -EPROTO;
			break;
		}
		switch (desc->kind) {
		case UDSP_FD_PIPE_READ:
		case UDSP_FD_PIPE_WRITE:
			if (pipe2(p, O_CLOEXEC)) {
				ret = -errno;
				break;
			}
			/* We keep the other end: we write what arrives, or read what is written. */
			fds[i] = give_read ? p[0] : p[1];
			keep = give_read ? p[1] : p[0];
			if (fd_set_nonblock(keep, true) == 0)
				kids[i] = child_new(parent, desc->stream, UDSP_SOCK_PIPE, keep,
						    !give_read, give_read);
			if (!kids[i]) {
				close(keep);
				ret = -ENOMEM;
			}
			break;
		case UDSP_FD_STREAM:
			if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p)) {
				ret = -errno;
				break;
			}
			fds[i] = p[0];
			if (fd_set_nonblock(p[1], true) == 0)
				kids[i] = child_new(parent, desc->stream, UDSP_SOCK_STREAM, p[1],
						    true, true);
			if (!kids[i]) {
				close(p[1]);
				ret = -ENOMEM;
			}
			break;
		case UDSP_FD_FILE:
			if (!udsp_path_in_shared(d, desc->path)) {
				log_warn("peer passed %s, which is not under a shared tree here",
					 desc->path);
				ret = -EXDEV;
				break;
			}
			fds[i] = open(desc->path, (int)desc->flags | O_CLOEXEC | O_NOCTTY);
			if (fds[i] < 0) {
				ret = -errno;
				break;
			}
			if (lseek(fds[i], (off_t)desc->offset, SEEK_SET) < 0)
				ret = -errno;
			break;
		}
	}
	if (ret) {
		for (i = 0; i < m->nfds; i++) {
			if (fds[i] >= 0)
				close(fds[i]);
			if (kids[i])
				udsp_stream_destroy(kids[i]);
			/* Tell the sender its side of every child is dead. */
			if (m->fds[i].kind != UDSP_FD_FILE && (kids[i] || ret != -EPROTO))
				udsp_send_u32(d, UDSP_T_RESET, m->fds[i].stream,
					      (uint32_t)(ret == -EPROTO ? EPROTO : -ret));
		}
		free(fds);
		free(kids);
		return ret;
	}
	for (i = 0; i < m->nfds; i++)
		if (kids[i])
			udsp_stream_update(kids[i]);
	free(kids);
	*out = fds;
	return 0;
}

void udsp_fdpass_refuse(struct udsp_daemon *d, const struct udsp_msg *m)
{
	uint32_t i;

	for (i = 0; i < m->nfds; i++)
		if (m->fds[i].kind != UDSP_FD_FILE)
			udsp_send_u32(d, UDSP_T_RESET, m->fds[i].stream, ECONNRESET);
}
