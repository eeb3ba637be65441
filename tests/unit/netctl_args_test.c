/* Unit tests for host-agent/netctl.c: argument parsing and the name-prefix rule. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "host-agent/netctl.h"

static int parse(const char *line, struct netctl_req *req, struct errmsg *e)
{
	char buf[256], *argv[16];
	int argc = 0;

	strcpy(buf, line);
	for (char *t = strtok(buf, " "); t && argc < 16; t = strtok(NULL, " "))
		argv[argc++] = t;
	return netctl_parse_args(argc, argv, req, e);
}

static void test_netctl_parses_add_with_every_option(void **state)
{
	struct netctl_req r;
	struct errmsg e;

	assert_int_equal(
		parse("add svtap0 --bridge br0 --mtu 9000 --queues 4 --owner 107 --up", &r, &e), 0);
	assert_int_equal(r.verb, NETCTL_ADD);
	assert_string_equal(r.name, "svtap0");
	assert_string_equal(r.bridge, "br0");
	assert_int_equal(r.mtu, 9000);
	assert_int_equal(r.queues, 4);
	assert_int_equal(r.owner, 107);
	assert_int_equal(r.up, 1);
}

static void test_netctl_refuses_bad_arguments_naming_them(void **state)
{
	static const struct {
		const char *line, *needle;
	} cases[] = {
		{"create svtap0", "unknown verb 'create'"},
		{"add", "usage"},
		{"add sv/tap", "not an interface name"},
		{"add svaaaaaaaaaaaaaaaaaa", "not an interface name"},
		{"add svtap0 --mtu 10", "--mtu: '10'"},
		{"add svtap0 --mtu", "--mtu: ''"},
		{"add svtap0 --queues 17", "--queues: '17'"},
		{"add svtap0 --bridge a;b", "--bridge: 'a;b'"},
		{"add svtap0 --frobnicate", "unknown option '--frobnicate'"},
		{"del svtap0 --mtu 1500", "takes no options"},
		{"set svtap0 --queues 2", "unknown option '--queues'"},
		{"set svtap0 --bridge br0 --nobridge", "exclude each other"},
	};
	struct netctl_req r;
	struct errmsg e;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(parse(cases[i].line, &r, &e), -EINVAL);
		if (!strstr(e.text, cases[i].needle))
			fail_msg("'%s': message '%s' lacks '%s'", cases[i].line, e.text,
				 cases[i].needle);
	}
}

static void test_netctl_up_and_down_verbs_set_state(void **state)
{
	struct netctl_req r;
	struct errmsg e;

	assert_int_equal(parse("up svtap0", &r, &e), 0);
	assert_int_equal(r.up, 1);
	assert_int_equal(parse("down svtap0", &r, &e), 0);
	assert_int_equal(r.up, 0);
	assert_int_equal(parse("add svtap0", &r, &e), 0);
	assert_int_equal(r.up, -1);
	assert_int_equal(r.queues, 1);
}

static void test_netctl_prefix_rule(void **state)
{
	assert_true(netctl_name_allowed("sv", "svtap0"));
	assert_false(netctl_name_allowed("sv", "sv"));
	assert_false(netctl_name_allowed("sv", "eth0"));
	assert_false(netctl_name_allowed("sv", "xsvtap0"));
	assert_false(netctl_name_allowed("", "svtap0"));
	assert_false(netctl_name_allowed("sv", "sv/../x"));
}

static void test_netctl_apply_refuses_names_outside_prefix_before_touching_anything(void **state)
{
	struct netctl_req r;
	struct errmsg e;

	assert_int_equal(parse("del eth0", &r, &e), 0);
	assert_int_equal(netctl_apply(&r, "sv", NULL, 0, &e), -EPERM);
	assert_non_null(strstr(e.text, "eth0: refused"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_netctl_parses_add_with_every_option),
		cmocka_unit_test(test_netctl_refuses_bad_arguments_naming_them),
		cmocka_unit_test(test_netctl_up_and_down_verbs_set_state),
		cmocka_unit_test(test_netctl_prefix_rule),
		cmocka_unit_test(
			test_netctl_apply_refuses_names_outside_prefix_before_touching_anything),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
