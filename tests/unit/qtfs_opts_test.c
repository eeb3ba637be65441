/* Unit tests for qtfs-user/client_opts: mount option strings and client.conf. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "qtfs-user/client_opts.h"

static void test_qtfs_opts_parse_every_option(void **state)
{
	struct errmsg e = {{0}};
	struct qc_opts o;

	qc_opts_init(&o);
	assert_int_equal(qc_opts_parse(&o,
				       "server=tls:10.77.0.1:7500,ro,kind=proc,cache=none,"
				       "attr_timeout=2.5,entry_timeout=0,writeback,fifo=remote,"
				       "tls_cert=/c,tls_key=/k,tls_ca=/a,test_mode,allow_other",
				       &e),
			 0);
	assert_string_equal(o.server, "tls:10.77.0.1:7500");
	assert_true(o.ro);
	assert_int_equal(o.kind, QC_KIND_PROC);
	assert_int_equal(o.cache, QC_CACHE_NONE);
	assert_true(o.attr_timeout > 2.4 && o.attr_timeout < 2.6);
	assert_true(o.entry_timeout == 0);
	assert_true(o.writeback && o.fifo_remote && o.test_mode && o.allow_other);
	assert_string_equal(o.tls_ca, "/a");
}

static void test_qtfs_opts_accepts_mount_generic_options(void **state)
{
	struct qc_opts o;

	qc_opts_init(&o);
	assert_int_equal(qc_opts_parse(&o, "rw,defaults,_netdev,noauto,nosuid,nodev", NULL), 0);
	assert_string_equal(o.passthrough, "nosuid,nodev");
}

static void test_qtfs_opts_rejects_unknown_and_bad_values(void **state)
{
	static const char *const bad[] = {
		"bogus",	  "kind=nfs",	       "cache=maybe",	 "attr_timeout=-1",
		"attr_timeout=x", "entry_timeout=1e9", "fifo=sometimes", "ro=yes",
		"server",	  "writeback=1",
	};
	struct errmsg e = {{0}};
	struct qc_opts o;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		qc_opts_init(&o);
		assert_int_equal(qc_opts_parse(&o, bad[i], &e), -EINVAL);
		assert_non_null(strstr(errmsg_str(&e), "-o"));
	}
}

static void test_qtfs_opts_rejects_a_server_too_long(void **state)
{
	char big[600];
	struct qc_opts o;

	memset(big, 'a', sizeof(big));
	memcpy(big, "server=", 7);
	big[sizeof(big) - 1] = 0;
	qc_opts_init(&o);
	assert_int_equal(qc_opts_parse(&o, big, NULL), -EINVAL);
}

/* A client.conf with text in a new file; its name goes to path. */
static void write_conf(char *path, const char *text)
{
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static void test_qtfs_opts_conf_fills_what_is_unset(void **state)
{
	char path[] = "/tmp/qtfs_client_conf_XXXXXX";
	struct errmsg e = {{0}};
	struct qc_opts o;

	write_conf(path, "[client]\nServer=tls:h:1\nTlsCa=/ca\nTestMode=yes\n");
	qc_opts_init(&o);
	assert_int_equal(qc_opts_parse(&o, "server=tcp:x:2", NULL), 0);
	snprintf(o.conf, sizeof(o.conf), "%s", path);
	assert_int_equal(qc_opts_load_conf(&o, &e), 0);
	assert_string_equal(o.server, "tcp:x:2"); /* the option wins */
	assert_string_equal(o.tls_ca, "/ca");
	assert_true(o.test_mode);
	unlink(path);
}

static void test_qtfs_opts_conf_rejects_unknown_keys(void **state)
{
	char path[] = "/tmp/qtfs_client_conf_XXXXXX";
	struct errmsg e = {{0}};
	struct qc_opts o;

	write_conf(path, "[client]\nServr=tls:h:1\n");
	qc_opts_init(&o);
	snprintf(o.conf, sizeof(o.conf), "%s", path);
	assert_int_equal(qc_opts_load_conf(&o, &e), -EINVAL);
	assert_non_null(strstr(errmsg_str(&e), "Servr"));
	unlink(path);
	/* a conf= file that does not exist is an error; the default one may be absent */
	assert_int_equal(qc_opts_load_conf(&o, &e), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_qtfs_opts_parse_every_option),
		cmocka_unit_test(test_qtfs_opts_accepts_mount_generic_options),
		cmocka_unit_test(test_qtfs_opts_rejects_unknown_and_bad_values),
		cmocka_unit_test(test_qtfs_opts_rejects_a_server_too_long),
		cmocka_unit_test(test_qtfs_opts_conf_fills_what_is_unset),
		cmocka_unit_test(test_qtfs_opts_conf_rejects_unknown_keys),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
