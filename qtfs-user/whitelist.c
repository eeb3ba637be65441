/* whitelist: parse [Section] / Path= lists with lib/config and match with lib/allow rules. */
#include "qtfs-user/whitelist.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "allow.h"
#include "config.h"
#include "util.h"

static const char *const qtfs_wl_names[QTFS_WL_COUNT] = {
	[QTFS_WL_OPEN] = "Open",	 [QTFS_WL_WRITE] = "Write",
	[QTFS_WL_READ] = "Read",	 [QTFS_WL_READDIR] = "Readdir",
	[QTFS_WL_MKDIR] = "Mkdir",	 [QTFS_WL_RMDIR] = "Rmdir",
	[QTFS_WL_CREATE] = "Create",	 [QTFS_WL_UNLINK] = "Unlink",
	[QTFS_WL_RENAME] = "Rename",	 [QTFS_WL_SETATTR] = "Setattr",
	[QTFS_WL_SETXATTR] = "Setxattr", [QTFS_WL_MOUNT] = "Mount",
	[QTFS_WL_LOOKUP] = "Lookup",	 [QTFS_WL_GETATTR] = "Getattr",
	[QTFS_WL_SYMLINK] = "Symlink",	 [QTFS_WL_LINK] = "Link",
	[QTFS_WL_GETXATTR] = "Getxattr",
};

struct qtfs_wl_list {
	bool present;
	size_t n;
	char **paths;
};

struct qtfs_wl {
	struct qtfs_wl_list ops[QTFS_WL_COUNT];
};

const char *qtfs_wl_op_name(enum qtfs_wl_op op)
{
	return (unsigned)op < QTFS_WL_COUNT ? qtfs_wl_names[op] : "?";
}

void qtfs_wl_free(struct qtfs_wl *wl)
{
	size_t i, j;

	if (!wl)
		return;
	for (i = 0; i < QTFS_WL_COUNT; i++) {
		for (j = 0; j < wl->ops[i].n; j++)
			free(wl->ops[i].paths[j]);
		free(wl->ops[i].paths);
	}
	free(wl);
}

static int qtfs_wl_section(const char *s)
{
	int i;

	for (i = 0; i < QTFS_WL_COUNT; i++)
		if (strcasecmp(s, qtfs_wl_names[i]) == 0)
			return i;
	return -1;
}

/* An entry must be absolute, without "." or ".." components; trailing '/' dropped. */
static int qtfs_wl_check_path(const char *v)
{
	const char *p = v;

	if (v[0] != '/')
		return -EINVAL;
	while (*p) {
		const char *q;
		size_t n;

		while (*p == '/')
			p++;
		q = strchrnul(p, '/');
		n = (size_t)(q - p);
		if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return -EINVAL;
		p = q;
	}
	return strlen(v) < 4096 ? 0 : -ENAMETOOLONG;
}

static int qtfs_wl_add(struct qtfs_wl_list *l, const char *v)
{
	char **np, *s;
	size_t n;

	s = str_dup(v);
	if (!s)
		return -ENOMEM;
	n = strlen(s);
	while (n > 1 && s[n - 1] == '/')
		s[--n] = 0;
	np = realloc(l->paths, (l->n + 1) * sizeof(*np));
	if (!np) {
		free(s);
		return -ENOMEM;
	}
	l->paths = np;
	l->paths[l->n++] = s;
	return 0;
}

struct qtfs_wl *qtfs_wl_parse(const char *text, size_t len, const char *name, struct errmsg *e)
{
	struct qtfs_wl *wl;
	struct config *cfg;
	size_t i;
	int err = 0;

	cfg = config_parse(text, len, name, e);
	if (!cfg)
		return NULL;
	wl = calloc(1, sizeof(*wl));
	if (!wl) {
		config_free(cfg);
		errno = ENOMEM;
		return NULL;
	}
	for (i = 0; i < config_count(cfg) && !err; i++) {
		const struct config_entry *ce = config_entry_at(cfg, i);
		int op = qtfs_wl_section(ce->section);

		if (op < 0) {
			errmsg_set(e, "%s:%u: unknown section [%s]", name, ce->line, ce->section);
			err = -EINVAL;
			break;
		}
		if (strcasecmp(ce->key, "Path") != 0) {
			errmsg_set(e, "%s:%u: [%s] unknown key '%s' (expected Path=)", name,
				   ce->line, ce->section, ce->key);
			err = -EINVAL;
			break;
		}
		wl->ops[op].present = true;
		if (qtfs_wl_check_path(ce->value)) {
			errmsg_set(e,
				   "%s:%u: [%s] Path=%s: must be an absolute path without . or ..",
				   name, ce->line, ce->section, ce->value);
			err = -EINVAL;
			break;
		}
		err = qtfs_wl_add(&wl->ops[op], ce->value);
		if (err)
			errmsg_set(e, "%s: out of memory", name);
	}
	/* a section header with no keys still restricts its operation */
	if (!err) {
		const char *p = text, *end = text + len;

		while (p < end) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			const char *le = nl ? nl : end;
			const char *s = p;

			while (s < le && (*s == ' ' || *s == '\t'))
				s++;
			if (s < le && *s == '[') {
				const char *c = memchr(s, ']', (size_t)(le - s));

				if (c && c - s - 1 < 32) {
					char sec[32];
					int op;

					memcpy(sec, s + 1, (size_t)(c - s - 1));
					sec[c - s - 1] = 0;
					op = qtfs_wl_section(sec);
					if (op >= 0)
						wl->ops[op].present = true;
				}
			}
			p = le + 1;
		}
	}
	config_free(cfg);
	if (err) {
		qtfs_wl_free(wl);
		errno = -err;
		return NULL;
	}
	return wl;
}

struct qtfs_wl *qtfs_wl_load(const char *path, struct errmsg *e)
{
	struct qtfs_wl *wl;
	char *text;
	size_t len;
	int ret;

	ret = allow_check_file_perms(path, e);
	if (ret) {
		errno = -ret;
		return NULL;
	}
	ret = read_file(path, 1 << 20, &text, &len);
	if (ret) {
		errmsg_set(e, "%s: %s", path, strerror(-ret));
		errno = -ret;
		return NULL;
	}
	wl = qtfs_wl_parse(text, len, path, e);
	free(text);
	return wl;
}

bool qtfs_wl_restricted(const struct qtfs_wl *wl, enum qtfs_wl_op op)
{
	return wl && (unsigned)op < QTFS_WL_COUNT && wl->ops[op].present;
}

int qtfs_wl_count(const struct qtfs_wl *wl, enum qtfs_wl_op op)
{
	if (!qtfs_wl_restricted(wl, op))
		return -1;
	return (int)wl->ops[op].n;
}

bool qtfs_wl_allows(const struct qtfs_wl *wl, enum qtfs_wl_op op, const char *path)
{
	const struct qtfs_wl_list *l;
	size_t i;

	if (!qtfs_wl_restricted(wl, op))
		return true;
	l = &wl->ops[op];
	for (i = 0; i < l->n; i++)
		if (allow_path_match(l->paths[i], path))
			return true;
	return false;
}
