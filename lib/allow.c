/* allow: allowlist files (permission-checked, one entry a line) and path-component matching. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "allow.h"
#include "util.h"

/* An allowlist larger than this is certainly a mistake. */
#define ALLOW_MAX_FILE (1u << 20)

struct allowlist {
	struct allow_entry *entries; /* each entry's strings live in one allocation at .value */
	size_t count;
	size_t cap;
};

/* Checks an open file: regular, and with ALLOW_CHECK_PERMS root-owned and not g/o-writable. */
static int check_fd(int fd, const char *path, bool perms, struct errmsg *e)
{
	struct stat st;
	mode_t wr;

	if (fstat(fd, &st) < 0) {
		int ret = -errno;

		errmsg_set(e, "%s: %s", path, strerror(-ret));
		return ret;
	}
	if (!S_ISREG(st.st_mode)) {
		errmsg_set(e, "%s: not a regular file", path);
		return -EINVAL;
	}
	if (!perms)
		return 0;
	if (st.st_uid != 0) {
		errmsg_set(e, "%s: owned by uid %u, not root", path, (unsigned)st.st_uid);
		return -EPERM;
	}
	wr = st.st_mode & (S_IWGRP | S_IWOTH);
	if (wr) {
		errmsg_set(e, "%s: %s (mode %04o); it must not be writable by group or others",
			   path,
			   wr == (S_IWGRP | S_IWOTH) ? "group- and world-writable"
			   : wr == S_IWGRP	     ? "group-writable"
						     : "world-writable",
			   (unsigned)(st.st_mode & 07777));
		return -EPERM;
	}
	return 0;
}

/* O_NONBLOCK so that a FIFO planted at the path cannot hang us before fstat refuses it. */
static int open_list(const char *path, struct errmsg *e)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

	if (fd < 0) {
		int ret = -errno;

		errmsg_set(e, "%s: %s", path, strerror(-ret));
		return ret;
	}
	return fd;
}

int allow_check_file_perms(const char *path, struct errmsg *e)
{
	int fd, ret;

	if (!path) {
		errmsg_set(e, "(allowlist): no file name");
		return -EINVAL;
	}
	fd = open_list(path, e);
	if (fd < 0)
		return fd;
	ret = check_fd(fd, path, true, e);
	close(fd);
	return ret;
}

/* Reads the whole (checked, regular) file behind fd, at most max bytes. */
static int read_fd(int fd, size_t max, char **out, size_t *len)
{
	size_t cap = 0, used = 0;
	char *buf = NULL;

	for (;;) {
		ssize_t n;

		if (used == cap) {
			size_t ncap = cap ? cap * 2 : 4096;
			char *nbuf;

			if (ncap > max + 1)
				ncap = max + 1;
			if (ncap <= cap) {
				free(buf);
				return -EFBIG;
			}
			nbuf = realloc(buf, ncap);
			if (!nbuf) {
				free(buf);
				return -ENOMEM;
			}
			buf = nbuf;
			cap = ncap;
		}
		n = read(fd, buf + used, cap - used);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			n = -errno;
			free(buf);
			return (int)n;
		}
		if (n == 0)
			break;
		used += (size_t)n;
		if (used > max) {
			free(buf);
			return -EFBIG;
		}
	}
	*out = buf;
	*len = used;
	return 0;
}

struct allowlist *allow_load(const char *path, unsigned flags, struct errmsg *e)
{
	struct allowlist *list;
	char *buf = NULL;
	size_t len = 0;
	int fd, ret;

	if (!path) {
		errmsg_set(e, "(allowlist): no file name");
		errno = EINVAL;
		return NULL;
	}
	fd = open_list(path, e);
	if (fd < 0) {
		errno = -fd;
		return NULL;
	}
	/* Check and read the same open file, so it cannot be swapped in between. */
	ret = check_fd(fd, path, flags & ALLOW_CHECK_PERMS, e);
	if (!ret) {
		ret = read_fd(fd, ALLOW_MAX_FILE, &buf, &len);
		if (ret == -EFBIG)
			errmsg_set(e, "%s: larger than %u bytes", path, ALLOW_MAX_FILE);
		else if (ret)
			errmsg_set(e, "%s: %s", path, strerror(-ret));
	}
	close(fd);
	if (ret) {
		errno = -ret;
		return NULL;
	}
	list = allow_parse(buf ? buf : "", len, path, e);
	ret = errno;
	free(buf);
	errno = ret;
	return list;
}

