/* client_ops: the FUSE low-level operations, each turned into one asynchronous qtfs
 * request; the reply is given to the kernel from the link's thread when it arrives. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "log.h"
#include "util.h"
#include "qtfs-user/client.h"

static struct qc *qc_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

/* A request with credentials, or NULL after replying ENOMEM. */
static struct qtfs_req *qc_req_new(fuse_req_t req, uint16_t op)
{
	struct qtfs_req *rq = calloc(1, sizeof(*rq));

	if (!rq) {
		fuse_reply_err(req, ENOMEM);
		return NULL;
	}
	rq->op = op;
	qc_fill_cred(qc_of(req), req, rq);
	return rq;
}

static struct qc_pending *qc_pend_new(fuse_req_t req, qc_done_fn done)
{
	struct qc_pending *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->req = req;
	p->done = done;
	p->names = atomic_load(&qc_of(req)->nodes.names);
	return p;
}

/* Before sending an operation that changes the node ino (0: none) and, with names, an
 * unlink, rename or link (which change a node the request does not name): what was
 * remembered about them (qc_node.post) may no longer hold. */
static void qc_changing(fuse_req_t req, fuse_ino_t ino, bool names)
{
	struct qc_nodes *t = &qc_of(req)->nodes;

	if (names)
		atomic_fetch_add(&t->names, 1);
	if (ino)
		qc_node_changing(t, ino);
}

static struct qc_pending *qc_pend_ino(fuse_req_t req, qc_done_fn done, fuse_ino_t ino)
{
	struct qc_pending *p = qc_pend_new(req, done);

	if (p) {
		p->ino = ino;
		p->mods = qc_node_mods(&qc_of(req)->nodes, ino);
	}
	return p;
}

