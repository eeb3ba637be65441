/* proto: table-driven encoding and strict decoding of qtfs requests and replies. */
#include "qtfs-user/proto.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

/*
 * Field letters, in wire order:
 *  requests: N node, M node2, n name, m name2, x xattr name (into name), P path,
 *            F fh, G fh2, o off, p off2, l len, f flags, a mode, U umask, k mask,
 *            r rdev, S setattr block, d data (rest), L lock, w owner
 *  replies:  E entry (blob + attr), A attr, B/C attr of the changed directory (second
 *            one: a rename's target directory), q value, d data, V statfs, L lock
 */
struct qtfs_op_desc {
	const char *name;
	const char *req;
	const char *rep;
};

static const struct qtfs_op_desc qtfs_ops[QTFS_OP_COUNT] = {
	[QTFS_OP_ATTACH] = {"attach", "Pf", "Eq"},
	[QTFS_OP_LOOKUP] = {"lookup", "Nn", "E"},
	[QTFS_OP_GETATTR] = {"getattr", "N", "A"},
	[QTFS_OP_SETATTR] = {"setattr", "NSF", "A"},
	[QTFS_OP_READLINK] = {"readlink", "N", "d"},
	[QTFS_OP_MKNOD] = {"mknod", "NnarU", "EB"},
	[QTFS_OP_MKDIR] = {"mkdir", "NnaU", "EB"},
	[QTFS_OP_UNLINK] = {"unlink", "Nn", "B"},
	[QTFS_OP_RMDIR] = {"rmdir", "Nn", "B"},
	[QTFS_OP_SYMLINK] = {"symlink", "NnP", "EB"},
	[QTFS_OP_RENAME] = {"rename", "NnMmf", "BC"},
	[QTFS_OP_LINK] = {"link", "NMm", "EB"},
	[QTFS_OP_OPEN] = {"open", "F", ""},
	[QTFS_OP_CREATE] = {"create", "NnafUF", "EB"},
	[QTFS_OP_READ] = {"read", "Fol", "d"},
	[QTFS_OP_WRITE] = {"write", "Fod", "q"},
	[QTFS_OP_FLUSH] = {"flush", "Fw", ""},
	[QTFS_OP_RELEASE] = {"release", "F", ""},
	[QTFS_OP_FSYNC] = {"fsync", "Ff", ""},
	[QTFS_OP_READDIRPLUS] = {"readdirplus", "Fol", "d"},
	[QTFS_OP_STATFS] = {"statfs", "N", "V"},
	[QTFS_OP_SETXATTR] = {"setxattr", "Nxfd", ""},
	[QTFS_OP_GETXATTR] = {"getxattr", "Nxl", "qd"},
	[QTFS_OP_LISTXATTR] = {"listxattr", "Nl", "qd"},
	[QTFS_OP_REMOVEXATTR] = {"removexattr", "Nx", ""},
	[QTFS_OP_ACCESS] = {"access", "Nk", ""},
	[QTFS_OP_FALLOCATE] = {"fallocate", "Ffol", ""},
	[QTFS_OP_LSEEK] = {"lseek", "Fof", "q"},
	[QTFS_OP_COPY_FILE_RANGE] = {"copy_file_range", "FoGplf", "q"},
	[QTFS_OP_GETLK] = {"getlk", "FL", "L"},
	[QTFS_OP_SETLK] = {"setlk", "FLf", ""},
	[QTFS_OP_FLOCK] = {"flock", "Fwf", ""},
	[QTFS_OP_POLL] = {"poll", "Ff", "q"},
};

static const struct qtfs_op_desc *qtfs_desc(unsigned op)
{
	if (op == 0 || op >= QTFS_OP_COUNT)
		return NULL;
	return &qtfs_ops[op];
}

const char *qtfs_op_name(unsigned op)
{
	const struct qtfs_op_desc *d = qtfs_desc(op);

	return d ? d->name : "unknown";
}

