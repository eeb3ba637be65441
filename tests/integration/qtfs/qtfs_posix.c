/* qtfs_posix: a differential POSIX operation runner. Runs a fixed sequence of operations
 * in DIR and prints one line per operation with its result or errno name, so that the
 * output for a local directory and for a qtfs mount can be compared with diff. */
#include <stdbool.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

static int step;

static const char *ename(int e)
{
	static char buf[32];

	switch (e) {
#define E(x)    \
	case x: \
		return #x
		E(EPERM);
		E(ENOENT);
		E(EIO);
		E(EBADF);
		E(EACCES);
		E(EEXIST);
		E(EXDEV);
		E(ENOTDIR);
		E(EISDIR);
		E(EINVAL);
		E(EFBIG);
		E(ENOSPC);
		E(EROFS);
		E(EMLINK);
		E(ERANGE);
		E(ENAMETOOLONG);
		E(ENOTEMPTY);
		E(ELOOP);
		E(ENODATA);
		E(EOPNOTSUPP);
		E(ETXTBSY);
		E(EBUSY);
		E(ENXIO);
		E(E2BIG);
		E(ESTALE);
#undef E
	}
	snprintf(buf, sizeof(buf), "errno%d", e);
	return buf;
}

/* Prints "N desc = 0|value|ERRNAME" for a syscall-style result. */
static long rep(long r, const char *fmt, ...)
{
	va_list ap;
	int e = errno;

	printf("%d ", ++step);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	if (r < 0)
		printf(" = %s\n", ename(e));
	else
		printf(" = %ld\n", r);
	errno = e;
	return r;
}

static void st(const char *p, bool follow)
{
	struct stat s;
	int r = follow ? stat(p, &s) : lstat(p, &s);

	printf("%d %s %s = ", ++step, follow ? "stat" : "lstat", p);
	if (r < 0) {
		printf("%s\n", ename(errno));
		return;
	}
	printf("mode=%o nlink=%lu uid=%u gid=%u size=%lld", s.st_mode, (unsigned long)s.st_nlink,
	       s.st_uid, s.st_gid, S_ISDIR(s.st_mode) ? 0LL : (long long)s.st_size);
	if (S_ISCHR(s.st_mode) || S_ISBLK(s.st_mode))
		printf(" rdev=%u:%u", major(s.st_rdev), minor(s.st_rdev));
	printf("\n");
}

static void times_of(const char *p)
{
	struct stat s;
	time_t now = time(NULL);

	printf("%d times %s = ", ++step, p);
	if (lstat(p, &s) < 0) {
		printf("%s\n", ename(errno));
		return;
	}
	/* times set exactly are printed exactly; times set to now only as "recent" */
	if (llabs((long long)(s.st_atime - now)) < 60)
		printf("atime=recent");
	else
		printf("atime=%lld.%09ld", (long long)s.st_atime, s.st_atim.tv_nsec);
	if (llabs((long long)(s.st_mtime - now)) < 60)
		printf(" mtime=recent\n");
	else
		printf(" mtime=%lld.%09ld\n", (long long)s.st_mtime, s.st_mtim.tv_nsec);
}

static void content(const char *p)
{
	char buf[256];
	int fd = open(p, O_RDONLY);
	ssize_t n;

	printf("%d content %s = ", ++step, p);
	if (fd < 0) {
		printf("%s\n", ename(errno));
		return;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0) {
		printf("%s\n", ename(errno));
		return;
	}
	buf[n] = 0;
	printf("[%s]\n", buf);
}

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void list(const char *p)
{
	char *names[512];
	size_t n = 0, i;
	struct dirent *d;
	DIR *dir = opendir(p);

	printf("%d readdir %s =", ++step, p);
	if (!dir) {
		printf(" %s\n", ename(errno));
		return;
	}
	while ((d = readdir(dir)) && n < 512)
		names[n++] = strdup(d->d_name);
	closedir(dir);
	qsort(names, n, sizeof(*names), cmp);
	for (i = 0; i < n; i++) {
		printf(" %s", names[i]);
		free(names[i]);
	}
	printf("\n");
}

static long wr(const char *p, int flags, const char *data)
{
	int fd = open(p, flags, 0644);
	long r;

	if (fd < 0)
		return rep(-1, "open+write %s %#x", p, flags);
	r = write(fd, data, strlen(data));
	close(fd);
	return rep(r, "open+write %s %#x", p, flags);
}

