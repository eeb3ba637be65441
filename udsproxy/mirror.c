/* mirror: transparent cross-host sockets without LD_PRELOAD. The exporting side reports the
 * listening and bound datagram sockets under a directory (from /proc/net/unix, rescanned on
 * inotify events and every second); the mirroring side keeps a local socket at each path and
 * forwards what it accepts or receives. Mirror sockets disappear with the link and on exit. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "addr.h"
#include "daemon.h"
#include "log.h"
#include "util.h"

#ifndef FUSE_SUPER_MAGIC
#define FUSE_SUPER_MAGIC 0x65735546
#endif
#define MIRROR_MAX_SOCKETS 4096
#define MIRROR_RESCAN_MS   1000
#define MIRROR_QUICK_MS	   30
/* A mirrored datagram sender we cannot check (unnamed, abstract) is forgotten when idle. */
#define MIRROR_DGRAM_IDLE_MS 60000

int udsp_mirror_check_dir(const char *dir, struct errmsg *e)
{
	struct statfs sfs;
	struct stat st;

	if (dir[0] != '/' || strlen(dir) >= UDSP_PATH_MAX - 2) {
		errmsg_set(e, "--mirror %s: must be an absolute path shorter than %d bytes", dir,
			   UDSP_PATH_MAX - 2);
		return -EINVAL;
	}
	if (stat(dir, &st) || !S_ISDIR(st.st_mode)) {
		errmsg_set(e, "--mirror %s: not a directory", dir);
		return -ENOTDIR;
	}
	if (statfs(dir, &sfs)) {
		errmsg_set(e, "--mirror %s: statfs: %s", dir, strerror(errno));
		return -errno;
	}
	/* Socket files on a qtfs/FUSE mount belong to the other machine: mirroring there
	 * would shadow them with ours. */
	if ((unsigned long)sfs.f_type == FUSE_SUPER_MAGIC) {
		errmsg_set(e,
			   "--mirror %s: is on a FUSE (qtfs) mount; mirror into a local directory",
			   dir);
		return -EXDEV;
	}
	return 0;
}

/* ---------------- mirroring side: local listeners that forward ---------------- */

static bool under_mirror_dir(struct udsp_daemon *d, const char *path)
{
	size_t i;

	for (i = 0; i < d->n_mirror_dirs; i++)
		if (allow_path_match(d->mirror_dirs[i], path))
			return true;
	return false;
}

static void mirror_on_accept(struct loop *l, int fd, uint32_t events, void *arg)
{
	struct udsp_mirror_sock *ms = arg;
	struct udsp_daemon *d = *(struct udsp_daemon **)(ms + 1);
	int i;

	for (i = 0; i < 64; i++) {
		struct ucred cred;
		socklen_t len = sizeof(cred);
		uint32_t groups[UDSP_MAX_GROUPS], ngroups;
		struct udsp_stream *s;
		uint32_t id;
		int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (cfd < 0)
			break;
		if (!d->link.up || d->link.dead) {
			close(cfd);
			continue;
		}
		if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cred, &len)) {
			cred.uid = 65534;
			cred.gid = 65534;
		}
		udsp_msg_sock_prepare(cfd, ms->socktype);
		id = udsp_link_new_stream_id(d);
		s = udsp_stream_new(d, id, ms->socktype, cfd);
		if (!s) {
			close(cfd);
			continue;
		}
		s->state = UDSP_ST_OPENING;
		s->uid = cred.uid;
		s->gid = cred.gid;
		snprintf(s->path, sizeof(s->path), "%s", ms->path);
		ngroups = udsp_peer_groups(cfd, groups, UDSP_MAX_GROUPS);
		if (udsp_put_open_groups(&d->scratch, id, ms->socktype, d->window, cred.uid,
					 cred.gid, groups, ngroups, ms->path) == 0)
			udsp_link_send(d, d->scratch.data, d->scratch.len);
	}
	udsp_link_reap(d);
}

/* ---- mirrored datagram sockets: one socket, a stream per sender ---- */

void udsp_mirror_stream_gone(struct udsp_stream *s)
{
	struct udsp_stream **pp;

	for (pp = &s->mirror->streams; *pp; pp = &(*pp)->mnext) {
		if (*pp == s) {
			*pp = s->mnext;
			break;
		}
	}
	s->mirror = NULL;
	s->mnext = NULL;
}