/* Submits, or replies with the error. Frees rq in any case. */
static void qc_go(fuse_req_t req, struct qtfs_req *rq, struct qc_pending *p)
{
	int ret;

	if (!p) {
		free(rq);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	ret = qc_submit(qc_of(req), rq, p);
	free(rq);
	if (ret) {
		free(p->ctx);
		free(p);
		fuse_reply_err(req, -ret);
	}
}

static int qc_node(fuse_req_t req, fuse_ino_t ino, struct qtfs_blob *b)
{
	int ret = qc_node_blob(&qc_of(req)->nodes, ino, b);

	if (ret)
		fuse_reply_err(req, -ret);
	return ret;
}

static void qc_fh_ref(struct fuse_file_info *fi, struct qtfs_fhref *ref)
{
	struct qc_file *f = (struct qc_file *)(uintptr_t)fi->fh;

	ref->id = f->id;
	ref->flags = f->flags;
	ref->node = f->node;
}

/*
 * Closes the server's side of an open file and frees it. Nobody waits for a release
 * (the kernel does not): one frame, no reply. While the link is down there is nothing
 * to release: the server closed the old connection's files, and this one was not
 * reopened on a new connection (only a request using it would have done that).
 */
static void qc_release_file(struct qc *qc, struct qc_file *f)
{
	struct qtfs_req *rq = calloc(1, sizeof(*rq));

	if (rq) {
		rq->op = QTFS_OP_RELEASE;
		rq->fh.id = f->id;
		rq->fh.flags = f->flags;
		rq->fh.node = f->node;
		if (qc_send_oneway(qc, rq))
			log_debug("release of file %llu not sent (link down)",
				  (unsigned long long)f->id);
	}
	free(rq);
	free(f);
}

/* fifo=remote: a host FIFO is shown as a regular file so that its I/O reaches us */
static void qc_attr_stat(struct qc *qc, fuse_ino_t ino, const struct qtfs_attr *a, struct stat *st,
			 bool keep_type)
{
	qtfs_attr_to_stat(a, st);
	if (qc->opts.fifo_remote && S_ISFIFO(a->mode)) {
		struct qc_node *n = qc_node_get(&qc->nodes, ino);

		if (n)
			atomic_store(&n->remote_fifo, true);
		if (!keep_type)
			st->st_mode = (st->st_mode & 07777) | S_IFREG;
	}
}

/* ---- generic completions ---- */

/* Remembers the changed directories' attributes from a reply (see qc_node_post_set). */
static void qc_post(struct qc *qc, struct qc_pending *p, const struct qtfs_rep *rep)
{
	uint64_t until;

	if (rep->status || qc->attr_timeout <= 0)
		return;
	until = now_ms() + (qc->attr_timeout < 1.0 ? (uint64_t)(qc->attr_timeout * 1000) : 1000);
	if (rep->has_pattr)
		qc_node_post_set(&qc->nodes, p->ino, &rep->pattr, until, p->names, p->mods);
	if (rep->has_pattr2)
		qc_node_post_set(&qc->nodes, (fuse_ino_t)p->off, &rep->pattr2, until, p->names,
				 p->mods2);
}

static void qc_done_err(struct qc *qc, struct qc_pending *p, const struct qtfs_rep *rep)
{
	qc_post(qc, p, rep);
	fuse_reply_err(p->req, -rep->status);
}

static void qc_fill_entry(struct qc *qc, const struct qtfs_rep *rep, struct fuse_entry_param *e)
{
	memset(e, 0, sizeof(*e));
	e->ino = qc_node_ref(&qc->nodes, &rep->node);
	/* mknod must answer with the type asked for */
	qc_attr_stat(qc, e->ino, &rep->attr, &e->attr, rep->op == QTFS_OP_MKNOD);
	e->attr.st_ino = rep->attr.ino;
	e->attr_timeout = qc->attr_timeout;
	e->entry_timeout = qc->entry_timeout;
}

static void qc_done_entry(struct qc *qc, struct qc_pending *p, const struct qtfs_rep *rep)
{
	struct fuse_entry_param e;

	if (rep->status == -ENOENT && p->op == QTFS_OP_LOOKUP && qc->neg_timeout > 0) {
		/* a negative entry, cached at most 1 s */
		memset(&e, 0, sizeof(e));
		e.entry_timeout = qc->neg_timeout;
		fuse_reply_entry(p->req, &e);
		return;
	}
	if (rep->status) {
		fuse_reply_err(p->req, -rep->status);
		return;
	}
	qc_post(qc, p, rep);
	qc_fill_entry(qc, rep, &e);
	if (!e.ino) {
		fuse_reply_err(p->req, ENOMEM);
		return;
	}
	if (fuse_reply_entry(p->req, &e) == -ENOENT)
		qc_node_forget(&qc->nodes, e.ino, 1); /* the caller was interrupted */
}

static void qc_done_attr(struct qc *qc, struct qc_pending *p, const struct qtfs_rep *rep)
{
	struct stat st;

	if (rep->status) {
		fuse_reply_err(p->req, -rep->status);
		return;
	}
	qc_attr_stat(qc, p->ino, &rep->attr, &st, false);
	fuse_reply_attr(p->req, &st, qc->attr_timeout);
}

/* A chown makes the kernel fetch the file's attributes again before it sends the SETATTR
 * (to work out which set-id bits to drop): after tar's utimens that is the attributes
 * this reply carries, so they are kept for that (see qc_node.post). */
static void qc_done_setattr(struct qc *qc, struct qc_pending *p, const struct qtfs_rep *rep)
{
	if (!rep->status && qc->attr_timeout > 0)
		qc_node_post_set(&qc->nodes, p->ino, &rep->attr,
				 now_ms() + (qc->attr_timeout < 1.0
						     ? (uint64_t)(qc->attr_timeout * 1000)
						     : 1000),
				 p->names, p->mods);
	qc_done_attr(qc, p, rep);
}

/* ---- operations ---- */

static void qc_init(void *userdata, struct fuse_conn_info *conn)
{
	struct qc *qc = userdata;

	conn->max_write = 1024 * 1024;
	conn->max_readahead = 1024 * 1024;
	if (conn->capable & FUSE_CAP_READDIRPLUS)
		conn->want |= FUSE_CAP_READDIRPLUS;
	conn->want &= ~(unsigned)FUSE_CAP_READDIRPLUS_AUTO;
	if (qc->opts.writeback && (conn->capable & FUSE_CAP_WRITEBACK_CACHE))
		conn->want |= FUSE_CAP_WRITEBACK_CACHE;
	/* locks are taken on the host, so DPU and host processes see each other's */
	if (conn->capable & FUSE_CAP_POSIX_LOCKS)
		conn->want |= FUSE_CAP_POSIX_LOCKS;
	if (conn->capable & FUSE_CAP_FLOCK_LOCKS)
		conn->want |= FUSE_CAP_FLOCK_LOCKS;
	if (conn->capable & FUSE_CAP_ASYNC_READ)
		conn->want |= FUSE_CAP_ASYNC_READ;
	if (qc->opts.cache == QC_CACHE_AUTO && (conn->capable & FUSE_CAP_AUTO_INVAL_DATA))
		conn->want |= FUSE_CAP_AUTO_INVAL_DATA;
	conn->max_background = 64;
	conn->congestion_threshold = 48;
}

/*
 * A request about the entry `name` in directory `parent`. NULL when the request
 * has already been answered (ENAMETOOLONG, ENOMEM, or an unknown parent).
 */
static struct qtfs_req *qc_req_in_dir(fuse_req_t req, uint16_t op, fuse_ino_t parent,
				      const char *name)
{
	struct qtfs_req *rq;

	if (strlen(name) > QTFS_NAME_MAX) {
		fuse_reply_err(req, ENAMETOOLONG);
		return NULL;
	}
	rq = qc_req_new(req, op);
	if (!rq)
		return NULL;
	if (qc_node(req, parent, &rq->node)) {
		free(rq);
		return NULL;
	}
	strcpy(rq->name, name);
	return rq;
}

static void qc_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct qtfs_req *rq;

	rq = qc_req_in_dir(req, QTFS_OP_LOOKUP, parent, name);
	if (!rq)
		return;
	qc_go(req, rq, qc_pend_new(req, qc_done_entry));
}

static void qc_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	qc_node_forget(&qc_of(req)->nodes, ino, nlookup);
	fuse_reply_none(req);
}

static void qc_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	size_t i;

	for (i = 0; i < count; i++)
		qc_node_forget(&qc_of(req)->nodes, forgets[i].ino, forgets[i].nlookup);
	fuse_reply_none(req);
}

