/* shim: libudsproxy.so, the LD_PRELOAD interposer. connect() to an AF_UNIX address that is
 * listed (UDSPROXY_PATHS, the qtcfg udsconnect list) or that fails locally with
 * ENOENT/ECONNREFUSED is proxied: the socket is replaced (dup3) by one connected through
 * udsproxyd (an O_NONBLOCK socket gets EINPROGRESS, becomes writable when the far side
 * answered, and getsockopt(SO_ERROR) then gives the far errno). sendto()/sendmsg() to
 * unconnected DGRAM destinations likewise; SCM_RIGHTS
 * that cannot cross are refused with an errno before anything is sent. Silent unless
 * UDSPROXY_LOG is set. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "addr.h"
#include "allow.h"
#include "qtlist.h"
#include "udsproxy_client.h"

#define SHIM_EXPORT	    __attribute__((visibility("default")))
#define SHIM_MAX_TRACKED_FD 65536

typedef int (*connect_fn)(int, const struct sockaddr *, socklen_t);
typedef ssize_t (*sendto_fn)(int, const void *, size_t, int, const struct sockaddr *, socklen_t);
typedef ssize_t (*sendmsg_fn)(int, const struct msghdr *, int);
typedef int (*close_fn)(int);
typedef int (*getsockopt_fn)(int, int, int, void *, socklen_t *);

/* A non-blocking connect in progress: the daemon answers on ctl. */
struct shim_pending {
	struct shim_pending *next;
	int app_fd;
	ino_t app_ino;
	int ctl;
};

/* A proxied destination of an unconnected datagram socket. */
struct shim_dgram {
	struct shim_dgram *next;
	int app_fd;
	ino_t app_ino; /* app_fd's socket: a reused fd number is not the same socket */
	int fd;	       /* connected through the daemon to path */
	char path[108];
};

static struct {
	pthread_once_t once;
	connect_fn connect;
	sendto_fn sendto;
	sendmsg_fn sendmsg;
	close_fn close;
	getsockopt_fn getsockopt;
	bool log;
	bool fallback;
	char *env_paths; /* UDSPROXY_PATHS, ':'-separated prefixes */
	char list_file[PATH_MAX];
	/* everything below under mu */
	pthread_mutex_t mu;
	struct qtlist list;
	struct timespec list_mtime;
	ino_t list_ino;
	off_t list_size;
	bool list_loaded;
	struct shim_dgram *dgrams;
	struct shim_pending *pending;
	/* per fd: the inode of the socket connected through the daemon (0: none); an fd number
	 * the program reused with dup2() no longer matches */
	ino_t *proxied;
	char shared[1024];
	atomic_int n_tracked; /* fast path for close(): nothing to do when 0 */
} S = {.once = PTHREAD_ONCE_INIT, .mu = PTHREAD_MUTEX_INITIALIZER};

static void shim_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void shim_log(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	if (!S.log)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	(void)!write(STDERR_FILENO, "udsproxy: ", 10);
	(void)!write(STDERR_FILENO, buf, (size_t)n);
}

static void shim_init(void)
{
	const char *dir = getenv("UDSPROXY_CONF_DIR"), *fb = getenv("UDSPROXY_FALLBACK");
	const char *paths = getenv("UDSPROXY_PATHS");
	struct errmsg e;

	S.connect = (connect_fn)dlsym(RTLD_NEXT, "connect");
	S.sendto = (sendto_fn)dlsym(RTLD_NEXT, "sendto");
	S.sendmsg = (sendmsg_fn)dlsym(RTLD_NEXT, "sendmsg");
	S.close = (close_fn)dlsym(RTLD_NEXT, "close");
	S.getsockopt = (getsockopt_fn)dlsym(RTLD_NEXT, "getsockopt");
	S.log = getenv("UDSPROXY_LOG") != NULL;
	S.fallback = !(fb && !strcmp(fb, "0"));
	if (paths && paths[0])
		S.env_paths = strdup(paths);
	if (qtlist_file(dir && dir[0] ? dir : "/etc/udsproxy", QTLIST_DEFAULT_TYPE, S.list_file,
			sizeof(S.list_file), &e))
		S.list_file[0] = '\0';
}

