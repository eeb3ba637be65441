/* server_ops: each qtfs operation on the export, confined, allowlisted and with the
 * right identity. Nodes arrive as blobs, are resolved to O_PATH fds, and every name is
 * a single component looked up beneath its directory fd, so nothing is followed out. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "log.h"
#include "qtfs-user/ident.h"
#include "qtfs-user/resolve.h"
#include "qtfs-user/server.h"
#include "util.h"

#define PROC_FD_MAX 40

/* The job the calling worker runs (for interrupts). */
static __thread struct qtfsd_job *qtfsd_cur_job;

/* Bits of open flags a client may ask for on a reopen. */
#define QTFSD_OPEN_FLAGS \
	(O_ACCMODE | O_APPEND | O_NONBLOCK | O_DIRECTORY | O_SYNC | O_DSYNC | O_LARGEFILE)

static void proc_fd(char *buf, int fd)
{
	snprintf(buf, PROC_FD_MAX, "/proc/self/fd/%d", fd);
}

static void qtfsd_ident_of(const struct qtfsd_export *x, const struct qtfs_cred *cr,
			   struct qtfs_ident *id)
{
	uint32_t i;

	memset(id, 0, sizeof(*id));
	if (x->idmode == QTFSD_ID_FIXED) {
		id->uid = x->uid;
		id->gid = x->gid;
		return;
	}
	id->uid = cr->uid;
	id->gid = cr->gid;
	id->ngroups = cr->ngroups <= 32 ? cr->ngroups : 32;
	for (i = 0; i < id->ngroups; i++)
		id->groups[i] = cr->groups[i];
	if (x->root_squash) {
		if (id->uid == 0)
			id->uid = 65534;
		if (id->gid == 0)
			id->gid = 65534;
		for (i = 0; i < id->ngroups; i++)
			if (id->groups[i] == 0)
				id->groups[i] = 65534;
	}
}

static unsigned qtfsd_resolve_flags(const struct qtfsd_export *x)
{
	return x->kind == QTFSD_KIND_NORMAL ? QTFS_RESOLVE_NO_MAGIC : 0;
}

/* ---- allowlist checks on resolved paths ---- */

static int qtfsd_check_fd(struct qtfsd_conn *c, enum qtfs_wl_op op, int fd)
{
	char path[QTFS_PATH_MAX + 1];

	if (!qtfs_wl_restricted(c->srv->wl, op))
		return 0;
	/* a node the kernel cannot name (unlinked, disconnected) matches no entry */
	if (qtfs_fd_path(fd, path, sizeof(path)))
		return -EACCES;
	return qtfs_wl_allows(c->srv->wl, op, path) ? 0 : -EACCES;
}

static int qtfsd_check_name(struct qtfsd_conn *c, enum qtfs_wl_op op, int dirfd, const char *name)
{
	char dir[QTFS_PATH_MAX + 1], path[QTFS_PATH_MAX + 1];

	if (!qtfs_wl_restricted(c->srv->wl, op))
		return 0;
	if (qtfs_fd_path(dirfd, dir, sizeof(dir)) || qtfs_path_join(path, sizeof(path), dir, name))
		return -EACCES;
	return qtfs_wl_allows(c->srv->wl, op, path) ? 0 : -EACCES;
}

/* ---- open files ---- */

static struct qtfsd_fh **qtfsd_fh_slot(struct qtfsd_conn *c, uint64_t id)
{
	struct qtfsd_fh **pp = &c->fhs[id % ARRAY_SIZE(c->fhs)];

	while (*pp && (*pp)->id != id)
		pp = &(*pp)->next;
	return pp;
}

static int qtfsd_fh_insert(struct qtfsd_conn *c, uint64_t id, int fd, uint32_t flags)
{
	struct qtfsd_fh *fh = calloc(1, sizeof(*fh)), **pp, *old;

	if (!fh) {
		close(fd);
		return -ENOMEM;
	}
	fh->id = id;
	fh->fd = fd;
	fh->flags = flags;
	fh->refs = 1;
	pthread_mutex_init(&fh->dir_lock, NULL);
	pthread_mutex_lock(&c->lock);
	pp = qtfsd_fh_slot(c, id);
	old = *pp;
	if (old) { /* a racing reopen won: keep the first */
		pthread_mutex_unlock(&c->lock);
		close(fd);
		pthread_mutex_destroy(&fh->dir_lock);
		free(fh);
		return 0;
	}
	*pp = fh;
	pthread_mutex_unlock(&c->lock);
	return 0;
}

static void qtfsd_fh_free(struct qtfsd_fh *fh)
{
	close(fh->fd);
	pthread_mutex_destroy(&fh->dir_lock);
	free(fh);
}

static void qtfsd_fh_put(struct qtfsd_conn *c, struct qtfsd_fh *fh)
{
	bool last;

	pthread_mutex_lock(&c->lock);
	last = --fh->refs == 0;
	pthread_mutex_unlock(&c->lock);
	if (last)
		qtfsd_fh_free(fh);
}

void qtfsd_conn_close_files(struct qtfsd_conn *c)
{
	struct qtfsd_lockfd *lf;
	size_t i;

	pthread_mutex_lock(&c->lock);
	while ((lf = c->lockfds)) {
		c->lockfds = lf->next;
		close(lf->fd);
		free(lf);
	}
	for (i = 0; i < ARRAY_SIZE(c->fhs); i++) {
		struct qtfsd_fh *fh = c->fhs[i], *n;

		c->fhs[i] = NULL;
		for (; fh; fh = n) {
			n = fh->next;
			if (--fh->refs == 0)
				qtfsd_fh_free(fh);
		}
	}
	pthread_mutex_unlock(&c->lock);
}

