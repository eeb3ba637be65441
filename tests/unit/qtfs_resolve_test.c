/* Unit tests for qtfs-user/resolve: every walk stays beneath the export root. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "qtfs-user/resolve.h"

static char base[64];
static char root[96];
static int rootfd = -1;

static int setup(void **state)
{
	char p[256];

	strcpy(base, "/tmp/qtfs_resolve_XXXXXX");
	if (!mkdtemp(base))
		return -1;
	snprintf(root, sizeof(root), "%s/export", base);
	mkdir(root, 0755);
	snprintf(p, sizeof(p), "%s/secret", base);
	close(open(p, O_CREAT | O_WRONLY, 0600));
	snprintf(p, sizeof(p), "%s/dir", root);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/dir/file", root);
	close(open(p, O_CREAT | O_WRONLY, 0644));
	snprintf(p, sizeof(p), "%s/abs", root);
	if (symlink("/etc/passwd", p))
		return -1;
	snprintf(p, sizeof(p), "%s/up", root);
	if (symlink("../secret", p))
		return -1;
	snprintf(p, sizeof(p), "%s/dir/inside", root);
	if (symlink("../dir/file", p))
		return -1;
	snprintf(p, sizeof(p), "%s/magic", root);
	if (symlink("/proc/self/root/etc/passwd", p))
		return -1;
	rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	return rootfd < 0 ? -1 : 0;
}

static int teardown(void **state)
{
	char cmd[128];

	close(rootfd);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", base);
	return system(cmd) == 0 ? 0 : -1;
}

static void expect_refused(const char *rel, int oflags)
{
	int fd = qtfs_resolve(rootfd, rel, oflags, QTFS_RESOLVE_NO_MAGIC);

	if (fd >= 0)
		close(fd);
	assert_true(fd == -EXDEV || fd == -ELOOP);
}

static void test_qtfs_resolve_opens_paths_inside(void **state)
{
	int fd = qtfs_resolve(rootfd, "dir/file", O_RDONLY, QTFS_RESOLVE_NO_MAGIC);

	assert_true(fd >= 0);
	close(fd);
	fd = qtfs_resolve(rootfd, "", O_PATH | O_DIRECTORY, QTFS_RESOLVE_NO_MAGIC);
	assert_true(fd >= 0);
	close(fd);
	/* a relative symlink that stays inside is fine */
	fd = qtfs_resolve(rootfd, "dir/inside", O_RDONLY, QTFS_RESOLVE_NO_MAGIC);
	assert_true(fd >= 0);
	close(fd);
}

static void test_qtfs_resolve_refuses_dotdot_out_of_root(void **state)
{
	expect_refused("../secret", O_RDONLY);
	expect_refused("dir/../../secret", O_RDONLY);
	expect_refused("..", O_PATH);
}

static void test_qtfs_resolve_refuses_absolute_paths_and_symlinks(void **state)
{
	expect_refused("/etc/passwd", O_RDONLY);
	expect_refused("abs", O_RDONLY);
}

static void test_qtfs_resolve_refuses_symlink_to_parent(void **state)
{
	expect_refused("up", O_RDONLY);
}

static void test_qtfs_resolve_refuses_magic_links(void **state)
{
	int fd = qtfs_resolve(rootfd, "magic", O_RDONLY, QTFS_RESOLVE_NO_MAGIC);

	if (fd >= 0)
		close(fd);
	assert_true(fd < 0);
}

static void test_qtfs_resolve_nofollow_gives_the_link_itself(void **state)
{
	int fd = qtfs_resolve(rootfd, "abs", O_PATH | O_NOFOLLOW, QTFS_RESOLVE_NO_MAGIC);
	struct stat st;

	assert_true(fd >= 0);
	assert_int_equal(fstatat(fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW), 0);
	assert_true(S_ISLNK(st.st_mode));
	close(fd);
}

static void test_qtfs_path_below_is_component_wise(void **state)
{
	const char *rel;

	assert_true(qtfs_path_below("/a/b", "/a/b", &rel));
	assert_string_equal(rel, "");
	assert_true(qtfs_path_below("/a/b/", "/a/b/c/d", &rel));
	assert_string_equal(rel, "c/d");
	assert_false(qtfs_path_below("/a/b", "/a/bc", &rel));
	assert_false(qtfs_path_below("/a/b", "/a", &rel));
	assert_false(qtfs_path_below("a", "a/b", &rel));
	assert_true(qtfs_path_below("/", "/x", &rel));
	assert_string_equal(rel, "x");
}

static void test_qtfs_fd_path_names_the_file(void **state)
{
	char buf[256], want[256];
	int fd = qtfs_resolve(rootfd, "dir/file", O_PATH, QTFS_RESOLVE_NO_MAGIC);

	assert_true(fd >= 0);
	assert_int_equal(qtfs_fd_path(fd, buf, sizeof(buf)), 0);
	snprintf(want, sizeof(want), "%s/dir/file", root);
	assert_string_equal(buf, want);
	assert_int_equal(qtfs_fd_path(fd, buf, 4), -ENAMETOOLONG);
	close(fd);
}

static void test_qtfs_path_join_bounds(void **state)
{
	char buf[8];

	assert_int_equal(qtfs_path_join(buf, sizeof(buf), "/", "ab"), 0);
	assert_string_equal(buf, "/ab");
	assert_int_equal(qtfs_path_join(buf, sizeof(buf), "/abc", "def"), -ENAMETOOLONG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_qtfs_resolve_opens_paths_inside),
		cmocka_unit_test(test_qtfs_resolve_refuses_dotdot_out_of_root),
		cmocka_unit_test(test_qtfs_resolve_refuses_absolute_paths_and_symlinks),
		cmocka_unit_test(test_qtfs_resolve_refuses_symlink_to_parent),
		cmocka_unit_test(test_qtfs_resolve_refuses_magic_links),
		cmocka_unit_test(test_qtfs_resolve_nofollow_gives_the_link_itself),
		cmocka_unit_test(test_qtfs_path_below_is_component_wise),
		cmocka_unit_test(test_qtfs_fd_path_names_the_file),
		cmocka_unit_test(test_qtfs_path_join_bounds),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
