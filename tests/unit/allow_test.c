/* Unit tests for lib/allow: allowlist parsing, permission refusals, path-component matching. */
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

#include "allow.h"

static char tmpdir[64];

static struct allowlist *parse(const char *text, struct errmsg *e)
{
	return allow_parse(text, strlen(text), "whitelist", e);
}

static void test_allow_parses_entries_options_and_lines(void **state)
{
	struct allowlist *l = parse("# rexec whitelist\n\n/usr/bin/qemu-kvm\n"
				    "  /usr/bin/splitvm   -daemonize  -D x  \n\t/bin/true\t\n",
				    NULL);
	const struct allow_entry *ent;

	assert_non_null(l);
	assert_int_equal(allow_count(l), 3);
	ent = allow_entry_at(l, 0);
	assert_string_equal(ent->value, "/usr/bin/qemu-kvm");
	assert_string_equal(ent->options, "");
	assert_int_equal(ent->line, 3);
	ent = allow_entry_at(l, 1);
	assert_string_equal(ent->value, "/usr/bin/splitvm");
	assert_string_equal(ent->options, "-daemonize  -D x");
	assert_int_equal(ent->line, 4);
	ent = allow_entry_at(l, 2);
	assert_string_equal(ent->value, "/bin/true");
	assert_string_equal(ent->options, "");
	assert_int_equal(ent->line, 5);
	assert_null(allow_entry_at(l, 3));
	allow_free(l);
}

static void test_allow_treats_hash_after_blank_as_comment_but_not_inside_token(void **state)
{
	struct allowlist *l = parse("/srv/a#b  opt # trailing note\n   # indented comment\n"
				    "/x #\n",
				    NULL);

	assert_non_null(l);
	assert_int_equal(allow_count(l), 2);
	assert_string_equal(allow_entry_at(l, 0)->value, "/srv/a#b");
	assert_string_equal(allow_entry_at(l, 0)->options, "opt");
	assert_string_equal(allow_entry_at(l, 1)->value, "/x");
	assert_string_equal(allow_entry_at(l, 1)->options, "");
	allow_free(l);
}

static void test_allow_accepts_crlf_and_missing_final_newline(void **state)
{
	struct allowlist *l = parse("/a  o\r\n/b", NULL);

	assert_non_null(l);
	assert_int_equal(allow_count(l), 2);
	assert_string_equal(allow_entry_at(l, 0)->value, "/a");
	assert_string_equal(allow_entry_at(l, 0)->options, "o");
	assert_string_equal(allow_entry_at(l, 1)->value, "/b");
	allow_free(l);
}

static void test_allow_accepts_empty_list(void **state)
{
	struct allowlist *l = allow_parse("", 0, "w", NULL);

	assert_non_null(l);
	assert_int_equal(allow_count(l), 0);
	assert_null(allow_match_path(l, "/"));
	assert_null(allow_match_exact(l, ""));
	allow_free(l);
}

static void test_allow_rejects_nul_byte_naming_file_and_line(void **state)
{
	static const char text[] = "/a\n/b\0c\n";
	struct errmsg e;

	errno = 0;
	assert_null(allow_parse(text, sizeof(text) - 1, "whitelist", &e));
	assert_int_equal(errno, EINVAL);
	assert_string_equal(errmsg_str(&e), "whitelist:2: NUL byte in line");
}

static void test_allow_rejects_control_characters(void **state)
{
	struct errmsg e;

	errno = 0;
	assert_null(parse("/a\n\n/b\x1b[31m\n", &e));
	assert_int_equal(errno, EINVAL);
	assert_string_equal(errmsg_str(&e), "whitelist:3: control character 0x1b in line");
	/* a CR is only accepted as part of a CRLF line ending */
	assert_null(parse("/a\r/b\n", &e));
	assert_string_equal(errmsg_str(&e), "whitelist:1: control character 0x0d in line");
	assert_null(parse("/a\v/b\n", &e));
	assert_string_equal(errmsg_str(&e), "whitelist:1: control character 0x0b in line");
}