static void xattrs(void)
{
	char buf[256];
	ssize_t n;

	rep(setxattr("f", "user.a", "1", 1, 0), "setxattr f user.a");
	rep(setxattr("f", "user.a", "2", 1, XATTR_CREATE), "setxattr CREATE existing");
	rep(setxattr("f", "user.zz", "2", 1, XATTR_REPLACE), "setxattr REPLACE missing");
	rep(setxattr("f", "user.b", "hello", 5, 0), "setxattr f user.b");
	n = getxattr("f", "user.b", buf, sizeof(buf));
	rep(n, "getxattr f user.b");
	if (n > 0)
		printf("%d value = %.*s\n", ++step, (int)n, buf);
	rep(getxattr("f", "user.b", buf, 2), "getxattr small buffer");
	rep(getxattr("f", "user.b", NULL, 0), "getxattr size query");
	rep(getxattr("f", "user.none", buf, sizeof(buf)), "getxattr missing");
	n = listxattr("f", buf, sizeof(buf));
	rep(n, "listxattr f");
	rep(removexattr("f", "user.a"), "removexattr f user.a");
	rep(removexattr("f", "user.a"), "removexattr again");
	rep(getxattr("f", "user.a", buf, sizeof(buf)), "getxattr removed");
	rep(setxattr("d", "user.dir", "x", 1, 0), "setxattr on a directory");
	rep(lsetxattr("s", "user.l", "x", 1, 0), "lsetxattr on a symlink");
}

