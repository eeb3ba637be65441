/* udsproxy_client: ask the local udsproxyd for a socket connected to an address on the other
 * machine. Used by libudsproxy.so (the LD_PRELOAD shim) and by programs directly.
 *
 *   int fd = udsproxy_connect("/run/splitvirt/vm1/qmp.sock", SOCK_STREAM, 0, NULL);
 *   if (fd < 0) -> -ENOENT / -ECONNREFUSED / -EACCES from the far side, or a local error
 *
 * The fd is a unix socket of the requested type (close-on-exec) whose other end is the
 * daemon; bytes, message boundaries and SCM_RIGHTS (pipes, unix stream sockets, files under
 * a shared tree) travel to the remote socket. Thread-safe; no global state.
 */
#ifndef UDSPROXY_CLIENT_H
#define UDSPROXY_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The control socket: $UDSPROXY_SOCK, else /run/udsproxy/udsproxy.sock. */
const char *udsproxy_ctl_path(void);

struct udsproxy_info {
	bool remote;	   /* the error came from the far side (its connect failed) */
	char shared[1024]; /* ':'-separated shared trees (regular files may be passed) */
};

/* udsproxy_connect flags */
#define UDSPROXY_NONBLOCK 0x1 /* the returned fd is O_NONBLOCK */

/*
 * Connects to path ("/abs/path" or "@abstract") on the far side with a socket of type
 * SOCK_STREAM, SOCK_SEQPACKET or SOCK_DGRAM. reply_to (DGRAM only, may be NULL) names the
 * caller's own bound address, where datagrams from the far side are delivered instead of
 * to the returned fd. Returns the fd, or -errno; info (may be NULL) says whether the errno
 * is the far side's. The control socket not running gives -ECONNREFUSED or -ENOENT with
 * info->remote false; no link to the peer gives -EHOSTUNREACH.
 */
int udsproxy_connect(const char *path, int type, int flags, const char *reply_to,
		     struct udsproxy_info *info);

/*
 * The non-blocking form (what connect() on an O_NONBLOCK socket does under the shim):
 * returns at once with the fd, which stays unwritable until the far side answered, and
 * *ctl, a handle for udsproxy_connect_finish(). -errno if the request could not be made.
 */
int udsproxy_connect_start(const char *path, int type, int flags, const char *reply_to, int *ctl,
			   struct udsproxy_info *info);
/*
 * The outcome of a started connect: 0 connected, -EINPROGRESS not yet (poll the fd for
 * POLLOUT or ctl for POLLIN), or the far side's -errno. Closes ctl once the outcome is known.
 */
int udsproxy_connect_finish(int ctl, struct udsproxy_info *info);

/* The daemon's status text into buf. 0 or -errno. */
int udsproxy_status(char *buf, size_t len);

#ifdef __cplusplus
}
#endif

#endif