static void test_allow_path_match_respects_component_boundaries(void **state)
{
	assert_true(allow_path_match("/var/lib/libvirt", "/var/lib/libvirt"));
	assert_true(allow_path_match("/var/lib/libvirt", "/var/lib/libvirt/qemu/x"));
	assert_false(allow_path_match("/var/lib/libvirt", "/var/lib/libvirtX"));
	assert_false(allow_path_match("/var/lib/libvirt", "/var/lib/libvirtX/qemu"));
	assert_false(allow_path_match("/var/lib/libvirt", "/var/lib"));
	assert_false(allow_path_match("/var/lib/libvirt", "/var/lib/libvir"));
	assert_false(allow_path_match("/var/lib/libvirt", "/etc/passwd"));
}

static void test_allow_path_match_ignores_one_trailing_slash(void **state)
{
	assert_true(allow_path_match("/var/lib/libvirt/", "/var/lib/libvirt"));
	assert_true(allow_path_match("/var/lib/libvirt/", "/var/lib/libvirt/qemu/x"));
	assert_false(allow_path_match("/var/lib/libvirt/", "/var/lib/libvirtX"));
	assert_true(allow_path_match("/var/lib/libvirt", "/var/lib/libvirt/"));
	assert_true(allow_path_match("/var/lib/libvirt/", "/var/lib/libvirt/qemu/"));
	assert_false(allow_path_match("/var/lib/libvirt//", "/var/lib/libvirt"));
	assert_false(allow_path_match("/var/lib/libvirt", "/var/lib/libvirt//"));
}

static void test_allow_path_match_refuses_relative_paths(void **state)
{
	assert_false(allow_path_match("var/lib", "var/lib/x"));
	assert_false(allow_path_match("/var/lib", "var/lib/x"));
	assert_false(allow_path_match("var/lib", "/var/lib/x"));
	assert_false(allow_path_match("", "/x"));
	assert_false(allow_path_match("/x", ""));
	assert_false(allow_path_match(NULL, "/x"));
	assert_false(allow_path_match("/x", NULL));
}

static void test_allow_path_match_refuses_dot_dotdot_and_empty_components(void **state)
{
	assert_false(allow_path_match("/srv", "/srv/../etc/shadow"));
	assert_false(allow_path_match("/srv", "/srv/./x"));
	assert_false(allow_path_match("/srv", "/srv/x/.."));
	assert_false(allow_path_match("/srv", "/srv/."));
	assert_false(allow_path_match("/srv", "/srv//x"));
	assert_false(allow_path_match("/srv/..", "/srv/../x"));
	assert_false(allow_path_match("/srv/.", "/srv/x"));
	assert_false(allow_path_match("//srv", "//srv/x"));
	assert_false(allow_path_match("//", "/x"));
	assert_false(allow_path_match("/", "//"));
	/* names that merely start with dots are ordinary components */
	assert_true(allow_path_match("/srv", "/srv/..x/.y/..."));
	assert_true(allow_path_match("/srv/...", "/srv/.../a"));
}

static void test_allow_path_match_root_prefixes_every_absolute_path(void **state)
{
	assert_true(allow_path_match("/", "/"));
	assert_true(allow_path_match("/", "/etc"));
	assert_true(allow_path_match("/", "/var/lib/libvirt/qemu/x/"));
	assert_false(allow_path_match("/", "etc"));
	assert_false(allow_path_match("/", "/etc/../x"));
	assert_false(allow_path_match("/", "//etc"));
	assert_false(allow_path_match("/etc", "/"));
}

static void test_allow_match_path_and_exact_return_first_matching_entry(void **state)
{
	struct allowlist *l = parse("/var/lib/libvirt first\n/var/lib second\n"
				    "/var/lib/libvirt third\n/usr/bin/qemu-kvm\n",
				    NULL);
	const struct allow_entry *ent;

	assert_non_null(l);
	ent = allow_match_path(l, "/var/lib/libvirt/images/a.img");
	assert_non_null(ent);
	assert_string_equal(ent->options, "first");
	ent = allow_match_path(l, "/var/lib/libvirtX");
	assert_non_null(ent);
	assert_string_equal(ent->options, "second");
	assert_null(allow_match_path(l, "/var/libX"));
	assert_null(allow_match_path(l, "/var/lib/../../etc"));
	ent = allow_match_exact(l, "/var/lib/libvirt");
	assert_non_null(ent);
	assert_int_equal(ent->line, 1);
	assert_non_null(allow_match_exact(l, "/usr/bin/qemu-kvm"));
	assert_null(allow_match_exact(l, "/usr/bin/qemu-kvm/"));
	assert_null(allow_match_exact(l, "/usr/bin/qemu"));
	allow_free(l);
}

