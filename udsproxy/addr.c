/* addr: conversions between AF_UNIX socket addresses and udsproxy's address strings. */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"

int udsp_addr_to_sockaddr(const char *path, struct sockaddr_un *sa, socklen_t *len)
{
	size_t n = strlen(path);

	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (n == 0 || (path[0] != '/' && path[0] != '@'))
		return -EINVAL;
	if (n > sizeof(sa->sun_path) - (path[0] == '/' ? 1 : 0))
		return -ENAMETOOLONG;
	if (path[0] == '@') {
		/* Abstract: a leading NUL, then the name, length exact (no NUL padding). */
		memcpy(sa->sun_path + 1, path + 1, n - 1);
		*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	} else {
		memcpy(sa->sun_path, path, n);
		*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
	}
	return 0;
}

int udsp_addr_from_sockaddr(const struct sockaddr *sa, socklen_t len, char *out, size_t n)
{
	const struct sockaddr_un *su = (const struct sockaddr_un *)sa;
	size_t off = offsetof(struct sockaddr_un, sun_path), plen;
	char path[sizeof(su->sun_path) + 1];

	if (!sa || len <= off || len > sizeof(*su) || sa->sa_family != AF_UNIX)
		return -EINVAL;
	plen = len - off;
	if (su->sun_path[0] == '\0') {
		if (plen < 2 || memchr(su->sun_path + 1, '\0', plen - 1))
			return -EINVAL;
		if (plen + 1 > n)
			return -ENAMETOOLONG;
		out[0] = '@';
		memcpy(out + 1, su->sun_path + 1, plen - 1);
		out[plen] = '\0';
		return 0;
	}
	memcpy(path, su->sun_path, plen);
	path[plen] = '\0';
	if (path[0] == '/') {
		if (strlen(path) + 1 > n)
			return -ENAMETOOLONG;
		strcpy(out, path);
		return 0;
	}
	{
		char cwd[PATH_MAX];
		int r;

		if (!getcwd(cwd, sizeof(cwd)))
			return -errno;
		r = snprintf(out, n, "%s/%s", strcmp(cwd, "/") ? cwd : "", path);
		if (r < 0 || (size_t)r >= n)
			return -ENAMETOOLONG;
	}
	return 0;
}