bool qtfs_op_idempotent(const struct qtfs_req *req)
{
	switch (req->op) {
	case QTFS_OP_ATTACH:
	case QTFS_OP_LOOKUP:
	case QTFS_OP_GETATTR:
	case QTFS_OP_SETATTR: /* sets absolute values: repeating it gives the same result */
	case QTFS_OP_READLINK:
	case QTFS_OP_READ:
	case QTFS_OP_FLUSH:
	case QTFS_OP_RELEASE:
	case QTFS_OP_FSYNC:
	case QTFS_OP_READDIRPLUS:
	case QTFS_OP_STATFS:
	case QTFS_OP_GETXATTR:
	case QTFS_OP_LISTXATTR:
	case QTFS_OP_ACCESS:
	case QTFS_OP_LSEEK:
	case QTFS_OP_GETLK:
	case QTFS_OP_POLL:
		return true;
	case QTFS_OP_OPEN:
		return !(req->fh.flags & (O_TRUNC | O_CREAT));
	case QTFS_OP_WRITE:
		/* a positional write lands on the same bytes again; an append would not */
		return !(req->fh.flags & O_APPEND);
	case QTFS_OP_SETXATTR:
		return req->flags == 0;
	case QTFS_OP_FALLOCATE:
		return true;
	default:
		return false;
	}
}

bool qtfs_name_valid(const char *name)
{
	size_t n = strnlen(name, QTFS_NAME_MAX + 1);

	if (n == 0 || n > QTFS_NAME_MAX)
		return false;
	if (memchr(name, '/', n))
		return false;
	return strcmp(name, ".") != 0 && strcmp(name, "..") != 0;
}

/* ---- encoding ---- */

static void put_blob(struct wire_buf *b, const struct qtfs_blob *bl)
{
	wire_put_bytes(b, bl->data, bl->len <= QTFS_BLOB_MAX ? bl->len : 0);
}

static void put_fh(struct wire_buf *b, const struct qtfs_fhref *fh)
{
	wire_put_u64(b, fh->id);
	wire_put_u32(b, fh->flags);
	put_blob(b, &fh->node);
}

static void put_attr(struct wire_buf *b, const struct qtfs_attr *a)
{
	wire_put_u64(b, a->ino);
	wire_put_u32(b, a->mode);
	wire_put_u32(b, a->nlink);
	wire_put_u32(b, a->uid);
	wire_put_u32(b, a->gid);
	wire_put_u64(b, a->rdev);
	wire_put_u64(b, a->size);
	wire_put_u64(b, a->blocks);
	wire_put_u32(b, a->blksize);
	wire_put_i64(b, a->atime);
	wire_put_u32(b, a->atime_ns);
	wire_put_i64(b, a->mtime);
	wire_put_u32(b, a->mtime_ns);
	wire_put_i64(b, a->ctime);
	wire_put_u32(b, a->ctime_ns);
}