/* Writes a list file with the given owner and mode; returns its path in a static buffer. */
static const char *make_file(const char *name, const char *text, uid_t uid, mode_t mode)
{
	static char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	unlink(path);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chown(path, uid, 0), 0);
	assert_int_equal(chmod(path, mode), 0);
	return path;
}

static void expect_msg(const struct errmsg *e, const char *path, const char *rest)
{
	char want[512];

	snprintf(want, sizeof(want), "%s%s", path, rest);
	assert_string_equal(errmsg_str(e), want);
}

static void test_allow_check_perms_accepts_root_owned_file(void **state)
{
	struct errmsg e;

	assert_int_equal(allow_check_file_perms(make_file("ok", "/a\n", 0, 0400), &e), 0);
	assert_int_equal(allow_check_file_perms(make_file("ok2", "/a\n", 0, 0644), &e), 0);
}

static void test_allow_check_perms_refuses_file_not_owned_by_root(void **state)
{
	const char *path;
	struct errmsg e;

	if (geteuid() != 0)
		skip();
	path = make_file("user-owned", "/a\n", 1000, 0400);
	assert_int_equal(allow_check_file_perms(path, &e), -EPERM);
	expect_msg(&e, path, ": owned by uid 1000, not root");
}

static void test_allow_check_perms_refuses_group_writable_file(void **state)
{
	const char *path;
	struct errmsg e;

	if (geteuid() != 0)
		skip();
	path = make_file("group-w", "/a\n", 0, 0664);
	assert_int_equal(allow_check_file_perms(path, &e), -EPERM);
	expect_msg(&e, path,
		   ": group-writable (mode 0664); it must not be writable by group or others");
}

static void test_allow_check_perms_refuses_world_writable_file(void **state)
{
	const char *path;
	struct errmsg e;

	if (geteuid() != 0)
		skip();
	path = make_file("world-w", "/a\n", 0, 0602);
	assert_int_equal(allow_check_file_perms(path, &e), -EPERM);
	expect_msg(&e, path,
		   ": world-writable (mode 0602); it must not be writable by group or others");
	path = make_file("both-w", "/a\n", 0, 0666);
	assert_int_equal(allow_check_file_perms(path, &e), -EPERM);
	expect_msg(&e, path,
		   ": group- and world-writable (mode 0666); it must not be writable by group "
		   "or others");
}

static void test_allow_check_perms_refuses_non_regular_files(void **state)
{
	char path[256];
	struct errmsg e;

	assert_int_equal(allow_check_file_perms(tmpdir, &e), -EINVAL);
	expect_msg(&e, tmpdir, ": not a regular file");
	/* a FIFO must be refused, not block the caller waiting for a writer */
	snprintf(path, sizeof(path), "%s/fifo", tmpdir);
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(allow_check_file_perms(path, &e), -EINVAL);
	expect_msg(&e, path, ": not a regular file");
	assert_int_equal(allow_check_file_perms("/dev/null", &e), -EINVAL);
	expect_msg(&e, "/dev/null", ": not a regular file");
}

static void test_allow_check_perms_names_missing_file_and_reason(void **state)
{
	char path[256];
	struct errmsg e;

	snprintf(path, sizeof(path), "%s/absent", tmpdir);
	assert_int_equal(allow_check_file_perms(path, &e), -ENOENT);
	expect_msg(&e, path, ": No such file or directory");
}

static void test_allow_load_with_check_perms_refuses_bad_file(void **state)
{
	const char *path;
	struct errmsg e;

	if (geteuid() != 0)
		skip();
	path = make_file("load-bad", "/usr/bin/qemu-kvm\n", 1000, 0644);
	errno = 0;
	assert_null(allow_load(path, ALLOW_CHECK_PERMS, &e));
	assert_int_equal(errno, EPERM);
	expect_msg(&e, path, ": owned by uid 1000, not root");
	path = make_file("load-gw", "/usr/bin/qemu-kvm\n", 0, 0620);
	assert_null(allow_load(path, ALLOW_CHECK_PERMS, &e));
	expect_msg(&e, path,
		   ": group-writable (mode 0620); it must not be writable by group or others");
}