static void qc_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct qc *qc = qc_of(req);
	struct qtfs_attr a;
	struct qtfs_req *rq;

	if (qc_node_post_take(&qc->nodes, ino, &a)) {
		struct stat st;

		qc_attr_stat(qc, ino, &a, &st, false);
		fuse_reply_attr(req, &st, qc->attr_timeout);
		return;
	}
	rq = qc_req_new(req, QTFS_OP_GETATTR);
	if (!rq)
		return;
	if (qc_node(req, ino, &rq->node)) {
		free(rq);
		return;
	}
	qc_go(req, rq, qc_pend_ino(req, qc_done_attr, ino));
}

static void qc_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		       struct fuse_file_info *fi)
{
	struct qtfs_req *rq = qc_req_new(req, QTFS_OP_SETATTR);

	qc_changing(req, ino, false);
	if (!rq)
		return;
	if (qc_node(req, ino, &rq->node)) {
		free(rq);
		return;
	}
	if (to_set & FUSE_SET_ATTR_MODE) {
		rq->valid |= QTFS_SET_MODE;
		rq->mode = attr->st_mode;
	}
	if (to_set & FUSE_SET_ATTR_UID) {
		rq->valid |= QTFS_SET_UID;
		rq->uid = attr->st_uid;
	}
	if (to_set & FUSE_SET_ATTR_GID) {
		rq->valid |= QTFS_SET_GID;
		rq->gid = attr->st_gid;
	}
	if (to_set & FUSE_SET_ATTR_SIZE) {
		rq->valid |= QTFS_SET_SIZE;
		rq->len = (uint64_t)attr->st_size;
		if (fi) {
			rq->valid |= QTFS_SET_FH;
			qc_fh_ref(fi, &rq->fh);
		}
	}
	if (to_set & FUSE_SET_ATTR_ATIME_NOW) {
		rq->valid |= QTFS_SET_ATIME_NOW;
	} else if (to_set & FUSE_SET_ATTR_ATIME) {
		rq->valid |= QTFS_SET_ATIME;
		rq->atime = attr->st_atim.tv_sec;
		rq->atime_ns = (uint32_t)attr->st_atim.tv_nsec;
	}
	if (to_set & FUSE_SET_ATTR_MTIME_NOW) {
		rq->valid |= QTFS_SET_MTIME_NOW;
	} else if (to_set & FUSE_SET_ATTR_MTIME) {
		rq->valid |= QTFS_SET_MTIME;
		rq->mtime = attr->st_mtim.tv_sec;
		rq->mtime_ns = (uint32_t)attr->st_mtim.tv_nsec;
	}
	qc_go(req, rq, qc_pend_ino(req, qc_done_setattr, ino));
}

static void qc_done_readlink(struct qc *qc, struct qc_pending *p, const struct qtfs_rep *rep)
{
	char *s;

	if (rep->status) {
		fuse_reply_err(p->req, -rep->status);
		return;
	}
	s = malloc(rep->data_len + 1);
	if (!s) {
		fuse_reply_err(p->req, ENOMEM);
		return;
	}
	memcpy(s, rep->data, rep->data_len);
	s[rep->data_len] = 0;
	fuse_reply_readlink(p->req, s);
	free(s);
}

static void qc_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct qtfs_req *rq = qc_req_new(req, QTFS_OP_READLINK);

	if (!rq)
		return;
	if (qc_node(req, ino, &rq->node)) {
		free(rq);
		return;
	}
	qc_go(req, rq, qc_pend_new(req, qc_done_readlink));
}

/* mknod, mkdir, symlink: a new entry in parent. */
static void qc_make(fuse_req_t req, uint16_t op, fuse_ino_t parent, const char *name, mode_t mode,
		    dev_t rdev, const char *target)
{
	struct qtfs_req *rq;

	qc_changing(req, parent, false);
	if (target && strlen(target) > QTFS_PATH_MAX) {
		fuse_reply_err(req, ENAMETOOLONG);
		return;
	}
	rq = qc_req_in_dir(req, op, parent, name);
	if (!rq)
		return;
	rq->mode = mode;
	rq->rdev = rdev;
	if (target)
		strcpy(rq->path, target);
	qc_go(req, rq, qc_pend_ino(req, qc_done_entry, parent));
}

static void qc_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
	qc_make(req, QTFS_OP_MKNOD, parent, name, mode, rdev, NULL);
}

static void qc_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	qc_make(req, QTFS_OP_MKDIR, parent, name, mode | S_IFDIR, 0, NULL);
}

static void qc_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	qc_make(req, QTFS_OP_SYMLINK, parent, name, 0, 0, link);
}

static void qc_remove(fuse_req_t req, uint16_t op, fuse_ino_t parent, const char *name)
{
	struct qtfs_req *rq;

	qc_changing(req, parent, true);
	rq = qc_req_in_dir(req, op, parent, name);
	if (!rq)
		return;
	qc_go(req, rq, qc_pend_ino(req, qc_done_err, parent));
}

static void qc_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	qc_remove(req, QTFS_OP_UNLINK, parent, name);
}

static void qc_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	qc_remove(req, QTFS_OP_RMDIR, parent, name);
}

