/* policy: which socket addresses the far side may reach through us: the --allow file plus
 * the qtcfg "udsconnect" list (reloaded when it changes), by path-component prefix. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "daemon.h"
#include "log.h"

int udsp_policy_init(struct udsp_policy *p, const char *allow_file, const char *conf_dir,
		     struct errmsg *e)
{
	memset(p, 0, sizeof(*p));
	if (allow_file) {
		snprintf(p->allow_file, sizeof(p->allow_file), "%s", allow_file);
		p->allow = allow_load(allow_file, ALLOW_CHECK_PERMS, e);
		if (!p->allow)
			return -errno;
	}
	if (snprintf(p->list_file, sizeof(p->list_file), "%s/udsconnect.list", conf_dir) >=
	    (int)sizeof(p->list_file)) {
		errmsg_set(e, "%s: path too long", conf_dir);
		return -ENAMETOOLONG;
	}
	return 0;
}

void udsp_policy_free(struct udsp_policy *p)
{
	allow_free(p->allow);
	allow_free(p->list);
	p->allow = p->list = NULL;
}

/* Re-reads the qtcfg list when its inode, size or mtime changed (qtcfg replaces it whole). */
static void policy_refresh(struct udsp_policy *p)
{
	struct errmsg e = {""};
	struct stat st;
	uint64_t mt;

	if (stat(p->list_file, &st)) {
		if (p->list_present)
			log_info("%s removed: its entries no longer apply", p->list_file);
		allow_free(p->list);
		p->list = NULL;
		p->list_present = false;
		return;
	}
	mt = (uint64_t)st.st_mtim.tv_sec * 1000000000ull + (uint64_t)st.st_mtim.tv_nsec;
	if (p->list_present && p->list_ino == st.st_ino && p->list_mtime_ns == mt &&
	    p->list_size == (uint64_t)st.st_size)
		return;
	p->list_present = true;
	p->list_ino = st.st_ino;
	p->list_mtime_ns = mt;
	p->list_size = (uint64_t)st.st_size;
	allow_free(p->list);
	p->list = allow_load(p->list_file, ALLOW_CHECK_PERMS, &e);
	if (!p->list)
		log_error("%s", errmsg_str(&e)); /* refuse its entries rather than guess */
	else
		log_info("%s: %zu entries", p->list_file, allow_count(p->list));
}

/* Lexically removes "." and ".." components and repeated slashes. -EINVAL above "/". */
static int path_clean(const char *in, char *out, size_t n)
{
	size_t len = 0;
	const char *p = in;

	if (in[0] != '/' || n < 2)
		return -EINVAL;
	out[len++] = '/';
	while (*p) {
		const char *start;
		size_t clen;

		while (*p == '/')
			p++;
		start = p;
		while (*p && *p != '/')
			p++;
		clen = (size_t)(p - start);
		if (clen == 0 || (clen == 1 && start[0] == '.'))
			continue;
		if (clen == 2 && start[0] == '.' && start[1] == '.') {
			if (len <= 1)
				return -EINVAL;
			len--; /* drop the trailing '/' then the component */
			while (len > 1 && out[len - 1] != '/')
				len--;
			continue;
		}
		if (len + clen + 2 > n)
			return -ENAMETOOLONG;
		memcpy(out + len, start, clen);
		len += clen;
		out[len++] = '/';
	}
	if (len > 1)
		len--;
	out[len] = '\0';
	return 0;
}

static bool listed(const struct udsp_policy *p, const char *path)
{
	bool abstract = path[0] == '@';

	if (p->allow && (abstract ? allow_match_exact(p->allow, path) != NULL
				  : allow_match_path(p->allow, path) != NULL))
		return true;
	if (p->list && (abstract ? allow_match_exact(p->list, path) != NULL
				 : allow_match_path(p->list, path) != NULL))
		return true;
	return false;
}

int udsp_policy_check(struct udsp_policy *p, const char *path)
{
	char clean[PATH_MAX];

	policy_refresh(p);
	/* Abstract names are never prefixes of anything: listed exactly or refused. */
	if (path[0] == '@')
		return listed(p, path) ? 0 : -EACCES;
	if (path_clean(path, clean, sizeof(clean)))
		return -EACCES;
	return listed(p, clean) ? 0 : -EACCES;
}

int udsp_policy_resolve(struct udsp_policy *p, const char *path, char *out, size_t n)
{
	char real[PATH_MAX];
	int ret;

	ret = udsp_policy_check(p, path);
	if (ret)
		return ret;
	if (path[0] == '@') {
		snprintf(out, n, "%s", path);
		return 0;
	}
	/* A symlink inside an allowed tree must not lead out of it. */
	if (!realpath(path, real)) {
		char dir[PATH_MAX], *slash;

		ret = -errno;
		/* Missing: say ENOENT only if the directory it would be in is allowed too,
		 * so nothing about other trees is revealed. */
		snprintf(dir, sizeof(dir), "%s", path);
		slash = strrchr(dir, '/');
		if (slash && slash != dir)
			*slash = '\0';
		if (!realpath(dir, real) || !listed(p, real))
			return -EACCES;
		return ret;
	}
	if (!listed(p, real))
		return -EACCES;
	if (strlen(real) >= n || strlen(real) >= UDSP_PATH_MAX)
		return -ENAMETOOLONG;
	strcpy(out, real);
	return 0;
}
