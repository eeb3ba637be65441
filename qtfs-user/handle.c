/* handle: node blobs the client cannot forge, resolved to O_PATH fds through a cache. */
#include "qtfs-user/handle.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "qtfs-user/resolve.h"
#include "util.h"

/*
 * Blob layout (all big-endian):
 *   u8 kind ('H' file handle | 'P' path), u32 export id,
 *   H: i32 mount id, i32 handle type, u16 n, n handle bytes
 *   P: u16 n, n bytes of the path relative to the export root ("" for the root)
 *   16 bytes HMAC-SHA256 (truncated) over everything before it.
 */
struct qh_entry {
	struct qh_entry *next;		      /* hash chain */
	struct qh_entry *lru_prev, *lru_next; /* on the LRU list while refs == 0 */
	unsigned refs;
	bool on_lru;
	int fd;
	bool is_dir;
	uint32_t hash;
	struct qtfs_blob blob;
};

uint32_t qh_export_id(const char *path)
{
	uint32_t h = 2166136261u;

	for (; *path; path++)
		h = (h ^ (uint8_t)*path) * 16777619u;
	return h;
}

static uint32_t qh_hash(const struct qtfs_blob *b)
{
	uint32_t h = 2166136261u, i;

	for (i = 0; i < b->len; i++)
		h = (h ^ b->data[i]) * 16777619u;
	return h;
}

static void qh_mac(const struct qh_store *s, const uint8_t *p, size_t n, uint8_t out[QTFS_MAC_LEN])
{
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;

	HMAC(EVP_sha256(), s->key, QTFS_KEY_LEN, p, n, md, &mdlen);
	memcpy(out, md, QTFS_MAC_LEN);
}

int qh_load_key(const char *path, uint8_t key[QTFS_KEY_LEN], struct errmsg *e)
{
	char *text = NULL;
	size_t len;
	int ret, fd;
	char *dir, *slash;

	ret = read_file(path, 4096, &text, &len);
	if (ret == 0) {
		if (len != QTFS_KEY_LEN) {
			free(text);
			errmsg_set(e, "%s: handle key must be %d bytes, has %zu", path,
				   QTFS_KEY_LEN, len);
			return -EINVAL;
		}
		memcpy(key, text, QTFS_KEY_LEN);
		free(text);
		return 0;
	}
	if (ret != -ENOENT) {
		errmsg_set(e, "%s: %s", path, strerror(-ret));
		return ret;
	}
	if (RAND_bytes(key, QTFS_KEY_LEN) != 1) {
		errmsg_set(e, "%s: no random bytes for a new handle key", path);
		return -EIO;
	}
	dir = str_dup(path);
	if (!dir)
		return -ENOMEM;
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = 0;
		mkdir_p(dir, 0700);
	}
	free(dir);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		ret = -errno;
		errmsg_set(e, "%s: cannot create handle key: %s", path, strerror(errno));
		return ret;
	}
	ret = write_full(fd, key, QTFS_KEY_LEN);
	if (close(fd) && !ret)
		ret = -errno;
	if (ret)
		errmsg_set(e, "%s: cannot write handle key: %s", path, strerror(-ret));
	return ret;
}

int qh_init(struct qh_store *s, int rootfd, const char *root, bool by_path, unsigned resolve_flags,
	    const uint8_t key[QTFS_KEY_LEN], size_t max)
{
	memset(s, 0, sizeof(*s));
	if (str_copy(s->root, sizeof(s->root), root))
		return -ENAMETOOLONG;
	s->rootfd = rootfd;
	s->export_id = qh_export_id(root);
	s->by_path = by_path;
	s->resolve_flags = resolve_flags;
	memcpy(s->key, key, QTFS_KEY_LEN);
	s->max = max ? max : 4096;
	s->nbuckets = 8192;
	s->buckets = calloc(s->nbuckets, sizeof(*s->buckets));
	if (!s->buckets)
		return -ENOMEM;
	pthread_mutex_init(&s->lock, NULL);
	return 0;
}