static bool env_match(const char *path)
{
	const char *p = S.env_paths;

	while (p && *p) {
		const char *end = strchr(p, ':');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		char prefix[108 + 1];

		if (n && n < sizeof(prefix)) {
			memcpy(prefix, p, n);
			prefix[n] = '\0';
			if (prefix[0] == '@' ? !strcmp(prefix, path)
					     : allow_path_match(prefix, path))
				return true;
		}
		p = end ? end + 1 : NULL;
	}
	return false;
}

/* The qtcfg list, re-read when qtcfg replaced it. Caller holds mu. */
static void list_refresh(void)
{
	struct errmsg e;
	struct stat st;

	if (!S.list_file[0])
		return;
	if (stat(S.list_file, &st)) {
		qtlist_free(&S.list);
		S.list_loaded = false;
		return;
	}
	if (S.list_loaded && st.st_ino == S.list_ino && st.st_size == S.list_size &&
	    st.st_mtim.tv_sec == S.list_mtime.tv_sec && st.st_mtim.tv_nsec == S.list_mtime.tv_nsec)
		return;
	qtlist_free(&S.list);
	S.list_loaded = true;
	S.list_ino = st.st_ino;
	S.list_size = st.st_size;
	S.list_mtime = st.st_mtim;
	if (qtlist_load(S.list_file, &S.list, &e))
		shim_log("%s", errmsg_str(&e));
}

static bool listed(const char *path)
{
	bool hit;

	if (env_match(path))
		return true;
	pthread_mutex_lock(&S.mu);
	list_refresh();
	hit = qtlist_match(&S.list, path);
	pthread_mutex_unlock(&S.mu);
	return hit;
}

static int sock_type(int fd)
{
	int type = -1;
	socklen_t len = sizeof(type);

	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len))
		return -1;
	return type;
}

static ino_t fd_ino(int fd)
{
	struct stat st;

	return fstat(fd, &st) ? 0 : st.st_ino;
}

static void mark_proxied(int fd, const char *shared)
{
	ino_t ino = fd_ino(fd);

	pthread_mutex_lock(&S.mu);
	if (!S.proxied)
		S.proxied = calloc(SHIM_MAX_TRACKED_FD, sizeof(*S.proxied));
	if (S.proxied && fd >= 0 && fd < SHIM_MAX_TRACKED_FD) {
		if (!S.proxied[fd])
			atomic_fetch_add(&S.n_tracked, 1);
		S.proxied[fd] = ino ? ino : 1;
	}
	snprintf(S.shared, sizeof(S.shared), "%s", shared);
	pthread_mutex_unlock(&S.mu);
}

/*
 * Replaces fd by a socket connected through the daemon. 0, -EINPROGRESS (an O_NONBLOCK
 * socket: the outcome comes later, see shim_finish), or -errno (fd untouched).
 */
static int proxy_fd(int fd, const char *path, int type, struct udsproxy_info *info)
{
	int fl = fcntl(fd, F_GETFL), fdfl = fcntl(fd, F_GETFD), nfd, ctl = -1;

	if (fl < 0 || fdfl < 0)
		return -EBADF;
	if (fl & O_NONBLOCK)
		nfd = udsproxy_connect_start(path, type, UDSPROXY_NONBLOCK, NULL, &ctl, info);
	else
		nfd = udsproxy_connect(path, type, 0, NULL, info);
	if (nfd < 0)
		return nfd;
	/* Same fd number, same O_NONBLOCK and close-on-exec: the program cannot tell. */
	if (dup3(nfd, fd, (fdfl & FD_CLOEXEC) ? O_CLOEXEC : 0) < 0) {
		int err = errno;

		S.close(nfd);
		return -err;
	}
	S.close(nfd);
	mark_proxied(fd, info->shared);
	if (ctl >= 0) {
		struct shim_pending *p = calloc(1, sizeof(*p));

		if (!p) {
			/* Cannot track it: wait for the outcome here instead. */
			struct pollfd pf = {.fd = ctl, .events = POLLIN};
			int r;

			(void)poll(&pf, 1, 15000);
			r = udsproxy_connect_finish(ctl, info);
			return r == -EINPROGRESS ? -ETIMEDOUT : r;
		}
		p->app_fd = fd;
		p->app_ino = fd_ino(fd);
		p->ctl = ctl;
		pthread_mutex_lock(&S.mu);
		p->next = S.pending;
		S.pending = p;
		atomic_fetch_add(&S.n_tracked, 1);
		pthread_mutex_unlock(&S.mu);
		return -EINPROGRESS;
	}
	return 0;
}