void allow_free(struct allowlist *list)
{
	size_t i;

	if (!list)
		return;
	for (i = 0; i < list->count; i++)
		free(list->entries[i].value);
	free(list->entries);
	free(list);
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static int list_append(struct allowlist *list, const char *value, size_t vlen, const char *opts,
		       size_t olen, unsigned line)
{
	struct allow_entry *ent;
	size_t total;
	char *buf;

	if (list->count == list->cap) {
		size_t ncap = list->cap ? list->cap * 2 : 16, bytes;
		struct allow_entry *n;

		if (__builtin_mul_overflow(ncap, sizeof(*n), &bytes))
			return -ENOMEM;
		n = realloc(list->entries, bytes);
		if (!n)
			return -ENOMEM;
		list->entries = n;
		list->cap = ncap;
	}
	if (__builtin_add_overflow(vlen, olen, &total) || __builtin_add_overflow(total, 2, &total))
		return -ENOMEM;
	buf = malloc(total);
	if (!buf)
		return -ENOMEM;
	memcpy(buf, value, vlen);
	buf[vlen] = '\0';
	memcpy(buf + vlen + 1, opts, olen);
	buf[vlen + 1 + olen] = '\0';
	ent = &list->entries[list->count++];
	ent->value = buf;
	ent->options = buf + vlen + 1;
	ent->line = line;
	return 0;
}

/*
 * One line: blanks around it are ignored; "#" at the start of the line or
 * after a blank starts a comment; the first token is the value and the rest,
 * trimmed, the options.
 */
static int parse_line(struct allowlist *list, const char *s, size_t len, const char *name,
		      unsigned line, struct errmsg *e)
{
	size_t i, vstart, vend, ostart, oend;
	int ret;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\0') {
			errmsg_set(e, "%s:%u: NUL byte in line", name, line);
			return -EINVAL;
		}
		/* tab anywhere, CR only as part of a CRLF line ending */
		if (c == '\t' || (c == '\r' && i + 1 == len))
			continue;
		if (c < 0x20 || c == 0x7f) {
			errmsg_set(e, "%s:%u: control character 0x%02x in line", name, line, c);
			return -EINVAL;
		}
	}
	/* cut the comment */
	for (i = 0; i < len; i++) {
		if (s[i] == '#' && (i == 0 || is_blank(s[i - 1]))) {
			len = i;
			break;
		}
	}
	for (vstart = 0; vstart < len && is_blank(s[vstart]); vstart++)
		;
	if (vstart == len)
		return 0; /* blank or comment line */
	for (vend = vstart; vend < len && !is_blank(s[vend]); vend++)
		;
	for (ostart = vend; ostart < len && is_blank(s[ostart]); ostart++)
		;
	for (oend = len; oend > ostart && is_blank(s[oend - 1]); oend--)
		;
	ret = list_append(list, s + vstart, vend - vstart, s + ostart, oend - ostart, line);
	if (ret)
		errmsg_set(e, "%s:%u: out of memory", name, line);
	return ret;
}

struct allowlist *allow_parse(const char *text, size_t len, const char *name, struct errmsg *e)
{
	const char *p = text, *end = text + len;
	struct allowlist *list;
	unsigned line = 0;
	int ret = 0;

	if (!name)
		name = "(allowlist)";
	if (!text && len) {
		errmsg_set(e, "%s: no text", name);
		errno = EINVAL;
		return NULL;
	}
	list = calloc(1, sizeof(*list));
	if (!list) {
		errmsg_set(e, "%s: out of memory", name);
		errno = ENOMEM;
		return NULL;
	}
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);

		if (line == UINT32_MAX) {
			errmsg_set(e, "%s: too many lines", name);
			ret = -EFBIG;
			break;
		}
		line++;
		ret = parse_line(list, p, n, name, line, e);
		if (ret)
			break;
		p = nl ? nl + 1 : end;
	}
	if (ret) {
		allow_free(list);
		errno = -ret;
		return NULL;
	}
	return list;
}

size_t allow_count(const struct allowlist *list)
{
	return list ? list->count : 0;
}

const struct allow_entry *allow_entry_at(const struct allowlist *list, size_t i)
{
	if (!list || i >= list->count)
		return NULL;
	return &list->entries[i];
}

/*
 * Length of an absolute path without its trailing slash ("/" stays 1), or 0
 * if the path is not absolute or has an empty, "." or ".." component before
 * the end. Such paths are refused rather than resolved: resolving is the
 * caller's job (realpath/openat2), and guessing here would hide "..".
 */
static size_t canon_len(const char *s)
{
	size_t i = 0, len;

	if (!s || s[0] != '/')
		return 0;
	len = strlen(s);
	while (i < len) {
		size_t start = ++i, clen; /* skip the '/' */

		while (i < len && s[i] != '/')
			i++;
		clen = i - start;
		if (clen == 0)
			return i == len ? (len == 1 ? 1 : len - 1) : 0; /* only a trailing '/' */
		if ((clen == 1 && s[start] == '.') ||
		    (clen == 2 && s[start] == '.' && s[start + 1] == '.'))
			return 0;
	}
	return len;
}

bool allow_path_match(const char *prefix, const char *path)
{
	size_t pl = canon_len(prefix), l = canon_len(path);

	if (!pl || !l)
		return false;
	if (pl == 1)
		return true; /* "/" prefixes every absolute path */
	if (l < pl || memcmp(prefix, path, pl))
		return false;
	return l == pl || path[pl] == '/';
}

const struct allow_entry *allow_match_path(const struct allowlist *list, const char *path)
{
	size_t i;

	if (!list || !path)
		return NULL;
	for (i = 0; i < list->count; i++) {
		if (allow_path_match(list->entries[i].value, path))
			return &list->entries[i];
	}
	return NULL;
}

const struct allow_entry *allow_match_exact(const struct allowlist *list, const char *s)
{
	size_t i;

	if (!list || !s)
		return NULL;
	for (i = 0; i < list->count; i++) {
		if (!strcmp(list->entries[i].value, s))
			return &list->entries[i];
	}
	return NULL;
}