int udsp_mirror_sender_gone(const struct udsp_stream *s, uint64_t idle_ms)
{
	struct stat st;

	/* An unnamed or abstract sender leaves no trace to check: idle long enough is gone. */
	if (s->reply_len <= sizeof(sa_family_t) || s->reply_to.sun_path[0] == '\0')
		return idle_ms >= MIRROR_DGRAM_IDLE_MS;
	return lstat(s->reply_to.sun_path, &st) || !S_ISSOCK(st.st_mode);
}

static struct udsp_stream *dgram_sender_stream(struct udsp_daemon *d, struct udsp_mirror_sock *ms,
					       const struct sockaddr_un *src, socklen_t srclen,
					       const struct ucred *cred)
{
	struct udsp_stream *s;
	uint32_t id;
	int fd;

	/* An unnamed sender cannot be answered (as with a local socket): no reply address. */
	if (srclen <= sizeof(sa_family_t))
		srclen = 0;
	for (s = ms->streams; s; s = s->mnext)
		if (s->uid == cred->uid && s->reply_len == srclen &&
		    !memcmp(&s->reply_to, src, srclen))
			return s;
	fd = fcntl(ms->fd, F_DUPFD_CLOEXEC, 0);
	if (fd < 0)
		return NULL;
	id = udsp_link_new_stream_id(d);
	s = udsp_stream_new(d, id, UDSP_SOCK_DGRAM, fd);
	if (!s) {
		close(fd);
		return NULL;
	}
	s->shared_fd = true;
	s->state = UDSP_ST_OPENING;
	s->uid = cred->uid;
	s->gid = cred->gid;
	memcpy(&s->reply_to, src, srclen);
	s->reply_len = srclen;
	s->last_active_ms = now_ms();
	snprintf(s->path, sizeof(s->path), "%s", ms->path);
	s->mirror = ms;
	s->mnext = ms->streams;
	ms->streams = s;
	/* Per-datagram credentials carry no supplementary groups: none are sent (stricter). */
	if (udsp_put_open_groups(&d->scratch, id, UDSP_SOCK_DGRAM, d->window, cred->uid, cred->gid,
				 NULL, 0, ms->path) == 0)
		udsp_link_send(d, d->scratch.data, d->scratch.len);
	return s;
}

static void mirror_on_dgram(struct loop *l, int fd, uint32_t events, void *arg)
{
	struct udsp_mirror_sock *ms = arg;
	struct udsp_daemon *d = *(struct udsp_daemon **)(ms + 1);
	int i;

	if (!d->rbuf && !(d->rbuf = malloc(UDSP_DATA_MAX)))
		return;
	for (i = 0; i < 64 && d->link.up && !d->link.dead; i++) {
		union {
			struct cmsghdr align;
			uint8_t buf[CMSG_SPACE(sizeof(struct ucred)) +
				    CMSG_SPACE(sizeof(int) * UDSP_MAX_FDS)];
		} cbuf;
		struct sockaddr_un src;
		struct iovec iov = {d->rbuf, UDSP_DATA_MAX};
		struct msghdr mh = {.msg_name = &src,
				    .msg_namelen = sizeof(src),
				    .msg_iov = &iov,
				    .msg_iovlen = 1,
				    .msg_control = cbuf.buf,
				    .msg_controllen = sizeof(cbuf.buf)};
		struct ucred cred = {.pid = 0, .uid = 65534, .gid = 65534};
		struct udsp_stream *s;
		struct cmsghdr *c;
		bool had_fds = false;
		ssize_t n = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

		if (n < 0)
			break;
		for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
			if (c->cmsg_level != SOL_SOCKET)
				continue;
			if (c->cmsg_type == SCM_CREDENTIALS &&
			    c->cmsg_len >= CMSG_LEN(sizeof(cred))) {
				memcpy(&cred, CMSG_DATA(c), sizeof(cred));
			} else if (c->cmsg_type == SCM_RIGHTS) {
				size_t k, nfd = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);

				for (k = 0; k < nfd; k++) {
					int pfd;

					memcpy(&pfd, CMSG_DATA(c) + k * sizeof(int), sizeof(int));
					close(pfd);
				}
				had_fds = true;
			}
		}
		if (had_fds) {
			log_warn("mirror: %s: a datagram with descriptors dropped (fd passing "
				 "needs the shim or a connection)",
				 ms->path);
			d->stats.dgrams_dropped++;
			continue;
		}
		if (mh.msg_flags & MSG_TRUNC) {
			log_warn("mirror: %s: a datagram over %u bytes dropped", ms->path,
				 UDSP_DATA_MAX);
			d->stats.msgs_too_big++;
			continue;
		}
		s = dgram_sender_stream(d, ms, &src, mh.msg_namelen, &cred);
		if (!s || udsp_stream_send_msg(s, d->rbuf, (size_t)n)) {
			log_debug("mirror: %s: a datagram dropped (no credit or memory)", ms->path);
			d->stats.dgrams_dropped++;
		}
	}
	udsp_link_reap(d);
}

