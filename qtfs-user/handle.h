/* handle: server-issued node blobs (file handles or export-relative paths, HMAC'd) and
 * a cache of the O_PATH fds they resolve to. */
#ifndef QTFS_HANDLE_H
#define QTFS_HANDLE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "qtfs-user/proto.h"

#define QTFS_KEY_LEN 32
#define QTFS_MAC_LEN 16

struct qh_entry;

struct qh_store {
	int rootfd;		/* O_PATH of the export root */
	char root[4096];	/* its absolute path */
	uint32_t export_id;	/* hash of the export path: blobs are valid for one export */
	bool by_path;		/* proc/sys: blobs carry the relative path */
	unsigned resolve_flags; /* QTFS_RESOLVE_* for path walks */
	uint8_t key[QTFS_KEY_LEN];
	pthread_mutex_t lock;
	struct qh_entry **buckets;
	size_t nbuckets, count, max;
	struct qh_entry *lru_head, *lru_tail; /* unreferenced entries, oldest at head */
	struct {
		int mnt_id;
		int fd;
	} mounts[32];
	unsigned nmounts;
};

/* A referenced cache entry: fd stays valid until qh_put. */
struct qh_ref {
	struct qh_entry *e;
	int fd;
	bool is_dir;
};

/* rootfd is taken over (closed by qh_fini). max: cached fds (0: 4096). */
int qh_init(struct qh_store *s, int rootfd, const char *root, bool by_path, unsigned resolve_flags,
	    const uint8_t key[QTFS_KEY_LEN], size_t max);
void qh_fini(struct qh_store *s);

/* The blob for fd, found as `name` in the directory node `parent` (NULL for the root). */
int qh_make(struct qh_store *s, const struct qtfs_blob *parent, const char *name, int fd,
	    struct qtfs_blob *out);
/* The blob for the entry `name` of the directory dirfd (node `parent`), not followed. */
int qh_make_at(struct qh_store *s, const struct qtfs_blob *parent, int dirfd, const char *name,
	       struct qtfs_blob *out);
/* Puts an O_PATH fd known to be what b names into the cache (fd is taken over). */
void qh_adopt(struct qh_store *s, const struct qtfs_blob *b, int fd, bool is_dir);
/* Resolves a blob to a referenced fd: -ESTALE for a forged, foreign or vanished node. */
int qh_get(struct qh_store *s, const struct qtfs_blob *b, struct qh_ref *ref);
void qh_put(struct qh_store *s, struct qh_ref *ref);
/* Drops a cached fd (after unlink/rename its path-blob no longer names it). */
void qh_forget(struct qh_store *s, const struct qtfs_blob *b);

/* Loads a key file, creating it (0600, random) if absent. */
int qh_load_key(const char *path, uint8_t key[QTFS_KEY_LEN], struct errmsg *e);
uint32_t qh_export_id(const char *path);

#endif