int qtfs_req_encode(struct wire_buf *b, const struct qtfs_req *req)
{
	const struct qtfs_op_desc *d = qtfs_desc(req->op);
	const char *f;
	uint32_t i, ng;

	if (!d)
		return -EINVAL;
	wire_put_u16(b, req->op);
	wire_put_u32(b, req->cred.uid);
	wire_put_u32(b, req->cred.gid);
	wire_put_u32(b, req->cred.pid);
	ng = req->cred.ngroups <= QTFS_GROUPS_MAX ? req->cred.ngroups : QTFS_GROUPS_MAX;
	wire_put_u32(b, ng);
	for (i = 0; i < ng; i++)
		wire_put_u32(b, req->cred.groups[i]);
	for (f = d->req; *f; f++) {
		switch (*f) {
		case 'N':
			put_blob(b, &req->node);
			break;
		case 'M':
			put_blob(b, &req->node2);
			break;
		case 'n':
		case 'x':
			wire_put_str(b, req->name);
			break;
		case 'm':
			wire_put_str(b, req->name2);
			break;
		case 'P':
			wire_put_str(b, req->path);
			break;
		case 'F':
			put_fh(b, &req->fh);
			break;
		case 'G':
			put_fh(b, &req->fh2);
			break;
		case 'o':
			wire_put_u64(b, req->off);
			break;
		case 'p':
			wire_put_u64(b, req->off2);
			break;
		case 'l':
			wire_put_u64(b, req->len);
			break;
		case 'f':
			wire_put_u32(b, req->flags);
			break;
		case 'a':
			wire_put_u32(b, req->mode);
			break;
		case 'U':
			wire_put_u32(b, req->umask);
			break;
		case 'k':
			wire_put_u32(b, req->mask);
			break;
		case 'r':
			wire_put_u64(b, req->rdev);
			break;
		case 'S':
			wire_put_u32(b, req->valid);
			wire_put_u32(b, req->mode);
			wire_put_u32(b, req->uid);
			wire_put_u32(b, req->gid);
			wire_put_u64(b, req->len);
			wire_put_i64(b, req->atime);
			wire_put_u32(b, req->atime_ns);
			wire_put_i64(b, req->mtime);
			wire_put_u32(b, req->mtime_ns);
			break;
		case 'd':
			wire_put_raw(b, req->data, req->data_len);
			break;
		case 'L':
			wire_put_u64(b, req->owner);
			wire_put_u32(b, req->lk_type);
			wire_put_u32(b, req->lk_pid);
			wire_put_u64(b, req->lk_start);
			wire_put_u64(b, req->lk_end);
			break;
		case 'w':
			wire_put_u64(b, req->owner);
			break;
		default:
			return -EINVAL;
		}
	}
	return b->err;
}

int qtfs_rep_encode(struct wire_buf *b, const struct qtfs_rep *rep)
{
	const struct qtfs_op_desc *d = qtfs_desc(rep->op);
	const char *f;

	if (!d)
		return -EINVAL;
	wire_put_i32(b, rep->status);
	if (rep->status != 0)
		return b->err;
	for (f = d->rep; *f; f++) {
		switch (*f) {
		case 'E':
			put_blob(b, &rep->node);
			put_attr(b, &rep->attr);
			break;
		case 'A':
			put_attr(b, &rep->attr);
			break;
		case 'B':
			put_attr(b, &rep->pattr);
			break;
		case 'C':
			put_attr(b, &rep->pattr2);
			break;
		case 'q':
			wire_put_u64(b, rep->value);
			break;
		case 'd':
			wire_put_bytes(b, rep->data, rep->data_len);
			break;
		case 'V':
			wire_put_u64(b, rep->st.blocks);
			wire_put_u64(b, rep->st.bfree);
			wire_put_u64(b, rep->st.bavail);
			wire_put_u64(b, rep->st.files);
			wire_put_u64(b, rep->st.ffree);
			wire_put_u64(b, rep->st.favail);
			wire_put_u32(b, rep->st.bsize);
			wire_put_u32(b, rep->st.frsize);
			wire_put_u32(b, rep->st.namemax);
			break;
		case 'L':
			wire_put_u32(b, rep->lk_type);
			wire_put_u32(b, rep->lk_pid);
			wire_put_u64(b, rep->lk_start);
			wire_put_u64(b, rep->lk_end);
			break;
		default:
			return -EINVAL;
		}
	}
	return b->err;
}

/* ---- decoding ---- */

static int get_blob(struct wire_reader *r, struct qtfs_blob *bl)
{
	const uint8_t *p;
	uint32_t n;

	if (wire_get_bytes(r, &p, &n))
		return -EBADMSG;
	if (n > QTFS_BLOB_MAX)
		return -EBADMSG;
	bl->len = n;
	if (n)
		memcpy(bl->data, p, n);
	return 0;
}

/* A length-prefixed string into a fixed buffer: no NUL inside, at most max bytes. */
static int get_fixed_str(struct wire_reader *r, char *out, size_t max)
{
	const uint8_t *p;
	uint32_t n;

	if (wire_get_bytes(r, &p, &n))
		return -EBADMSG;
	if (n > max || (n && memchr(p, 0, n)))
		return -EBADMSG;
	if (n)
		memcpy(out, p, n);
	out[n] = 0;
	return 0;
}

