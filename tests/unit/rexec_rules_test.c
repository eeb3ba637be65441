/* Unit tests for rexec/rules: whitelist syntax and every allow/refuse decision on real files. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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

#include "rexec/rules.h"

static char dir[64];
static char prog[PATH_MAX];   /* dir/bin/prog: a copy of /bin/true, root-owned 0755 */
static char other[PATH_MAX];  /* dir/bin/other: unlisted */
static char script[PATH_MAX]; /* dir/bin/script: "#!/bin/sh" */
static char prog_sha[65];

static int copy_file(const char *from, const char *to, mode_t mode)
{
	char cmd[2 * PATH_MAX + 32];

	snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", from, to);
	if (system(cmd) != 0)
		return -1;
	return chmod(to, mode);
}

static int setup(void **state)
{
	char path[PATH_MAX], cmd[PATH_MAX + 64];
	FILE *f;

	strcpy(dir, "/tmp/rexec_rules_XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	chmod(dir, 0755);
	snprintf(path, sizeof(path), "%s/bin", dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/links", dir);
	mkdir(path, 0755);
	snprintf(prog, sizeof(prog), "%s/bin/prog", dir);
	snprintf(other, sizeof(other), "%s/bin/other", dir);
	snprintf(script, sizeof(script), "%s/bin/script", dir);
	if (copy_file("/bin/true", prog, 0755) || copy_file("/bin/true", other, 0755))
		return -1;
	f = fopen(script, "w");
	if (!f)
		return -1;
	fputs("#!/bin/sh\nexit 0\n", f);
	fclose(f);
	chmod(script, 0755);
	snprintf(cmd, sizeof(cmd), "sha256sum '%s'", prog);
	f = popen(cmd, "r");
	if (!f || fread(prog_sha, 1, 64, f) != 64)
		return -1;
	prog_sha[64] = '\0';
	pclose(f);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static struct rexec_rules *parse(const char *text, struct errmsg *e)
{
	return rexec_rules_parse(text, strlen(text), "wl", e);
}

/* Decides argv against a whitelist text; returns the check's result. */
static int decide(const char *text, char **argv, struct rexec_decision *d, struct errmsg *e)
{
	struct rexec_rules *r = parse(text, e);
	size_t argc = 0;
	int ret;

	assert_non_null(r);
	while (argv[argc])
		argc++;
	ret = rexec_rules_check(r, dir, argv, argc, d, e);
	rexec_rules_free(r);
	return ret;
}

static void test_whitelist_parses_paths_and_options(void **state)
{
	char text[3 * PATH_MAX];
	struct errmsg e = {{0}};
	struct rexec_rules *r;

	snprintf(text, sizeof(text),
		 "# comment\n\n/usr/bin/taskset args=-p args=-pc,%%2C%%20x\n/bin/true noargs  # "
		 "why\n"
		 "/usr/bin/a maxargs=3 sha256=%s\n/usr/bin/plain\n",
		 prog_sha);
	r = parse(text, &e);
	assert_non_null(r);
	assert_int_equal(r->n, 4);
	assert_string_equal(r->v[0].path, "/usr/bin/taskset");
	assert_int_equal(r->v[0].n_prefixes, 2);
	assert_int_equal(r->v[0].prefixes[1].n, 2);
	assert_string_equal(r->v[0].prefixes[1].args[0], "-pc");
	assert_string_equal(r->v[0].prefixes[1].args[1], ", x");
	assert_true(r->v[1].noargs);
	assert_int_equal(r->v[2].maxargs, 3);
	assert_true(r->v[2].has_sha256);
	assert_int_equal(r->v[3].maxargs, -1);
	assert_false(r->v[3].noargs);
	rexec_rules_free(r);
}

static void expect_parse_error(const char *text, const char *needle)
{
	struct errmsg e = {{0}};

	assert_null(parse(text, &e));
	if (!strstr(errmsg_str(&e), needle))
		fail_msg("message '%s' lacks '%s'", errmsg_str(&e), needle);
}

static void test_whitelist_errors_name_the_file_line_and_reason(void **state)
{
	expect_parse_error("/bin/a\nrelative/prog\n", "wl:2: 'relative/prog' is not an absolute");
	expect_parse_error("/bin/a bogus\n", "wl:1: unknown option 'bogus'");
	expect_parse_error("/bin/a sha256=1234\n", "wl:1: sha256: expected 64 hex");
	expect_parse_error("/bin/a noargs args=-p\n", "wl:1: noargs contradicts");
	expect_parse_error("/bin/a args=\n", "wl:1: args:");
	expect_parse_error("/bin/a args=%00\n", "wl:1: args:");
	expect_parse_error("/bin/a args=%4\n", "wl:1: args:");
	expect_parse_error("/bin/a maxargs=-1\n", "wl:1: maxargs");
	expect_parse_error("/bin/a maxargs=99999999\n", "wl:1: maxargs");
}

static void test_listed_program_is_allowed_with_resolved_argv0(void **state)
{
	struct rexec_decision d;
	struct errmsg e = {{0}};
	char text[3 * PATH_MAX];
	char *argv[] = {prog, "any", "args", NULL};

	snprintf(text, sizeof(text), "%s\n", prog);
	assert_int_equal(decide(text, argv, &d, &e), 0);
	assert_true(d.fd >= 0);
	assert_string_equal(d.path, prog);
	assert_string_equal(d.argv0, prog);
	assert_false(d.script);
	rexec_decision_free(&d);
}

static void test_unlisted_program_is_refused_naming_the_whitelist(void **state)
{
	struct rexec_decision d;
	struct errmsg e = {{0}};
	char text[3 * PATH_MAX];
	char *argv[] = {other, NULL};

	snprintf(text, sizeof(text), "%s\n", prog);
	assert_int_equal(decide(text, argv, &d, &e), -EACCES);
	assert_non_null(strstr(errmsg_str(&e), "not in the whitelist wl"));
}

static void test_symlink_from_unlisted_place_is_judged_by_its_target(void **state)
{
	struct rexec_decision d;
	struct errmsg e = {{0}};
	char text[3 * PATH_MAX], link[PATH_MAX], link2[PATH_MAX];
	char *argv[] = {link, NULL}, *argv2[] = {link2, NULL};

	snprintf(link, sizeof(link), "%s/links/to-prog", dir);
	snprintf(link2, sizeof(link2), "%s/links/to-other", dir);
	unlink(link);
	unlink(link2);
	assert_int_equal(symlink(prog, link), 0);
	assert_int_equal(symlink(other, link2), 0);
	snprintf(text, sizeof(text), "%s noargs\n", prog);
	/* Points at a listed program: runs that program, argv[0] being its real path. */
	assert_int_equal(decide(text, argv, &d, &e), 0);
	assert_string_equal(d.argv0, prog);
	rexec_decision_free(&d);
	/* Points at an unlisted program: refused, the message names what it resolves to. */
	assert_int_equal(decide(text, argv2, &d, &e), -EACCES);
	assert_non_null(strstr(errmsg_str(&e), "resolves to"));
	assert_non_null(strstr(errmsg_str(&e), other));
}

static void test_listed_path_that_is_a_symlink_to_an_unlisted_file_is_refused(void **state)
{
	struct rexec_decision d;
	struct errmsg e = {{0}};
	char text[3 * PATH_MAX], listed[PATH_MAX];
	char *argv[] = {listed, NULL};
	struct rexec_rules *r;

	/* openEuler matched the name: a listed name swapped for a symlink ran anything. */
	snprintf(listed, sizeof(listed), "%s/links/listed", dir);
	unlink(listed);
	assert_int_equal(symlink(prog, listed), 0);
	snprintf(text, sizeof(text), "%s\n", listed);
	r = parse(text, &e); /* loaded while the name points at prog: allows prog */
	assert_non_null(r);
	assert_int_equal(rexec_rules_check(r, dir, argv, 1, &d, &e), 0);
	assert_string_equal(d.path, prog);
	rexec_decision_free(&d);
	/* The listed name is swapped to point at another file: that file is not allowed. */
	assert_int_equal(unlink(listed), 0);
	assert_int_equal(symlink(other, listed), 0);
	assert_int_equal(rexec_rules_check(r, dir, argv, 1, &d, &e), -EACCES);
	assert_non_null(strstr(errmsg_str(&e), "resolves to"));
	rexec_rules_free(r);
}

static void test_entry_missing_at_load_matches_only_its_literal_path(void **state)
{
	struct rexec_decision d;
	struct errmsg e = {{0}};
	char text[3 * PATH_MAX], later[PATH_MAX];
	char *argv[] = {later, NULL};
	struct rexec_rules *r;

	snprintf(later, sizeof(later), "%s/links/later", dir);
	unlink(later);
	snprintf(text, sizeof(text), "%s\n", later);
	r = parse(text, &e);
	assert_non_null(r);
	assert_int_equal(symlink(other, later), 0); /* appears as a symlink: refused */
	assert_int_equal(rexec_rules_check(r, dir, argv, 1, &d, &e), -EACCES);
	rexec_rules_free(r);
	unlink(later);
}

static void test_sha256_pin_allows_the_matching_binary_only(void **state)
{
	struct rexec_decision d;
	struct errmsg e = {{0}};
	char text[3 * PATH_MAX];
	char *argv[] = {prog, NULL};

	snprintf(text, sizeof(text), "%s sha256=%s\n", prog, prog_sha);
	assert_int_equal(decide(text, argv, &d, &e), 0);
	rexec_decision_free(&d);
	snprintf(text, sizeof(text), "%s sha256=%.63s%c\n", prog, prog_sha,
		 prog_sha[63] == '0' ? '1' : '0');
	assert_int_equal(decide(text, argv, &d, &e), -EACCES);
	assert_non_null(strstr(errmsg_str(&e), "sha256"));
}

static void test_args_prefix_allows_only_listed_forms(void **state)
{
	struct rexec_decision d;
	struct errmsg e = {{0}};
	char text[3 * PATH_MAX];
	char *ok1[] = {prog, "-p", "0x3", "1234", NULL};
	char *ok2[] = {prog, "-pc", "0-1", "1234", NULL};
	char *bad1[] = {prog, "0x3", "/bin/sh", NULL};
	char *bad2[] = {prog, NULL};
	char *bad3[] = {prog, "-P", NULL};

	snprintf(text, sizeof(text), "%s args=-p args=-pc\n", prog);
	assert_int_equal(decide(text, ok1, &d, &e), 0);
	rexec_decision_free(&d);
	assert_int_equal(decide(text, ok2, &d, &e), 0);
	rexec_decision_free(&d);
	assert_int_equal(decide(text, bad1, &d, &e), -EACCES);
	assert_non_null(strstr(errmsg_str(&e), "arguments not allowed by wl:1"));
	assert_int_equal(decide(text, bad2, &d, &e), -EACCES);
	assert_int_equal(decide(text, bad3, &d, &e), -EACCES);
}

static void test_noargs_and_maxargs_limit_the_argument_count(void **state)
{
	struct rexec_decision d;
	struct errmsg e = {{0}};
	char text[3 * PATH_MAX];
	char *none[] = {prog, NULL};
	char *one[] = {prog, "", NULL};
	char *three[] = {prog, "a", "b", "c", NULL};

	snprintf(text, sizeof(text), "%s noargs\n", prog);
	assert_int_equal(decide(text, none, &d, &e), 0);
	rexec_decision_free(&d);
	assert_int_equal(decide(text, one, &d, &e), -EACCES); /* even an empty argument */
	snprintf(text, sizeof(text), "%s maxargs=2\n", prog);
	assert_int_equal(decide(text, one, &d, &e), 0);
	rexec_decision_free(&d);
	assert_int_equal(decide(text, three, &d, &e), -EACCES);
}

static void test_any_of_several_entries_for_one_program_may_allow(void **state)
{
	struct rexec_decision d;
	struct errmsg e = {{0}};
	char text[3 * PATH_MAX];
	char *argv[] = {prog, "--version", NULL};

	struct rexec_rules *r;

	snprintf(text, sizeof(text), "%s noargs\n%s args=--version\n", prog, prog);
	r = parse(text, &e);
	assert_non_null(r);
	assert_int_equal(rexec_rules_check(r, dir, argv, 2, &d, &e), 0);
	assert_int_equal(d.rule->line, 2);
	rexec_decision_free(&d);
	rexec_rules_free(r);
}

static void test_binary_writable_by_others_or_not_root_owned_is_refused(void **state)
{
	struct rexec_decision d;
	struct errmsg e = {{0}};
	char text[3 * PATH_MAX];
	char *argv[] = {prog, NULL};

	snprintf(text, sizeof(text), "%s\n", prog);
	assert_int_equal(chmod(prog, 0775), 0);
	assert_int_equal(decide(text, argv, &d, &e), -EACCES);
	assert_non_null(strstr(errmsg_str(&e), "writable by group or others"));
	assert_int_equal(chmod(prog, 0755), 0);
	assert_int_equal(chown(prog, 65534, 65534), 0);
	assert_int_equal(decide(text, argv, &d, &e), -EACCES);
	assert_non_null(strstr(errmsg_str(&e), "owned by uid 65534"));
	assert_int_equal(chown(prog, 0, 0), 0);
	assert_int_equal(chmod(prog, 0755), 0); /* chown cleared nothing we need, but be sure */
	assert_int_equal(chmod(prog, 0644), 0);
	assert_int_equal(decide(text, argv, &d, &e), -EACCES);
	assert_non_null(strstr(errmsg_str(&e), "not executable"));
	assert_int_equal(chmod(prog, 0755), 0);
}

static void test_relative_paths_are_refused_and_bare_names_use_the_server_path(void **state)
{
	struct rexec_decision d;
	struct errmsg e = {{0}};
	char text[3 * PATH_MAX], search[PATH_MAX];
	char *rel[] = {"bin/prog", NULL};
	char *bare[] = {"prog", NULL};
	char *missing[] = {"no-such-prog", NULL};
	struct rexec_rules *r;

	snprintf(text, sizeof(text), "%s\n", prog);
	r = parse(text, &e);
	assert_non_null(r);
	assert_int_equal(rexec_rules_check(r, dir, rel, 1, &d, &e), -EACCES);
	assert_non_null(strstr(errmsg_str(&e), "relative path"));
	/* The search path holds relative and empty entries, which must be skipped. */
	snprintf(search, sizeof(search), "::bin:%s/bin", dir);
	assert_int_equal(rexec_rules_check(r, search, bare, 1, &d, &e), 0);
	assert_string_equal(d.argv0, "prog");
	assert_string_equal(d.path, prog);
	rexec_decision_free(&d);
	assert_int_equal(rexec_rules_check(r, search, missing, 1, &d, &e), -ENOENT);
	assert_non_null(strstr(errmsg_str(&e), "not found in the server's PATH"));
	rexec_rules_free(r);
}

static void test_missing_absolute_program_is_not_found(void **state)
{
	struct rexec_decision d;
	struct errmsg e = {{0}};
	char *argv[] = {"/nonexistent/prog", NULL};

	assert_int_equal(decide("/nonexistent/prog\n", argv, &d, &e), -ENOENT);
}

static void test_scripts_are_detected_for_fd_exec(void **state)
{
	struct rexec_decision d;
	struct errmsg e = {{0}};
	char text[3 * PATH_MAX];
	char *argv[] = {script, NULL};

	snprintf(text, sizeof(text), "%s\n", script);
	assert_int_equal(decide(text, argv, &d, &e), 0);
	assert_true(d.script);
	rexec_decision_free(&d);
}

static void test_whitelist_file_writable_by_others_is_refused_naming_it(void **state)
{
	char path[PATH_MAX];
	struct errmsg e = {{0}};
	struct rexec_rules *r;
	FILE *f;

	snprintf(path, sizeof(path), "%s/whitelist", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "%s\n", prog);
	fclose(f);
	assert_int_equal(chmod(path, 0400), 0);
	r = rexec_rules_load(path, true, &e);
	assert_non_null(r);
	rexec_rules_free(r);
	assert_int_equal(chmod(path, 0666), 0);
	assert_null(rexec_rules_load(path, true, &e));
	assert_non_null(strstr(errmsg_str(&e), path));
	assert_int_equal(chmod(path, 0400), 0);
	assert_int_equal(chown(path, 65534, 0), 0);
	assert_null(rexec_rules_load(path, true, &e));
	assert_non_null(strstr(errmsg_str(&e), path));
}

static void test_no_whitelist_refuses_everything(void **state)
{
	struct rexec_decision d;
	struct errmsg e = {{0}};
	char *argv[] = {prog, NULL};

	assert_int_equal(rexec_rules_check(NULL, dir, argv, 1, &d, &e), -EACCES);
}

int main(void)
{
	/* The rules are about root ownership: the fixture files must be created by root. */
	if (geteuid() != 0) {
		printf("1..0 # SKIP rexec_rules needs root (root-owned fixture binaries)\n");
		return 0;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_whitelist_parses_paths_and_options),
		cmocka_unit_test(test_whitelist_errors_name_the_file_line_and_reason),
		cmocka_unit_test(test_listed_program_is_allowed_with_resolved_argv0),
		cmocka_unit_test(test_unlisted_program_is_refused_naming_the_whitelist),
		cmocka_unit_test(test_symlink_from_unlisted_place_is_judged_by_its_target),
		cmocka_unit_test(test_listed_path_that_is_a_symlink_to_an_unlisted_file_is_refused),
		cmocka_unit_test(test_entry_missing_at_load_matches_only_its_literal_path),
		cmocka_unit_test(test_sha256_pin_allows_the_matching_binary_only),
		cmocka_unit_test(test_args_prefix_allows_only_listed_forms),
		cmocka_unit_test(test_noargs_and_maxargs_limit_the_argument_count),
		cmocka_unit_test(test_any_of_several_entries_for_one_program_may_allow),
		cmocka_unit_test(test_binary_writable_by_others_or_not_root_owned_is_refused),
		cmocka_unit_test(
			test_relative_paths_are_refused_and_bare_names_use_the_server_path),
		cmocka_unit_test(test_missing_absolute_program_is_not_found),
		cmocka_unit_test(test_scripts_are_detected_for_fd_exec),
		cmocka_unit_test(test_whitelist_file_writable_by_others_is_refused_naming_it),
		cmocka_unit_test(test_no_whitelist_refuses_everything),
	};

	return cmocka_run_group_tests_name("rexec_rules", tests, setup, teardown);
}