static void test_allow_load_without_check_perms_reads_any_regular_file(void **state)
{
	const char *path = make_file("load-any", "/a x\n/b\n", 1000, 0666);
	struct allowlist *l;
	struct errmsg e;

	l = allow_load(path, 0, &e);
	assert_non_null(l);
	assert_int_equal(allow_count(l), 2);
	assert_string_equal(allow_entry_at(l, 0)->options, "x");
	allow_free(l);
	errno = 0;
	assert_null(allow_load(tmpdir, 0, &e));
	assert_int_equal(errno, EINVAL);
	expect_msg(&e, tmpdir, ": not a regular file");
}

static void test_allow_load_checked_file_parses_and_reports_lines(void **state)
{
	const char *path = make_file("load-ok", "# header\n/var/lib/libvirt\n", 0, 0400);
	struct allowlist *l;
	struct errmsg e;

	l = allow_load(path, ALLOW_CHECK_PERMS, &e);
	assert_non_null(l);
	assert_non_null(allow_match_path(l, "/var/lib/libvirt/qemu/x"));
	assert_null(allow_match_path(l, "/var/lib/libvirtX"));
	allow_free(l);
	path = make_file("load-ctl", "/a\n/b\x07\n", 0, 0400);
	assert_null(allow_load(path, ALLOW_CHECK_PERMS, &e));
	expect_msg(&e, path, ":2: control character 0x07 in line");
}

static void test_allow_load_refuses_huge_file(void **state)
{
	char path[256];
	struct errmsg e;
	FILE *f;

	snprintf(path, sizeof(path), "%s/huge", tmpdir);
	f = fopen(path, "w");
	assert_non_null(f);
	for (int i = 0; i < 90000; i++)
		assert_true(fputs("/some/path/x\n", f) >= 0);
	assert_int_equal(fclose(f), 0);
	errno = 0;
	assert_null(allow_load(path, 0, &e));
	assert_int_equal(errno, EFBIG);
	expect_msg(&e, path, ": larger than 1048576 bytes");
}

static int setup_tmpdir(void **state)
{
	strcpy(tmpdir, "/tmp/allow_test.XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_tmpdir(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_allow_parses_entries_options_and_lines),
		cmocka_unit_test(
			test_allow_treats_hash_after_blank_as_comment_but_not_inside_token),
		cmocka_unit_test(test_allow_accepts_crlf_and_missing_final_newline),
		cmocka_unit_test(test_allow_accepts_empty_list),
		cmocka_unit_test(test_allow_rejects_nul_byte_naming_file_and_line),
		cmocka_unit_test(test_allow_rejects_control_characters),
		cmocka_unit_test(test_allow_path_match_respects_component_boundaries),
		cmocka_unit_test(test_allow_path_match_ignores_one_trailing_slash),
		cmocka_unit_test(test_allow_path_match_refuses_relative_paths),
		cmocka_unit_test(test_allow_path_match_refuses_dot_dotdot_and_empty_components),
		cmocka_unit_test(test_allow_path_match_root_prefixes_every_absolute_path),
		cmocka_unit_test(test_allow_match_path_and_exact_return_first_matching_entry),
		cmocka_unit_test(test_allow_check_perms_accepts_root_owned_file),
		cmocka_unit_test(test_allow_check_perms_refuses_file_not_owned_by_root),
		cmocka_unit_test(test_allow_check_perms_refuses_group_writable_file),
		cmocka_unit_test(test_allow_check_perms_refuses_world_writable_file),
		cmocka_unit_test(test_allow_check_perms_refuses_non_regular_files),
		cmocka_unit_test(test_allow_check_perms_names_missing_file_and_reason),
		cmocka_unit_test(test_allow_load_with_check_perms_refuses_bad_file),
		cmocka_unit_test(test_allow_load_without_check_perms_reads_any_regular_file),
		cmocka_unit_test(test_allow_load_checked_file_parses_and_reports_lines),
		cmocka_unit_test(test_allow_load_refuses_huge_file),
	};

	return cmocka_run_group_tests_name("allow", tests, setup_tmpdir, teardown_tmpdir);
}