static void mirror_sock_remove(struct udsp_daemon *d, struct udsp_mirror_sock *ms)
{
	struct stat st;

	while (ms->streams)
		udsp_stream_reset(ms->streams, ECONNRESET);
	loop_del_fd(d->loop, ms->fd);
	/* Unlink only if the file is still the socket we bound. */
	if (lstat(ms->path, &st) == 0 && S_ISSOCK(st.st_mode) && st.st_ino == ms->ino)
		unlink(ms->path);
	close(ms->fd);
	free(ms);
}

static void mirror_add(struct udsp_daemon *d, const char *path, uint8_t socktype)
{
	struct udsp_mirror_sock *ms;
	struct sockaddr_un sa;
	socklen_t len;
	struct stat st;
	char dir[UDSP_PATH_MAX];
	int fd;

	if (!under_mirror_dir(d, path)) {
		log_warn("mirror: peer offered %s, outside every --mirror directory", path);
		return;
	}
	for (ms = d->mirrors; ms; ms = ms->next)
		if (!strcmp(ms->path, path))
			return;
	if (udsp_addr_to_sockaddr(path, &sa, &len))
		return;
	if (lstat(path, &st) == 0) {
		int probe;

		if (!S_ISSOCK(st.st_mode)) {
			log_warn("mirror: %s exists here and is not a socket; not mirrored", path);
			return;
		}
		probe = socket(AF_UNIX, udsp_socktype_to_sys(socktype) | SOCK_CLOEXEC, 0);
		if (probe >= 0 && connect(probe, (struct sockaddr *)&sa, len) == 0) {
			close(probe);
			log_warn("mirror: %s has a local listener; not mirrored", path);
			return;
		}
		if (probe >= 0)
			close(probe);
		unlink(path); /* a stale socket file */
	}
	snprintf(dir, sizeof(dir), "%s", path);
	(void)mkdir_p(dirname(dir), 0755);
	ms = calloc(1, sizeof(*ms) + sizeof(d));
	if (!ms)
		return;
	memcpy(ms + 1, &d, sizeof(d));
	snprintf(ms->path, sizeof(ms->path), "%s", path);
	ms->socktype = socktype;
	fd = socket(AF_UNIX, udsp_socktype_to_sys(socktype) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd >= 0 && socktype == UDSP_SOCK_DGRAM) {
		int one = 1;

		/* Each datagram's sender (its uid is the far side's connecting user). */
		if (setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one))) {
			close(fd);
			fd = -1;
		}
		udsp_msg_sock_prepare(fd, socktype);
	}
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, len) ||
	    (socktype != UDSP_SOCK_DGRAM && listen(fd, SOMAXCONN))) {
		log_warn("mirror: %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		free(ms);
		return;
	}
	/* Who may connect is decided on the far side, as the connecting user. */
	(void)chmod(path, 0666);
	if (stat(path, &st) == 0)
		ms->ino = st.st_ino;
	ms->fd = fd;
	if (loop_add_fd(d->loop, fd, EPOLLIN,
			socktype == UDSP_SOCK_DGRAM ? mirror_on_dgram : mirror_on_accept, ms)) {
		unlink(path);
		close(fd);
		free(ms);
		return;
	}
	ms->next = d->mirrors;
	d->mirrors = ms;
	log_info("mirror: %s (%s)", path, udsp_socktype_name(socktype));
}