static void qc_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		      const char *newname, unsigned int flags)
{
	struct qtfs_req *rq;

	qc_changing(req, parent, true);
	qc_changing(req, newparent, false);
	if (strlen(name) > QTFS_NAME_MAX || strlen(newname) > QTFS_NAME_MAX) {
		fuse_reply_err(req, ENAMETOOLONG);
		return;
	}
	rq = qc_req_new(req, QTFS_OP_RENAME);
	if (!rq)
		return;
	if (qc_node(req, parent, &rq->node) || qc_node(req, newparent, &rq->node2)) {
		free(rq);
		return;
	}
	strcpy(rq->name, name);
	strcpy(rq->name2, newname);
	rq->flags = flags;
	{
		struct qc_pending *p = qc_pend_ino(req, qc_done_err, parent);

		if (p) {
			p->off = newparent; /* the second changed directory */
			p->mods2 = qc_node_mods(&qc_of(req)->nodes, newparent);
		}
		qc_go(req, rq, p);
	}
}

static void qc_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	struct qtfs_req *rq;

	qc_changing(req, ino, true);
	qc_changing(req, newparent, false);
	if (strlen(newname) > QTFS_NAME_MAX) {
		fuse_reply_err(req, ENAMETOOLONG);
		return;
	}
	rq = qc_req_new(req, QTFS_OP_LINK);
	if (!rq)
		return;
	if (qc_node(req, ino, &rq->node) || qc_node(req, newparent, &rq->node2)) {
		free(rq);
		return;
	}
	strcpy(rq->name2, newname);
	qc_go(req, rq, qc_pend_ino(req, qc_done_entry, newparent));
}

/* ---- open files ---- */

static struct qc_file *qc_file_new(uint32_t flags, const struct qtfs_blob *node, struct qc *qc)
{
	struct qc_file *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	f->id = atomic_fetch_add(&qc->next_fh, 1);
	f->flags = flags;
	if (node)
		f->node = *node;
	return f;
}

static void qc_set_fi(struct qc *qc, struct fuse_file_info *fi, bool dir)
{
	if (dir)
		return;
	if (qc->opts.cache == QC_CACHE_NONE || qc->opts.kind != QC_KIND_NORMAL) {
		fi->direct_io = 1;
		/* proc/sys files change under us and report size 0: no cache at all */
		fi->keep_cache = 0;
	} else if (qc->opts.cache == QC_CACHE_ALWAYS) {
		fi->keep_cache = 1;
	}
}

static void qc_done_open(struct qc *qc, struct qc_pending *p, const struct qtfs_rep *rep)
{
	struct qc_file *f = (struct qc_file *)(uintptr_t)p->fi.fh;

	if (rep->status) {
		free(f);
		fuse_reply_err(p->req, -rep->status);
		return;
	}
	if (fuse_reply_open(p->req, &p->fi) == -ENOENT)
		qc_release_file(qc, f); /* the opener was interrupted: nobody will release it */
}

static void qc_open_common(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, bool dir)
{
	struct qc *qc = qc_of(req);
	struct qtfs_req *rq = qc_req_new(req, QTFS_OP_OPEN);
	struct qc_pending *p;
	struct qc_file *f;

	if (fi->flags & O_TRUNC)
		qc_changing(req, ino, false);
	if (!rq)
		return;
	if (qc_node(req, ino, &rq->node)) {
		free(rq);
		return;
	}
	f = qc_file_new((uint32_t)(fi->flags & ~(O_CREAT | O_EXCL | O_NOCTTY)) |
				(dir ? O_DIRECTORY : 0),
			&rq->node, qc);
	p = qc_pend_new(req, qc_done_open);
	if (!f || !p) {
		free(f);
		free(p);
		free(rq);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	rq->fh.id = f->id;
	rq->fh.flags = f->flags;
	rq->fh.node = f->node;
	fi->fh = (uint64_t)(uintptr_t)f;
	qc_set_fi(qc, fi, dir);
	if (!dir && qc->opts.fifo_remote) {
		struct qc_node *n = qc_node_get(&qc->nodes, ino);

		if (n && atomic_load(&n->remote_fifo)) {
			fi->direct_io = 1;
			fi->nonseekable = 1;
			fi->keep_cache = 0;
		}
	}
	p->fi = *fi;
	p->intr = true; /* a FIFO open blocks until the other end comes */
	if (qc_submit(qc, rq, p)) {
		free(f);
		free(p);
		fuse_reply_err(req, EIO);
	}
	free(rq);
}

static void qc_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	qc_open_common(req, ino, fi, false);
}

static void qc_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fi->flags = O_RDONLY;
	qc_open_common(req, ino, fi, true);
}

static void qc_done_create(struct qc *qc, struct qc_pending *p, const struct qtfs_rep *rep)
{
	struct qc_file *f = (struct qc_file *)(uintptr_t)p->fi.fh;
	struct fuse_entry_param e;

	if (rep->status) {
		free(f);
		fuse_reply_err(p->req, -rep->status);
		return;
	}
	qc_post(qc, p, rep);
	qc_fill_entry(qc, rep, &e);
	f->node = rep->node;
	if (rep->attr.nlink == 1 && qc->attr_timeout > 0 && e.ino) {
		/* a file just made has no capabilities attached */
		struct qc_node *n = qc_node_get(&qc->nodes, e.ino);

		if (n)
			atomic_store(&n->nocap_until_ms,
				     now_ms() + (uint64_t)(qc->attr_timeout * 1000));
	}
	if (fuse_reply_create(p->req, &e, &p->fi) == -ENOENT) {
		qc_node_forget(&qc->nodes, e.ino, 1);
		qc_release_file(qc, f);
	}
}