static void unprivileged(void)
{
	pid_t pid;
	int status, fd;

	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		if (setgroups(0, NULL) || setgid(65534) || setuid(65534))
			_exit(99);
		rep(open("private", O_RDONLY), "nobody: open 0600 root file");
		rep(mkdir("rootdir/x", 0755), "nobody: mkdir in a 0755 root dir");
		rep(chmod("f", 0777), "nobody: chmod a root file");
		rep(chown("f", 65534, 65534), "nobody: chown a root file");
		rep(unlink("rootdir/file"), "nobody: unlink in a root dir");
		rep(utimensat(AT_FDCWD, "private", NULL, 0),
		    "nobody: utimes now on a 0600 root file");
		rep(truncate("private", 0), "nobody: truncate a 0600 root file");
		rep(open("pub/mine", O_CREAT | O_WRONLY, 0600), "nobody: create in a 0777 dir");
		st("pub/mine", false);
		rep(unlink("sticky/rootfile"), "nobody: unlink root's file in a sticky dir");
		rep(rename("sticky/rootfile", "sticky/x"),
		    "nobody: rename root's file in a sticky dir");
		rep(setxattr("private", "user.n", "1", 1, 0),
		    "nobody: setxattr on a 0600 root file");
		fd = open("setid-w", O_WRONLY | O_APPEND);
		rep(fd, "nobody: open a 06777 root file for writing");
		rep(write(fd, "x", 1), "nobody: write to it");
		close(fd);
		rep(truncate("setid-t", 0), "nobody: truncate a 06777 root file");
		fflush(stdout);
		_exit(0);
	}
	waitpid(pid, &status, 0);
	step += 20; /* the child's steps */
	printf("%d child exit = %d\n", step, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

int main(int argc, char **argv)
{
	char longname[300];
	struct timespec ts[2];
	int fd;

	if (argc != 2 || chdir(argv[1])) {
		fprintf(stderr, "usage: qtfs_posix DIR (an empty directory)\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	umask(022);

	/* mkdir / EEXIST / ENOENT / ENOTDIR */
	rep(mkdir("d", 0755), "mkdir d");
	rep(mkdir("d", 0755), "mkdir d again");
	rep(mkdir("nope/x", 0755), "mkdir nope/x");
	st("d", true);

	/* open: O_EXCL, O_TRUNC, O_APPEND, EISDIR, ENOTDIR, ENOENT */
	rep(fd = open("f", O_CREAT | O_EXCL | O_WRONLY, 0640), "open f O_CREAT|O_EXCL");
	if (fd >= 0)
		close(fd);
	rep(open("f", O_CREAT | O_EXCL | O_WRONLY, 0640), "open f O_CREAT|O_EXCL again");
	wr("f", O_WRONLY, "hello world");
	content("f");
	wr("f", O_WRONLY | O_APPEND, "+appended");
	content("f");
	wr("f", O_WRONLY | O_TRUNC, "short");
	content("f");
	st("f", true);
	rep(open("d", O_WRONLY), "open dir O_WRONLY");
	rep(open("d", O_RDWR), "open dir O_RDWR");
	rep(open("f/x", O_RDONLY), "open f/x");
	rep(open("f", O_RDONLY | O_DIRECTORY), "open file O_DIRECTORY");
	rep(open("missing", O_RDONLY), "open missing");
	memset(longname, 'n', 256);
	longname[256] = 0;
	rep(open(longname, O_CREAT | O_WRONLY, 0644), "open 256-byte name");
	rep(mkdir(longname, 0755), "mkdir 256-byte name");
	longname[255] = 0;
	rep(fd = open(longname, O_CREAT | O_WRONLY, 0644), "open 255-byte name");
	if (fd >= 0)
		close(fd);
	rep(unlink(longname), "unlink 255-byte name");

	/* symlinks, ELOOP */
	rep(symlink("f", "s"), "symlink s -> f");
	rep(symlink("f", "s"), "symlink s again");
	st("s", false);
	st("s", true);
	content("s");
	rep(symlink("loop2", "loop1"), "symlink loop1");
	rep(symlink("loop1", "loop2"), "symlink loop2");
	rep(open("loop1", O_RDONLY), "open a symlink loop");
	rep(open("s", O_RDONLY | O_NOFOLLOW), "open symlink O_NOFOLLOW");
	rep(symlink("/nonexistent/abs", "abs"), "symlink to an absolute path");
	{
		char buf[64];
		ssize_t n = readlink("abs", buf, sizeof(buf));

		rep(n, "readlink abs");
		if (n > 0)
			printf("%d target = %.*s\n", ++step, (int)n, buf);
		rep(readlink("f", buf, sizeof(buf)), "readlink a file");
	}

	/* hard links */
	rep(link("f", "l"), "link f l");
	st("f", true);
	rep(link("f", "l"), "link f l again");
	rep(link("d", "dl"), "link a directory");
	rep(link("missing", "ml"), "link missing");
	rep(unlink("l"), "unlink l");
	st("f", true);

	/* mkfifo, mknod regular */
	rep(mkfifo("p", 0644), "mkfifo p");
	st("p", false);
	rep(mknod("regnode", S_IFREG | 0600, 0), "mknod regular");
	st("regnode", false);

	/* chmod, chown */
	rep(chmod("f", 0741), "chmod f 0741");
	st("f", true);
	rep(chmod("f", 04755), "chmod f 04755");
	st("f", true);
	rep(chmod("d", 01777), "chmod d 01777");
	st("d", true);
	rep(chown("f", 1000, 1000), "chown f 1000:1000");
	st("f", true);
	rep(chown("f", -1, 2000), "chown f -1:2000");
	st("f", true);
	rep(lchown("s", 3000, 3000), "lchown s");
	st("s", false);
	rep(chown("f", 0, 0), "chown f 0:0");
	rep(chmod("f", 0644), "chmod f 0644");

	/* truncate */
	rep(truncate("f", 100), "truncate f 100");
	st("f", true);
	rep(truncate("f", 2), "truncate f 2");
	content("f");
	rep(truncate("d", 0), "truncate a dir");
	rep(truncate("missing", 0), "truncate missing");
	fd = open("f", O_RDONLY);
	rep(ftruncate(fd, 0), "ftruncate a read-only fd");
	close(fd);

	/* utimensat */
	ts[0].tv_sec = 1000000000;
	ts[0].tv_nsec = 123456789;
	ts[1].tv_sec = 1100000000;
	ts[1].tv_nsec = 987654321;
	rep(utimensat(AT_FDCWD, "f", ts, 0), "utimensat f exact");
	times_of("f");
	ts[0].tv_nsec = UTIME_OMIT;
	ts[1].tv_sec = 1200000000;
	ts[1].tv_nsec = 0;
	rep(utimensat(AT_FDCWD, "f", ts, 0), "utimensat f OMIT atime");
	times_of("f");
	ts[0].tv_nsec = UTIME_NOW;
	ts[1].tv_nsec = UTIME_OMIT;
	rep(utimensat(AT_FDCWD, "f", ts, 0), "utimensat f NOW atime");
	times_of("f");
	rep(utimensat(AT_FDCWD, "f", NULL, 0), "utimensat f NULL");
	times_of("f");
	ts[0].tv_sec = 500000000;
	ts[0].tv_nsec = 0;
	ts[1] = ts[0];
	rep(utimensat(AT_FDCWD, "s", ts, AT_SYMLINK_NOFOLLOW), "utimensat symlink NOFOLLOW");

	/* rename and its flags */
	rep(mkdir("d/sub", 0755), "mkdir d/sub");
	wr("d/sub/inner", O_CREAT | O_WRONLY, "x");
	rep(mkdir("e", 0755), "mkdir e");
	wr("g", O_CREAT | O_WRONLY, "gee");
	rep(rename("f", "f2"), "rename f f2");
	rep(rename("f2", "f"), "rename f2 f");
	rep(renameat2(AT_FDCWD, "f", AT_FDCWD, "g", RENAME_NOREPLACE),
	    "rename NOREPLACE onto existing");
	rep(renameat2(AT_FDCWD, "f", AT_FDCWD, "h", RENAME_NOREPLACE), "rename NOREPLACE to new");
	rep(renameat2(AT_FDCWD, "h", AT_FDCWD, "e", RENAME_EXCHANGE),
	    "rename EXCHANGE file and dir");
	st("h", false);
	st("e", false);
	rep(renameat2(AT_FDCWD, "h", AT_FDCWD, "e", RENAME_EXCHANGE), "rename EXCHANGE back");
	rep(renameat2(AT_FDCWD, "h", AT_FDCWD, "nothere", RENAME_EXCHANGE),
	    "rename EXCHANGE missing");
	rep(renameat2(AT_FDCWD, "h", AT_FDCWD, "x", RENAME_EXCHANGE | RENAME_NOREPLACE),
	    "rename EXCHANGE|NOREPLACE");
	rep(rename("h", "f"), "rename h f");
	rep(rename("d", "d/sub/into"), "rename dir into itself");
	rep(rename("g", "e"), "rename file over dir");
	rep(rename("e", "g"), "rename dir over file");
	rep(mkdir("e/full", 0755), "mkdir e/full");
	rep(mkdir("q", 0755), "mkdir q");
	rep(mkdir("q/full2", 0755), "mkdir q/full2");
	rep(rename("q", "e"), "rename dir over non-empty dir");
	rep(rename("missing", "zz"), "rename missing");
	rep(rename("f", "f"), "rename onto itself");

	/* rmdir, unlink */
	rep(rmdir("e"), "rmdir non-empty");
	rep(rmdir("f"), "rmdir a file");
	rep(unlink("d"), "unlink a dir");
	rep(rmdir("missing"), "rmdir missing");
	rep(rmdir("e/full"), "rmdir e/full");
	rep(rmdir("e"), "rmdir e");
	rep(rmdir("q/full2/."), "rmdir with dot");
	rep(unlink("g"), "unlink g");
	rep(unlink("g"), "unlink g again");

	/* xattrs */
	xattrs();

	/* permission checks as nobody */
	wr("private", O_CREAT | O_WRONLY, "secret");
	rep(chmod("private", 0600), "chmod private 0600");
	rep(mkdir("rootdir", 0755), "mkdir rootdir");
	wr("rootdir/file", O_CREAT | O_WRONLY, "r");
	rep(mkdir("pub", 0777), "mkdir pub");
	rep(chmod("pub", 0777), "chmod pub 0777");
	rep(mkdir("sticky", 0777), "mkdir sticky");
	rep(chmod("sticky", 01777), "chmod sticky 01777");
	wr("sticky/rootfile", O_CREAT | O_WRONLY, "s");
	/* set-id bits: a write or truncate by someone without CAP_FSETID clears them */
	wr("setid-w", O_CREAT | O_WRONLY, "w");
	rep(chmod("setid-w", 06777), "chmod setid-w 06777");
	wr("setid-t", O_CREAT | O_WRONLY, "t");
	rep(chmod("setid-t", 06777), "chmod setid-t 06777");
	unprivileged();
	st("setid-w", true);
	st("setid-t", true);
	/* and root's chown of a set-id file clears them too */
	rep(chmod("setid-w", 06755), "chmod setid-w 06755");
	rep(chown("setid-w", 1000, 1000), "chown setid-w 1000:1000");
	st("setid-w", true);

	list(".");
	list("d");
	return 0;
}
