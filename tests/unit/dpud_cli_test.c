/* Unit tests for dpu-agent/cli_fmt.c: the virsh-shaped output of list, dominfo, domstate. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dpu-agent/cli_fmt.h"

static char *render(void (*fn)(FILE *, json_object *, bool), const char *json, bool flag)
{
	json_object *o = json_tokener_parse(json);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(o);
	fn(f, o, flag);
	fclose(f);
	json_object_put(o);
	return buf;
}

static void dominfo(FILE *f, json_object *o, bool flag)
{
	cli_fmt_dominfo(f, o);
}

static void test_cli_list_matches_virsh_table(void **state)
{
	char *out = render(
		cli_fmt_list,
		"{\"domains\":[{\"id\":39,\"name\":\"openEulerVM01\",\"state\":\"running\"},"
		"{\"id\":-1,\"name\":\"openEulerVM03\",\"state\":\"shut off\"}]}",
		false);

	assert_string_equal(out, " Id    Name                           State\n"
				 "----------------------------------------------------\n"
				 " 39    openEulerVM01                  running\n"
				 " -     openEulerVM03                  shut off\n"
				 "\n");
	free(out);
}

static void test_cli_list_empty_and_names(void **state)
{
	char *out = render(cli_fmt_list, "{\"domains\":[]}", false);

	assert_string_equal(out, " Id    Name                           State\n"
				 "----------------------------------------------------\n\n");
	free(out);
	out = render(cli_fmt_list, "{\"domains\":[{\"id\":1,\"name\":\"a\"},{\"name\":\"b\"}]}",
		     true);
	assert_string_equal(out, "a\nb\n\n");
	free(out);
}

static void test_cli_dominfo_matches_virsh(void **state)
{
	char *out = render(
		dominfo,
		"{\"id\":5,\"name\":\"openEulerVM\",\"uuid\":\"ab472210-db8c-4018-9b3e-"
		"fc5319a769f7\",\"os_type\":\"hvm\",\"state\":\"running\",\"vcpus\":4,"
		"\"max_memory_kib\":8388608,\"used_memory_kib\":8388608,\"persistent\":true,"
		"\"autostart\":false}",
		false);

	assert_string_equal(out, "Id:             5\n"
				 "Name:           openEulerVM\n"
				 "UUID:           ab472210-db8c-4018-9b3e-fc5319a769f7\n"
				 "OS Type:        hvm\n"
				 "State:          running\n"
				 "CPU(s):         4\n"
				 "Max memory:     8388608 KiB\n"
				 "Used memory:    8388608 KiB\n"
				 "Persistent:     yes\n"
				 "Autostart:      disable\n"
				 "Managed save:   no\n"
				 "Security model: none\n"
				 "Security DOI:   0\n\n");
	free(out);
}

static void test_cli_domstate_with_and_without_reason(void **state)
{
	char *out = render(cli_fmt_domstate,
			   "{\"state\":\"crashed\",\"reason\":\"emulator exited\"}", true);

	assert_string_equal(out, "crashed (emulator exited)\n\n");
	free(out);
	out = render(cli_fmt_domstate, "{\"state\":\"shut off\",\"reason\":\"destroyed\"}", false);
	assert_string_equal(out, "shut off\n\n");
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cli_list_matches_virsh_table),
		cmocka_unit_test(test_cli_list_empty_and_names),
		cmocka_unit_test(test_cli_dominfo_matches_virsh),
		cmocka_unit_test(test_cli_domstate_with_and_without_reason),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
