/* client: the client side of the control protocol: connect requests and status. It uses
 * raw syscalls for connect so that, inside the LD_PRELOAD shim, it never calls itself. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "addr.h"
#include "ctlmsg.h"
#include "proto.h"
#include "udsproxy_client.h"
#include "util.h"
#include "xport.h"

#define CLIENT_TIMEOUT_MS 15000

const char *udsproxy_ctl_path(void)
{
	const char *p = getenv("UDSPROXY_SOCK");

	return p && p[0] == '/' ? p : UDSP_DEFAULT_CTL;
}

static int ctl_open(void)
{
	struct sockaddr_un sa;
	socklen_t len;
	int fd, ret;

	ret = udsp_addr_to_sockaddr(udsproxy_ctl_path(), &sa, &len);
	if (ret)
		return ret;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (syscall(SYS_connect, fd, (struct sockaddr *)&sa, len)) {
		ret = -errno;
		close(fd);
		return ret;
	}
	return fd;
}

/* Waits for fd to be readable, bounded. */
static int wait_readable(int fd, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	int r;

	do {
		r = poll(&p, 1, ms);
	} while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	return r == 0 ? -ETIMEDOUT : 0;
}

/* Reads one reply frame; an fd that rides along is returned in *fd (or -1). */
static int read_reply(int s, uint8_t *buf, size_t cap, struct wire_header *h, int *fd)
{
	size_t got = 0, nfds;
	int ret;

	*fd = -1;
	while (got < WIRE_HEADER_SIZE || got < WIRE_HEADER_SIZE + h->length) {
		ssize_t n;

		ret = wait_readable(s, CLIENT_TIMEOUT_MS);
		if (ret)
			goto fail;
		if (*fd < 0) {
			int tmp = -1;

			nfds = 1;
			n = xport_unix_recv_fds(s, buf + got, cap - got, &tmp, &nfds);
			if (n > 0 && nfds == 1)
				*fd = tmp;
		} else {
			n = recv(s, buf + got, cap - got, 0);
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			ret = -errno;
			goto fail;
		}
		if (n == 0) {
			ret = -ECONNRESET;
			goto fail;
		}
		got += (size_t)n;
		if (got >= WIRE_HEADER_SIZE) {
			ret = wire_header_decode(buf, got, (uint32_t)(cap - WIRE_HEADER_SIZE), h);
			if (ret)
				goto fail;
		}
	}
	return 0;
fail:
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
	return ret;
}

/* Sends a CONNECT request; the control socket on success, else -errno. */
static int request(const char *path, int type, const char *reply_to, uint32_t flags,
		   struct udsproxy_info *info)
{
	struct udsp_ctl_connect req = {0};
	struct wire_buf b;
	int s, ret;

	info->remote = false;
	info->shared[0] = '\0';
	if (!path || udsp_path_check(path) || (reply_to && udsp_path_check(reply_to)))
		return -EINVAL;
	req.socktype = udsp_socktype_from_sys(type);
	if (!req.socktype || (reply_to && type != SOCK_DGRAM))
		return -EINVAL;
	req.flags = flags;
	strcpy(req.path, path);
	if (reply_to)
		strcpy(req.reply_to, reply_to);
	s = ctl_open();
	if (s < 0)
		return s;
	wire_buf_init(&b);
	ret = udsp_ctl_put_connect(&b, &req);
	if (!ret)
		ret = write_full(s, b.data, b.len);
	wire_buf_free(&b);
	if (ret) {
		close(s);
		return ret;
	}
	return s;
}

/* Reads a RESULT or PENDING answer. 0 (fd in *fd), or -errno (info->remote if far). */
static int answer(int s, struct udsproxy_info *info, int *fd, bool *pending)
{
	uint8_t reply[WIRE_HEADER_SIZE + UDSP_CTL_MAX_PAYLOAD + 1024];
	struct wire_header h;
	uint32_t err = 0;
	int ret;

	*pending = false;
	ret = read_reply(s, reply, sizeof(reply), &h, fd);
	if (ret)
		return ret;
	if (h.type == UDSP_CTL_PENDING) {
		struct wire_reader r;
		const uint8_t *p;
		uint32_t n;

		wire_reader_init(&r, reply + WIRE_HEADER_SIZE, h.length);
		if (wire_get_bytes(&r, &p, &n) || n >= sizeof(info->shared) || wire_reader_done(&r))
			goto proto;
		memcpy(info->shared, p, n);
		info->shared[n] = '\0';
		*pending = true;
	} else if (h.type != UDSP_CTL_RESULT ||
		   udsp_ctl_decode_result(reply + WIRE_HEADER_SIZE, h.length, &err, info->shared,
					  sizeof(info->shared))) {
		goto proto;
	}
	if (err) {
		/* EHOSTUNREACH is ours (no link); the rest is what the far side's connect said. */
		info->remote = err != EHOSTUNREACH && err != EINVAL;
		if (*fd >= 0)
			close(*fd);
		*fd = -1;
		return -(int)err;
	}
	return 0;
proto:
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
	return -EPROTO;
}

