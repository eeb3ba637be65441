/* proto: the qtfs request/reply messages carried in wire frames, and their codecs. */
#ifndef QTFS_PROTO_H
#define QTFS_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "wire.h"

#define QTFS_PROTO_NAME	   "qtfs"
#define QTFS_PROTO_VERSION 2
#define QTFS_ROLE_SERVER   1
#define QTFS_ROLE_CLIENT   2

/* Frame types (wire.h reserves 0-15). request = the request id. */
enum {
	QTFS_T_REQ = 16,
	QTFS_T_REP = 17,
	QTFS_T_INTR = 18,   /* no payload: interrupt the request with this id */
	QTFS_T_ONEWAY = 19, /* a request nobody waits for: no reply (request id 0) */
};

/* Largest node blob, name, link target, xattr name/value, I/O size, group list. */
#define QTFS_BLOB_MAX	     512
#define QTFS_NAME_MAX	     255
#define QTFS_PATH_MAX	     4096
#define QTFS_XATTR_NAME_MAX  255
#define QTFS_XATTR_VALUE_MAX 65536
#define QTFS_IO_MAX	     (4u * 1024 * 1024)
#define QTFS_GROUPS_MAX	     32

enum qtfs_op {
	QTFS_OP_ATTACH = 1,
	QTFS_OP_LOOKUP,
	QTFS_OP_GETATTR,
	QTFS_OP_SETATTR,
	QTFS_OP_READLINK,
	QTFS_OP_MKNOD,
	QTFS_OP_MKDIR,
	QTFS_OP_UNLINK,
	QTFS_OP_RMDIR,
	QTFS_OP_SYMLINK,
	QTFS_OP_RENAME,
	QTFS_OP_LINK,
	QTFS_OP_OPEN,
	QTFS_OP_CREATE,
	QTFS_OP_READ,
	QTFS_OP_WRITE,
	QTFS_OP_FLUSH,
	QTFS_OP_RELEASE,
	QTFS_OP_FSYNC,
	QTFS_OP_READDIRPLUS,
	QTFS_OP_STATFS,
	QTFS_OP_SETXATTR,
	QTFS_OP_GETXATTR,
	QTFS_OP_LISTXATTR,
	QTFS_OP_REMOVEXATTR,
	QTFS_OP_ACCESS,
	QTFS_OP_FALLOCATE,
	QTFS_OP_LSEEK,
	QTFS_OP_COPY_FILE_RANGE,
	QTFS_OP_GETLK,
	QTFS_OP_SETLK,
	QTFS_OP_FLOCK,
	QTFS_OP_POLL,
	QTFS_OP_COUNT,
};

/* A node: an opaque, server-authenticated blob naming an inode. */
struct qtfs_blob {
	uint32_t len;
	uint8_t data[QTFS_BLOB_MAX];
};

/* An open file: the client's id for it plus what the server needs to reopen it
 * on a new connection (its node and open flags). */
struct qtfs_fhref {
	uint64_t id;
	uint32_t flags;
	struct qtfs_blob node;
};

struct qtfs_cred {
	uint32_t uid, gid, pid;
	uint32_t ngroups;
	uint32_t groups[QTFS_GROUPS_MAX];
};

/* setattr valid bits (independent of FUSE's). */
enum {
	QTFS_SET_MODE = 1u << 0,
	QTFS_SET_UID = 1u << 1,
	QTFS_SET_GID = 1u << 2,
	QTFS_SET_SIZE = 1u << 3,
	QTFS_SET_ATIME = 1u << 4,
	QTFS_SET_MTIME = 1u << 5,
	QTFS_SET_ATIME_NOW = 1u << 6,
	QTFS_SET_MTIME_NOW = 1u << 7,
	QTFS_SET_FH = 1u << 8, /* use the fh (ftruncate on an open file) */
	QTFS_SET_ALL = (1u << 9) - 1,
};

/*
 * One decoded request. Which fields are meaningful depends on op (see the
 * field table in proto.c). Strings are NUL-terminated copies; data points into
 * the frame payload the request was decoded from.
 */