static int get_fh(struct wire_reader *r, struct qtfs_fhref *fh)
{
	if (wire_get_u64(r, &fh->id) || wire_get_u32(r, &fh->flags))
		return -EBADMSG;
	return get_blob(r, &fh->node);
}

static int get_attr(struct wire_reader *r, struct qtfs_attr *a)
{
	wire_get_u64(r, &a->ino);
	wire_get_u32(r, &a->mode);
	wire_get_u32(r, &a->nlink);
	wire_get_u32(r, &a->uid);
	wire_get_u32(r, &a->gid);
	wire_get_u64(r, &a->rdev);
	wire_get_u64(r, &a->size);
	wire_get_u64(r, &a->blocks);
	wire_get_u32(r, &a->blksize);
	wire_get_i64(r, &a->atime);
	wire_get_u32(r, &a->atime_ns);
	wire_get_i64(r, &a->mtime);
	wire_get_u32(r, &a->mtime_ns);
	wire_get_i64(r, &a->ctime);
	wire_get_u32(r, &a->ctime_ns);
	if (r->err)
		return -EBADMSG;
	if (a->atime_ns >= 1000000000u || a->mtime_ns >= 1000000000u || a->ctime_ns >= 1000000000u)
		return -EBADMSG;
	return 0;
}

int qtfs_req_decode(const uint8_t *p, size_t len, struct qtfs_req *req)
{
	const struct qtfs_op_desc *d;
	struct wire_reader r;
	const uint8_t *rest;
	size_t rest_len;
	const char *f;
	uint32_t i;
	int ret = 0;

	memset(req, 0, sizeof(*req));
	wire_reader_init(&r, p, len);
	if (wire_get_u16(&r, &req->op))
		return -EBADMSG;
	d = qtfs_desc(req->op);
	if (!d)
		return -EBADMSG;
	wire_get_u32(&r, &req->cred.uid);
	wire_get_u32(&r, &req->cred.gid);
	wire_get_u32(&r, &req->cred.pid);
	if (wire_get_u32(&r, &req->cred.ngroups) || req->cred.ngroups > QTFS_GROUPS_MAX)
		return -EBADMSG;
	for (i = 0; i < req->cred.ngroups; i++)
		wire_get_u32(&r, &req->cred.groups[i]);
	for (f = d->req; *f && !ret; f++) {
		switch (*f) {
		case 'N':
			ret = get_blob(&r, &req->node);
			break;
		case 'M':
			ret = get_blob(&r, &req->node2);
			break;
		case 'n':
			ret = get_fixed_str(&r, req->name, QTFS_NAME_MAX);
			if (!ret && !qtfs_name_valid(req->name))
				ret = -EBADMSG;
			break;
		case 'm':
			ret = get_fixed_str(&r, req->name2, QTFS_NAME_MAX);
			if (!ret && !qtfs_name_valid(req->name2))
				ret = -EBADMSG;
			break;
		case 'x':
			ret = get_fixed_str(&r, req->name, QTFS_XATTR_NAME_MAX);
			if (!ret && !req->name[0])
				ret = -EBADMSG;
			break;
		case 'P':
			ret = get_fixed_str(&r, req->path, QTFS_PATH_MAX);
			if (!ret && !req->path[0])
				ret = -EBADMSG;
			break;
		case 'F':
			ret = get_fh(&r, &req->fh);
			break;
		case 'G':
			ret = get_fh(&r, &req->fh2);
			break;
		case 'o':
			ret = wire_get_u64(&r, &req->off);
			break;
		case 'p':
			ret = wire_get_u64(&r, &req->off2);
			break;
		case 'l':
			ret = wire_get_u64(&r, &req->len);
			break;
		case 'f':
			ret = wire_get_u32(&r, &req->flags);
			break;
		case 'a':
			ret = wire_get_u32(&r, &req->mode);
			break;
		case 'U':
			ret = wire_get_u32(&r, &req->umask);
			break;
		case 'k':
			ret = wire_get_u32(&r, &req->mask);
			break;
		case 'r':
			ret = wire_get_u64(&r, &req->rdev);
			break;
		case 'S':
			wire_get_u32(&r, &req->valid);
			wire_get_u32(&r, &req->mode);
			wire_get_u32(&r, &req->uid);
			wire_get_u32(&r, &req->gid);
			wire_get_u64(&r, &req->len);
			wire_get_i64(&r, &req->atime);
			wire_get_u32(&r, &req->atime_ns);
			wire_get_i64(&r, &req->mtime);
			ret = wire_get_u32(&r, &req->mtime_ns);
			if (!ret && ((req->valid & ~(uint32_t)QTFS_SET_ALL) ||
				     req->atime_ns >= 1000000000u || req->mtime_ns >= 1000000000u))
				ret = -EBADMSG;
			break;
		case 'd':
			ret = wire_get_rest(&r, &rest, &rest_len);
			if (!ret && rest_len > QTFS_IO_MAX)
				ret = -EBADMSG;
			if (!ret) {
				req->data = rest;
				req->data_len = (uint32_t)rest_len;
			}
			break;
		case 'L':
			wire_get_u64(&r, &req->owner);
			wire_get_u32(&r, &req->lk_type);
			wire_get_u32(&r, &req->lk_pid);
			wire_get_u64(&r, &req->lk_start);
			ret = wire_get_u64(&r, &req->lk_end);
			break;
		case 'w':
			ret = wire_get_u64(&r, &req->owner);
			break;
		default:
			ret = -EBADMSG;
			break;
		}
	}
	if (ret || r.err)
		return -EBADMSG;
	if (wire_reader_done(&r))
		return -EBADMSG;
	/* sizes the server would allocate for must be bounded before anyone acts */
	if ((req->op == QTFS_OP_READ || req->op == QTFS_OP_READDIRPLUS) && req->len > QTFS_IO_MAX)
		return -EBADMSG;
	if ((req->op == QTFS_OP_GETXATTR || req->op == QTFS_OP_LISTXATTR) &&
	    req->len > QTFS_XATTR_VALUE_MAX)
		return -EBADMSG;
	if (req->op == QTFS_OP_SETXATTR && req->data_len > QTFS_XATTR_VALUE_MAX)
		return -EBADMSG;
	return 0;
}