void qh_fini(struct qh_store *s)
{
	size_t i;
	unsigned m;

	if (!s->buckets)
		return;
	for (i = 0; i < s->nbuckets; i++) {
		struct qh_entry *e = s->buckets[i], *n;

		for (; e; e = n) {
			n = e->next;
			close(e->fd);
			free(e);
		}
	}
	for (m = 0; m < s->nmounts; m++)
		close(s->mounts[m].fd);
	free(s->buckets);
	s->buckets = NULL;
	close(s->rootfd);
	pthread_mutex_destroy(&s->lock);
	OPENSSL_cleanse(s->key, sizeof(s->key));
}

static void put_be(uint8_t *p, uint64_t v, int n)
{
	int i;

	for (i = n - 1; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

static uint64_t get_be(const uint8_t *p, int n)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < n; i++)
		v = (v << 8) | p[i];
	return v;
}

/* The relative path of a path blob (points into the blob; not NUL-terminated). */
static int qh_blob_rel(const struct qtfs_blob *b, const uint8_t **rel, size_t *n)
{
	size_t l;

	if (b->len < 7 + QTFS_MAC_LEN || b->data[0] != 'P')
		return -ESTALE;
	l = get_be(b->data + 5, 2);
	if (7 + l + QTFS_MAC_LEN != b->len)
		return -ESTALE;
	*rel = b->data + 7;
	*n = l;
	return 0;
}

/*
 * Remembers a descriptor for the mount fd lives on, for open_by_handle_at
 * after a restart of the cache. It must be a real open file (the kernel
 * refuses O_PATH ones there), so only directories register a mount.
 * Returns true if the mount is known afterwards.
 */