struct qtfs_req {
	uint16_t op;
	struct qtfs_cred cred;
	struct qtfs_blob node, node2;
	struct qtfs_fhref fh, fh2;
	char name[QTFS_NAME_MAX + 1];
	char name2[QTFS_NAME_MAX + 1];
	char path[QTFS_PATH_MAX + 1]; /* symlink target, attach path */
	uint64_t off, off2, len;
	uint32_t flags, mode, umask, mask;
	uint64_t rdev;
	uint32_t valid; /* setattr */
	uint32_t uid, gid;
	int64_t atime, mtime;
	uint32_t atime_ns, mtime_ns;
	/* locks */
	uint64_t owner;
	uint32_t lk_type, lk_pid;
	uint64_t lk_start, lk_end;
	const uint8_t *data;
	uint32_t data_len;
};

struct qtfs_attr {
	uint64_t ino, rdev, size, blocks;
	uint32_t mode, nlink, uid, gid, blksize;
	int64_t atime, mtime, ctime;
	uint32_t atime_ns, mtime_ns, ctime_ns;
};

struct qtfs_statfs {
	uint64_t blocks, bfree, bavail, files, ffree, favail;
	uint32_t bsize, frsize, namemax;
};

struct qtfs_rep {
	uint16_t op;
	int32_t status; /* 0 or -errno; nothing follows a failure */
	struct qtfs_blob node;
	struct qtfs_attr attr;
	/* the directories an operation changed, after it (like NFS post-op attributes):
	 * the client answers the kernel's next getattr of them without a round trip */
	struct qtfs_attr pattr, pattr2;
	bool has_entry, has_attr, has_pattr, has_pattr2;
	uint64_t value; /* written, xattr size, lseek offset, copy count, revents, attach flags */
	struct qtfs_statfs st;
	uint32_t lk_type, lk_pid;
	uint64_t lk_start, lk_end;
	const uint8_t *data; /* read bytes, link target, xattr value/list, dirent list */
	uint32_t data_len;
};

/* POLL: flags = poll events, plus this bit to wait until one is ready. */
#define QTFS_POLL_WAIT (1u << 31)

/* Attach reply flags (rep.value). */
enum {
	QTFS_ATTACH_RDONLY = 1u << 0,
	QTFS_ATTACH_CALLER_IDS = 1u << 1, /* server switches to the caller's ids: send groups */
	QTFS_ATTACH_KIND_PROC = 1u << 2,
	QTFS_ATTACH_KIND_SYS = 1u << 3,
};

const char *qtfs_op_name(unsigned op);
/* Whether a request may be sent again after the link dropped with it in flight. */
bool qtfs_op_idempotent(const struct qtfs_req *req);

/* Encodes the payload of a request (not the frame header) into b. 0 or -errno. */
int qtfs_req_encode(struct wire_buf *b, const struct qtfs_req *req);
/* Decodes and validates a request payload. -EBADMSG on anything malformed. */
int qtfs_req_decode(const uint8_t *p, size_t len, struct qtfs_req *req);

int qtfs_rep_encode(struct wire_buf *b, const struct qtfs_rep *rep);
/* The reply's op must be known by the caller: op selects the layout. */
int qtfs_rep_decode(uint16_t op, const uint8_t *p, size_t len, struct qtfs_rep *rep);

/* Directory entries in a READDIRPLUS reply's data: a sequence of
 * name, next offset, blob, attr. */
struct qtfs_dirent {
	char name[QTFS_NAME_MAX + 1];
	uint64_t next_off;
	struct qtfs_blob node;
	struct qtfs_attr attr;
};

void qtfs_dirent_put(struct wire_buf *b, const struct qtfs_dirent *d);
/* Decodes the next entry; 1 when one was read, 0 at the end, -EBADMSG if malformed. */
int qtfs_dirent_next(struct wire_reader *r, struct qtfs_dirent *d);

void qtfs_attr_from_stat(struct qtfs_attr *a, const struct stat *st);
void qtfs_attr_to_stat(const struct qtfs_attr *a, struct stat *st);

/* A single path component: non-empty, <= 255 bytes, no '/', not "." or "..". */
bool qtfs_name_valid(const char *name);

#endif
