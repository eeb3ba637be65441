/* Unit tests for rexec/env: the remote environment is the allowlisted client variables only. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rexec/env.h"

static size_t count(char **v)
{
	size_t n = 0;

	while (v[n])
		n++;
	return n;
}

static bool has(char **v, const char *s)
{
	size_t i;

	for (i = 0; v[i]; i++)
		if (strcmp(v[i], s) == 0)
			return true;
	return false;
}

static void test_only_allowlisted_variables_pass_after_path_and_home(void **state)
{
	char *in[] = {"TERM=xterm", "SECRET=1", "LC_ALL=C", "LC_TIME=x", "LANGUAGE=de", NULL};
	struct rexec_envpolicy p;
	struct errmsg e = {{0}};
	char **out;

	assert_int_equal(rexec_envpolicy_init(&p, "TERM LC_*", false, &e), 0);
	assert_int_equal(rexec_env_build(&p, in, 5, "/usr/bin:/bin", &out, &e), 0);
	assert_string_equal(out[0], "PATH=/usr/bin:/bin");
	assert_string_equal(out[1], "HOME=/root");
	assert_true(has(out, "TERM=xterm"));
	assert_true(has(out, "LC_ALL=C"));
	assert_true(has(out, "LC_TIME=x"));
	assert_false(has(out, "SECRET=1"));
	assert_false(has(out, "LANGUAGE=de"));
	assert_int_equal(count(out), 5);
	rexec_env_free(out);
	rexec_envpolicy_free(&p);
}

static void test_loader_variables_are_dropped_even_when_allowlisted(void **state)
{
	char *in[] = {"LD_PRELOAD=/tmp/evil.so",
		      "LD_LIBRARY_PATH=/tmp",
		      "GCONV_PATH=/x",
		      "MALLOC_CHECK_=3",
		      "BASH_FUNC_x%%=() { :; }",
		      "OK=1",
		      NULL};
	struct rexec_envpolicy p;
	struct errmsg e = {{0}};
	char **out;

	assert_int_equal(
		rexec_envpolicy_init(&p, "LD_* GCONV_PATH MALLOC_* BASH_FUNC* OK", false, &e), 0);
	assert_int_equal(rexec_env_build(&p, in, 6, "/bin", &out, &e), 0);
	assert_int_equal(count(out), 3);
	assert_true(has(out, "OK=1"));
	rexec_env_free(out);
	rexec_envpolicy_free(&p);
}

static void test_refuse_mode_refuses_naming_the_variable(void **state)
{
	char *in[] = {"TERM=x", "LD_PRELOAD=/tmp/evil.so", NULL};
	struct rexec_envpolicy p;
	struct errmsg e = {{0}};
	char **out = NULL;

	assert_int_equal(rexec_envpolicy_init(&p, "TERM", true, &e), 0);
	assert_int_equal(rexec_env_build(&p, in, 2, "/bin", &out, &e), -EACCES);
	assert_non_null(strstr(errmsg_str(&e), "LD_PRELOAD"));
	assert_null(out);
	rexec_envpolicy_free(&p);
}

static void test_path_and_home_cannot_be_overridden(void **state)
{
	char *in[] = {"PATH=/tmp/evil", "HOME=/tmp", NULL};
	struct rexec_envpolicy p;
	struct errmsg e = {{0}};
	char **out;

	assert_int_equal(rexec_envpolicy_init(&p, "PATH HOME", false, &e), 0);
	assert_int_equal(rexec_env_build(&p, in, 2, "/usr/bin", &out, &e), 0);
	assert_int_equal(count(out), 2);
	assert_string_equal(out[0], "PATH=/usr/bin");
	assert_string_equal(out[1], "HOME=/root");
	rexec_env_free(out);
	rexec_envpolicy_free(&p);
}

static void test_first_occurrence_of_a_variable_wins(void **state)
{
	char *in[] = {"A=1", "A=2", NULL};
	struct rexec_envpolicy p;
	struct errmsg e = {{0}};
	char **out;

	assert_int_equal(rexec_envpolicy_init(&p, "A", false, &e), 0);
	assert_int_equal(rexec_env_build(&p, in, 2, "/bin", &out, &e), 0);
	assert_int_equal(count(out), 3);
	assert_string_equal(out[2], "A=1");
	rexec_env_free(out);
	rexec_envpolicy_free(&p);
}

static void test_bad_allow_patterns_are_refused(void **state)
{
	static const char *const bad[] = {"1ABC", "A-B", "*", "A*B", "A=B"};
	struct rexec_envpolicy p;
	struct errmsg e = {{0}};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(rexec_envpolicy_init(&p, bad[i], false, &e), -EINVAL);
		assert_non_null(strstr(errmsg_str(&e), bad[i]));
	}
	assert_int_equal(rexec_envpolicy_init(&p, "", false, &e), 0);
	assert_int_equal(p.n, 0);
	rexec_envpolicy_free(&p);
}

static void test_dangerous_names_match_exactly_or_by_prefix(void **state)
{
	assert_true(rexec_env_dangerous("LD_PRELOAD", 10));
	assert_true(rexec_env_dangerous("LD_AUDIT", 8));
	assert_true(rexec_env_dangerous("GLIBC_TUNABLES", 14));
	assert_true(rexec_env_dangerous("ASAN_OPTIONS", 12));
	assert_true(rexec_env_dangerous("PYTHONPATH", 10));
	assert_false(rexec_env_dangerous("LD", 2));
	assert_false(rexec_env_dangerous("TERM", 4));
	assert_false(rexec_env_dangerous("PYTHONPATHX", 11));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_only_allowlisted_variables_pass_after_path_and_home),
		cmocka_unit_test(test_loader_variables_are_dropped_even_when_allowlisted),
		cmocka_unit_test(test_refuse_mode_refuses_naming_the_variable),
		cmocka_unit_test(test_path_and_home_cannot_be_overridden),
		cmocka_unit_test(test_first_occurrence_of_a_variable_wins),
		cmocka_unit_test(test_bad_allow_patterns_are_refused),
		cmocka_unit_test(test_dangerous_names_match_exactly_or_by_prefix),
	};

	return cmocka_run_group_tests_name("rexec_env", tests, NULL, NULL);
}
