/* Unit tests for host-agent/hostd_conf.c and whitelist.c: config validation, allowlist block. */
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

#include "host-agent/hostd_conf.h"
#include "host-agent/whitelist.h"
#include "util.h"

static int parse(const char *text, struct hostd_conf *c, struct sup *s, struct errmsg *e)
{
	sup_init(s);
	return hostd_conf_parse(text, strlen(text), "host.conf", c, s, e);
}

static void test_hostd_conf_defaults(void **state)
{
	struct hostd_conf c;
	struct sup s;
	struct errmsg e;

	assert_int_equal(parse("", &c, &s, &e), 0);
	assert_string_equal(c.run_dir, "/run/splitvirt/vms");
	assert_int_equal(c.n_image_dirs, 1);
	assert_string_equal(c.image_dirs[0], "/var/lib/splitvirt/images");
	assert_string_equal(c.whitelist, "/etc/rexec/whitelist");
	assert_string_equal(c.netctl_prefix, "sv");
	assert_int_equal(s.n, 0);
}

static void test_hostd_conf_reads_children(void **state)
{
	struct hostd_conf c;
	struct sup s;
	struct errmsg e;

	assert_int_equal(parse("[hostd]\nimage_dirs = /a /b:/c\n"
			       "[child.qtfsd]\nexec = /usr/sbin/qtfsd --listen 'tls:0.0.0.0:7400' "
			       "-x \"a b\"\n"
			       "ready = /run/qtfsd.ready\n"
			       "[child.rexec_server]\nexec = /usr/sbin/rexec_server\n",
			       &c, &s, &e),
			 0);
	assert_int_equal(c.n_image_dirs, 3);
	assert_string_equal(c.image_dirs[2], "/c");
	assert_int_equal(s.n, 2);
	assert_string_equal(s.c[0].name, "qtfsd");
	assert_string_equal(s.c[0].argv[0], "/usr/sbin/qtfsd");
	assert_string_equal(s.c[0].argv[2], "tls:0.0.0.0:7400");
	assert_string_equal(s.c[0].argv[4], "a b");
	assert_null(s.c[0].argv[5]);
	assert_string_equal(s.c[0].ready_path, "/run/qtfsd.ready");
	sup_free(&s);
}

static void test_hostd_conf_refuses_bad_config_naming_the_line(void **state)
{
	static const struct {
		const char *text, *needle;
	} cases[] = {
		{"[hostd]\nrundir = /x\n", "host.conf:2: [hostd] rundir: unknown key"},
		{"[hostd]\nrun_dir = relative\n",
		 "[hostd] run_dir: 'relative' is not an absolute path"},
		{"[hostd]\nlog_level = loud\n", "log_level: 'loud'"},
		{"[hostd]\nimage_dirs = /a x\n", "image_dirs: 'x'"},
		{"[netctl]\nprefix = averylongprefix\n", "[netctl] prefix"},
		{"[child.a]\nexec = qtfsd\n", "program 'qtfsd' is not an absolute path"},
		{"[child.a]\nexec = /bin/x 'unterminated\n", "unterminated quote"},
		{"[child.a]\nwhat = 1\n", "[child.a] what: unknown key"},
		{"[child.a]\nexec = /bin/true\n[child.a]\nexec = /bin/false\n", "given twice"},
		{"[hostd\n", "host.conf:1"},
	};
	struct hostd_conf c;
	struct sup s;
	struct errmsg e;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		e.text[0] = '\0';
		assert_int_equal(parse(cases[i].text, &c, &s, &e), -EINVAL);
		if (!strstr(e.text, cases[i].needle))
			fail_msg("case %zu: '%s' lacks '%s'", i, e.text, cases[i].needle);
		sup_free(&s);
	}
}

static void test_whitelist_merge_replaces_only_its_block(void **state)
{
	char *a = wl_merge(NULL, "/usr/bin/splitvm sha256=aa\n");
	char *b, *c;

	assert_string_equal(a, WL_BEGIN "\n/usr/bin/splitvm sha256=aa\n" WL_END "\n");
	b = wl_merge("/usr/bin/true\n# admin note\n", "X\n");
	assert_string_equal(b, "/usr/bin/true\n# admin note\n" WL_BEGIN "\nX\n" WL_END "\n");
	c = wl_merge(b, "Y\n");
	assert_string_equal(c, "/usr/bin/true\n# admin note\n" WL_BEGIN "\nY\n" WL_END "\n");
	free(a);
	a = wl_merge("/a\n" WL_BEGIN "\nold\n" WL_END "\n/b", "new\n");
	assert_string_equal(a, "/a\n" WL_BEGIN "\nnew\n" WL_END "\n/b\n");
	free(a);
	free(b);
	free(c);
}

static void test_whitelist_update_pins_hashes_with_mode_0400(void **state)
{
	char dir[] = "/tmp/hostd_wl_test.XXXXXX", file[64], *text;
	struct errmsg e;
	struct stat st;
	size_t len;
	char hex[65];

	assert_non_null(mkdtemp(dir));
	snprintf(file, sizeof(file), "%s/whitelist", dir);
	assert_int_equal(wl_update(file, "/bin/true", "/bin/false", &e), 0);
	assert_int_equal(stat(file, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0400);
	assert_int_equal(read_file(file, 4096, &text, &len), 0);
	assert_int_equal(wl_sha256_file("/bin/true", hex, &e), 0);
	assert_non_null(strstr(text, hex));
	assert_non_null(strstr(text, "/bin/false sha256="));
	assert_non_null(strstr(text, "args=add args=del"));
	free(text);
	/* A missing binary is an error naming it; the file is left as it was. */
	assert_int_equal(wl_update(file, "/nonexistent/splitvm", "/bin/false", &e), -ENOENT);
	assert_non_null(strstr(e.text, "/nonexistent/splitvm"));
	unlink(file);
	rmdir(dir);
}

static void test_whitelist_sha256_matches_known_vector(void **state)
{
	char path[] = "/tmp/hostd_sha.XXXXXX", hex[65];
	struct errmsg e;
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, "abc", 3), 3);
	close(fd);
	assert_int_equal(wl_sha256_file(path, hex, &e), 0);
	assert_string_equal(hex,
			    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hostd_conf_defaults),
		cmocka_unit_test(test_hostd_conf_reads_children),
		cmocka_unit_test(test_hostd_conf_refuses_bad_config_naming_the_line),
		cmocka_unit_test(test_whitelist_merge_replaces_only_its_block),
		cmocka_unit_test(test_whitelist_update_pins_hashes_with_mode_0400),
		cmocka_unit_test(test_whitelist_sha256_matches_known_vector),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