int udsproxy_connect(const char *path, int type, int flags, const char *reply_to,
		     struct udsproxy_info *info)
{
	struct udsproxy_info dummy;
	bool pending;
	int s, fd = -1, ret;

	if (!info)
		info = &dummy;
	s = request(path, type, reply_to, 0, info);
	if (s < 0)
		return s;
	ret = answer(s, info, &fd, &pending);
	close(s);
	if (ret)
		return ret;
	if (fd < 0 || pending) {
		if (fd >= 0)
			close(fd);
		return -EPROTO;
	}
	if ((flags & UDSPROXY_NONBLOCK) && fd_set_nonblock(fd, true)) {
		close(fd);
		return -EIO;
	}
	return fd;
}

int udsproxy_connect_start(const char *path, int type, int flags, const char *reply_to, int *ctl,
			   struct udsproxy_info *info)
{
	struct udsproxy_info dummy;
	bool pending;
	int s, fd = -1, ret;

	if (!info)
		info = &dummy;
	*ctl = -1;
	s = request(path, type, reply_to, UDSP_CTL_F_ASYNC, info);
	if (s < 0)
		return s;
	ret = answer(s, info, &fd, &pending);
	if (!ret && fd < 0)
		ret = -EPROTO;
	if (ret) {
		close(s);
		return ret;
	}
	if ((flags & UDSPROXY_NONBLOCK) && fd_set_nonblock(fd, true)) {
		close(fd);
		close(s);
		return -EIO;
	}
	if (pending)
		*ctl = s; /* the outcome comes later on s */
	else
		close(s); /* the daemon answered at once (it could not make the fd wait) */
	return fd;
}

int udsproxy_connect_finish(int ctl, struct udsproxy_info *info)
{
	struct udsproxy_info dummy;
	struct pollfd p = {.fd = ctl, .events = POLLIN};
	bool pending;
	int fd = -1, ret;

	if (!info)
		info = &dummy;
	if (ctl < 0)
		return 0; /* started synchronously: already connected */
	if (poll(&p, 1, 0) == 0)
		return -EINPROGRESS;
	ret = answer(ctl, info, &fd, &pending);
	if (fd >= 0)
		close(fd);
	close(ctl);
	if (!ret && pending)
		ret = -EPROTO;
	return ret;
}

int udsproxy_status(char *buf, size_t len)
{
	uint8_t *reply;
	struct wire_header h;
	struct wire_reader r;
	const uint8_t *p;
	uint32_t n;
	struct wire_buf b;
	int s, fd = -1, ret;
	size_t cap = WIRE_HEADER_SIZE + UDSP_CTL_STATUS_MAX + 64;

	if (!buf || !len)
		return -EINVAL;
	s = ctl_open();
	if (s < 0)
		return s;
	reply = malloc(cap);
	wire_buf_init(&b);
	wire_frame_begin(&b);
	ret = reply ? wire_frame_end(&b, UDSP_CTL_STATUS, 0, 0) : -ENOMEM;
	if (!ret)
		ret = write_full(s, b.data, b.len);
	if (!ret)
		ret = read_reply(s, reply, cap, &h, &fd);
	if (fd >= 0)
		close(fd);
	if (!ret && h.type == UDSP_CTL_RESULT) {
		/* refused (EACCES: status is for root) */
		uint32_t err;
		char shared[1024];

		ret = udsp_ctl_decode_result(reply + WIRE_HEADER_SIZE, h.length, &err, shared,
					     sizeof(shared));
		if (!ret)
			ret = err ? -(int)err : -EPROTO;
	} else if (!ret) {
		wire_reader_init(&r, reply + WIRE_HEADER_SIZE, h.length);
		if (h.type != UDSP_CTL_STATUS_TEXT || wire_get_bytes(&r, &p, &n) ||
		    n == 0xffffffffu || wire_reader_done(&r)) {
			ret = -EPROTO;
		} else {
			if (n >= len)
				n = (uint32_t)len - 1;
			memcpy(buf, p, n);
			buf[n] = '\0';
		}
	}
	wire_buf_free(&b);
	free(reply);
	close(s);
	return ret;
}