static void qc_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		      struct fuse_file_info *fi)
{
	struct qc *qc = qc_of(req);
	struct qtfs_req *rq;
	struct qc_pending *p;
	struct qc_file *f;

	qc_changing(req, parent, false);
	rq = qc_req_in_dir(req, QTFS_OP_CREATE, parent, name);
	if (!rq)
		return;
	rq->mode = mode;
	rq->flags = (uint32_t)fi->flags;
	f = qc_file_new((uint32_t)(fi->flags & ~(O_CREAT | O_EXCL | O_TRUNC | O_NOCTTY)), NULL, qc);
	p = qc_pend_ino(req, qc_done_create, parent);
	if (!f || !p) {
		free(f);
		free(p);
		free(rq);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	rq->fh.id = f->id;
	rq->fh.flags = f->flags;
	fi->fh = (uint64_t)(uintptr_t)f;
	qc_set_fi(qc, fi, false);
	p->fi = *fi;
	if (qc_submit(qc, rq, p)) {
		free(f);
		free(p);
		fuse_reply_err(req, EIO);
	}
	free(rq);
}

static void qc_done_buf(struct qc *qc, struct qc_pending *p, const struct qtfs_rep *rep)
{
	if (rep->status) {
		fuse_reply_err(p->req, -rep->status);
		return;
	}
	fuse_reply_buf(p->req, (const char *)rep->data, rep->data_len);
}

static void qc_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct qtfs_req *rq = qc_req_new(req, QTFS_OP_READ);
	struct qc_pending *p;

	if (!rq)
		return;
	qc_fh_ref(fi, &rq->fh);
	rq->off = (uint64_t)off;
	rq->len = size > QTFS_IO_MAX ? QTFS_IO_MAX : size;
	p = qc_pend_new(req, qc_done_buf);
	if (p)
		p->intr = true; /* FIFO reads block */
	qc_go(req, rq, p);
}

static void qc_done_write(struct qc *qc, struct qc_pending *p, const struct qtfs_rep *rep)
{
	if (rep->status) {
		fuse_reply_err(p->req, -rep->status);
		return;
	}
	fuse_reply_write(p->req, rep->value);
}

static void qc_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	struct qc_pending *p;
	struct qtfs_req *rq;

	qc_changing(req, ino, false);
	if (size > QTFS_IO_MAX) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	rq = qc_req_new(req, QTFS_OP_WRITE);
	if (!rq)
		return;
	qc_fh_ref(fi, &rq->fh);
	rq->off = (uint64_t)off;
	/* encoded (copied) into the frame before qc_write returns */
	rq->data = (const uint8_t *)buf;
	rq->data_len = (uint32_t)size;
	p = qc_pend_new(req, qc_done_write);
	if (p)
		p->intr = true; /* a write to a full FIFO blocks */
	qc_go(req, rq, p);
}

static void qc_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct qc_node *n = qc_node_get(&qc_of(req)->nodes, ino);
	struct qtfs_req *rq;

	/* writes are acknowledged after the server's write, so a flush only matters for
	 * POSIX locks, which a close drops: ask the server only once a lock was taken */
	if (!n || !atomic_load(&n->posix_locked)) {
		fuse_reply_err(req, 0);
		return;
	}
	rq = qc_req_new(req, QTFS_OP_FLUSH);
	if (!rq)
		return;
	qc_fh_ref(fi, &rq->fh);
	rq->owner = fi->lock_owner;
	qc_go(req, rq, qc_pend_new(req, qc_done_err));
}

static void qc_done_getlk(struct qc *qc, struct qc_pending *p, const struct qtfs_rep *rep)
{
	struct flock fl;

	if (rep->status) {
		fuse_reply_err(p->req, -rep->status);
		return;
	}
	memset(&fl, 0, sizeof(fl));
	fl.l_type = (short)rep->lk_type;
	fl.l_whence = SEEK_SET;
	fl.l_start = (off_t)rep->lk_start;
	fl.l_len = (off_t)rep->lk_end;
	fl.l_pid = (pid_t)rep->lk_pid;
	fuse_reply_lock(p->req, &fl);
}

static void qc_lock_common(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
			   struct flock *lock, uint16_t op, int sleep)
{
	struct qc_node *n = qc_node_get(&qc_of(req)->nodes, ino);
	struct qtfs_req *rq;
	struct qc_pending *p;

	if (lock->l_whence != SEEK_SET || lock->l_start < 0 || lock->l_len < 0) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	if (n)
		atomic_store(&n->posix_locked, true);
	rq = qc_req_new(req, op);
	if (!rq)
		return;
	qc_fh_ref(fi, &rq->fh);
	rq->owner = fi->lock_owner;
	rq->lk_type = (uint32_t)lock->l_type;
	rq->lk_pid = (uint32_t)lock->l_pid;
	rq->lk_start = (uint64_t)lock->l_start;
	rq->lk_end = (uint64_t)lock->l_len;
	rq->flags = sleep ? 1 : 0;
	p = qc_pend_new(req, op == QTFS_OP_GETLK ? qc_done_getlk : qc_done_err);
	if (p)
		p->intr = sleep != 0; /* a waiting lock is interruptible */
	qc_go(req, rq, p);
}