static bool qtfsd_writes(uint32_t flags)
{
	return (flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC);
}

/* Opens the node as a real file with the caller's identity (permission checked). */
static int qtfsd_open_node(struct qtfsd_conn *c, const struct qtfs_ident *id, int pathfd,
			   bool is_dir, uint32_t flags)
{
	char proc[PROC_FD_MAX];
	int ret, fd;

	if (c->ro && qtfsd_writes(flags))
		return -EROFS;
	if (is_dir)
		ret = qtfsd_check_fd(c, QTFS_WL_READDIR, pathfd);
	else {
		ret = qtfsd_check_fd(c, QTFS_WL_OPEN, pathfd);
		if (!ret && qtfsd_writes(flags))
			ret = qtfsd_check_fd(c, QTFS_WL_WRITE, pathfd);
		if (!ret && (flags & O_ACCMODE) != O_WRONLY)
			ret = qtfsd_check_fd(c, QTFS_WL_READ, pathfd);
	}
	if (ret)
		return ret;
	proc_fd(proc, pathfd);
	ret = qtfs_ident_enter(id);
	if (ret)
		return ret;
	fd = open(proc, (int)(flags & (QTFSD_OPEN_FLAGS | O_TRUNC)) | O_CLOEXEC | O_NOCTTY);
	ret = fd < 0 ? -errno : fd;
	qtfs_ident_leave();
	return ret;
}

/* The open file behind a request's fh, reopened from its node after a reconnect. */
static int qtfsd_fh_get(struct qtfsd_conn *c, const struct qtfs_ident *id,
			const struct qtfs_fhref *ref, struct qtfsd_fh **out)
{
	struct qh_ref nref = {0};
	struct qtfsd_fh *fh;
	int ret, fd;

	for (int tries = 0; tries < 2; tries++) {
		pthread_mutex_lock(&c->lock);
		fh = *qtfsd_fh_slot(c, ref->id);
		if (fh)
			fh->refs++;
		pthread_mutex_unlock(&c->lock);
		if (fh) {
			*out = fh;
			return 0;
		}
		if (tries)
			break;
		ret = qh_get(&c->exp->hs, &ref->node, &nref);
		if (ret)
			return ret;
		fd = qtfsd_open_node(c, id, nref.fd, nref.is_dir,
				     ref->flags & ~(uint32_t)(O_TRUNC | O_CREAT | O_EXCL));
		qh_put(&c->exp->hs, &nref);
		if (fd < 0)
			return fd;
		ret = qtfsd_fh_insert(c, ref->id, fd, ref->flags);
		if (ret)
			return ret;
	}
	return -EBADF;
}

/* ---- entries ---- */

