/* Unit tests for qtfs-user/whitelist: openEuler's INI form, extended sections, matching. */
#include <errno.h>
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

#include "qtfs-user/whitelist.h"

static struct qtfs_wl *parse(const char *text, struct errmsg *e)
{
	return qtfs_wl_parse(text, strlen(text), "whitelist", e);
}

static void test_qtfs_wl_parses_sections_and_repeated_paths(void **state)
{
	struct qtfs_wl *wl = parse("[Open]\nPath=/var/lib/libvirt\nPath=/home/VMs/\n"
				   "[Lookup]\nPath=/home\n",
				   NULL);

	assert_non_null(wl);
	assert_int_equal(qtfs_wl_count(wl, QTFS_WL_OPEN), 2);
	assert_int_equal(qtfs_wl_count(wl, QTFS_WL_LOOKUP), 1);
	assert_int_equal(qtfs_wl_count(wl, QTFS_WL_WRITE), -1);
	assert_true(qtfs_wl_allows(wl, QTFS_WL_OPEN, "/var/lib/libvirt/qemu/x"));
	assert_true(qtfs_wl_allows(wl, QTFS_WL_OPEN, "/home/VMs"));
	assert_false(qtfs_wl_allows(wl, QTFS_WL_OPEN, "/var/lib/libvirtX"));
	assert_false(qtfs_wl_allows(wl, QTFS_WL_OPEN, "/etc/passwd"));
	/* an absent section does not restrict */
	assert_true(qtfs_wl_allows(wl, QTFS_WL_WRITE, "/etc/passwd"));
	qtfs_wl_free(wl);
}

static void test_qtfs_wl_empty_section_denies_everything(void **state)
{
	struct qtfs_wl *wl = parse("[Unlink]\n\n[Rename]\nPath=/a\n", NULL);

	assert_non_null(wl);
	assert_true(qtfs_wl_restricted(wl, QTFS_WL_UNLINK));
	assert_false(qtfs_wl_allows(wl, QTFS_WL_UNLINK, "/a/b"));
	assert_true(qtfs_wl_allows(wl, QTFS_WL_RENAME, "/a/b"));
	qtfs_wl_free(wl);
}

static void test_qtfs_wl_section_names_are_case_insensitive(void **state)
{
	struct qtfs_wl *wl = parse("[setxattr]\nPath=/x\n[GETXATTR]\nPath=/y\n", NULL);

	assert_non_null(wl);
	assert_true(qtfs_wl_allows(wl, QTFS_WL_SETXATTR, "/x"));
	assert_false(qtfs_wl_allows(wl, QTFS_WL_GETXATTR, "/x"));
	qtfs_wl_free(wl);
}

static void test_qtfs_wl_rejects_unknown_sections_and_keys(void **state)
{
	struct errmsg e = {{0}};

	assert_null(parse("[Chmod]\nPath=/a\n", &e));
	assert_non_null(strstr(errmsg_str(&e), "whitelist:2: unknown section [Chmod]"));
	assert_null(parse("[Open]\nDir=/a\n", &e));
	assert_non_null(strstr(errmsg_str(&e), "unknown key 'Dir'"));
}

static void test_qtfs_wl_rejects_relative_and_dotdot_paths(void **state)
{
	struct errmsg e = {{0}};

	assert_null(parse("[Open]\nPath=home/VMs\n", &e));
	assert_non_null(strstr(errmsg_str(&e), "absolute"));
	assert_null(parse("[Open]\nPath=/home/../etc\n", &e));
	assert_null(parse("[Open]\nPath=/home/./x\n", &e));
}

static void test_qtfs_wl_never_matches_unresolved_paths(void **state)
{
	struct qtfs_wl *wl = parse("[Read]\nPath=/home\n", NULL);

	assert_non_null(wl);
	assert_false(qtfs_wl_allows(wl, QTFS_WL_READ, "/home/../etc/shadow"));
	qtfs_wl_free(wl);
}

static void test_qtfs_wl_load_refuses_a_world_writable_file(void **state)
{
	char path[] = "/tmp/qtfs_wl_XXXXXX";
	struct errmsg e = {{0}};
	struct qtfs_wl *wl;
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, "[Open]\nPath=/a\n", 15), 15);
	close(fd);
	chmod(path, 0666);
	wl = qtfs_wl_load(path, &e);
	assert_null(wl);
	assert_non_null(strstr(errmsg_str(&e), path));
	chmod(path, 0600);
	wl = qtfs_wl_load(path, &e);
	if (getuid() == 0)
		assert_non_null(wl);
	qtfs_wl_free(wl);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_qtfs_wl_parses_sections_and_repeated_paths),
		cmocka_unit_test(test_qtfs_wl_empty_section_denies_everything),
		cmocka_unit_test(test_qtfs_wl_section_names_are_case_insensitive),
		cmocka_unit_test(test_qtfs_wl_rejects_unknown_sections_and_keys),
		cmocka_unit_test(test_qtfs_wl_rejects_relative_and_dotdot_paths),
		cmocka_unit_test(test_qtfs_wl_never_matches_unresolved_paths),
		cmocka_unit_test(test_qtfs_wl_load_refuses_a_world_writable_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