static void qc_getlk(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, struct flock *lock)
{
	qc_lock_common(req, ino, fi, lock, QTFS_OP_GETLK, 0);
}

static void qc_setlk(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, struct flock *lock,
		     int sleep)
{
	qc_lock_common(req, ino, fi, lock, QTFS_OP_SETLK, sleep);
}

static void qc_flock(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, int op)
{
	struct qtfs_req *rq = qc_req_new(req, QTFS_OP_FLOCK);
	struct qc_pending *p;

	if (!rq)
		return;
	qc_fh_ref(fi, &rq->fh);
	rq->owner = fi->lock_owner;
	rq->flags = (uint32_t)op;
	p = qc_pend_new(req, qc_done_err);
	if (p)
		p->intr = !(op & LOCK_NB);
	qc_go(req, rq, p);
}

static void qc_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	qc_release_file(qc_of(req), (struct qc_file *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

static void qc_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	struct qtfs_req *rq = qc_req_new(req, QTFS_OP_FSYNC);

	if (!rq)
		return;
	qc_fh_ref(fi, &rq->fh);
	rq->flags = datasync ? 1 : 0;
	qc_go(req, rq, qc_pend_new(req, qc_done_err));
}

/* ---- directories ---- */

static void qc_done_readdir(struct qc *qc, struct qc_pending *p, const struct qtfs_rep *rep)
{
	bool plus = p->ctx != NULL;
	struct qtfs_dirent *d = malloc(sizeof(*d));
	struct wire_reader r;
	char *buf;
	size_t used = 0;
	int ret;

	if (rep->status || !d) {
		free(d);
		fuse_reply_err(p->req, rep->status ? -rep->status : ENOMEM);
		return;
	}
	buf = malloc(p->size ? p->size : 1);
	if (!buf) {
		free(d);
		fuse_reply_err(p->req, ENOMEM);
		return;
	}
	wire_reader_init(&r, rep->data, rep->data_len);
	while ((ret = qtfs_dirent_next(&r, d)) == 1) {
		struct stat st;
		size_t need;

		qtfs_attr_to_stat(&d->attr, &st);
		if (qc->opts.fifo_remote && S_ISFIFO(st.st_mode))
			st.st_mode = (st.st_mode & 07777) | S_IFREG;
		if (plus) {
			struct fuse_entry_param e;

			memset(&e, 0, sizeof(e));
			need = fuse_add_direntry_plus(p->req, NULL, 0, d->name, NULL, 0);
			if (used + need > p->size)
				break;
			e.attr = st;
			if (d->node.len) {
				e.ino = qc_node_ref(&qc->nodes, &d->node);
				if (qc->opts.fifo_remote && S_ISFIFO(d->attr.mode)) {
					struct qc_node *n = qc_node_get(&qc->nodes, e.ino);

					if (n)
						atomic_store(&n->remote_fifo, true);
				}
				e.attr_timeout = qc->attr_timeout;
				e.entry_timeout = qc->entry_timeout;
			}
			fuse_add_direntry_plus(p->req, buf + used, p->size - used, d->name, &e,
					       (off_t)d->next_off);
		} else {
			need = fuse_add_direntry(p->req, NULL, 0, d->name, NULL, 0);
			if (used + need > p->size)
				break;
			fuse_add_direntry(p->req, buf + used, p->size - used, d->name, &st,
					  (off_t)d->next_off);
		}
		used += need;
	}
	if (ret < 0)
		fuse_reply_err(p->req, EIO);
	else
		fuse_reply_buf(p->req, buf, used);
	free(buf);
	free(d);
}

static void qc_readdir_common(fuse_req_t req, size_t size, off_t off, struct fuse_file_info *fi,
			      bool plus)
{
	struct qtfs_req *rq = qc_req_new(req, QTFS_OP_READDIRPLUS);
	struct qc_pending *p;

	if (!rq)
		return;
	qc_fh_ref(fi, &rq->fh);
	rq->off = (uint64_t)off;
	rq->len = size;
	p = qc_pend_new(req, qc_done_readdir);
	if (p) {
		p->size = size;
		p->ctx = plus ? (void *)1 : NULL;
	}
	/* ctx is a flag here, not memory: keep qc_go from freeing it */
	if (!p) {
		free(rq);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	if (qc_submit(qc_of(req), rq, p)) {
		free(p);
		fuse_reply_err(req, EIO);
	}
	free(rq);
}

static void qc_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	qc_readdir_common(req, size, off, fi, false);
}

static void qc_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			   struct fuse_file_info *fi)
{
	qc_readdir_common(req, size, off, fi, true);
}

static void qc_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	qc_release(req, ino, fi);
}

static void qc_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	qc_fsync(req, ino, datasync, fi);
}

static void qc_done_statfs(struct qc *qc, struct qc_pending *p, const struct qtfs_rep *rep)
{
	struct statvfs sv;

	if (rep->status) {
		fuse_reply_err(p->req, -rep->status);
		return;
	}
	memset(&sv, 0, sizeof(sv));
	sv.f_bsize = rep->st.bsize;
	sv.f_frsize = rep->st.frsize;
	sv.f_blocks = rep->st.blocks;
	sv.f_bfree = rep->st.bfree;
	sv.f_bavail = rep->st.bavail;
	sv.f_files = rep->st.files;
	sv.f_ffree = rep->st.ffree;
	sv.f_favail = rep->st.favail;
	sv.f_namemax = rep->st.namemax;
	fuse_reply_statfs(p->req, &sv);
}

