/* qtlist: parsing, matching and atomic rewriting of the qtcfg list files. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "allow.h"
#include "qtlist.h"
#include "util.h"

int qtlist_file(const char *conf_dir, const char *type, char *buf, size_t n, struct errmsg *e)
{
	size_t i, len = strlen(type);
	int r;

	if (len == 0 || len > QTLIST_TYPE_MAX) {
		errmsg_set(e, "list type '%s': must be 1 to %d characters", type, QTLIST_TYPE_MAX);
		return -EINVAL;
	}
	for (i = 0; i < len; i++) {
		char c = type[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) {
			errmsg_set(e, "list type '%s': only a-z, 0-9, '_' and '-' are allowed",
				   type);
			return -EINVAL;
		}
	}
	r = snprintf(buf, n, "%s/%s.list", conf_dir, type);
	if (r < 0 || (size_t)r >= n) {
		errmsg_set(e, "%s: path too long", conf_dir);
		return -ENAMETOOLONG;
	}
	return 0;
}

int qtlist_entry_check(const char *s)
{
	size_t i, n = strlen(s);

	if (n < 2 && s[0] != '/')
		return -EINVAL;
	if (n > QTLIST_ENTRY_MAX)
		return -ENAMETOOLONG;
	if (s[0] != '/' && s[0] != '@')
		return -EINVAL;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] <= ' ' || s[i] == 0x7f || s[i] == '#')
			return -EINVAL;
	if (s[0] == '/') {
		/* "." and ".." components would never match a resolved address. */
		const char *p = s;

		while ((p = strstr(p, "/.")))
			if (p[2] == '/' || p[2] == '\0' || (p[2] == '.' && (p[3] == '/' || !p[3])))
				return -EINVAL;
			else
				p += 2;
	}
	return 0;
}

void qtlist_free(struct qtlist *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->entries[i]);
	l->n = 0;
}

int qtlist_add(struct qtlist *l, const char *entry)
{
	size_t i;
	char *c;

	if (qtlist_entry_check(entry))
		return -EINVAL;
	for (i = 0; i < l->n; i++)
		if (!strcmp(l->entries[i], entry))
			return -EEXIST;
	if (l->n >= QTLIST_MAX_ENTRIES)
		return -ENOSPC;
	c = str_dup(entry);
	if (!c)
		return -ENOMEM;
	l->entries[l->n++] = c;
	return 0;
}

int qtlist_del(struct qtlist *l, size_t idx)
{
	if (idx >= l->n)
		return -ERANGE;
	free(l->entries[idx]);
	memmove(&l->entries[idx], &l->entries[idx + 1], (l->n - idx - 1) * sizeof(char *));
	l->n--;
	return 0;
}

int qtlist_parse(const char *text, size_t len, const char *name, struct qtlist *l, struct errmsg *e)
{
	size_t pos = 0;
	unsigned line = 0;
	int ret;

	memset(l, 0, sizeof(*l));
	while (pos < len) {
		const char *s = text + pos, *nl = memchr(s, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - s) : len - pos;
		char buf[QTLIST_ENTRY_MAX + 2];
		size_t a = 0, b = n;

		pos += n + (nl ? 1 : 0);
		line++;
		while (a < b && (s[a] == ' ' || s[a] == '\t'))
			a++;
		while (b > a && (s[b - 1] == ' ' || s[b - 1] == '\t' || s[b - 1] == '\r'))
			b--;
		if (a == b || s[a] == '#')
			continue;
		if (b - a > QTLIST_ENTRY_MAX || memchr(s + a, '\0', b - a)) {
			errmsg_set(e, "%s:%u: entry too long or not text", name, line);
			ret = -EINVAL;
			goto fail;
		}
		memcpy(buf, s + a, b - a);
		buf[b - a] = '\0';
		ret = qtlist_add(l, buf);
		if (ret == -EEXIST)
			continue;
		if (ret) {
			errmsg_set(e, "%s:%u: '%s': %s", name, line, buf,
				   ret == -ENOSPC ? "too many entries"
						  : "not an absolute path or @abstract name");
			goto fail;
		}
	}
	return 0;
fail:
	qtlist_free(l);
	return ret;
}

int qtlist_load(const char *path, struct qtlist *l, struct errmsg *e)
{
	char *text;
	size_t len;
	int ret;

	memset(l, 0, sizeof(*l));
	ret = read_file(path, QTLIST_FILE_MAX, &text, &len);
	if (ret == -ENOENT)
		return 0;
	if (ret) {
		errmsg_set(e, "%s: %s", path, strerror(-ret));
		return ret;
	}
	ret = qtlist_parse(text, len, path, l, e);
	free(text);
	return ret;
}

int qtlist_save(const char *path, const struct qtlist *l, struct errmsg *e)
{
	char tmp[4200];
	size_t i;
	FILE *f;
	int fd, r;

	r = snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
	if (r < 0 || (size_t)r >= sizeof(tmp)) {
		errmsg_set(e, "%s: path too long", path);
		return -ENAMETOOLONG;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0) {
		r = -errno;
		errmsg_set(e, "%s: %s", tmp, strerror(errno));
		return r;
	}
	(void)fchmod(fd, 0644); /* whatever the umask: the daemons refuse writable lists */
	f = fdopen(fd, "w");
	if (!f) {
		r = -errno;
		close(fd);
		unlink(tmp);
		errmsg_set(e, "%s: %s", tmp, strerror(-r));
		return r;
	}
	fprintf(f, "# managed by qtcfg: one address prefix a line\n");
	for (i = 0; i < l->n; i++)
		fprintf(f, "%s\n", l->entries[i]);
	if (fflush(f) || fsync(fileno(f))) {
		r = -errno;
		fclose(f);
		unlink(tmp);
		errmsg_set(e, "%s: %s", tmp, strerror(-r));
		return r;
	}
	if (fclose(f) || rename(tmp, path)) {
		r = -errno;
		unlink(tmp);
		errmsg_set(e, "%s: %s", path, strerror(-r));
		return r;
	}
	return 0;
}

bool qtlist_match(const struct qtlist *l, const char *path)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		const char *en = l->entries[i];

		if (en[0] == '@' ? !strcmp(en, path) : allow_path_match(en, path))
			return true;
	}
	return false;
}