/*
 * The outcome of fd's connect if one is pending: 1 and *err (0 connected, -EINPROGRESS not
 * yet, -errno failed); 0 if fd has no pending connect.
 */
static int shim_finish(int fd, int *err)
{
	struct shim_pending **pp, *p;
	struct udsproxy_info info;
	int ctl = -1;

	if (atomic_load(&S.n_tracked) == 0)
		return 0;
	pthread_mutex_lock(&S.mu);
	for (pp = &S.pending; (p = *pp); pp = &p->next)
		if (p->app_fd == fd)
			break;
	if (p && p->app_ino != fd_ino(fd)) {
		/* The fd number now names another socket: that connect was abandoned. */
		*pp = p->next;
		atomic_fetch_sub(&S.n_tracked, 1);
		pthread_mutex_unlock(&S.mu);
		S.close(p->ctl);
		free(p);
		return 0;
	}
	if (p)
		ctl = p->ctl;
	pthread_mutex_unlock(&S.mu);
	if (!p)
		return 0;
	*err = udsproxy_connect_finish(ctl, &info);
	if (*err == -EINPROGRESS)
		return 1;
	/* finish closed ctl: forget the entry (unless another thread did already). */
	pthread_mutex_lock(&S.mu);
	for (pp = &S.pending; (p = *pp); pp = &p->next) {
		if (p->app_fd == fd && p->ctl == ctl) {
			*pp = p->next;
			atomic_fetch_sub(&S.n_tracked, 1);
			free(p);
			break;
		}
	}
	pthread_mutex_unlock(&S.mu);
	shim_log("connect on fd %d: %s", fd, *err ? strerror(-*err) : "proxied");
	return 1;
}

SHIM_EXPORT int connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	char path[108];
	struct udsproxy_info info;
	bool hit;
	int type, ret, saved = 0, r;

	pthread_once(&S.once, shim_init);
	if (!S.connect) {
		errno = ENOSYS;
		return -1;
	}
	if (shim_finish(fd, &ret)) {
		/* connect() again on a socket whose connect is in progress, as for TCP. */
		errno = ret == -EINPROGRESS ? EALREADY : ret == 0 ? EISCONN : -ret;
		return -1;
	}
	if (!sa || len <= sizeof(sa_family_t) || sa->sa_family != AF_UNIX ||
	    udsp_addr_from_sockaddr(sa, len, path, sizeof(path)) ||
	    !strcmp(path, udsproxy_ctl_path()))
		return S.connect(fd, sa, len);
	type = sock_type(fd);
	if (type != SOCK_STREAM && type != SOCK_SEQPACKET && type != SOCK_DGRAM)
		return S.connect(fd, sa, len);
	hit = listed(path);
	if (!hit) {
		r = S.connect(fd, sa, len);
		if (r == 0 || !S.fallback || (errno != ENOENT && errno != ECONNREFUSED))
			return r;
		saved = errno;
	}
	ret = proxy_fd(fd, path, type, &info);
	if (ret == 0) {
		shim_log("connect %s: proxied", path);
		return 0;
	}
	if (ret == -EINPROGRESS) {
		shim_log("connect %s: in progress", path);
		errno = EINPROGRESS;
		return -1;
	}
	shim_log("connect %s: %s%s", path, strerror(-ret), info.remote ? " (far side)" : "");
	if (!info.remote) {
		/* No daemon or no link: behave as without the shim. */
		if (!hit) {
			errno = saved;
			return -1;
		}
		return S.connect(fd, sa, len);
	}
	errno = -ret;
	return -1;
}