static void qc_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct qtfs_req *rq = qc_req_new(req, QTFS_OP_STATFS);

	if (!rq)
		return;
	if (qc_node(req, ino, &rq->node)) {
		free(rq);
		return;
	}
	qc_go(req, rq, qc_pend_new(req, qc_done_statfs));
}

/* ---- xattrs ---- */

#define QC_XATTR_CAP "security.capability"

static void qc_nocap_clear(struct qc *qc, fuse_ino_t ino)
{
	struct qc_node *n = qc_node_get(&qc->nodes, ino);

	if (n)
		atomic_store(&n->nocap_until_ms, 0);
}

static void qc_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
			size_t size, int flags)
{
	struct qtfs_req *rq;

	qc_changing(req, ino, false);
	if (strlen(name) > QTFS_XATTR_NAME_MAX || !name[0]) {
		fuse_reply_err(req, ERANGE);
		return;
	}
	if (size > QTFS_XATTR_VALUE_MAX) {
		fuse_reply_err(req, E2BIG);
		return;
	}
	rq = qc_req_new(req, QTFS_OP_SETXATTR);
	if (!rq)
		return;
	if (qc_node(req, ino, &rq->node)) {
		free(rq);
		return;
	}
	qc_nocap_clear(qc_of(req), ino);
	strcpy(rq->name, name);
	rq->data = (const uint8_t *)value;
	rq->data_len = (uint32_t)size;
	rq->flags = (uint32_t)flags;
	qc_go(req, rq, qc_pend_new(req, qc_done_err));
}

static void qc_done_xattr(struct qc *qc, struct qc_pending *p, const struct qtfs_rep *rep)
{
	if (rep->status == -ENODATA && p->ctx == (void *)1 && qc->attr_timeout > 0) {
		struct qc_node *n = qc_node_get(&qc->nodes, p->ino);

		if (n)
			atomic_store(&n->nocap_until_ms,
				     now_ms() + (uint64_t)(qc->attr_timeout * 1000));
	}
	if (rep->status) {
		fuse_reply_err(p->req, -rep->status);
		return;
	}
	if (p->size == 0)
		fuse_reply_xattr(p->req, rep->value);
	else
		fuse_reply_buf(p->req, (const char *)rep->data, rep->data_len);
}

static void qc_getxattr_common(fuse_req_t req, uint16_t op, fuse_ino_t ino, const char *name,
			       size_t size)
{
	struct qtfs_req *rq;
	struct qc_pending *p;

	if (name && (strlen(name) > QTFS_XATTR_NAME_MAX || !name[0])) {
		fuse_reply_err(req, ERANGE);
		return;
	}
	if (name && !strcmp(name, QC_XATTR_CAP)) {
		struct qc_node *n = qc_node_get(&qc_of(req)->nodes, ino);

		if (n && atomic_load(&n->nocap_until_ms) > now_ms()) {
			fuse_reply_err(req, ENODATA);
			return;
		}
	}
	rq = qc_req_new(req, op);
	if (!rq)
		return;
	if (qc_node(req, ino, &rq->node)) {
		free(rq);
		return;
	}
	if (name)
		strcpy(rq->name, name);
	rq->len = size > QTFS_XATTR_VALUE_MAX ? QTFS_XATTR_VALUE_MAX : size;
	p = qc_pend_new(req, qc_done_xattr);
	if (p) {
		p->size = size;
		p->ino = ino;
		/* a flag, not memory (see qc_done_xattr) */
		p->ctx = name && !strcmp(name, QC_XATTR_CAP) ? (void *)1 : NULL;
	}
	if (!p) {
		free(rq);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	if (qc_submit(qc_of(req), rq, p)) {
		free(p);
		fuse_reply_err(req, EIO);
	}
	free(rq);
}

static void qc_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	qc_getxattr_common(req, QTFS_OP_GETXATTR, ino, name, size);
}

static void qc_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	qc_getxattr_common(req, QTFS_OP_LISTXATTR, ino, NULL, size);
}

static void qc_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	struct qtfs_req *rq;

	qc_changing(req, ino, false);
	if (strlen(name) > QTFS_XATTR_NAME_MAX || !name[0]) {
		fuse_reply_err(req, ERANGE);
		return;
	}
	qc_nocap_clear(qc_of(req), ino);
	rq = qc_req_new(req, QTFS_OP_REMOVEXATTR);
	if (!rq)
		return;
	if (qc_node(req, ino, &rq->node)) {
		free(rq);
		return;
	}
	strcpy(rq->name, name);
	qc_go(req, rq, qc_pend_new(req, qc_done_err));
}

static void qc_access(fuse_req_t req, fuse_ino_t ino, int mask)
{
	struct qtfs_req *rq = qc_req_new(req, QTFS_OP_ACCESS);

	if (!rq)
		return;
	if (qc_node(req, ino, &rq->node)) {
		free(rq);
		return;
	}
	rq->mask = (uint32_t)mask;
	qc_go(req, rq, qc_pend_new(req, qc_done_err));
}