int qtfs_rep_decode(uint16_t op, const uint8_t *p, size_t len, struct qtfs_rep *rep)
{
	const struct qtfs_op_desc *d = qtfs_desc(op);
	struct wire_reader r;
	const uint8_t *bp;
	uint32_t n;
	const char *f;
	int ret = 0;

	memset(rep, 0, sizeof(*rep));
	if (!d)
		return -EBADMSG;
	rep->op = op;
	wire_reader_init(&r, p, len);
	if (wire_get_i32(&r, &rep->status))
		return -EBADMSG;
	if (rep->status > 0 || rep->status < -4095)
		return -EBADMSG;
	if (rep->status != 0)
		return wire_reader_done(&r) ? -EBADMSG : 0;
	for (f = d->rep; *f && !ret; f++) {
		switch (*f) {
		case 'E':
			ret = get_blob(&r, &rep->node);
			if (!ret)
				ret = get_attr(&r, &rep->attr);
			if (!ret && rep->node.len == 0)
				ret = -EBADMSG;
			rep->has_entry = rep->has_attr = true;
			break;
		case 'A':
			ret = get_attr(&r, &rep->attr);
			rep->has_attr = true;
			break;
		case 'B':
			ret = get_attr(&r, &rep->pattr);
			rep->has_pattr = true;
			break;
		case 'C':
			ret = get_attr(&r, &rep->pattr2);
			rep->has_pattr2 = true;
			break;
		case 'q':
			ret = wire_get_u64(&r, &rep->value);
			break;
		case 'd':
			ret = wire_get_bytes(&r, &bp, &n);
			if (!ret && n > QTFS_IO_MAX)
				ret = -EBADMSG;
			rep->data = bp;
			rep->data_len = n;
			break;
		case 'V':
			wire_get_u64(&r, &rep->st.blocks);
			wire_get_u64(&r, &rep->st.bfree);
			wire_get_u64(&r, &rep->st.bavail);
			wire_get_u64(&r, &rep->st.files);
			wire_get_u64(&r, &rep->st.ffree);
			wire_get_u64(&r, &rep->st.favail);
			wire_get_u32(&r, &rep->st.bsize);
			wire_get_u32(&r, &rep->st.frsize);
			ret = wire_get_u32(&r, &rep->st.namemax);
			break;
		case 'L':
			wire_get_u32(&r, &rep->lk_type);
			wire_get_u32(&r, &rep->lk_pid);
			wire_get_u64(&r, &rep->lk_start);
			ret = wire_get_u64(&r, &rep->lk_end);
			break;
		default:
			ret = -EBADMSG;
			break;
		}
	}
	if (ret || r.err || wire_reader_done(&r))
		return -EBADMSG;
	return 0;
}