static bool qh_register_mount(struct qh_store *s, int mnt_id, int fd)
{
	char proc[40];
	struct stat st;
	bool known = false;
	unsigned i;
	int nfd;

	pthread_mutex_lock(&s->lock);
	for (i = 0; i < s->nmounts; i++)
		known |= s->mounts[i].mnt_id == mnt_id;
	pthread_mutex_unlock(&s->lock);
	if (known)
		return true;
	if (fstat(fd, &st) < 0 || !S_ISDIR(st.st_mode))
		return false;
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	nfd = open(proc, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (nfd < 0)
		return false;
	pthread_mutex_lock(&s->lock);
	for (i = 0; i < s->nmounts; i++)
		known |= s->mounts[i].mnt_id == mnt_id;
	if (!known && s->nmounts < ARRAY_SIZE(s->mounts)) {
		s->mounts[s->nmounts].mnt_id = mnt_id;
		s->mounts[s->nmounts].fd = nfd;
		s->nmounts++;
		known = true;
		nfd = -1;
	}
	pthread_mutex_unlock(&s->lock);
	if (nfd >= 0)
		close(nfd);
	return known;
}

static int qh_make_path(struct qh_store *s, const struct qtfs_blob *parent, const char *name,
			int fd, struct qtfs_blob *out)
{
	char rel[QTFS_PATH_MAX + 1];
	const uint8_t *prel;
	size_t plen, n;
	int ret;

	if (!parent && fd < 0) {
		return -EINVAL;
	} else if (parent && parent->len && parent->data[0] == 'P') {
		ret = qh_blob_rel(parent, &prel, &plen);
		if (ret)
			return ret;
		if (plen + 1 + strlen(name) > QTFS_PATH_MAX)
			return -ENAMETOOLONG;
		memcpy(rel, prel, plen);
		rel[plen] = 0;
		if (plen)
			strcat(rel, "/");
		strcat(rel, name);
	} else {
		/* the root, or a handle-named parent: the kernel's path for the child, made relative */
		char abs[QTFS_PATH_MAX + 1];
		const char *r;

		ret = qtfs_fd_path(fd, abs, sizeof(abs));
		if (ret)
			return ret;
		if (!qtfs_path_below(s->root, abs, &r))
			return -EXDEV;
		if (str_copy(rel, sizeof(rel), r))
			return -ENAMETOOLONG;
	}
	n = strlen(rel);
	if (7 + n + QTFS_MAC_LEN > QTFS_BLOB_MAX)
		return -ENAMETOOLONG;
	out->data[0] = 'P';
	put_be(out->data + 1, s->export_id, 4);
	put_be(out->data + 5, n, 2);
	memcpy(out->data + 7, rel, n);
	qh_mac(s, out->data, 7 + n, out->data + 7 + n);
	out->len = (uint32_t)(7 + n + QTFS_MAC_LEN);
	return 0;
}

int qh_make(struct qh_store *s, const struct qtfs_blob *parent, const char *name, int fd,
	    struct qtfs_blob *out)
{
	struct {
		struct file_handle fh;
		unsigned char buf[MAX_HANDLE_SZ];
	} h;
	int mnt_id, ret;
	size_t off;

	if (s->by_path)
		return qh_make_path(s, parent, name, fd, out);
	h.fh.handle_bytes = MAX_HANDLE_SZ;
	if (name_to_handle_at(fd, "", &h.fh, &mnt_id, AT_EMPTY_PATH) < 0) {
		ret = -errno;
		if (ret == -EOPNOTSUPP || ret == -EOVERFLOW)
			return qh_make_path(s, parent, name, fd, out);
		return ret;
	}
	if (15 + h.fh.handle_bytes + QTFS_MAC_LEN > QTFS_BLOB_MAX ||
	    !qh_register_mount(s, mnt_id, fd))
		return qh_make_path(s, parent, name, fd, out);
	out->data[0] = 'H';
	put_be(out->data + 1, s->export_id, 4);
	put_be(out->data + 5, (uint32_t)mnt_id, 4);
	put_be(out->data + 9, (uint32_t)h.fh.handle_type, 4);
	put_be(out->data + 13, h.fh.handle_bytes, 2);
	memcpy(out->data + 15, h.fh.f_handle, h.fh.handle_bytes);
	off = 15 + h.fh.handle_bytes;
	qh_mac(s, out->data, off, out->data + off);
	out->len = (uint32_t)(off + QTFS_MAC_LEN);
	return 0;
}

/* Checks the MAC and export, then opens what the blob names as an O_PATH fd. */
static int qh_open_blob(struct qh_store *s, const struct qtfs_blob *b)
{
	uint8_t mac[QTFS_MAC_LEN];
	size_t body;
	int fd = -1;

	if (b->len < 7 + QTFS_MAC_LEN)
		return -ESTALE;
	body = b->len - QTFS_MAC_LEN;
	qh_mac(s, b->data, body, mac);
	if (CRYPTO_memcmp(mac, b->data + body, QTFS_MAC_LEN) != 0)
		return -ESTALE;
	if (get_be(b->data + 1, 4) != s->export_id)
		return -ESTALE;
	if (b->data[0] == 'P') {
		char rel[QTFS_PATH_MAX + 1];
		const uint8_t *p;
		size_t n;
		int ret = qh_blob_rel(b, &p, &n);

		if (ret)
			return ret;
		if (memchr(p, 0, n))
			return -ESTALE;
		memcpy(rel, p, n);
		rel[n] = 0;
		fd = qtfs_resolve(s->rootfd, rel, O_PATH | O_NOFOLLOW, s->resolve_flags);
		if (fd == -ENOENT)
			return -ESTALE;
		return fd;
	}
	if (b->data[0] == 'H' && body >= 15) {
		struct {
			struct file_handle fh;
			unsigned char buf[MAX_HANDLE_SZ];
		} h;
		int mnt_id = (int)get_be(b->data + 5, 4), mfd = -1;
		size_t n = get_be(b->data + 13, 2);
		unsigned i;

		if (15 + n != body || n > MAX_HANDLE_SZ)
			return -ESTALE;
		h.fh.handle_bytes = (unsigned)n;
		h.fh.handle_type = (int)get_be(b->data + 9, 4);
		memcpy(h.fh.f_handle, b->data + 15, n);
		pthread_mutex_lock(&s->lock);
		for (i = 0; i < s->nmounts; i++)
			if (s->mounts[i].mnt_id == mnt_id)
				mfd = s->mounts[i].fd;
		pthread_mutex_unlock(&s->lock);
		if (mfd < 0)
			return -ESTALE; /* a mount below the export we have not seen since start */
		fd = open_by_handle_at(mfd, &h.fh, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return errno == ENOENT || errno == EINVAL ? -ESTALE : -errno;
		return fd;
	}
	return -ESTALE;
}

static void qh_lru_unlink(struct qh_store *s, struct qh_entry *e)
{
	if (!e->on_lru)
		return;
	if (e->lru_prev)
		e->lru_prev->lru_next = e->lru_next;
	else
		s->lru_head = e->lru_next;
	if (e->lru_next)
		e->lru_next->lru_prev = e->lru_prev;
	else
		s->lru_tail = e->lru_prev;
	e->lru_prev = e->lru_next = NULL;
	e->on_lru = false;
}

static void qh_remove(struct qh_store *s, struct qh_entry *e)
{
	struct qh_entry **pp = &s->buckets[e->hash % s->nbuckets];

	while (*pp && *pp != e)
		pp = &(*pp)->next;
	if (*pp)
		*pp = e->next;
	qh_lru_unlink(s, e);
	s->count--;
	close(e->fd);
	free(e);
}

int qh_get(struct qh_store *s, const struct qtfs_blob *b, struct qh_ref *ref)
{
	uint32_t h = qh_hash(b);
	struct qh_entry *e, *ne;
	struct stat st;
	int fd;

	pthread_mutex_lock(&s->lock);
	for (e = s->buckets[h % s->nbuckets]; e; e = e->next) {
		if (e->hash == h && e->blob.len == b->len &&
		    !memcmp(e->blob.data, b->data, b->len)) {
			qh_lru_unlink(s, e);
			e->refs++;
			ref->e = e;
			ref->fd = e->fd;
			ref->is_dir = e->is_dir;
			pthread_mutex_unlock(&s->lock);
			return 0;
		}
	}
	pthread_mutex_unlock(&s->lock);

	fd = qh_open_blob(s, b);
	if (fd < 0)
		return fd;
	if (fstat(fd, &st) < 0) {
		close(fd);
		return -ESTALE;
	}
	if (S_ISDIR(st.st_mode) && b->data[0] == 'H') {
		/* a directory moved out of the export since the blob was issued is no
		 * longer ours: directories always have a path the kernel can name */
		char abs[QTFS_PATH_MAX + 1];
		const char *rel;

		if (qtfs_fd_path(fd, abs, sizeof(abs)) || !qtfs_path_below(s->root, abs, &rel)) {
			close(fd);
			return -ESTALE;
		}
	}
	ne = calloc(1, sizeof(*ne));
	if (!ne) {
		close(fd);
		return -ENOMEM;
	}
	ne->fd = fd;
	ne->is_dir = S_ISDIR(st.st_mode);
	ne->hash = h;
	ne->blob.len = b->len;
	memcpy(ne->blob.data, b->data, b->len);
	ne->refs = 1;

	pthread_mutex_lock(&s->lock);
	/* evict unreferenced entries beyond the limit, oldest first */
	while (s->count >= s->max && s->lru_head)
		qh_remove(s, s->lru_head);
	ne->next = s->buckets[h % s->nbuckets];
	s->buckets[h % s->nbuckets] = ne;
	s->count++;
	pthread_mutex_unlock(&s->lock);
	ref->e = ne;
	ref->fd = fd;
	ref->is_dir = ne->is_dir;
	return 0;
}

void qh_put(struct qh_store *s, struct qh_ref *ref)
{
	struct qh_entry *e = ref->e;

	if (!e)
		return;
	pthread_mutex_lock(&s->lock);
	if (--e->refs == 0) {
		e->lru_prev = s->lru_tail;
		e->lru_next = NULL;
		if (s->lru_tail)
			s->lru_tail->lru_next = e;
		else
			s->lru_head = e;
		s->lru_tail = e;
		e->on_lru = true;
		if (s->count > s->max)
			qh_remove(s, e);
	}
	pthread_mutex_unlock(&s->lock);
	ref->e = NULL;
	ref->fd = -1;
}

void qh_forget(struct qh_store *s, const struct qtfs_blob *b)
{
	uint32_t h = qh_hash(b);
	struct qh_entry *e;

	pthread_mutex_lock(&s->lock);
	for (e = s->buckets[h % s->nbuckets]; e; e = e->next) {
		if (e->hash == h && e->blob.len == b->len &&
		    !memcmp(e->blob.data, b->data, b->len)) {
			if (e->refs == 0)
				qh_remove(s, e);
			break;
		}
	}
	pthread_mutex_unlock(&s->lock);
}

int qh_make_at(struct qh_store *s, const struct qtfs_blob *parent, int dirfd, const char *name,
	       struct qtfs_blob *out)
{
	struct {
		struct file_handle fh;
		unsigned char buf[MAX_HANDLE_SZ];
	} h;
	int mnt_id, ret, fd;
	size_t off;

	if (!s->by_path) {
		h.fh.handle_bytes = MAX_HANDLE_SZ;
		if (name_to_handle_at(dirfd, name, &h.fh, &mnt_id, 0) == 0 &&
		    15 + h.fh.handle_bytes + QTFS_MAC_LEN <= QTFS_BLOB_MAX) {
			bool known = false;
			unsigned i;

			pthread_mutex_lock(&s->lock);
			for (i = 0; i < s->nmounts; i++)
				known |= s->mounts[i].mnt_id == mnt_id;
			pthread_mutex_unlock(&s->lock);
			if (known) {
				out->data[0] = 'H';
				put_be(out->data + 1, s->export_id, 4);
				put_be(out->data + 5, (uint32_t)mnt_id, 4);
				put_be(out->data + 9, (uint32_t)h.fh.handle_type, 4);
				put_be(out->data + 13, h.fh.handle_bytes, 2);
				memcpy(out->data + 15, h.fh.f_handle, h.fh.handle_bytes);
				off = 15 + h.fh.handle_bytes;
				qh_mac(s, out->data, off, out->data + off);
				out->len = (uint32_t)(off + QTFS_MAC_LEN);
				return 0;
			}
		}
	}
	if (s->by_path && parent && parent->len && parent->data[0] == 'P')
		return qh_make_path(s, parent, name, -1, out);
	fd = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = qh_make(s, parent, name, fd, out);
	close(fd);
	return ret;
}

void qh_adopt(struct qh_store *s, const struct qtfs_blob *b, int fd, bool is_dir)
{
	uint32_t h = qh_hash(b);
	struct qh_entry *e, *ne;

	ne = calloc(1, sizeof(*ne));
	if (!ne) {
		close(fd);
		return;
	}
	pthread_mutex_lock(&s->lock);
	for (e = s->buckets[h % s->nbuckets]; e; e = e->next) {
		if (e->hash == h && e->blob.len == b->len &&
		    !memcmp(e->blob.data, b->data, b->len)) {
			pthread_mutex_unlock(&s->lock);
			close(fd);
			free(ne);
			return;
		}
	}
	while (s->count >= s->max && s->lru_head)
		qh_remove(s, s->lru_head);
	ne->fd = fd;
	ne->is_dir = is_dir;
	ne->hash = h;
	ne->blob.len = b->len;
	memcpy(ne->blob.data, b->data, b->len);
	ne->next = s->buckets[h % s->nbuckets];
	s->buckets[h % s->nbuckets] = ne;
	s->count++;
	/* unreferenced: straight onto the LRU list */
	ne->lru_prev = s->lru_tail;
	if (s->lru_tail)
		s->lru_tail->lru_next = ne;
	else
		s->lru_head = ne;
	s->lru_tail = ne;
	ne->on_lru = true;
	pthread_mutex_unlock(&s->lock);
}