static void qc_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset, off_t length,
			 struct fuse_file_info *fi)
{
	struct qtfs_req *rq = qc_req_new(req, QTFS_OP_FALLOCATE);

	qc_changing(req, ino, false);
	if (!rq)
		return;
	qc_fh_ref(fi, &rq->fh);
	rq->flags = (uint32_t)mode;
	rq->off = (uint64_t)offset;
	rq->len = (uint64_t)length;
	qc_go(req, rq, qc_pend_new(req, qc_done_err));
}

static void qc_done_lseek(struct qc *qc, struct qc_pending *p, const struct qtfs_rep *rep)
{
	if (rep->status)
		fuse_reply_err(p->req, -rep->status);
	else
		fuse_reply_lseek(p->req, (off_t)rep->value);
}

static void qc_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
		     struct fuse_file_info *fi)
{
	struct qtfs_req *rq = qc_req_new(req, QTFS_OP_LSEEK);

	if (!rq)
		return;
	qc_fh_ref(fi, &rq->fh);
	rq->off = (uint64_t)off;
	rq->flags = (uint32_t)whence;
	qc_go(req, rq, qc_pend_new(req, qc_done_lseek));
}

static void qc_copy_file_range(fuse_req_t req, fuse_ino_t ino_in, off_t off_in,
			       struct fuse_file_info *fi_in, fuse_ino_t ino_out, off_t off_out,
			       struct fuse_file_info *fi_out, size_t len, int flags)
{
	struct qtfs_req *rq = qc_req_new(req, QTFS_OP_COPY_FILE_RANGE);

	qc_changing(req, ino_out, false);
	if (!rq)
		return;
	qc_fh_ref(fi_in, &rq->fh);
	qc_fh_ref(fi_out, &rq->fh2);
	rq->off = (uint64_t)off_in;
	rq->off2 = (uint64_t)off_out;
	rq->len = len;
	rq->flags = (uint32_t)flags;
	qc_go(req, rq, qc_pend_new(req, qc_done_write));
}

static void qc_done_poll(struct qc *qc, struct qc_pending *p, const struct qtfs_rep *rep)
{
	if (rep->status)
		fuse_reply_err(p->req, -rep->status);
	else
		fuse_reply_poll(p->req, (unsigned)rep->value);
}

/* The waiting half: when the server saw an event (or gave up), wake the poller, which
 * polls again. */
static void qc_done_poll_wait(struct qc *qc, struct qc_pending *p, const struct qtfs_rep *rep)
{
	struct fuse_pollhandle *ph = p->ctx;

	fuse_lowlevel_notify_poll(ph);
	fuse_pollhandle_destroy(ph);
}

static void qc_poll(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
		    struct fuse_pollhandle *ph)
{
	struct qc *qc = qc_of(req);
	struct qtfs_req *rq = qc_req_new(req, QTFS_OP_POLL);
	struct qc_pending *w;

	if (!rq) {
		if (ph)
			fuse_pollhandle_destroy(ph);
		return;
	}
	qc_fh_ref(fi, &rq->fh);
	rq->flags = fi->poll_events ? fi->poll_events : (POLLIN | POLLOUT);
	if (ph) {
		w = calloc(1, sizeof(*w));
		if (w) {
			struct qtfs_req *wq = malloc(sizeof(*wq));

			if (wq) {
				*wq = *rq;
				wq->flags |= QTFS_POLL_WAIT;
				w->done = qc_done_poll_wait;
				w->ctx = ph;
				if (qc_submit(qc, wq, w) == 0)
					ph = NULL;
				else
					free(w);
				free(wq);
			} else {
				free(w);
			}
		}
		if (ph)
			fuse_pollhandle_destroy(ph);
	}
	qc_go(req, rq, qc_pend_new(req, qc_done_poll));
}

const struct fuse_lowlevel_ops qc_ops = {
	.poll = qc_poll,
	.init = qc_init,
	.lookup = qc_lookup,
	.forget = qc_forget,
	.forget_multi = qc_forget_multi,
	.getattr = qc_getattr,
	.setattr = qc_setattr,
	.readlink = qc_readlink,
	.mknod = qc_mknod,
	.mkdir = qc_mkdir,
	.unlink = qc_unlink,
	.rmdir = qc_rmdir,
	.symlink = qc_symlink,
	.rename = qc_rename,
	.link = qc_link,
	.open = qc_open,
	.read = qc_read,
	.write = qc_write,
	.flush = qc_flush,
	.getlk = qc_getlk,
	.setlk = qc_setlk,
	.flock = qc_flock,
	.release = qc_release,
	.fsync = qc_fsync,
	.opendir = qc_opendir,
	.readdir = qc_readdir,
	.readdirplus = qc_readdirplus,
	.releasedir = qc_releasedir,
	.fsyncdir = qc_fsyncdir,
	.statfs = qc_statfs,
	.setxattr = qc_setxattr,
	.getxattr = qc_getxattr,
	.listxattr = qc_listxattr,
	.removexattr = qc_removexattr,
	.access = qc_access,
	.create = qc_create,
	.fallocate = qc_fallocate,
	.lseek = qc_lseek,
	.copy_file_range = qc_copy_file_range,
};