/* The socket proxying datagrams from app_fd to path, made on first use. -errno. */
static int dgram_fd(int app_fd, const char *path, bool *remote)
{
	char reply[108] = "";
	struct sockaddr_un self;
	socklen_t slen = sizeof(self);
	struct udsproxy_info info;
	struct shim_dgram *g, **pp, *stale = NULL;
	ino_t ino = fd_ino(app_fd);
	int fd;

	*remote = false;
	pthread_mutex_lock(&S.mu);
	for (pp = &S.dgrams; (g = *pp);) {
		if (g->app_fd == app_fd && g->app_ino != ino) {
			/* The program reused the fd number for another socket (dup2). */
			*pp = g->next;
			g->next = stale;
			stale = g;
			atomic_fetch_sub(&S.n_tracked, 1);
			continue;
		}
		if (g->app_fd == app_fd && !strcmp(g->path, path)) {
			fd = g->fd;
			pthread_mutex_unlock(&S.mu);
			return fd;
		}
		pp = &g->next;
	}
	pthread_mutex_unlock(&S.mu);
	while ((g = stale)) {
		stale = g->next;
		S.close(g->fd);
		free(g);
	}
	/* Replies go to the program's own bound name, where it reads them. */
	if (getsockname(app_fd, (struct sockaddr *)&self, &slen) == 0 &&
	    udsp_addr_from_sockaddr((struct sockaddr *)&self, slen, reply, sizeof(reply)))
		reply[0] = '\0';
	fd = udsproxy_connect(path, SOCK_DGRAM, 0, reply[0] ? reply : NULL, &info);
	if (fd < 0) {
		*remote = info.remote;
		return fd;
	}
	g = calloc(1, sizeof(*g));
	if (!g) {
		S.close(fd);
		return -ENOMEM;
	}
	g->app_fd = app_fd;
	g->app_ino = ino;
	g->fd = fd;
	snprintf(g->path, sizeof(g->path), "%s", path);
	pthread_mutex_lock(&S.mu);
	g->next = S.dgrams;
	S.dgrams = g;
	atomic_fetch_add(&S.n_tracked, 1);
	pthread_mutex_unlock(&S.mu);
	return fd;
}

/* Should a datagram to sa go through the daemon? Fills path. */
static bool dgram_candidate(int fd, const struct sockaddr *sa, socklen_t len, char *path, size_t n)
{
	if (!sa || len <= sizeof(sa_family_t) || sa->sa_family != AF_UNIX)
		return false;
	if (udsp_addr_from_sockaddr(sa, len, path, n) || !strcmp(path, udsproxy_ctl_path()))
		return false;
	return sock_type(fd) == SOCK_DGRAM;
}

SHIM_EXPORT ssize_t sendto(int fd, const void *buf, size_t len, int flags,
			   const struct sockaddr *sa, socklen_t salen)
{
	char path[108];
	ssize_t r;
	bool remote;
	int pfd, saved = 0;

	pthread_once(&S.once, shim_init);
	if (!S.sendto) {
		errno = ENOSYS;
		return -1;
	}
	if (!dgram_candidate(fd, sa, salen, path, sizeof(path)))
		return S.sendto(fd, buf, len, flags, sa, salen);
	if (!listed(path)) {
		r = S.sendto(fd, buf, len, flags, sa, salen);
		if (r >= 0 || !S.fallback || (errno != ENOENT && errno != ECONNREFUSED))
			return r;
		saved = errno;
	}
	pfd = dgram_fd(fd, path, &remote);
	if (pfd < 0) {
		errno = remote || !saved ? -pfd : saved;
		return -1;
	}
	return send(pfd, buf, len, flags);
}

/* Refuses descriptors that cannot cross to the other machine, before anything is sent. */
static int check_fds(int fd, const struct msghdr *msg)
{
	struct cmsghdr *c;
	ino_t ino = 0;

	if (!msg->msg_control || atomic_load(&S.n_tracked) == 0)
		return 0;
	pthread_mutex_lock(&S.mu);
	if (S.proxied && fd >= 0 && fd < SHIM_MAX_TRACKED_FD)
		ino = S.proxied[fd];
	pthread_mutex_unlock(&S.mu);
	if (!ino || ino != fd_ino(fd))
		return 0;
	for (c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR((struct msghdr *)msg, c)) {
		size_t i, n;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < n; i++) {
			char proc[64], target[PATH_MAX], shared[1024], *tok, *save = NULL;
			struct stat st;
			ssize_t l;
			int pfd, fl;
			bool ok = false;

			memcpy(&pfd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (fstat(pfd, &st))
				return -EBADF;
			fl = fcntl(pfd, F_GETFL);
			if (S_ISFIFO(st.st_mode)) {
				if ((fl & O_ACCMODE) == O_RDWR)
					return -EOPNOTSUPP;
				continue;
			}
			if (S_ISSOCK(st.st_mode)) {
				struct sockaddr_un peer;
				socklen_t pl = sizeof(peer);

				if (sock_type(pfd) != SOCK_STREAM ||
				    getpeername(pfd, (struct sockaddr *)&peer, &pl) ||
				    peer.sun_family != AF_UNIX)
					return -EOPNOTSUPP;
				continue;
			}
			if (!S_ISREG(st.st_mode))
				return -EOPNOTSUPP;
			snprintf(proc, sizeof(proc), "/proc/self/fd/%d", pfd);
			l = readlink(proc, target, sizeof(target) - 1);
			if (l <= 0)
				return -EXDEV;
			target[l] = '\0';
			pthread_mutex_lock(&S.mu);
			snprintf(shared, sizeof(shared), "%s", S.shared);
			pthread_mutex_unlock(&S.mu);
			for (tok = strtok_r(shared, ":", &save); tok && !ok;
			     tok = strtok_r(NULL, ":", &save))
				ok = allow_path_match(tok, target);
			if (!ok) {
				shim_log("refusing to pass %s: not under a shared tree", target);
				return -EXDEV;
			}
		}
	}
	return 0;
}

