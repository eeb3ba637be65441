/* proto: encoding and strict decoding of the udsproxy peer protocol messages. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "proto.h"

ssize_t udsp_frame_split(const uint8_t *buf, size_t len, struct wire_header *h,
			 const uint8_t **payload)
{
	size_t total;
	int ret;

	ret = wire_header_decode(buf, len, UDSP_MAX_PAYLOAD, h);
	if (ret == -EAGAIN)
		return 0;
	if (ret < 0)
		return ret;
	total = WIRE_HEADER_SIZE + (size_t)h->length;
	if (len < total)
		return 0;
	*payload = buf + WIRE_HEADER_SIZE;
	return (ssize_t)total;
}

int udsp_path_check(const char *path)
{
	size_t n = strlen(path);

	if (n == 0 || n >= UDSP_PATH_MAX)
		return -ENAMETOOLONG;
	if (path[0] == '@')
		return n >= 2 ? 0 : -EINVAL;
	if (path[0] != '/')
		return -EINVAL;
	return 0;
}

static bool socktype_valid(uint8_t t)
{
	return t == UDSP_SOCK_STREAM || t == UDSP_SOCK_SEQPACKET || t == UDSP_SOCK_DGRAM;
}

/* Copies a length-prefixed string into dst (size n) without allocating. */
static int get_str_into(struct wire_reader *r, char *dst, size_t n)
{
	const uint8_t *p;
	uint32_t len;

	if (wire_get_bytes(r, &p, &len))
		return -EBADMSG;
	if (len == 0xffffffffu || len >= n || memchr(p, 0, len))
		return -EBADMSG;
	memcpy(dst, p, len);
	dst[len] = '\0';
	return 0;
}

static int decode_fds(struct wire_reader *r, struct udsp_msg *m, struct errmsg *e)
{
	uint32_t i, n;

	if (wire_get_u32(r, &n))
		return -EBADMSG;
	if (n == 0 || n > UDSP_MAX_FDS) {
		errmsg_set(e, "DATA_FDS: %u descriptors (1..%u allowed)", n, UDSP_MAX_FDS);
		return -EBADMSG;
	}
	m->fds = calloc(n, sizeof(*m->fds));
	if (!m->fds)
		return -ENOMEM;
	m->nfds = n;
	for (i = 0; i < n; i++) {
		struct udsp_fd_desc *d = &m->fds[i];

		if (wire_get_u8(r, &d->kind))
			return -EBADMSG;
		switch (d->kind) {
		case UDSP_FD_PIPE_READ:
		case UDSP_FD_PIPE_WRITE:
		case UDSP_FD_STREAM:
			if (wire_get_u32(r, &d->stream))
				return -EBADMSG;
			if (d->stream == 0) {
				errmsg_set(e, "DATA_FDS: descriptor %u names stream 0", i);
				return -EBADMSG;
			}
			break;
		case UDSP_FD_FILE:
			if (wire_get_u32(r, &d->flags) || wire_get_u64(r, &d->offset))
				return -EBADMSG;
			if (wire_get_str(r, UDSP_FILE_PATH_MAX - 1, &d->path) || !d->path ||
			    d->path[0] != '/') {
				errmsg_set(e, "DATA_FDS: descriptor %u: bad file path", i);
				return -EBADMSG;
			}
			if (d->flags & ~(uint32_t)(O_ACCMODE | O_APPEND | O_NONBLOCK)) {
				errmsg_set(e, "DATA_FDS: descriptor %u: flags 0x%x not allowed", i,
					   d->flags);
				return -EBADMSG;
			}
			if ((d->flags & O_ACCMODE) == O_ACCMODE || d->offset > INT64_MAX) {
				errmsg_set(e, "DATA_FDS: descriptor %u: bad mode or offset", i);
				return -EBADMSG;
			}
			break;
		default:
			errmsg_set(e, "DATA_FDS: descriptor %u: unknown kind %u", i, d->kind);
			return -EBADMSG;
		}
	}
	return 0;
}

