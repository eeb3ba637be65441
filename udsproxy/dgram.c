/* dgram: reaps datagram streams whose application socket is gone. Closing one end of a
 * SOCK_DGRAM socketpair raises no event on the other, so the daemon asks sock_diag, from
 * time to time, whether the socket it handed out still exists. */
#include <errno.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"
#include "util.h"

#define DGRAM_IDLE_MS 2000

/* 1 if the unix socket with this inode exists, 0 if not, -errno if we cannot tell. */
int udsp_unix_sock_alive(uint64_t ino)
{
	struct {
		struct nlmsghdr nlh;
		struct unix_diag_req r;
	} req;
	union {
		struct nlmsghdr nlh;
		uint8_t buf[8192];
	} resp;
	struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
	ssize_t n;
	int fd, ret;

	if (ino == 0 || ino > UINT32_MAX)
		return -EINVAL;
	fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (fd < 0)
		return -errno;
	memset(&req, 0, sizeof(req));
	req.nlh.nlmsg_len = sizeof(req);
	req.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	req.nlh.nlmsg_flags = NLM_F_REQUEST;
	req.r.sdiag_family = AF_UNIX;
	req.r.udiag_ino = (uint32_t)ino;
	req.r.udiag_cookie[0] = req.r.udiag_cookie[1] = ~0u; /* no cookie: match by inode */
	if (sendto(fd, &req, sizeof(req), 0, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		ret = -errno;
		goto out;
	}
	n = recv(fd, &resp, sizeof(resp), 0);
	if (n < 0) {
		ret = -errno;
		goto out;
	}
	if ((size_t)n < sizeof(struct nlmsghdr)) {
		ret = -EPROTO;
		goto out;
	}
	if (resp.nlh.nlmsg_type == NLMSG_ERROR) {
		struct nlmsgerr *err = NLMSG_DATA(&resp.nlh);

		if ((size_t)n < NLMSG_LENGTH(sizeof(*err))) {
			ret = -EPROTO;
			goto out;
		}
		ret = err->error == -ENOENT ? 0 : (err->error ? err->error : 1);
		goto out;
	}
	ret = resp.nlh.nlmsg_type == SOCK_DIAG_BY_FAMILY ? 1 : -EPROTO;
out:
	close(fd);
	return ret;
}

void udsp_dgram_reap(struct udsp_daemon *d)
{
	uint64_t now = now_ms();
	unsigned b;

	for (b = 0; b < UDSP_STREAM_BUCKETS; b++) {
		struct udsp_stream *s = d->buckets[b], *next;

		for (; s; s = next) {
			next = s->hnext;
			if (s->mirror && s->state == UDSP_ST_OPEN &&
			    now - s->last_active_ms >= DGRAM_IDLE_MS &&
			    udsp_mirror_sender_gone(s, now - s->last_active_ms)) {
				log_debug("stream %u: the mirrored datagram sender is gone", s->id);
				udsp_stream_reset(s, ECONNRESET);
				continue;
			}
			if (s->socktype != UDSP_SOCK_DGRAM || !s->app_ino ||
			    s->state != UDSP_ST_OPEN || now - s->last_active_ms < DGRAM_IDLE_MS)
				continue;
			s->last_active_ms = now;
			if (udsp_unix_sock_alive(s->app_ino) == 0) {
				log_debug("stream %u: the client's datagram socket is closed",
					  s->id);
				udsp_stream_reset(s, ECONNRESET);
			}
		}
	}
}
