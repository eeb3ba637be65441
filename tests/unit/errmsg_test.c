/* Unit tests for lib/errmsg: one-line failure messages that never end silently cut. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "errmsg.h"

static void test_errmsg_set_formats_the_message(void **state)
{
	struct errmsg e;

	errmsg_set(&e, "%s: %s (%d)", "tcp:1.2.3.4:99", "refused", 7);
	assert_string_equal(errmsg_str(&e), "tcp:1.2.3.4:99: refused (7)");
}

static void test_errmsg_accepts_null_everywhere(void **state)
{
	errmsg_set(NULL, "x %d", 1);
	errmsg_prefix(NULL, "y");
	assert_string_equal(errmsg_str(NULL), "");
}

static void test_errmsg_str_of_empty_or_unterminated_buffer_is_empty(void **state)
{
	struct errmsg e = {{0}};

	assert_string_equal(errmsg_str(&e), "");
	memset(e.text, 'x', sizeof(e.text));
	assert_string_equal(errmsg_str(&e), "");
}

static void test_errmsg_long_message_ends_in_ellipsis(void **state)
{
	char big[2000];
	struct errmsg e;
	size_t n;

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	errmsg_set(&e, "file: %s", big);
	n = strlen(errmsg_str(&e));
	assert_int_equal(n, sizeof(e.text) - 1);
	assert_memory_equal(errmsg_str(&e), "file: aaa", 9);
	assert_string_equal(errmsg_str(&e) + n - 3, "...");
}

static void test_errmsg_message_that_just_fits_is_not_marked(void **state)
{
	char fits[sizeof(((struct errmsg *)0)->text)];
	struct errmsg e;

	memset(fits, 'b', sizeof(fits) - 1);
	fits[sizeof(fits) - 1] = '\0';
	errmsg_set(&e, "%s", fits);
	assert_string_equal(errmsg_str(&e), fits);
}

static void test_errmsg_prefix_prepends_with_colon(void **state)
{
	struct errmsg e;

	errmsg_set(&e, "connection refused");
	errmsg_prefix(&e, "%s", "unix:/run/x.sock");
	assert_string_equal(errmsg_str(&e), "unix:/run/x.sock: connection refused");
	errmsg_prefix(&e, "udsproxyd");
	assert_string_equal(errmsg_str(&e), "udsproxyd: unix:/run/x.sock: connection refused");
}

static void test_errmsg_prefix_on_empty_message_is_just_the_prefix(void **state)
{
	struct errmsg e = {{0}};

	errmsg_prefix(&e, "only %d", 1);
	assert_string_equal(errmsg_str(&e), "only 1");
}

static void test_errmsg_prefix_that_overflows_ends_in_ellipsis(void **state)
{
	char big[600];
	struct errmsg e;
	size_t n;

	memset(big, 'c', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	errmsg_set(&e, "reason");
	errmsg_prefix(&e, "%s", big);
	n = strlen(errmsg_str(&e));
	assert_int_equal(n, sizeof(e.text) - 1);
	assert_string_equal(errmsg_str(&e) + n - 3, "...");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_errmsg_set_formats_the_message),
		cmocka_unit_test(test_errmsg_accepts_null_everywhere),
		cmocka_unit_test(test_errmsg_str_of_empty_or_unterminated_buffer_is_empty),
		cmocka_unit_test(test_errmsg_long_message_ends_in_ellipsis),
		cmocka_unit_test(test_errmsg_message_that_just_fits_is_not_marked),
		cmocka_unit_test(test_errmsg_prefix_prepends_with_colon),
		cmocka_unit_test(test_errmsg_prefix_on_empty_message_is_just_the_prefix),
		cmocka_unit_test(test_errmsg_prefix_that_overflows_ends_in_ellipsis),
	};

	return cmocka_run_group_tests_name("errmsg", tests, NULL, NULL);
}
