/* Unit tests for dpu-agent/store.c: atomic definition files, state, autostart, listing. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
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

#include "dpu-agent/store.h"
#include "util.h"

struct fixture {
	char dir[64];
	struct store s;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct errmsg e;

	strcpy(f->dir, "/tmp/dpud_store_test.XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	strcat(f->dir, "/domains");
	if (store_open(&f->s, f->dir, &e))
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	store_close(&f->s);
	*strrchr(f->dir, '/') = '\0';
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static struct domain_def *mkdom(const char *name)
{
	char xml[512];
	struct domain_def *d = NULL;
	struct errmsg e;

	snprintf(xml, sizeof(xml),
		 "<domain type='kvm'><name>%s</name><memory unit='MiB'>128</memory>"
		 "<os><type>hvm</type><kernel>/k</kernel></os></domain>",
		 name);
	if (domain_parse(xml, strlen(xml), &d, NULL, &e))
		fail_msg("%s", e.text);
	return d;
}

static size_t count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static void test_store_saves_and_loads_a_definition(void **state)
{
	struct fixture *f = *state;
	struct domain_def *d = mkdom("web1"), *l = NULL;
	struct errmsg e;
	struct stat st;
	char path[128];

	assert_int_equal(store_save_def(&f->s, d, &e), 0);
	snprintf(path, sizeof(path), "%s/web1.xml", f->dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(count_entries(f->dir), 1); /* no temporary file left */
	assert_int_equal(store_load_def(&f->s, "web1", &l, &e), 0);
	assert_memory_equal(l->uuid, d->uuid, 16);
	domain_free(d);
	domain_free(l);
}

static void test_store_replaces_a_definition_atomically(void **state)
{
	struct fixture *f = *state;
	char path[128];
	char *buf;
	size_t len;

	assert_int_equal(store_write_file(&f->s, "x.xml", "old", 3), 0);
	assert_int_equal(store_write_file(&f->s, "x.xml", "newer", 5), 0);
	snprintf(path, sizeof(path), "%s/x.xml", f->dir);
	assert_int_equal(read_file(path, 100, &buf, &len), 0);
	assert_string_equal(buf, "newer");
	free(buf);
	assert_int_equal(count_entries(f->dir), 1);
}

static void test_store_load_reports_a_corrupt_file_by_name(void **state)
{
	struct fixture *f = *state;
	struct domain_def *d = NULL;
	struct errmsg e;

	assert_int_equal(store_write_file(&f->s, "bad.xml", "<domain", 7), 0);
	assert_int_equal(store_load_def(&f->s, "bad", &d, &e), -EINVAL);
	assert_non_null(strstr(e.text, "bad.xml"));
	assert_null(d);
	assert_int_equal(store_load_def(&f->s, "absent", &d, &e), -ENOENT);
}

static void test_store_load_refuses_a_file_holding_another_name(void **state)
{
	struct fixture *f = *state;
	struct domain_def *d = mkdom("other"), *l = NULL;
	struct errmsg e;
	char *xml = domain_format(d);

	assert_int_equal(store_write_file(&f->s, "mine.xml", xml, strlen(xml)), 0);
	assert_int_equal(store_load_def(&f->s, "mine", &l, &e), -EINVAL);
	assert_non_null(strstr(e.text, "holds domain 'other'"));
	free(xml);
	domain_free(d);
}

static void test_store_state_round_trips_and_defaults_to_shut_off(void **state)
{
	struct fixture *f = *state;
	struct store_state st = {
		.state = DOM_ST_RUNNING, .id = 7, .pid = 4242, .started_ms = 123456789};
	struct store_state got;

	store_load_state(&f->s, "nothing", &got);
	assert_int_equal(got.state, DOM_ST_SHUTOFF);
	assert_int_equal(got.id, -1);
	strcpy(st.reason, "booted");
	assert_int_equal(store_save_state(&f->s, "web1", &st), 0);
	store_load_state(&f->s, "web1", &got);
	assert_int_equal(got.state, DOM_ST_RUNNING);
	assert_string_equal(got.reason, "booted");
	assert_int_equal(got.id, 7);
	assert_int_equal(got.pid, 4242);
	assert_int_equal(got.started_ms, 123456789);
	/* Garbage values are ignored, not trusted. */
	assert_int_equal(store_write_file(&f->s, "g.state", "state=99\nid=-5\npid=x\n", 21), 0);
	store_load_state(&f->s, "g", &got);
	assert_int_equal(got.state, DOM_ST_SHUTOFF);
	assert_int_equal(got.id, -1);
	assert_int_equal(got.pid, 0);
}

static void test_store_autostart_mark(void **state)
{
	struct fixture *f = *state;

	assert_false(store_get_autostart(&f->s, "web1"));
	assert_int_equal(store_set_autostart(&f->s, "web1", true), 0);
	assert_true(store_get_autostart(&f->s, "web1"));
	assert_int_equal(store_set_autostart(&f->s, "web1", false), 0);
	assert_false(store_get_autostart(&f->s, "web1"));
	assert_int_equal(store_set_autostart(&f->s, "web1", false), 0);
}

static void test_store_remove_leaves_nothing_behind(void **state)
{
	struct fixture *f = *state;
	struct domain_def *d = mkdom("gone");
	struct store_state st = {.state = DOM_ST_SHUTOFF, .id = -1};
	struct errmsg e;

	assert_int_equal(store_save_def(&f->s, d, &e), 0);
	assert_int_equal(store_save_state(&f->s, "gone", &st), 0);
	assert_int_equal(store_set_autostart(&f->s, "gone", true), 0);
	assert_int_equal(count_entries(f->dir), 3);
	assert_int_equal(store_remove(&f->s, "gone"), 0);
	assert_int_equal(count_entries(f->dir), 0);
	domain_free(d);
}

struct seen {
	char names[8][64];
	size_t n;
	size_t bad;
};

static void each(const char *name, void *arg)
{
	struct seen *s = arg;

	if (s->n < 8)
		strcpy(s->names[s->n++], name);
}

static void bad(const char *file, const char *why, void *arg)
{
	((struct seen *)arg)->bad++;
}

static void test_store_lists_in_name_order_and_cleans_temporaries(void **state)
{
	struct fixture *f = *state;
	struct seen s = {0};
	const char *names[] = {"c", "a", "b"};
	struct errmsg e;
	char path[128];
	int fd;

	for (size_t i = 0; i < 3; i++) {
		struct domain_def *d = mkdom(names[i]);
		assert_int_equal(store_save_def(&f->s, d, &e), 0);
		domain_free(d);
	}
	snprintf(path, sizeof(path), "%s/.a.xml.tmp1.0", f->dir);
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(store_write_file(&f->s, "bad name!.xml", "x", 1), 0);
	assert_int_equal(store_write_file(&f->s, "notes.txt", "x", 1), 0);
	assert_int_equal(store_list(&f->s, each, bad, &s), 0);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.names[0], "a");
	assert_string_equal(s.names[1], "b");
	assert_string_equal(s.names[2], "c");
	assert_int_equal(s.bad, 1);
	assert_int_not_equal(access(path, F_OK), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_store_saves_and_loads_a_definition, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_store_replaces_a_definition_atomically, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_store_load_reports_a_corrupt_file_by_name,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_load_refuses_a_file_holding_another_name,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_store_state_round_trips_and_defaults_to_shut_off, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_autostart_mark, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_remove_leaves_nothing_behind, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_store_lists_in_name_order_and_cleans_temporaries, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