static void mirror_del(struct udsp_daemon *d, const char *path)
{
	struct udsp_mirror_sock **pp;

	for (pp = &d->mirrors; *pp; pp = &(*pp)->next) {
		if (!strcmp((*pp)->path, path)) {
			struct udsp_mirror_sock *ms = *pp;

			*pp = ms->next;
			log_info("mirror: %s removed", path);
			mirror_sock_remove(d, ms);
			return;
		}
	}
}

static void mirror_remove_all(struct udsp_daemon *d)
{
	while (d->mirrors) {
		struct udsp_mirror_sock *ms = d->mirrors;

		d->mirrors = ms->next;
		mirror_sock_remove(d, ms);
	}
}

/* ---------------- exporting side: report listeners under the watched dirs ---------------- */

static void export_send(struct udsp_daemon *d, uint8_t op, const struct udsp_mirror_sock *ms)
{
	if (udsp_put_mirror(&d->scratch, op, ms->socktype, ms->path) == 0)
		udsp_link_send(d, d->scratch.data, d->scratch.len);
}

static bool under_watch_dir(struct udsp_daemon *d, const char *path)
{
	size_t i;

	for (i = 0; i < d->n_watch_dirs; i++)
		if (allow_path_match(d->watch_dirs[i], path))
			return true;
	return false;
}

static void export_found(struct udsp_daemon *d, const char *path, uint8_t socktype, size_t *n)
{
	struct udsp_mirror_sock *ms;
	struct stat st;

	if (!under_watch_dir(d, path) || udsp_policy_check(&d->policy, path))
		return;
	/* /proc/net/unix keeps names of unlinked sockets: the file must still be there. */
	if (lstat(path, &st) || !S_ISSOCK(st.st_mode))
		return;
	for (ms = d->exported; ms; ms = ms->next) {
		if (!strcmp(ms->path, path) && ms->socktype == socktype) {
			ms->seen = true;
			return;
		}
	}
	if (*n >= MIRROR_MAX_SOCKETS)
		return;
	ms = calloc(1, sizeof(*ms));
	if (!ms)
		return;
	snprintf(ms->path, sizeof(ms->path), "%s", path);
	ms->socktype = socktype;
	ms->fd = -1;
	ms->seen = true;
	ms->next = d->exported;
	d->exported = ms;
	(*n)++;
	export_send(d, UDSP_MIRROR_ADD, ms);
}

static void export_rescan(struct udsp_daemon *d)
{
	struct udsp_mirror_sock **pp, *ms;
	char line[512];
	size_t n = 0;
	FILE *f;

	if (!d->link.up || d->link.dead || !d->n_watch_dirs)
		return;
	f = fopen("/proc/net/unix", "re");
	if (!f) {
		log_warn("mirror: /proc/net/unix: %s", strerror(errno));
		return;
	}
	for (ms = d->exported; ms; ms = ms->next) {
		ms->seen = false;
		n++;
	}
	/* Num RefCount Protocol Flags Type St Inode Path */
	while (fgets(line, sizeof(line), f)) {
		unsigned long flags, type, st;
		char path[UDSP_PATH_MAX + 1];

		path[0] = '\0';
		if (sscanf(line, "%*s %*s %*s %lx %lx %lx %*s %108s", &flags, &type, &st, path) < 4)
			continue;
		if (path[0] != '/')
			continue;
		/* a bound datagram socket that is not connected anywhere: a server */
		if (type == 2 && st == 1)
			export_found(d, path, UDSP_SOCK_DGRAM, &n);
		if (!(flags & 0x10000)) /* __SO_ACCEPTCON: listening */
			continue;
		if (type == 1)
			export_found(d, path, UDSP_SOCK_STREAM, &n);
		else if (type == 5)
			export_found(d, path, UDSP_SOCK_SEQPACKET, &n);
	}
	fclose(f);
	for (pp = &d->exported; *pp;) {
		ms = *pp;
		if (ms->seen) {
			pp = &ms->next;
			continue;
		}
		*pp = ms->next;
		export_send(d, UDSP_MIRROR_DEL, ms);
		free(ms);
	}
}