int udsp_msg_decode(const struct wire_header *h, const uint8_t *payload, struct udsp_msg *m,
		    struct errmsg *e)
{
	struct wire_reader r;
	bool want_stream = true;
	int ret = 0;

	memset(m, 0, sizeof(*m));
	m->type = h->type;
	m->stream = h->stream;
	wire_reader_init(&r, payload, h->length);

	switch (h->type) {
	case WIRE_T_PING:
	case WIRE_T_PONG:
		want_stream = false;
		wire_get_rest(&r, &m->data, &m->data_len);
		break;
	case WIRE_T_ERROR:
		want_stream = false;
		if (wire_get_u32(&r, &m->err))
			ret = -EBADMSG;
		else
			wire_get_rest(&r, &m->data, &m->data_len);
		break;
	case UDSP_T_LINK:
		want_stream = false;
		if (wire_get_u64(&r, &m->nonce) || wire_get_u32(&r, &m->flags)) {
			ret = -EBADMSG;
			break;
		}
		if (m->flags & ~UDSP_LINK_F_LINKED) {
			errmsg_set(e, "LINK: unknown flags 0x%x", m->flags);
			return -EBADMSG;
		}
		if ((m->flags & UDSP_LINK_F_LINKED) && (wire_get_u64(&r, &m->linked) || !m->linked))
			ret = -EBADMSG;
		break;
	case UDSP_T_OPEN: {
		uint32_t i;

		if (wire_get_u8(&r, &m->socktype) || wire_get_u32(&r, &m->window) ||
		    wire_get_u32(&r, &m->uid) || wire_get_u32(&r, &m->gid) ||
		    get_str_into(&r, m->path, UDSP_PATH_MAX) || wire_get_u32(&r, &m->ngroups)) {
			ret = -EBADMSG;
			break;
		}
		if (m->ngroups > UDSP_MAX_GROUPS) {
			errmsg_set(e, "OPEN: %u groups (at most %u)", m->ngroups, UDSP_MAX_GROUPS);
			return -EBADMSG;
		}
		for (i = 0; i < m->ngroups; i++)
			if (wire_get_u32(&r, &m->groups[i]))
				ret = -EBADMSG;
		if (ret)
			break;
		if (!socktype_valid(m->socktype)) {
			errmsg_set(e, "OPEN: unknown socket type %u", m->socktype);
			return -EBADMSG;
		}
		if (udsp_path_check(m->path)) {
			errmsg_set(e, "OPEN: bad socket address");
			return -EBADMSG;
		}
		/* fallthrough to the window check */
		goto check_window;
	}
	case UDSP_T_OPEN_OK:
		if (wire_get_u32(&r, &m->window)) {
			ret = -EBADMSG;
			break;
		}
	check_window:
		if (m->window < UDSP_WINDOW_MIN || m->window > UDSP_WINDOW_MAX) {
			errmsg_set(e, "%s: window %u out of range", udsp_type_name(h->type),
				   m->window);
			return -EBADMSG;
		}
		break;
	case UDSP_T_OPEN_ERR:
	case UDSP_T_RESET:
		if (wire_get_u32(&r, &m->err)) {
			ret = -EBADMSG;
			break;
		}
		if (m->err == 0 || m->err > 4095) {
			errmsg_set(e, "%s: errno %u out of range", udsp_type_name(h->type), m->err);
			return -EBADMSG;
		}
		break;
	case UDSP_T_DATA:
		wire_get_rest(&r, &m->data, &m->data_len);
		break;
	case UDSP_T_DATA_FDS:
		ret = decode_fds(&r, m, e);
		if (ret) {
			if (ret == -EBADMSG && !errmsg_str(e)[0])
				errmsg_set(e, "DATA_FDS: truncated descriptor list");
			udsp_msg_release(m);
			return ret;
		}
		wire_get_rest(&r, &m->data, &m->data_len);
		if (m->data_len == 0) {
			udsp_msg_release(m);
			errmsg_set(e, "DATA_FDS: no data byte to carry the descriptors");
			return -EBADMSG;
		}
		break;
	case UDSP_T_CREDIT:
		if (wire_get_u32(&r, &m->credit)) {
			ret = -EBADMSG;
			break;
		}
		if (m->credit == 0 || m->credit > UDSP_WINDOW_MAX + UDSP_MAX_PAYLOAD) {
			errmsg_set(e, "CREDIT: %u out of range", m->credit);
			return -EBADMSG;
		}
		break;
	case UDSP_T_SHUT:
		break;
	case UDSP_T_MIRROR_WATCH:
		want_stream = false;
		if (get_str_into(&r, m->path, UDSP_PATH_MAX) || m->path[0] != '/') {
			errmsg_set(e, "MIRROR_WATCH: bad directory");
			return -EBADMSG;
		}
		break;
	case UDSP_T_MIRROR:
		want_stream = false;
		if (wire_get_u8(&r, &m->op) || wire_get_u8(&r, &m->socktype) ||
		    get_str_into(&r, m->path, UDSP_PATH_MAX)) {
			ret = -EBADMSG;
			break;
		}
		if ((m->op != UDSP_MIRROR_ADD && m->op != UDSP_MIRROR_DEL) ||
		    !socktype_valid(m->socktype) || m->path[0] != '/') {
			errmsg_set(e, "MIRROR: bad op, type or path");
			return -EBADMSG;
		}
		break;
	default:
		errmsg_set(e, "unknown frame type %u", h->type);
		return -EBADMSG;
	}
	if (ret) {
		errmsg_set(e, "%s: truncated payload", udsp_type_name(h->type));
		return ret;
	}
	if (wire_reader_done(&r)) {
		errmsg_set(e, "%s: %zu trailing bytes", udsp_type_name(h->type),
			   r.len > r.off ? r.len - r.off : 0);
		udsp_msg_release(m);
		return -EBADMSG;
	}
	if (want_stream != (h->stream != 0)) {
		errmsg_set(e, "%s: stream id %u not allowed", udsp_type_name(h->type), h->stream);
		udsp_msg_release(m);
		return -EBADMSG;
	}
	return 0;
}