SHIM_EXPORT ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
	char path[108];
	struct msghdr m;
	ssize_t r;
	bool remote;
	int pfd, ret, saved = 0;

	pthread_once(&S.once, shim_init);
	if (!S.sendmsg) {
		errno = ENOSYS;
		return -1;
	}
	if (!msg)
		return S.sendmsg(fd, msg, flags);
	ret = check_fds(fd, msg);
	if (ret) {
		errno = -ret;
		return -1;
	}
	if (!dgram_candidate(fd, msg->msg_name, msg->msg_namelen, path, sizeof(path)))
		return S.sendmsg(fd, msg, flags);
	if (!listed(path)) {
		r = S.sendmsg(fd, msg, flags);
		if (r >= 0 || !S.fallback || (errno != ENOENT && errno != ECONNREFUSED))
			return r;
		saved = errno;
	}
	pfd = dgram_fd(fd, path, &remote);
	if (pfd < 0) {
		errno = remote || !saved ? -pfd : saved;
		return -1;
	}
	m = *msg;
	m.msg_name = NULL;
	m.msg_namelen = 0;
	return S.sendmsg(pfd, &m, flags);
}

SHIM_EXPORT int getsockopt(int fd, int level, int name, void *val, socklen_t *len)
{
	int err;

	pthread_once(&S.once, shim_init);
	if (!S.getsockopt) {
		errno = ENOSYS;
		return -1;
	}
	/* SO_ERROR of a proxied connect in progress: 0 until known, then the far errno. */
	if (level == SOL_SOCKET && name == SO_ERROR && val && len && *len >= sizeof(int) &&
	    shim_finish(fd, &err)) {
		int v = err == -EINPROGRESS ? 0 : -err;

		memcpy(val, &v, sizeof(v));
		*len = sizeof(int);
		return 0;
	}
	return S.getsockopt(fd, level, name, val, len);
}

SHIM_EXPORT int close(int fd)
{
	pthread_once(&S.once, shim_init);
	if (!S.close) {
		errno = ENOSYS;
		return -1;
	}
	if (atomic_load(&S.n_tracked) > 0) {
		struct shim_dgram **pp, *g, *dead = NULL;
		struct shim_pending **qq, *q, *gone = NULL;

		pthread_mutex_lock(&S.mu);
		for (qq = &S.pending; (q = *qq);) {
			if (q->app_fd == fd) {
				*qq = q->next;
				q->next = gone;
				gone = q;
				atomic_fetch_sub(&S.n_tracked, 1);
			} else {
				qq = &q->next;
			}
		}
		if (S.proxied && fd >= 0 && fd < SHIM_MAX_TRACKED_FD && S.proxied[fd]) {
			S.proxied[fd] = 0;
			atomic_fetch_sub(&S.n_tracked, 1);
		}
		for (pp = &S.dgrams; (g = *pp);) {
			if (g->app_fd == fd) {
				*pp = g->next;
				g->next = dead;
				dead = g;
				atomic_fetch_sub(&S.n_tracked, 1);
			} else {
				pp = &g->next;
			}
		}
		pthread_mutex_unlock(&S.mu);
		while ((g = dead)) {
			dead = g->next;
			S.close(g->fd);
			free(g);
		}
		/* Closing the control socket tells the daemon to drop the stream. */
		while ((q = gone)) {
			gone = q->next;
			S.close(q->ctl);
			free(q);
		}
	}
	return S.close(fd);
}