static void export_on_timer(struct loop *l, struct loop_timer *t, void *arg)
{
	struct udsp_daemon *d = arg;

	export_rescan(d);
	/* Back to the slow period after a quick rescan. */
	loop_timer_set(t, MIRROR_RESCAN_MS, MIRROR_RESCAN_MS);
	udsp_link_reap(d);
}

static void export_on_inotify(struct loop *l, int fd, uint32_t events, void *arg)
{
	struct udsp_daemon *d = arg;
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));

	while (read(fd, buf, sizeof(buf)) > 0)
		;
	/* bind() makes the file, listen() follows: look again shortly. */
	if (d->rescan)
		loop_timer_set(d->rescan, MIRROR_QUICK_MS, MIRROR_RESCAN_MS);
}

static void export_watch(struct udsp_daemon *d, const char *dir)
{
	size_t i;

	for (i = 0; i < d->n_watch_dirs; i++)
		if (!strcmp(d->watch_dirs[i], dir))
			return;
	if (d->n_watch_dirs >= UDSP_MAX_MIRROR_DIRS)
		return;
	d->watch_dirs[d->n_watch_dirs] = str_dup(dir);
	if (!d->watch_dirs[d->n_watch_dirs])
		return;
	d->n_watch_dirs++;
	log_info("mirror: peer watches listeners under %s", dir);
	if (d->inotify_fd < 0) {
		d->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
		if (d->inotify_fd >= 0 &&
		    loop_add_fd(d->loop, d->inotify_fd, EPOLLIN, export_on_inotify, d)) {
			close(d->inotify_fd);
			d->inotify_fd = -1;
		}
	}
	if (d->inotify_fd >= 0 &&
	    inotify_add_watch(d->inotify_fd, dir,
			      IN_CREATE | IN_DELETE | IN_MOVED_TO | IN_MOVED_FROM | IN_ATTRIB) < 0)
		log_debug("mirror: inotify %s: %s (rescanning every second)", dir, strerror(errno));
	if (!d->rescan)
		d->rescan = loop_add_timer(d->loop, 1, MIRROR_RESCAN_MS, export_on_timer, d);
	else
		loop_timer_set(d->rescan, 1, MIRROR_RESCAN_MS);
}

static void export_clear(struct udsp_daemon *d)
{
	size_t i;

	while (d->exported) {
		struct udsp_mirror_sock *ms = d->exported;

		d->exported = ms->next;
		free(ms);
	}
	for (i = 0; i < d->n_watch_dirs; i++)
		free(d->watch_dirs[i]);
	d->n_watch_dirs = 0;
	if (d->rescan) {
		loop_del_timer(d->loop, d->rescan);
		d->rescan = NULL;
	}
	if (d->inotify_fd >= 0) {
		loop_del_fd(d->loop, d->inotify_fd);
		close(d->inotify_fd);
		d->inotify_fd = -1;
	}
}

/* ---------------- link events ---------------- */

void udsp_mirror_link_up(struct udsp_daemon *d)
{
	size_t i;

	for (i = 0; i < d->n_mirror_dirs; i++)
		if (udsp_put_mirror_watch(&d->scratch, d->mirror_dirs[i]) == 0)
			udsp_link_send(d, d->scratch.data, d->scratch.len);
}

void udsp_mirror_link_down(struct udsp_daemon *d)
{
	/* Without the link a mirror socket would accept and hang up: remove them all. */
	mirror_remove_all(d);
	export_clear(d);
}

void udsp_mirror_on_frame(struct udsp_daemon *d, const struct udsp_msg *m)
{
	if (m->type == UDSP_T_MIRROR_WATCH) {
		export_watch(d, m->path);
		return;
	}
	if (!d->n_mirror_dirs) {
		log_debug("mirror: %s offered but this daemon mirrors nothing", m->path);
		return;
	}
	if (m->op == UDSP_MIRROR_ADD)
		mirror_add(d, m->path, m->socktype);
	else
		mirror_del(d, m->path);
}

void udsp_mirror_shutdown(struct udsp_daemon *d)
{
	mirror_remove_all(d);
	export_clear(d);
	free(d->rbuf);
	d->rbuf = NULL;
}