void udsp_msg_release(struct udsp_msg *m)
{
	uint32_t i;

	if (!m->fds)
		return;
	for (i = 0; i < m->nfds; i++)
		free(m->fds[i].path);
	free(m->fds);
	m->fds = NULL;
	m->nfds = 0;
}

int udsp_put_link(struct wire_buf *b, uint64_t nonce, uint64_t linked)
{
	wire_frame_begin(b);
	wire_put_u64(b, nonce);
	wire_put_u32(b, linked ? UDSP_LINK_F_LINKED : 0);
	if (linked)
		wire_put_u64(b, linked);
	return wire_frame_end(b, UDSP_T_LINK, 0, 0);
}

bool udsp_link_duplicate(uint64_t a_nonce, uint64_t a_linked, uint64_t b_nonce, uint64_t b_linked)
{
	return (a_linked && a_linked == b_nonce) || (b_linked && b_linked == a_nonce);
}

int udsp_put_open_groups(struct wire_buf *b, uint32_t stream, uint8_t socktype, uint32_t window,
			 uint32_t uid, uint32_t gid, const uint32_t *groups, uint32_t ngroups,
			 const char *path)
{
	uint32_t i;

	if (ngroups > UDSP_MAX_GROUPS)
		ngroups = UDSP_MAX_GROUPS;
	wire_frame_begin(b);
	wire_put_u8(b, socktype);
	wire_put_u32(b, window);
	wire_put_u32(b, uid);
	wire_put_u32(b, gid);
	wire_put_str(b, path);
	wire_put_u32(b, ngroups);
	for (i = 0; i < ngroups; i++)
		wire_put_u32(b, groups[i]);
	return wire_frame_end(b, UDSP_T_OPEN, stream, 0);
}

