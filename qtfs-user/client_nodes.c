/* client_nodes: one FUSE node per server blob (hard links share one), counted lookups. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "qtfs-user/client.h"
#include "util.h"

static uint32_t qc_blob_hash(const struct qtfs_blob *b)
{
	uint32_t h = 2166136261u, i;

	for (i = 0; i < b->len; i++)
		h = (h ^ b->data[i]) * 16777619u;
	return h;
}

int qc_nodes_init(struct qc_nodes *t)
{
	memset(t, 0, sizeof(*t));
	t->nbuckets = 65536;
	t->buckets = calloc(t->nbuckets, sizeof(*t->buckets));
	if (!t->buckets)
		return -ENOMEM;
	pthread_mutex_init(&t->lock, NULL);
	return 0;
}

void qc_nodes_fini(struct qc_nodes *t)
{
	size_t i;

	if (!t->buckets)
		return;
	for (i = 0; i < t->nbuckets; i++) {
		struct qc_node *n = t->buckets[i], *nx;

		for (; n; n = nx) {
			nx = n->next;
			free(n);
		}
	}
	free(t->buckets);
	t->buckets = NULL;
	pthread_mutex_destroy(&t->lock);
}

static struct qc_node *qc_node_of(struct qc_nodes *t, fuse_ino_t ino)
{
	return ino == FUSE_ROOT_ID ? &t->root : (struct qc_node *)(uintptr_t)ino;
}

int qc_node_blob(struct qc_nodes *t, fuse_ino_t ino, struct qtfs_blob *out)
{
	struct qc_node *n;

	if (ino == 0)
		return -ESTALE;
	n = qc_node_of(t, ino);
	pthread_mutex_lock(&t->lock);
	out->len = n->blob.len;
	memcpy(out->data, n->blob.data, n->blob.len);
	pthread_mutex_unlock(&t->lock);
	return 0;
}

fuse_ino_t qc_node_ref(struct qc_nodes *t, const struct qtfs_blob *b)
{
	uint32_t h = qc_blob_hash(b);
	struct qc_node *n;

	if (b->len == t->root.blob.len && !memcmp(b->data, t->root.blob.data, b->len))
		return FUSE_ROOT_ID;
	pthread_mutex_lock(&t->lock);
	for (n = t->buckets[h % t->nbuckets]; n; n = n->next) {
		if (n->hash == h && n->blob.len == b->len &&
		    !memcmp(n->blob.data, b->data, b->len)) {
			n->nlookup++;
			pthread_mutex_unlock(&t->lock);
			return (fuse_ino_t)(uintptr_t)n;
		}
	}
	n = calloc(1, sizeof(*n));
	if (!n) {
		pthread_mutex_unlock(&t->lock);
		return 0;
	}
	n->hash = h;
	n->nlookup = 1;
	n->blob.len = b->len;
	memcpy(n->blob.data, b->data, b->len);
	n->next = t->buckets[h % t->nbuckets];
	t->buckets[h % t->nbuckets] = n;
	t->count++;
	pthread_mutex_unlock(&t->lock);
	return (fuse_ino_t)(uintptr_t)n;
}

void qc_node_forget(struct qc_nodes *t, fuse_ino_t ino, uint64_t cnt)
{
	struct qc_node *n, **pp;

	if (ino == FUSE_ROOT_ID || ino == 0)
		return;
	n = qc_node_of(t, ino);
	pthread_mutex_lock(&t->lock);
	if (n->nlookup > cnt) {
		n->nlookup -= cnt;
		pthread_mutex_unlock(&t->lock);
		return;
	}
	pp = &t->buckets[n->hash % t->nbuckets];
	while (*pp && *pp != n)
		pp = &(*pp)->next;
	if (*pp)
		*pp = n->next;
	t->count--;
	pthread_mutex_unlock(&t->lock);
	free(n);
}

struct qc_node *qc_node_get(struct qc_nodes *t, fuse_ino_t ino)
{
	return ino ? qc_node_of(t, ino) : NULL;
}

void qc_node_changing(struct qc_nodes *t, fuse_ino_t ino)
{
	struct qc_node *n = qc_node_get(t, ino);

	if (n)
		atomic_fetch_add(&n->mods, 1);
}

uint64_t qc_node_mods(struct qc_nodes *t, fuse_ino_t ino)
{
	struct qc_node *n = qc_node_get(t, ino);

	return n ? atomic_load(&n->mods) : 0;
}

void qc_node_post_set(struct qc_nodes *t, fuse_ino_t ino, const struct qtfs_attr *a,
		      uint64_t until_ms, uint64_t names, uint64_t mods)
{
	struct qc_node *n = qc_node_get(t, ino);

	if (!n || !a->mode)
		return;
	pthread_mutex_lock(&t->lock);
	if (atomic_load(&t->names) == names && atomic_load(&n->mods) == mods) {
		n->post = *a;
		n->post_until_ms = until_ms;
		n->post_mods = mods;
		n->post_names = names;
	}
	pthread_mutex_unlock(&t->lock);
}

bool qc_node_post_take(struct qc_nodes *t, fuse_ino_t ino, struct qtfs_attr *a)
{
	struct qc_node *n = qc_node_get(t, ino);
	bool ok = false;

	if (!n)
		return false;
	pthread_mutex_lock(&t->lock);
	if (n->post_until_ms && n->post_until_ms > now_ms() &&
	    n->post_mods == atomic_load(&n->mods) && n->post_names == atomic_load(&t->names)) {
		*a = n->post;
		ok = true;
	}
	n->post_until_ms = 0;
	pthread_mutex_unlock(&t->lock);
	return ok;
}
