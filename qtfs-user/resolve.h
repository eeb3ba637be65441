/* resolve: path resolution confined beneath an export root (openat2 RESOLVE_BENEATH). */
#ifndef QTFS_RESOLVE_H
#define QTFS_RESOLVE_H

#include <stdbool.h>
#include <stddef.h>

enum {
	/* normal exports: no magic links (/proc/PID/fd/N and friends) on the way either */
	QTFS_RESOLVE_NO_MAGIC = 1u << 0,
	/* refuse every symlink on the way, not only those leaving the root */
	QTFS_RESOLVE_NO_SYMLINKS = 1u << 1,
};

/*
 * Opens rel (relative; "" or "." for the root itself) beneath rootfd with
 * openat2(RESOLVE_BENEATH [| RESOLVE_NO_MAGICLINKS]). Absolute paths, ".."
 * and symlinks that would leave the root fail with -EXDEV; the last component
 * is not followed if oflags has O_NOFOLLOW. Returns the fd or -errno.
 */
int qtfs_resolve(int rootfd, const char *rel, int oflags, unsigned flags);

/*
 * For an absolute path below the absolute prefix root ("/a/b" below "/a"),
 * points *rel at the remainder ("b", or "" when equal). Component-wise: "/ab"
 * is not below "/a". false when it is not below.
 */
bool qtfs_path_below(const char *root, const char *path, const char **rel);

/* The path the kernel has for fd (readlink of /proc/self/fd/N). 0 or -errno;
 * -ENOENT when the file was unlinked ("(deleted)"). */
int qtfs_fd_path(int fd, char *buf, size_t len);

/* Joins dir + "/" + name into buf (dir "/" gives "/name"). -ENAMETOOLONG if it does not fit. */
int qtfs_path_join(char *buf, size_t len, const char *dir, const char *name);

#endif