int udsp_put_open(struct wire_buf *b, uint32_t stream, uint8_t socktype, uint32_t window,
		  uint32_t uid, uint32_t gid, const char *path)
{
	return udsp_put_open_groups(b, stream, socktype, window, uid, gid, NULL, 0, path);
}

int udsp_put_u32_msg(struct wire_buf *b, uint8_t type, uint32_t stream, uint32_t v)
{
	wire_frame_begin(b);
	wire_put_u32(b, v);
	return wire_frame_end(b, type, stream, 0);
}

int udsp_put_empty(struct wire_buf *b, uint8_t type, uint32_t stream)
{
	wire_frame_begin(b);
	return wire_frame_end(b, type, stream, 0);
}

int udsp_put_mirror(struct wire_buf *b, uint8_t op, uint8_t socktype, const char *path)
{
	wire_frame_begin(b);
	wire_put_u8(b, op);
	wire_put_u8(b, socktype);
	wire_put_str(b, path);
	return wire_frame_end(b, UDSP_T_MIRROR, 0, 0);
}

int udsp_put_mirror_watch(struct wire_buf *b, const char *dir)
{
	wire_frame_begin(b);
	wire_put_str(b, dir);
	return wire_frame_end(b, UDSP_T_MIRROR_WATCH, 0, 0);
}

void udsp_put_fds_begin(struct wire_buf *b, const struct udsp_fd_desc *fds, uint32_t nfds)
{
	uint32_t i;

	wire_frame_begin(b);
	wire_put_u32(b, nfds);
	for (i = 0; i < nfds; i++) {
		wire_put_u8(b, fds[i].kind);
		if (fds[i].kind == UDSP_FD_FILE) {
			wire_put_u32(b, fds[i].flags);
			wire_put_u64(b, fds[i].offset);
			wire_put_str(b, fds[i].path);
		} else {
			wire_put_u32(b, fds[i].stream);
		}
	}
}

const char *udsp_type_name(uint8_t type)
{
	static const char *const names[] = {
		[WIRE_T_HELLO] = "HELLO",     [WIRE_T_ERROR] = "ERROR",
		[WIRE_T_PING] = "PING",	      [WIRE_T_PONG] = "PONG",
		[UDSP_T_LINK] = "LINK",	      [UDSP_T_OPEN] = "OPEN",
		[UDSP_T_OPEN_OK] = "OPEN_OK", [UDSP_T_OPEN_ERR] = "OPEN_ERR",
		[UDSP_T_DATA] = "DATA",	      [UDSP_T_DATA_FDS] = "DATA_FDS",
		[UDSP_T_CREDIT] = "CREDIT",   [UDSP_T_SHUT] = "SHUT",
		[UDSP_T_RESET] = "RESET",     [UDSP_T_MIRROR_WATCH] = "MIRROR_WATCH",
		[UDSP_T_MIRROR] = "MIRROR",
	};

	if (type < sizeof(names) / sizeof(names[0]) && names[type])
		return names[type];
	return "frame";
}

const char *udsp_socktype_name(uint8_t socktype)
{
	switch (socktype) {
	case UDSP_SOCK_STREAM:
		return "stream";
	case UDSP_SOCK_SEQPACKET:
		return "seqpacket";
	case UDSP_SOCK_DGRAM:
		return "dgram";
	case UDSP_SOCK_PIPE:
		return "pipe";
	}
	return "?";
}

uint8_t udsp_socktype_from_sys(int type)
{
	switch (type) {
	case SOCK_STREAM:
		return UDSP_SOCK_STREAM;
	case SOCK_SEQPACKET:
		return UDSP_SOCK_SEQPACKET;
	case SOCK_DGRAM:
		return UDSP_SOCK_DGRAM;
	}
	return 0;
}

int udsp_socktype_to_sys(uint8_t socktype)
{
	switch (socktype) {
	case UDSP_SOCK_STREAM:
		return SOCK_STREAM;
	case UDSP_SOCK_SEQPACKET:
		return SOCK_SEQPACKET;
	case UDSP_SOCK_DGRAM:
		return SOCK_DGRAM;
	}
	return -1;
}
