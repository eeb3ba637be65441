/* whitelist: managed block of the rexec allowlist, rewritten atomically, binaries pinned by hash. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "util.h"
#include "whitelist.h"

int wl_sha256_file(const char *path, char hex[65], struct errmsg *e)
{
	unsigned char md[EVP_MAX_MD_SIZE], buf[65536];
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx;
	int fd, r = 0;
	ssize_t n;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		errmsg_set(e, "%s: %s", path, strerror(errno));
		return r;
	}
	ctx = EVP_MD_CTX_new();
	if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
		r = -ENOMEM;
		goto out;
	}
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			errmsg_set(e, "%s: %s", path, strerror(errno));
			goto out;
		}
		if (!EVP_DigestUpdate(ctx, buf, (size_t)n)) {
			r = -EIO;
			goto out;
		}
	}
	if (!EVP_DigestFinal_ex(ctx, md, &mdlen) || mdlen != 32) {
		r = -EIO;
		goto out;
	}
	for (unsigned i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
out:
	if (r == -ENOMEM || r == -EIO)
		errmsg_set(e, "%s: SHA-256 failed", path);
	EVP_MD_CTX_free(ctx);
	close(fd);
	return r;
}

char *wl_merge(const char *old, const char *block)
{
	size_t olen = old ? strlen(old) : 0, blen = strlen(block);
	char *out = malloc(olen + blen + strlen(WL_BEGIN) + strlen(WL_END) + 8), *w;
	const char *p = old, *end = old + olen;
	bool in = false, placed = false;

	if (!out)
		return NULL;
	w = out;
	while (p && p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		const char *next = nl ? nl + 1 : end;

		if (!in && len == strlen(WL_BEGIN) && memcmp(p, WL_BEGIN, len) == 0) {
			in = true;
		} else if (in && len == strlen(WL_END) && memcmp(p, WL_END, len) == 0) {
			in = false;
			if (!placed) {
				w += sprintf(w, "%s\n%s%s\n", WL_BEGIN, block, WL_END);
				placed = true;
			}
		} else if (!in) {
			memcpy(w, p, len);
			w += len;
			*w++ = '\n';
		}
		p = next;
	}
	if (!placed)
		w += sprintf(w, "%s\n%s%s\n", WL_BEGIN, block, WL_END);
	*w = '\0';
	return out;
}

int wl_update(const char *file, const char *splitvm, const char *netctl, struct errmsg *e)
{
	char h1[65], h2[65], block[1024], tmp[300];
	char *old = NULL, *text;
	size_t len;
	int r, fd;

	r = wl_sha256_file(splitvm, h1, e);
	if (r)
		return r;
	r = wl_sha256_file(netctl, h2, e);
	if (r)
		return r;
	/* netctl is confined to its verbs; splitvm takes the rendered command line. */
	snprintf(block, sizeof(block),
		 "%s sha256=%s\n"
		 "%s sha256=%s args=add args=del args=up args=down args=set args=show\n",
		 splitvm, h1, netctl, h2);
	r = read_file(file, 1 << 20, &old, &len);
	if (r && r != -ENOENT) {
		errmsg_set(e, "%s: %s", file, strerror(-r));
		return r;
	}
	text = wl_merge(old, block);
	free(old);
	if (!text)
		return -ENOMEM;
	if (snprintf(tmp, sizeof(tmp), "%s.hostd-tmp", file) >= (int)sizeof(tmp)) {
		free(text);
		return -ENAMETOOLONG;
	}
	{
		char dir[256];
		char *slash;

		str_copy(dir, sizeof(dir), file);
		slash = strrchr(dir, '/');
		if (slash && slash != dir) {
			*slash = '\0';
			mkdir_p(dir, 0755);
		}
	}
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0400);
	if (fd < 0) {
		r = -errno;
		errmsg_set(e, "%s: %s", tmp, strerror(errno));
		free(text);
		return r;
	}
	r = write_full(fd, text, strlen(text));
	if (!r && fchmod(fd, 0400) < 0)
		r = -errno;
	if (!r && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && !r)
		r = -errno;
	if (!r && rename(tmp, file) < 0)
		r = -errno;
	free(text);
	if (r) {
		unlink(tmp);
		errmsg_set(e, "%s: %s", file, strerror(-r));
	}
	return r;
}