void qtfs_dirent_put(struct wire_buf *b, const struct qtfs_dirent *d)
{
	wire_put_str(b, d->name);
	wire_put_u64(b, d->next_off);
	put_blob(b, &d->node);
	put_attr(b, &d->attr);
}

int qtfs_dirent_next(struct wire_reader *r, struct qtfs_dirent *d)
{
	if (r->err)
		return -EBADMSG;
	if (r->off >= r->len)
		return 0;
	if (get_fixed_str(r, d->name, QTFS_NAME_MAX))
		return -EBADMSG;
	/* readdir also lists "." and ".."; everything else must be one component */
	if (strcmp(d->name, ".") && strcmp(d->name, "..") && !qtfs_name_valid(d->name))
		return -EBADMSG;
	if (wire_get_u64(r, &d->next_off))
		return -EBADMSG;
	if (get_blob(r, &d->node) || get_attr(r, &d->attr))
		return -EBADMSG;
	return 1;
}

void qtfs_attr_from_stat(struct qtfs_attr *a, const struct stat *st)
{
	memset(a, 0, sizeof(*a));
	a->ino = st->st_ino;
	a->mode = st->st_mode;
	a->nlink = (uint32_t)st->st_nlink;
	a->uid = st->st_uid;
	a->gid = st->st_gid;
	a->rdev = st->st_rdev;
	a->size = (uint64_t)st->st_size;
	a->blocks = (uint64_t)st->st_blocks;
	a->blksize = (uint32_t)st->st_blksize;
	a->atime = st->st_atim.tv_sec;
	a->atime_ns = (uint32_t)st->st_atim.tv_nsec;
	a->mtime = st->st_mtim.tv_sec;
	a->mtime_ns = (uint32_t)st->st_mtim.tv_nsec;
	a->ctime = st->st_ctim.tv_sec;
	a->ctime_ns = (uint32_t)st->st_ctim.tv_nsec;
}

void qtfs_attr_to_stat(const struct qtfs_attr *a, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = a->ino;
	st->st_mode = a->mode;
	st->st_nlink = a->nlink;
	st->st_uid = a->uid;
	st->st_gid = a->gid;
	st->st_rdev = a->rdev;
	st->st_size = (off_t)a->size;
	st->st_blocks = (blkcnt_t)a->blocks;
	st->st_blksize = a->blksize;
	st->st_atim.tv_sec = a->atime;
	st->st_atim.tv_nsec = a->atime_ns;
	st->st_mtim.tv_sec = a->mtime;
	st->st_mtim.tv_nsec = a->mtime_ns;
	st->st_ctim.tv_sec = a->ctime;
	st->st_ctim.tv_nsec = a->ctime_ns;
}
