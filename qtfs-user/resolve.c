/* resolve: confine every path walk beneath the export root; the kernel does the walk. */
#include "qtfs-user/resolve.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int qtfs_resolve(int rootfd, const char *rel, int oflags, unsigned flags)
{
	struct open_how how;
	long fd;

	if (!rel || !*rel)
		rel = ".";
	/* RESOLVE_BENEATH refuses absolute paths too, but say so without a syscall */
	if (rel[0] == '/')
		return -EXDEV;
	memset(&how, 0, sizeof(how));
	how.flags = (uint64_t)(oflags | O_CLOEXEC);
	how.resolve = RESOLVE_BENEATH;
	if (flags & QTFS_RESOLVE_NO_MAGIC)
		how.resolve |= RESOLVE_NO_MAGICLINKS;
	if (flags & QTFS_RESOLVE_NO_SYMLINKS)
		how.resolve |= RESOLVE_NO_SYMLINKS;
	do {
		fd = syscall(SYS_openat2, rootfd, rel, &how, sizeof(how));
	} while (fd < 0 && errno == EAGAIN);
	if (fd < 0)
		return -errno;
	return (int)fd;
}

bool qtfs_path_below(const char *root, const char *path, const char **rel)
{
	size_t n = strlen(root);

	while (n > 1 && root[n - 1] == '/')
		n--;
	if (root[0] != '/' || path[0] != '/')
		return false;
	if (n == 1) { /* root "/" */
		n = 0;
	} else if (strncmp(root, path, n) != 0 || (path[n] != '/' && path[n] != 0)) {
		return false;
	}
	path += n;
	while (*path == '/')
		path++;
	*rel = path;
	return true;
}

int qtfs_fd_path(int fd, char *buf, size_t len)
{
	char link[64];
	ssize_t n;

	if (len < 2)
		return -ENAMETOOLONG;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, buf, len - 1);
	if (n < 0)
		return -errno;
	if ((size_t)n >= len - 1)
		return -ENAMETOOLONG;
	buf[n] = 0;
	if (buf[0] != '/')
		return -ENOENT; /* "anon_inode:..." and the like */
	if (n > 10 && strcmp(buf + n - 10, " (deleted)") == 0)
		return -ENOENT;
	return 0;
}

int qtfs_path_join(char *buf, size_t len, const char *dir, const char *name)
{
	int n;

	if (strcmp(dir, "/") == 0)
		n = snprintf(buf, len, "/%s", name);
	else
		n = snprintf(buf, len, "%s/%s", dir, name);
	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	return 0;
}
