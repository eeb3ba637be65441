/* Unit tests for the qtcfg list files: parsing hostile text, editing, matching, saving. */
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

#include "udsproxy/qtlist.h"

static int parse(const char *text, struct qtlist *l, struct errmsg *e)
{
	return qtlist_parse(text, strlen(text), "t.list", l, e);
}

static void test_parse_skips_comments_blanks_and_duplicates(void **state)
{
	struct errmsg e = {""};
	struct qtlist l;

	assert_int_equal(parse("# c\n\n  /var/lib/libvirt/ \n/run/a\n/run/a\r\n@abs\n", &l, &e), 0);
	assert_int_equal(l.n, 3);
	assert_string_equal(l.entries[0], "/var/lib/libvirt/");
	assert_string_equal(l.entries[2], "@abs");
	qtlist_free(&l);
}

static void test_parse_names_the_line_of_a_relative_entry(void **state)
{
	struct errmsg e = {""};
	struct qtlist l;

	assert_int_equal(parse("/ok\nrelative/path\n", &l, &e), -EINVAL);
	assert_non_null(strstr(errmsg_str(&e), "t.list:2"));
}

static void test_parse_refuses_dot_dot_spaces_and_nul(void **state)
{
	struct errmsg e = {""};
	struct qtlist l;
	const char nul[] = "/a\0b\n";

	assert_int_equal(parse("/run/../etc\n", &l, &e), -EINVAL);
	assert_int_equal(parse("/run/a b\n", &l, &e), -EINVAL);
	assert_int_equal(parse("/run/./a\n", &l, &e), -EINVAL);
	assert_int_equal(qtlist_parse(nul, sizeof(nul) - 1, "t", &l, &e), -EINVAL);
}

static void test_parse_refuses_an_entry_longer_than_a_socket_address(void **state)
{
	char text[300];
	struct errmsg e = {""};
	struct qtlist l;

	memset(text, 'a', sizeof(text));
	text[0] = '/';
	text[200] = '\n';
	text[201] = '\0';
	assert_int_equal(parse(text, &l, &e), -EINVAL);
}

static void test_parse_refuses_too_many_entries(void **state)
{
	size_t cap = (QTLIST_MAX_ENTRIES + 2) * 16, off = 0;
	char *text = malloc(cap);
	struct errmsg e = {""};
	struct qtlist l;
	unsigned i;

	assert_non_null(text);
	for (i = 0; i < QTLIST_MAX_ENTRIES + 1; i++)
		off += (size_t)snprintf(text + off, cap - off, "/e%u\n", i);
	assert_int_equal(parse(text, &l, &e), -ENOSPC);
	free(text);
}

static void test_match_is_by_whole_components(void **state)
{
	struct errmsg e = {""};
	struct qtlist l;

	assert_int_equal(parse("/var/lib/libvirt/\n@abs\n", &l, &e), 0);
	assert_true(qtlist_match(&l, "/var/lib/libvirt/qemu/x.sock"));
	assert_true(qtlist_match(&l, "/var/lib/libvirt"));
	assert_false(qtlist_match(&l, "/var/lib/libvirtX/a"));
	assert_true(qtlist_match(&l, "@abs"));
	assert_false(qtlist_match(&l, "@abs2"));
	qtlist_free(&l);
}

static void test_add_del_and_save_load_round_trip(void **state)
{
	char dir[] = "/tmp/qtlist-test.XXXXXX", path[128];
	struct errmsg e = {""};
	struct qtlist l = {0}, back;
	struct stat st;

	assert_non_null(mkdtemp(dir));
	assert_int_equal(qtlist_file(dir, "udsconnect", path, sizeof(path), &e), 0);
	assert_int_equal(qtlist_load(path, &l, &e), 0); /* missing: empty */
	assert_int_equal(l.n, 0);
	assert_int_equal(qtlist_add(&l, "/a"), 0);
	assert_int_equal(qtlist_add(&l, "/b"), 0);
	assert_int_equal(qtlist_add(&l, "/a"), -EEXIST);
	assert_int_equal(qtlist_del(&l, 0), 0);
	assert_int_equal(qtlist_del(&l, 5), -ERANGE);
	assert_int_equal(qtlist_save(path, &l, &e), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
	assert_int_equal(qtlist_load(path, &back, &e), 0);
	assert_int_equal(back.n, 1);
	assert_string_equal(back.entries[0], "/b");
	qtlist_free(&l);
	qtlist_free(&back);
	unlink(path);
	rmdir(dir);
}

static void test_list_type_names_are_restricted(void **state)
{
	char path[128];
	struct errmsg e = {""};

	assert_int_equal(qtlist_file("/etc/udsproxy", "../x", path, sizeof(path), &e), -EINVAL);
	assert_int_equal(qtlist_file("/etc/udsproxy", "", path, sizeof(path), &e), -EINVAL);
	assert_int_equal(qtlist_file("/etc/udsproxy", "udsconnect", path, sizeof(path), &e), 0);
	assert_string_equal(path, "/etc/udsproxy/udsconnect.list");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_skips_comments_blanks_and_duplicates),
		cmocka_unit_test(test_parse_names_the_line_of_a_relative_entry),
		cmocka_unit_test(test_parse_refuses_dot_dot_spaces_and_nul),
		cmocka_unit_test(test_parse_refuses_an_entry_longer_than_a_socket_address),
		cmocka_unit_test(test_parse_refuses_too_many_entries),
		cmocka_unit_test(test_match_is_by_whole_components),
		cmocka_unit_test(test_add_del_and_save_load_round_trip),
		cmocka_unit_test(test_list_type_names_are_restricted),
	};

	return cmocka_run_group_tests_name("udsproxy_qtlist", tests, NULL, NULL);
}
