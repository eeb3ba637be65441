/* target: the far side of an OPEN: check the allowlist, connect the real socket with the
 * requesting user's filesystem identity, and answer OPEN_OK or OPEN_ERR with the errno. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "addr.h"
#include "daemon.h"
#include "log.h"
#include "util.h"

#define TARGET_RETRY_MS	       5
#define TARGET_BACKLOG_WAIT_MS 3000

static void send_open_err(struct udsp_daemon *d, uint32_t id, int err, const char *path)
{
	log_debug("stream %u: %s: %s", id, path, strerror(err));
	d->stats.streams_refused++;
	udsp_send_u32(d, UDSP_T_OPEN_ERR, id, (uint32_t)(err > 0 && err < 4096 ? err : EIO));
}

/*
 * connect(2) on a unix socket checks search permission on the path and write permission on
 * the socket file as the caller: do it with the requesting user's uid, gid and
 * supplementary groups. Credentials are per thread in the kernel; the raw setgroups
 * syscall (unlike glibc's) changes only this thread, the loop thread.
 */
static int connect_as(int fd, const struct sockaddr_un *sa, socklen_t len,
		      const struct udsp_stream *s)
{
	static gid_t own[UDSP_MAX_GROUPS * 4];
	static int n_own = -1;
	gid_t groups[UDSP_MAX_GROUPS];
	uint32_t i;
	int ret, saved;

	if (s->uid == 0)
		return connect(fd, (const struct sockaddr *)sa, len) ? -errno : 0;
	if (n_own < 0) {
		n_own = getgroups((int)ARRAY_SIZE(own), own);
		if (n_own < 0)
			return -EPERM; /* cannot restore ours afterwards: refuse */
	}
	for (i = 0; i < s->ngroups; i++)
		groups[i] = (gid_t)s->groups[i];
	if (syscall(SYS_setgroups, (size_t)s->ngroups, groups))
		return -EPERM;
	setfsgid(s->gid);
	setfsuid(s->uid);
	ret = connect(fd, (const struct sockaddr *)sa, len);
	saved = errno;
	setfsuid(0);
	setfsgid(0);
	if (syscall(SYS_setgroups, (size_t)n_own, own))
		log_error("restoring the daemon's groups: %s", strerror(errno));
	return ret ? -saved : 0;
}

static int target_try(struct udsp_stream *s)
{
	struct sockaddr_un sa;
	socklen_t len;
	int ret;

	ret = udsp_addr_to_sockaddr(s->path, &sa, &len);
	if (ret)
		return ret;
	return connect_as(s->fd, &sa, len, s);
}

static void target_connected(struct udsp_stream *s)
{
	udsp_send_u32(s->d, UDSP_T_OPEN_OK, s->id, s->d->window);
	s->d->stats.streams_opened++;
	udsp_stream_opened(s);
}

static void target_retry(struct loop *l, struct loop_timer *t, void *arg)
{
	struct udsp_stream *s = arg;
	struct udsp_daemon *d = s->d;
	int ret = target_try(s);

	if (ret == -EAGAIN && now_ms() < s->retry_deadline)
		return; /* the listener's backlog is still full */
	loop_del_timer(l, t);
	s->retry = NULL;
	if (ret) {
		send_open_err(d, s->id, ret == -EAGAIN ? ETIMEDOUT : -ret, s->path);
		udsp_stream_destroy(s);
	} else {
		target_connected(s);
	}
	udsp_link_reap(d);
}

void udsp_target_open(struct udsp_daemon *d, const struct udsp_msg *m)
{
	char path[UDSP_PATH_MAX];
	struct udsp_stream *s;
	int fd, ret, type;

	if (udsp_stream_find(d, m->stream) || (m->stream & 1) == (d->link.next_id & 1)) {
		d->stats.proto_errors++;
		udsp_link_fail(d, "OPEN with a stream id already in use or from our half");
		return;
	}
	ret = udsp_policy_resolve(&d->policy, m->path, path, sizeof(path));
	if (ret) {
		if (ret == -EACCES)
			log_info("refused %s connect to %s: not allowlisted",
				 udsp_socktype_name(m->socktype), m->path);
		send_open_err(d, m->stream, -ret, m->path);
		return;
	}
	type = udsp_socktype_to_sys(m->socktype);
	fd = socket(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		send_open_err(d, m->stream, errno, m->path);
		return;
	}
	udsp_msg_sock_prepare(fd, m->socktype);
	if (m->socktype == UDSP_SOCK_DGRAM) {
		/* Autobind: the target can only reply to a datagram from a named socket. */
		sa_family_t fam = AF_UNIX;

		if (bind(fd, (struct sockaddr *)&fam, sizeof(fam))) {
			send_open_err(d, m->stream, errno, m->path);
			close(fd);
			return;
		}
	}
	s = udsp_stream_new(d, m->stream, m->socktype, fd);
	if (!s) {
		close(fd);
		send_open_err(d, m->stream, ENOMEM, m->path);
		return;
	}
	s->state = UDSP_ST_CONNECTING;
	s->uid = m->uid;
	s->gid = m->gid;
	s->ngroups = m->ngroups;
	memcpy(s->groups, m->groups, m->ngroups * sizeof(m->groups[0]));
	snprintf(s->path, sizeof(s->path), "%s", path);
	udsp_flow_set_send_window(&s->flow, m->window);
	ret = target_try(s);
	if (ret == -EAGAIN) {
		s->retry_deadline = now_ms() + TARGET_BACKLOG_WAIT_MS;
		s->retry = loop_add_timer(d->loop, TARGET_RETRY_MS, TARGET_RETRY_MS, target_retry,
					  s);
		if (s->retry)
			return;
		ret = -ENOMEM;
	}
	if (ret) {
		send_open_err(d, m->stream, -ret, m->path);
		udsp_stream_destroy(s);
		return;
	}
	target_connected(s);
}