static int qtfsd_stat_fd(int fd, struct qtfs_attr *a)
{
	struct stat st;

	if (fstatat(fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	qtfs_attr_from_stat(a, &st);
	return 0;
}

/* A changed directory's attributes after the operation; mode 0 when they cannot be had
 * (the operation itself succeeded: that must not turn into an error). */
static void qtfsd_post_attr(int dirfd, struct qtfs_attr *a)
{
	if (qtfsd_stat_fd(dirfd, a))
		memset(a, 0, sizeof(*a));
}

/* Looks up name below the directory (with the caller's search permission) and makes
 * the reply entry; the O_PATH fd goes into the cache. */
static int qtfsd_entry(struct qtfsd_conn *c, const struct qtfs_ident *id,
		       const struct qtfs_blob *parent, int dirfd, const char *name,
		       struct qtfs_rep *rp)
{
	struct open_how how;
	struct stat st;
	long fd;
	int ret;

	memset(&how, 0, sizeof(how));
	how.flags = O_PATH | O_NOFOLLOW | O_CLOEXEC;
	how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS;
	if (id) {
		ret = qtfs_ident_enter(id);
		if (ret)
			return ret;
	}
	fd = syscall(SYS_openat2, dirfd, name, &how, sizeof(how));
	ret = fd < 0 ? -errno : 0;
	if (id)
		qtfs_ident_leave();
	if (ret)
		return ret;
	if (fstat((int)fd, &st) < 0) {
		ret = -errno;
		close((int)fd);
		return ret;
	}
	ret = qh_make(&c->exp->hs, parent, name, (int)fd, &rp->node);
	if (ret) {
		close((int)fd);
		return ret;
	}
	qtfs_attr_from_stat(&rp->attr, &st);
	qh_adopt(&c->exp->hs, &rp->node, (int)fd, S_ISDIR(st.st_mode));
	return 0;
}

static int qtfsd_attach(struct qtfsd_conn *c, struct qtfs_req *rq, struct qtfs_rep *rp)
{
	struct qtfsd_conf *conf = c->srv->conf;
	struct qtfsd_export *x = NULL;
	const char *rel = NULL, *r;
	struct stat st;
	size_t i, best = 0;
	int fd, ret;

	if (c->exp)
		return -EALREADY;
	/* the longest export path containing the requested one */
	for (i = 0; i < conf->nexports; i++) {
		if (qtfs_path_below(conf->exports[i].path, rq->path, &r) &&
		    strlen(conf->exports[i].path) >= best) {
			x = &conf->exports[i];
			rel = r;
			best = strlen(x->path);
		}
	}
	if (!x)
		return -ENOENT;
	if (!qtfs_wl_allows(c->srv->wl, QTFS_WL_MOUNT, rq->path))
		return -EACCES;
	fd = qtfs_resolve(x->hs.rootfd, rel, O_PATH | O_DIRECTORY, qtfsd_resolve_flags(x));
	if (fd < 0)
		return fd;
	c->exp = x;
	c->ro = x->ro || (rq->flags & QTFS_ATTACH_RDONLY);
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		close(fd);
		c->exp = NULL;
		return ret;
	}
	ret = qh_make(&x->hs, NULL, NULL, fd, &rp->node);
	if (ret) {
		close(fd);
		c->exp = NULL;
		return ret;
	}
	qtfs_attr_from_stat(&rp->attr, &st);
	qh_adopt(&x->hs, &rp->node, fd, true);
	rp->value = (c->ro ? QTFS_ATTACH_RDONLY : 0) |
		    (x->idmode == QTFSD_ID_CALLER ? QTFS_ATTACH_CALLER_IDS : 0) |
		    (x->kind == QTFSD_KIND_PROC ? QTFS_ATTACH_KIND_PROC : 0) |
		    (x->kind == QTFSD_KIND_SYS ? QTFS_ATTACH_KIND_SYS : 0);
	log_info("%s: attached %s (export %s%s)", c->peer, rq->path, x->name, c->ro ? ", ro" : "");
	return 0;
}

/* Whether mode is the file's mode without its set-user-id and/or set-group-id bit. */
static bool qtfsd_only_drops_setid(int fd, uint32_t mode)
{
	struct stat st;
	uint32_t cur;

	if (fstatat(fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
		return false;
	cur = st.st_mode & 07777;
	mode &= 07777;
	return mode != cur &&
	       (cur & ~(uint32_t)(S_ISUID | S_ISGID)) == (mode & ~(uint32_t)(S_ISUID | S_ISGID)) &&
	       (mode & ~cur) == 0;
}

static int qtfsd_setattr(struct qtfsd_conn *c, const struct qtfs_ident *id, struct qtfs_req *rq,
			 int fd, struct qtfs_rep *rp)
{
	char proc[PROC_FD_MAX];
	struct qtfsd_fh *fh = NULL;
	int ret;

	if (c->ro)
		return -EROFS;
	ret = qtfsd_check_fd(c, QTFS_WL_SETATTR, fd);
	if (ret)
		return ret;
	if ((rq->valid & QTFS_SET_FH) && (rq->valid & QTFS_SET_SIZE)) {
		ret = qtfsd_fh_get(c, id, &rq->fh, &fh);
		if (ret)
			return ret;
	}
	proc_fd(proc, fd);
	if ((rq->valid & QTFS_SET_MODE) && qtfsd_only_drops_setid(fd, rq->mode)) {
		/*
		 * The client's kernel drops set-id bits before a write, truncate or chown by
		 * someone who may do that but may not chmod the file (ATTR_FORCE locally: it
		 * has checked the write itself). Losing them is never a gain of privilege.
		 */
		if (syscall(452 /* fchmodat2 */, fd, "", rq->mode & 07777, AT_EMPTY_PATH) < 0 &&
		    (errno != ENOSYS || chmod(proc, rq->mode & 07777) < 0)) {
			ret = -errno;
			goto out;
		}
		rq->valid &= ~(uint32_t)QTFS_SET_MODE;
	}
	ret = qtfs_ident_enter(id);
	if (ret)
		goto out;
	if (rq->valid & QTFS_SET_MODE) {
		if (syscall(452 /* fchmodat2 */, fd, "", rq->mode & 07777, AT_EMPTY_PATH) < 0) {
			ret = -errno;
			if (ret == -ENOSYS)
				ret = chmod(proc, rq->mode & 07777) < 0 ? -errno : 0;
			if (ret)
				goto leave;
		}
	}
	if (rq->valid & (QTFS_SET_UID | QTFS_SET_GID)) {
		uid_t u = (rq->valid & QTFS_SET_UID) ? rq->uid : (uid_t)-1;
		gid_t g = (rq->valid & QTFS_SET_GID) ? rq->gid : (gid_t)-1;

		if (fchownat(fd, "", u, g, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0) {
			ret = -errno;
			goto leave;
		}
	}
	if (rq->valid & QTFS_SET_SIZE) {
		if (fh)
			ret = ftruncate(fh->fd, (off_t)rq->len) < 0 ? -errno : 0;
		else
			ret = truncate(proc, (off_t)rq->len) < 0 ? -errno : 0;
		if (ret)
			goto leave;
	}
	if (rq->valid &
	    (QTFS_SET_ATIME | QTFS_SET_MTIME | QTFS_SET_ATIME_NOW | QTFS_SET_MTIME_NOW)) {
		struct timespec ts[2] = {{0, UTIME_OMIT}, {0, UTIME_OMIT}};

		if (rq->valid & QTFS_SET_ATIME_NOW)
			ts[0].tv_nsec = UTIME_NOW;
		else if (rq->valid & QTFS_SET_ATIME)
			ts[0] = (struct timespec){rq->atime, rq->atime_ns};
		if (rq->valid & QTFS_SET_MTIME_NOW)
			ts[1].tv_nsec = UTIME_NOW;
		else if (rq->valid & QTFS_SET_MTIME)
			ts[1] = (struct timespec){rq->mtime, rq->mtime_ns};
		if (utimensat(fd, "", ts, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0) {
			ret = -errno;
			goto leave;
		}
	}
leave:
	qtfs_ident_leave();
out:
	if (fh)
		qtfsd_fh_put(c, fh);
	if (!ret)
		ret = qtfsd_stat_fd(fd, &rp->attr);
	return ret;
}

/* Size a FUSE readdirplus entry takes in the kernel's buffer. */
static size_t qtfsd_direntplus_size(size_t namelen)
{
	return (152 + namelen + 7) & ~(size_t)7;
}

static int qtfsd_readdirplus(struct qtfsd_conn *c, struct qtfsd_fh *fh, struct qtfs_req *rq,
			     struct qtfs_rep *rp, void **to_free)
{
	uint8_t dbuf[32768];
	struct wire_buf out;
	size_t used = 0;
	bool full = false;
	int ret = 0;

	wire_buf_init(&out);
	pthread_mutex_lock(&fh->dir_lock);
	if (lseek(fh->fd, (off_t)rq->off, SEEK_SET) < 0) {
		ret = -errno;
		goto out;
	}
	while (!full) {
		long n = syscall(SYS_getdents64, fh->fd, dbuf, sizeof(dbuf));
		long pos = 0;

		if (n < 0) {
			ret = -errno;
			break;
		}
		if (n == 0)
			break;
		while (pos < n) {
			struct dirent64 *d = (struct dirent64 *)(dbuf + pos);
			struct qtfs_dirent de;
			size_t need = qtfsd_direntplus_size(strlen(d->d_name));
			struct stat st;

			if (used + need > rq->len) {
				full = true;
				break;
			}
			memset(&de, 0, sizeof(de));
			str_copy(de.name, sizeof(de.name), d->d_name);
			de.next_off = (uint64_t)d->d_off;
			if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, "..") ||
			    qtfsd_check_name(c, QTFS_WL_LOOKUP, fh->fd, d->d_name) ||
			    qtfsd_check_name(c, QTFS_WL_GETATTR, fh->fd, d->d_name) ||
			    fstatat(fh->fd, d->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
			    qh_make_at(&c->exp->hs, &rq->fh.node, fh->fd, d->d_name, &de.node)) {
				/* listed without a lookup: the kernel asks again when needed */
				de.node.len = 0;
				de.attr.ino = d->d_ino;
				de.attr.mode = (uint32_t)d->d_type << 12;
			} else {
				qtfs_attr_from_stat(&de.attr, &st);
			}
			qtfs_dirent_put(&out, &de);
			used += need;
			pos += d->d_reclen;
		}
		if (full && pos == 0 && used == 0)
			break;
		if (full) {
			/* leave the directory positioned for nothing: offsets travel with entries */
			break;
		}
	}
out:
	pthread_mutex_unlock(&fh->dir_lock);
	if (!ret && out.err)
		ret = out.err;
	if (ret) {
		wire_buf_free(&out);
		return ret;
	}
	rp->data = out.data;
	rp->data_len = (uint32_t)out.len;
	*to_free = out.data;
	return 0;
}

/* The owner's lock fd for the file behind fh (made on first use when create is set). */
static int qtfsd_lockfd(struct qtfsd_conn *c, struct qtfsd_fh *fh, uint64_t owner, bool create,
			bool unlink_it)
{
	struct qtfsd_lockfd **pp, *lf;
	char proc[PROC_FD_MAX];
	struct stat st;
	int fd;

	if (fstat(fh->fd, &st) < 0)
		return -errno;
	pthread_mutex_lock(&c->lock);
	for (pp = &c->lockfds; *pp; pp = &(*pp)->next) {
		lf = *pp;
		if (lf->owner == owner && lf->dev == st.st_dev && lf->ino == st.st_ino) {
			fd = lf->fd;
			if (unlink_it) {
				*pp = lf->next;
				free(lf);
			}
			pthread_mutex_unlock(&c->lock);
			return fd;
		}
	}
	pthread_mutex_unlock(&c->lock);
	if (!create)
		return -ENOENT;
	/* a new open file description with the same access as the caller's */
	proc_fd(proc, fh->fd);
	fd = open(proc, (int)(fh->flags & O_ACCMODE) | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	lf = calloc(1, sizeof(*lf));
	if (!lf) {
		close(fd);
		return -ENOMEM;
	}
	lf->owner = owner;
	lf->dev = st.st_dev;
	lf->ino = st.st_ino;
	lf->fd = fd;
	pthread_mutex_lock(&c->lock);
	lf->next = c->lockfds;
	c->lockfds = lf;
	pthread_mutex_unlock(&c->lock);
	return fd;
}

static int qtfsd_lock_op(struct qtfsd_conn *c, struct qtfsd_fh *fh, struct qtfs_req *rq,
			 struct qtfs_rep *rp)
{
	struct flock fl;
	int fd, ret;

	if (rq->op == QTFS_OP_FLOCK) {
		/* flock locks belong to the open file: the fh's own description */
		if (rq->flags & ~(uint32_t)(LOCK_SH | LOCK_EX | LOCK_UN | LOCK_NB))
			return -EINVAL;
		do
			ret = flock(fh->fd, (int)rq->flags) < 0 ? -errno : 0;
		while (ret == -EINTR && !(qtfsd_cur_job && atomic_load(&qtfsd_cur_job->intr)));
		return ret;
	}
	if (rq->op == QTFS_OP_FLUSH) {
		/* close(2) by an owner drops its POSIX locks on the file */
		fd = qtfsd_lockfd(c, fh, rq->owner, false, true);
		if (fd >= 0)
			close(fd);
		return 0;
	}
	if (rq->lk_type != F_RDLCK && rq->lk_type != F_WRLCK && rq->lk_type != F_UNLCK)
		return -EINVAL;
	if (rq->lk_start > INT64_MAX || rq->lk_end > INT64_MAX)
		return -EINVAL;
	fd = qtfsd_lockfd(c, fh, rq->owner, true, false);
	if (fd < 0)
		return fd;
	memset(&fl, 0, sizeof(fl));
	fl.l_type = (short)rq->lk_type;
	fl.l_whence = SEEK_SET;
	fl.l_start = (off_t)rq->lk_start;
	fl.l_len = (off_t)rq->lk_end; /* a length; 0: to the end */
	if (rq->op == QTFS_OP_GETLK) {
		if (fcntl(fd, F_OFD_GETLK, &fl) < 0)
			return -errno;
		rp->lk_type = (uint32_t)fl.l_type;
		rp->lk_start = (uint64_t)fl.l_start;
		rp->lk_end = (uint64_t)fl.l_len;
		rp->lk_pid = fl.l_pid > 0 ? (uint32_t)fl.l_pid : 0;
		return 0;
	}
	do
		ret = fcntl(fd, (rq->flags & 1) ? F_OFD_SETLKW : F_OFD_SETLK, &fl) < 0 ? -errno : 0;
	while (ret == -EINTR && !(qtfsd_cur_job && atomic_load(&qtfsd_cur_job->intr)));
	return ret;
}

static int qtfsd_fh_op(struct qtfsd_conn *c, const struct qtfs_ident *id, struct qtfs_req *rq,
		       struct qtfs_rep *rp, void **to_free)
{
	struct qtfsd_fh *fh = NULL, *fh2 = NULL;
	ssize_t n;
	int ret;

	ret = qtfsd_fh_get(c, id, &rq->fh, &fh);
	if (ret)
		return ret;
	switch (rq->op) {
	case QTFS_OP_READ: {
		uint8_t *buf = malloc(rq->len ? rq->len : 1);

		if (!buf) {
			ret = -ENOMEM;
			break;
		}
		do {
			n = pread(fh->fd, buf, rq->len, (off_t)rq->off);
			if (n < 0 && errno == ESPIPE)
				n = read(fh->fd, buf, rq->len);
		} while (n < 0 && errno == EINTR &&
			 !(qtfsd_cur_job && atomic_load(&qtfsd_cur_job->intr)));
		if (n < 0) {
			ret = -errno;
			free(buf);
			break;
		}
		rp->data = buf;
		rp->data_len = (uint32_t)n;
		*to_free = buf;
		break;
	}
	case QTFS_OP_WRITE:
		if (c->ro) {
			ret = -EROFS;
			break;
		}
		n = pwrite(fh->fd, rq->data, rq->data_len, (off_t)rq->off);
		if (n < 0 && errno == ESPIPE)
			n = write(fh->fd, rq->data, rq->data_len);
		if (n < 0)
			ret = -errno;
		else
			rp->value = (uint64_t)n;
		break;
	case QTFS_OP_FLUSH:
	case QTFS_OP_GETLK:
	case QTFS_OP_SETLK:
	case QTFS_OP_FLOCK:
		ret = qtfsd_lock_op(c, fh, rq, rp);
		break;
	case QTFS_OP_RELEASE: {
		struct qtfsd_fh **pp;

		pthread_mutex_lock(&c->lock);
		pp = qtfsd_fh_slot(c, rq->fh.id);
		if (*pp == fh) {
			*pp = fh->next;
			fh->refs--; /* the table's reference */
			atomic_store(&fh->released, true);
		}
		pthread_mutex_unlock(&c->lock);
		break;
	}
	case QTFS_OP_FSYNC:
		ret = (rq->flags & 1 ? fdatasync(fh->fd) : fsync(fh->fd)) < 0 ? -errno : 0;
		break;
	case QTFS_OP_READDIRPLUS:
		ret = qtfsd_readdirplus(c, fh, rq, rp, to_free);
		break;
	case QTFS_OP_FALLOCATE:
		if (c->ro)
			ret = -EROFS;
		else
			ret = fallocate(fh->fd, (int)rq->flags, (off_t)rq->off, (off_t)rq->len) < 0
				      ? -errno
				      : 0;
		break;
	case QTFS_OP_LSEEK: {
		off_t o = lseek(fh->fd, (off_t)rq->off, (int)rq->flags);

		if (o < 0)
			ret = -errno;
		else
			rp->value = (uint64_t)o;
		break;
	}
	case QTFS_OP_POLL: {
		struct pollfd pfd = {.fd = fh->fd, .events = (short)(rq->flags & 0xffff)};
		bool wait = rq->flags & QTFS_POLL_WAIT;

		/* a waiting poll re-checks every 200 ms whether it was interrupted or its file
		 * released, so that it never holds a worker for good */
		for (;;) {
			n = poll(&pfd, 1, wait ? 200 : 0);
			if (n < 0 && errno != EINTR) {
				ret = -errno;
				break;
			}
			if (n > 0 || !wait)
				break;
			if ((qtfsd_cur_job && atomic_load(&qtfsd_cur_job->intr)) ||
			    atomic_load(&fh->released)) {
				pfd.revents = 0;
				break;
			}
		}
		rp->value = (uint64_t)(uint16_t)pfd.revents;
		break;
	}
	case QTFS_OP_COPY_FILE_RANGE: {
		loff_t oi = (loff_t)rq->off, oo = (loff_t)rq->off2;

		if (c->ro) {
			ret = -EROFS;
			break;
		}
		ret = qtfsd_fh_get(c, id, &rq->fh2, &fh2);
		if (ret)
			break;
		n = copy_file_range(fh->fd, &oi, fh2->fd, &oo, rq->len, 0);
		if (n < 0)
			ret = -errno;
		else
			rp->value = (uint64_t)n;
		qtfsd_fh_put(c, fh2);
		break;
	}
	default:
		ret = -ENOSYS;
		break;
	}
	qtfsd_fh_put(c, fh);
	return ret;
}

static int qtfsd_xattr(struct qtfsd_conn *c, const struct qtfs_ident *id, struct qtfs_req *rq,
		       int fd, struct qtfs_rep *rp, void **to_free)
{
	char proc[PROC_FD_MAX];
	uint8_t *buf = NULL;
	ssize_t n = 0;
	int ret;

	bool set = rq->op == QTFS_OP_SETXATTR || rq->op == QTFS_OP_REMOVEXATTR;

	if (set && c->ro)
		return -EROFS;
	ret = qtfsd_check_fd(c, set ? QTFS_WL_SETXATTR : QTFS_WL_GETXATTR, fd);
	if (ret)
		return ret;
	if ((rq->op == QTFS_OP_GETXATTR || rq->op == QTFS_OP_LISTXATTR) && rq->len) {
		buf = malloc(rq->len);
		if (!buf)
			return -ENOMEM;
	}
	proc_fd(proc, fd);
	ret = qtfs_ident_enter(id);
	if (ret) {
		free(buf);
		return ret;
	}
	switch (rq->op) {
	case QTFS_OP_SETXATTR:
		n = setxattr(proc, rq->name, rq->data, rq->data_len, (int)rq->flags);
		break;
	case QTFS_OP_REMOVEXATTR:
		n = removexattr(proc, rq->name);
		break;
	case QTFS_OP_GETXATTR:
		n = getxattr(proc, rq->name, buf, rq->len);
		break;
	case QTFS_OP_LISTXATTR:
		n = listxattr(proc, (char *)buf, rq->len);
		break;
	}
	ret = n < 0 ? -errno : 0;
	qtfs_ident_leave();
	if (ret || !buf) {
		free(buf);
		rp->value = ret ? 0 : (uint64_t)n;
		return ret;
	}
	rp->value = (uint64_t)n;
	rp->data = buf;
	rp->data_len = (uint32_t)n;
	*to_free = buf;
	return 0;
}

static int qtfsd_node_op(struct qtfsd_conn *c, const struct qtfs_ident *id, struct qtfs_req *rq,
			 struct qh_ref *ref, struct qtfs_rep *rp, void **to_free)
{
	int fd = ref->fd, ret = 0;

	switch (rq->op) {
	case QTFS_OP_GETATTR:
		ret = qtfsd_check_fd(c, QTFS_WL_GETATTR, fd);
		if (!ret)
			ret = qtfsd_stat_fd(fd, &rp->attr);
		return ret;
	case QTFS_OP_SETATTR:
		return qtfsd_setattr(c, id, rq, fd, rp);
	case QTFS_OP_READLINK: {
		char *buf;
		ssize_t n;

		ret = qtfsd_check_fd(c, QTFS_WL_READ, fd);
		if (ret)
			return ret;
		buf = malloc(QTFS_PATH_MAX + 1);
		if (!buf)
			return -ENOMEM;
		n = readlinkat(fd, "", buf, QTFS_PATH_MAX + 1);
		if (n < 0 || n > QTFS_PATH_MAX) {
			ret = n < 0 ? -errno : -ENAMETOOLONG;
			free(buf);
			return ret;
		}
		rp->data = (uint8_t *)buf;
		rp->data_len = (uint32_t)n;
		*to_free = buf;
		return 0;
	}
	case QTFS_OP_OPEN: {
		int ofd;

		ofd = qtfsd_open_node(c, id, fd, ref->is_dir, rq->fh.flags);
		if (ofd < 0)
			return ofd;
		return qtfsd_fh_insert(c, rq->fh.id, ofd, rq->fh.flags);
	}
	case QTFS_OP_STATFS: {
		struct statfs sf;

		ret = qtfsd_check_fd(c, QTFS_WL_GETATTR, fd);
		if (ret)
			return ret;
		if (fstatfs(fd, &sf) < 0)
			return -errno;
		rp->st.blocks = sf.f_blocks;
		rp->st.bfree = sf.f_bfree;
		rp->st.bavail = sf.f_bavail;
		rp->st.files = sf.f_files;
		rp->st.ffree = sf.f_ffree;
		rp->st.favail = sf.f_ffree;
		rp->st.bsize = (uint32_t)sf.f_bsize;
		rp->st.frsize = (uint32_t)(sf.f_frsize ? sf.f_frsize : sf.f_bsize);
		rp->st.namemax = (uint32_t)sf.f_namelen;
		return 0;
	}
	case QTFS_OP_SETXATTR:
	case QTFS_OP_GETXATTR:
	case QTFS_OP_LISTXATTR:
	case QTFS_OP_REMOVEXATTR:
		return qtfsd_xattr(c, id, rq, fd, rp, to_free);
	case QTFS_OP_ACCESS: {
		char proc[PROC_FD_MAX];

		ret = qtfsd_check_fd(c, QTFS_WL_GETATTR, fd);
		if (ret)
			return ret;
		if ((rq->mask & W_OK) && c->ro)
			return -EROFS;
		proc_fd(proc, fd);
		ret = qtfs_ident_enter(id);
		if (ret)
			return ret;
		ret = faccessat(AT_FDCWD, proc, (int)rq->mask, AT_EACCESS) < 0 ? -errno : 0;
		qtfs_ident_leave();
		return ret;
	}
	default:
		return -ENOSYS;
	}
}

/* Operations naming an entry in the directory node. */
static int qtfsd_dir_op(struct qtfsd_conn *c, const struct qtfs_ident *id, struct qtfs_req *rq,
			struct qh_ref *dir, struct qtfs_rep *rp)
{
	struct qh_ref other = {0};
	int dfd = dir->fd, ret, fd;

	if (!dir->is_dir)
		return -ENOTDIR;
	if (rq->op != QTFS_OP_LOOKUP && c->ro)
		return -EROFS;
	switch (rq->op) {
	case QTFS_OP_LOOKUP:
		/* the reply carries the attributes too: both must be allowed */
		ret = qtfsd_check_name(c, QTFS_WL_LOOKUP, dfd, rq->name);
		if (!ret)
			ret = qtfsd_check_name(c, QTFS_WL_GETATTR, dfd, rq->name);
		if (ret)
			return ret;
		return qtfsd_entry(c, id, &rq->node, dfd, rq->name, rp);
	case QTFS_OP_MKNOD:
		if ((S_ISCHR(rq->mode) || S_ISBLK(rq->mode)) && !c->exp->allow_devices)
			return -EPERM;
		if (!S_ISREG(rq->mode) && !S_ISFIFO(rq->mode) && !S_ISSOCK(rq->mode) &&
		    !S_ISCHR(rq->mode) && !S_ISBLK(rq->mode))
			return -EINVAL;
		ret = qtfsd_check_name(c, QTFS_WL_CREATE, dfd, rq->name);
		if (ret)
			return ret;
		ret = qtfs_ident_enter(id);
		if (ret)
			return ret;
		ret = mknodat(dfd, rq->name, rq->mode & ~rq->umask, (dev_t)rq->rdev) < 0 ? -errno
											 : 0;
		qtfs_ident_leave();
		break;
	case QTFS_OP_MKDIR:
		ret = qtfsd_check_name(c, QTFS_WL_MKDIR, dfd, rq->name);
		if (ret)
			return ret;
		ret = qtfs_ident_enter(id);
		if (ret)
			return ret;
		ret = mkdirat(dfd, rq->name, rq->mode & ~rq->umask & 07777) < 0 ? -errno : 0;
		qtfs_ident_leave();
		break;
	case QTFS_OP_SYMLINK:
		ret = qtfsd_check_name(c, QTFS_WL_SYMLINK, dfd, rq->name);
		if (ret)
			return ret;
		ret = qtfs_ident_enter(id);
		if (ret)
			return ret;
		ret = symlinkat(rq->path, dfd, rq->name) < 0 ? -errno : 0;
		qtfs_ident_leave();
		break;
	case QTFS_OP_UNLINK:
	case QTFS_OP_RMDIR:
		ret = qtfsd_check_name(c, rq->op == QTFS_OP_UNLINK ? QTFS_WL_UNLINK : QTFS_WL_RMDIR,
				       dfd, rq->name);
		if (ret)
			return ret;
		ret = qtfs_ident_enter(id);
		if (ret)
			return ret;
		ret = unlinkat(dfd, rq->name, rq->op == QTFS_OP_RMDIR ? AT_REMOVEDIR : 0) < 0
			      ? -errno
			      : 0;
		qtfs_ident_leave();
		if (!ret)
			qtfsd_post_attr(dfd, &rp->pattr);
		return ret;
	case QTFS_OP_RENAME:
		if (rq->flags & ~(uint32_t)(RENAME_NOREPLACE | RENAME_EXCHANGE))
			return -EINVAL;
		ret = qh_get(&c->exp->hs, &rq->node2, &other);
		if (ret)
			return ret;
		if (!other.is_dir) {
			ret = -ENOTDIR;
			goto out_other;
		}
		ret = qtfsd_check_name(c, QTFS_WL_RENAME, dfd, rq->name);
		if (!ret)
			ret = qtfsd_check_name(c, QTFS_WL_RENAME, other.fd, rq->name2);
		if (ret)
			goto out_other;
		ret = qtfs_ident_enter(id);
		if (ret)
			goto out_other;
		ret = renameat2(dfd, rq->name, other.fd, rq->name2, rq->flags) < 0 ? -errno : 0;
		qtfs_ident_leave();
		if (!ret) {
			qtfsd_post_attr(dfd, &rp->pattr);
			qtfsd_post_attr(other.fd, &rp->pattr2);
		}
	out_other:
		qh_put(&c->exp->hs, &other);
		return ret;
	case QTFS_OP_CREATE: {
		uint32_t fl = (rq->flags & (QTFSD_OPEN_FLAGS | O_EXCL | O_TRUNC)) | O_CREAT;

		ret = qtfsd_check_name(c, QTFS_WL_CREATE, dfd, rq->name);
		if (!ret && qtfs_wl_restricted(c->srv->wl, QTFS_WL_WRITE) && qtfsd_writes(fl))
			ret = qtfsd_check_name(c, QTFS_WL_WRITE, dfd, rq->name);
		if (ret)
			return ret;
		ret = qtfs_ident_enter(id);
		if (ret)
			return ret;
		/* O_NONBLOCK: create runs on the I/O thread and must not wait for the reader
		 * of a FIFO someone made under this name meanwhile */
		fd = openat(dfd, rq->name, (int)fl | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK,
			    rq->mode & ~rq->umask & 07777);
		ret = fd < 0 ? -errno : 0;
		qtfs_ident_leave();
		if (ret)
			return ret;
		if (!(fl & O_NONBLOCK) &&
		    fcntl(fd, F_SETFL, (int)(fl & (O_APPEND | O_DSYNC))) < 0) {
			ret = -errno;
			close(fd);
			return ret;
		}
		ret = qtfsd_entry(c, NULL, &rq->node, dfd, rq->name, rp);
		if (!ret)
			qtfsd_post_attr(dfd, &rp->pattr);
		if (ret) {
			close(fd);
			return ret;
		}
		return qtfsd_fh_insert(c, rq->fh.id, fd,
				       fl & ~(uint32_t)(O_CREAT | O_EXCL | O_TRUNC));
	}
	default:
		return -ENOSYS;
	}
	if (ret)
		return ret;
	/* the new entry, found as root: the caller has just created it */
	ret = qtfsd_entry(c, NULL, &rq->node, dfd, rq->name, rp);
	if (!ret)
		qtfsd_post_attr(dfd, &rp->pattr);
	return ret;
}

static int qtfsd_link(struct qtfsd_conn *c, const struct qtfs_ident *id, struct qtfs_req *rq,
		      struct qh_ref *node, struct qtfs_rep *rp)
{
	struct qh_ref dir = {0};
	char proc[PROC_FD_MAX];
	int ret;

	if (c->ro)
		return -EROFS;
	if (node->is_dir)
		return -EPERM;
	ret = qh_get(&c->exp->hs, &rq->node2, &dir);
	if (ret)
		return ret;
	if (!dir.is_dir) {
		ret = -ENOTDIR;
		goto out;
	}
	ret = qtfsd_check_fd(c, QTFS_WL_LINK, node->fd);
	if (!ret)
		ret = qtfsd_check_name(c, QTFS_WL_LINK, dir.fd, rq->name2);
	if (ret)
		goto out;
	proc_fd(proc, node->fd);
	ret = qtfs_ident_enter(id);
	if (ret)
		goto out;
	/* through the magic link: AT_EMPTY_PATH would need CAP_DAC_READ_SEARCH */
	ret = linkat(AT_FDCWD, proc, dir.fd, rq->name2, AT_SYMLINK_FOLLOW) < 0 ? -errno : 0;
	qtfs_ident_leave();
	if (!ret)
		ret = qtfsd_entry(c, NULL, &rq->node2, dir.fd, rq->name2, rp);
	if (!ret)
		qtfsd_post_attr(dir.fd, &rp->pattr);
out:
	qh_put(&c->exp->hs, &dir);
	return ret;
}

void qtfsd_execute(struct qtfsd_conn *c, struct qtfsd_job *job, struct qtfs_req *rq,
		   struct qtfs_rep *rp, void **to_free)
{
	struct qtfs_ident id;
	struct qh_ref ref = {0};
	int ret;

	qtfsd_cur_job = job;
	rp->op = rq->op;
	if (rq->op == QTFS_OP_ATTACH) {
		rp->status = qtfsd_attach(c, rq, rp);
		return;
	}
	if (!c->exp) {
		rp->status = -ENOTCONN;
		return;
	}
	qtfsd_ident_of(c->exp, &rq->cred, &id);
	switch (rq->op) {
	case QTFS_OP_READ:
	case QTFS_OP_WRITE:
	case QTFS_OP_FLUSH:
	case QTFS_OP_RELEASE:
	case QTFS_OP_FSYNC:
	case QTFS_OP_READDIRPLUS:
	case QTFS_OP_FALLOCATE:
	case QTFS_OP_LSEEK:
	case QTFS_OP_COPY_FILE_RANGE:
	case QTFS_OP_POLL:
	case QTFS_OP_GETLK:
	case QTFS_OP_SETLK:
	case QTFS_OP_FLOCK:
		ret = qtfsd_fh_op(c, &id, rq, rp, to_free);
		break;
	default:
		if (rq->op == QTFS_OP_OPEN)
			rq->node = rq->fh.node;
		ret = qh_get(&c->exp->hs, &rq->node, &ref);
		if (ret)
			break;
		switch (rq->op) {
		case QTFS_OP_LOOKUP:
		case QTFS_OP_MKNOD:
		case QTFS_OP_MKDIR:
		case QTFS_OP_UNLINK:
		case QTFS_OP_RMDIR:
		case QTFS_OP_SYMLINK:
		case QTFS_OP_RENAME:
		case QTFS_OP_CREATE:
			ret = qtfsd_dir_op(c, &id, rq, &ref, rp);
			break;
		case QTFS_OP_LINK:
			ret = qtfsd_link(c, &id, rq, &ref, rp);
			break;
		default:
			ret = qtfsd_node_op(c, &id, rq, &ref, rp, to_free);
			break;
		}
		qh_put(&c->exp->hs, &ref);
		break;
	}
	rp->status = ret;
}
