/* Unit tests for lib/config: INI parsing through inih, typed getters, error messages. */
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

#include "config.h"

static struct config *parse(const char *text, struct errmsg *e)
{
	return config_parse(text, strlen(text), "host.conf", e);
}

static void assert_parse_fails(const char *text, int err, const char *msg)
{
	struct errmsg e = {{0}};
	struct config *cfg;

	errno = 0;
	cfg = parse(text, &e);
	assert_null(cfg);
	assert_int_equal(errno, err);
	assert_string_equal(errmsg_str(&e), msg);
}

static void test_config_parses_sections_keys_and_lines(void **state)
{
	struct errmsg e = {{0}};
	const struct config_entry *ent;
	struct config *cfg;

	cfg = parse("# comment\n; other comment\n\n[udsproxy]\nport = 5000\naddr=10.77.0.1\n"
		    "[rexec]\nallow: /etc/rexec/whitelist\n",
		    &e);
	assert_non_null(cfg);
	assert_string_equal(config_name(cfg), "host.conf");
	assert_int_equal(config_count(cfg), 3);
	ent = config_entry_at(cfg, 0);
	assert_string_equal(ent->section, "udsproxy");
	assert_string_equal(ent->key, "port");
	assert_string_equal(ent->value, "5000");
	assert_int_equal(ent->line, 5);
	ent = config_entry_at(cfg, 1);
	assert_string_equal(ent->key, "addr");
	assert_string_equal(ent->value, "10.77.0.1");
	assert_int_equal(ent->line, 6);
	ent = config_entry_at(cfg, 2);
	assert_string_equal(ent->section, "rexec");
	assert_string_equal(ent->key, "allow");
	assert_string_equal(ent->value, "/etc/rexec/whitelist");
	assert_int_equal(ent->line, 8);
	assert_null(config_entry_at(cfg, 3));
	config_free(cfg);
}

static void test_config_keys_before_first_section_have_empty_section(void **state)
{
	struct config *cfg = parse("debug = yes\n[a]\nx = 1\n", NULL);
	const struct config_entry *ent;

	assert_non_null(cfg);
	ent = config_find(cfg, "", "debug");
	assert_non_null(ent);
	assert_string_equal(ent->section, "");
	assert_non_null(config_find(cfg, NULL, "debug"));
	assert_null(config_find(cfg, "a", "debug"));
	config_free(cfg);
}

static void test_config_keeps_repeated_keys_in_order_and_find_returns_last(void **state)
{
	struct config *cfg = parse("[s]\nk = one\nother = x\nk = two\nk = three\n", NULL);
	const struct config_entry *ent;

	assert_non_null(cfg);
	assert_int_equal(config_count(cfg), 4);
	assert_string_equal(config_entry_at(cfg, 0)->value, "one");
	assert_string_equal(config_entry_at(cfg, 2)->value, "two");
	assert_string_equal(config_entry_at(cfg, 3)->value, "three");
	ent = config_find(cfg, "s", "k");
	assert_string_equal(ent->value, "three");
	assert_int_equal(ent->line, 5);
	config_free(cfg);
}

static void test_config_matches_section_and_key_case_sensitively(void **state)
{
	struct config *cfg = parse("[S]\nKey = 1\n", NULL);

	assert_non_null(cfg);
	assert_non_null(config_find(cfg, "S", "Key"));
	assert_null(config_find(cfg, "s", "Key"));
	assert_null(config_find(cfg, "S", "key"));
	config_free(cfg);
}

static void test_config_treats_indented_lines_as_keys_not_continuations(void **state)
{
	struct config *cfg = parse("[s]\n  a = 1\n  b = 2\n\tc = 3\n", NULL);

	assert_non_null(cfg);
	assert_int_equal(config_count(cfg), 3);
	assert_string_equal(config_find(cfg, "s", "a")->value, "1");
	assert_string_equal(config_find(cfg, "s", "b")->value, "2");
	assert_string_equal(config_find(cfg, "s", "c")->value, "3");
	config_free(cfg);
}

static void test_config_rejects_indented_continuation_line(void **state)
{
	assert_parse_fails("[s]\na = 1\n   more text\n", EINVAL,
			   "host.conf:3: expected 'key = value'");
}

static void test_config_strips_inline_comments_and_crlf(void **state)
{
	struct config *cfg = parse("[s]\r\na = x ; note\r\nb = x;y\r\nc = p = q\r\n", NULL);

	assert_non_null(cfg);
	assert_string_equal(config_find(cfg, "s", "a")->value, "x");
	assert_string_equal(config_find(cfg, "s", "b")->value, "x;y");
	assert_string_equal(config_find(cfg, "s", "c")->value, "p = q");
	config_free(cfg);
}

static void test_config_accepts_empty_input_and_empty_value(void **state)
{
	struct config *cfg = config_parse("", 0, "empty.conf", NULL);

	assert_non_null(cfg);
	assert_int_equal(config_count(cfg), 0);
	config_free(cfg);
	cfg = parse("[s]\nk =\n", NULL);
	assert_non_null(cfg);
	assert_string_equal(config_find(cfg, "s", "k")->value, "");
	config_free(cfg);
}

static void test_config_skips_utf8_bom_at_start(void **state)
{
	struct config *cfg = parse("\xef\xbb\xbf[bom]\nx = 1\n", NULL);

	assert_non_null(cfg);
	assert_string_equal(config_entry_at(cfg, 0)->section, "bom");
	config_free(cfg);
	/* the section checks still apply behind a byte-order mark */
	assert_parse_fails("\xef\xbb\xbf[abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz]\n",
			   EINVAL, "host.conf:1: section name longer than 49 characters");
	assert_parse_fails("\xef\xbb\xbf  [s] junk\n", EINVAL,
			   "host.conf:1: unexpected text after section header");
}

/* inih drops one mark at the start of line 1; a second one (or one after blanks) must not
 * let an over-long section header reach inih unchecked, where it would be cut silently. */
static void test_config_refuses_a_misplaced_utf8_bom(void **state)
{
	assert_parse_fails("\xef\xbb\xbf\xef\xbb\xbf[abcdefghijklmnopqrstuvwxyzabcdefghijklmnop"
			   "qrstuvwxyz]\nk=v\n",
			   EINVAL, "host.conf:1: misplaced byte-order mark");
	assert_parse_fails(
		"\t\t\xef\xbb\xbf[abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz]\n", EINVAL,
		"host.conf:1: misplaced byte-order mark");
}

static void test_config_accepts_text_without_final_newline(void **state)
{
	struct config *cfg = config_parse("[s]\nk = v", 9, "x", NULL);

	assert_non_null(cfg);
	assert_string_equal(config_find(cfg, "s", "k")->value, "v");
	config_free(cfg);
}

/* A "k = vvv..." line of exactly n characters. */
static char *line_of(size_t n)
{
	char *s = malloc(n + 16);

	assert_non_null(s);
	memcpy(s, "[s]\nk = ", 8);
	memset(s + 8, 'v', n - 4);
	strcpy(s + 8 + n - 4, "\n");
	return s;
}

static void test_config_accepts_line_of_max_length_whole(void **state)
{
	char *text = line_of(CONFIG_MAX_LINE);
	struct config *cfg = parse(text, NULL);

	assert_non_null(cfg);
	assert_int_equal(strlen(config_find(cfg, "s", "k")->value), CONFIG_MAX_LINE - 4);
	config_free(cfg);
	free(text);
}

static void test_config_rejects_line_longer_than_max(void **state)
{
	char *text = line_of(CONFIG_MAX_LINE + 1);

	assert_parse_fails(text, EINVAL, "host.conf:2: line too long");
	free(text);
}

static void test_config_rejects_very_long_line_instead_of_splitting_it(void **state)
{
	/* 1000 chars: inih alone would read it as 5 lines, the later ones looking like keys. */
	char text[1100];

	strcpy(text, "[s]\nk = ");
	for (int i = 0; i < 110; i++)
		strcat(text, "x = 1234 ");
	strcat(text, "\n");
	assert_true(strlen(text) > 900);
	assert_parse_fails(text, EINVAL, "host.conf:2: line too long");
}

static void test_config_rejects_section_without_closing_bracket(void **state)
{
	assert_parse_fails("a = 1\n[udsproxy\nb = 2\n", EINVAL,
			   "host.conf:2: section header without closing ']'");
}

static void test_config_rejects_line_without_equals(void **state)
{
	assert_parse_fails("[s]\njust words\n", EINVAL, "host.conf:2: expected 'key = value'");
}

static void test_config_rejects_empty_key(void **state)
{
	assert_parse_fails("[s]\n = value\n", EINVAL, "host.conf:2: empty key");
}

static void test_config_rejects_empty_section_name(void **state)
{
	assert_parse_fails("[]\nk = v\n", EINVAL, "host.conf:1: empty section name");
}

static void test_config_rejects_section_name_inih_would_cut(void **state)
{
	char text[128];
	struct config *cfg;

	/* 49 characters fit inih's section buffer... */
	snprintf(text, sizeof(text), "[%.*s]\nk = v\n", 49,
		 "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz");
	cfg = parse(text, NULL);
	assert_non_null(cfg);
	assert_int_equal(strlen(config_entry_at(cfg, 0)->section), 49);
	config_free(cfg);
	/* ...50 would be cut silently, so they are an error. */
	snprintf(text, sizeof(text), "[%.*s]\nk = v\n", 50,
		 "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz");
	assert_parse_fails(text, EINVAL, "host.conf:1: section name longer than 49 characters");
}

static void test_config_rejects_text_after_section_header(void **state)
{
	struct config *cfg;

	assert_parse_fails("[s] x = 1\n", EINVAL,
			   "host.conf:1: unexpected text after section header");
	cfg = parse("[s]   ; comment\n[t] # comment\n", NULL);
	assert_non_null(cfg);
	config_free(cfg);
}

static void test_config_rejects_nul_byte(void **state)
{
	struct errmsg e;
	static const char text[] = "[s]\nk = a\0b\n";

	errno = 0;
	assert_null(config_parse(text, sizeof(text) - 1, "host.conf", &e));
	assert_int_equal(errno, EINVAL);
	assert_string_equal(errmsg_str(&e), "host.conf:2: NUL byte in line");
}

static void test_config_reports_first_error_line(void **state)
{
	char *long_line = line_of(CONFIG_MAX_LINE + 1);
	char text[512];

	/* a syntax error before an over-long line */
	snprintf(text, sizeof(text), "oops\n%s", long_line + 4);
	assert_parse_fails(text, EINVAL, "host.conf:1: expected 'key = value'");
	/* an over-long line before a syntax error */
	snprintf(text, sizeof(text), "%soops\n", long_line);
	assert_parse_fails(text, EINVAL, "host.conf:2: line too long");
	free(long_line);
}

static void test_config_get_int_reports_out_of_range_with_file_line_key(void **state)
{
	struct errmsg e;
	struct config *cfg;
	int64_t v = 7;
	char text[256] = "";

	for (int i = 0; i < 10; i++)
		strcat(text, "# padding\n");
	strcat(text, "[udsproxy]\nport = 70000\n");
	cfg = parse(text, NULL);
	assert_non_null(cfg);
	assert_int_equal(config_get_int(cfg, "udsproxy", "port", 1, 65535, 22, &v, &e), -EINVAL);
	assert_string_equal(errmsg_str(&e),
			    "host.conf:12: [udsproxy] port: 70000 is out of range 1..65535");
	assert_int_equal(v, 7);
	config_free(cfg);
}

static void test_config_get_int_rejects_malformed_and_overflowing_values(void **state)
{
	struct config *cfg = parse("[s]\na = 12x\nb =  \nc = 99999999999999999999\nd = -5\n", NULL);
	struct errmsg e;
	int64_t v;

	assert_non_null(cfg);
	assert_int_equal(config_get_int(cfg, "s", "a", 0, 100, 0, &v, &e), -EINVAL);
	assert_string_equal(errmsg_str(&e), "host.conf:2: [s] a: '12x' is not an integer");
	assert_int_equal(config_get_int(cfg, "s", "b", 0, 100, 0, &v, &e), -EINVAL);
	assert_string_equal(errmsg_str(&e), "host.conf:3: [s] b: '' is not an integer");
	assert_int_equal(config_get_int(cfg, "s", "c", INT64_MIN, INT64_MAX, 0, &v, &e), -EINVAL);
	assert_string_equal(errmsg_str(&e),
			    "host.conf:4: [s] c: 99999999999999999999 is out of range "
			    "-9223372036854775808..9223372036854775807");
	assert_int_equal(config_get_int(cfg, "s", "d", 0, 100, 0, &v, &e), -EINVAL);
	assert_string_equal(errmsg_str(&e), "host.conf:5: [s] d: -5 is out of range 0..100");
	assert_int_equal(config_get_int(cfg, "s", "d", -10, 100, 0, &v, &e), 0);
	assert_int_equal(v, -5);
	config_free(cfg);
}

static void test_config_get_int_accepts_hex_and_uses_default_when_absent(void **state)
{
	struct config *cfg = parse("[s]\nmask = 0x1f\n", NULL);
	int64_t v;

	assert_non_null(cfg);
	assert_int_equal(config_get_int(cfg, "s", "mask", 0, 255, 0, &v, NULL), 0);
	assert_int_equal(v, 31);
	assert_int_equal(config_get_int(cfg, "s", "absent", 0, 255, 42, &v, NULL), 0);
	assert_int_equal(v, 42);
	config_free(cfg);
}

static void test_config_get_int_names_key_without_section_brackets_at_top(void **state)
{
	struct config *cfg = parse("workers = lots\n", NULL);
	struct errmsg e;
	int64_t v;

	assert_non_null(cfg);
	assert_int_equal(config_get_int(cfg, "", "workers", 1, 64, 4, &v, &e), -EINVAL);
	assert_string_equal(errmsg_str(&e), "host.conf:1: workers: 'lots' is not an integer");
	config_free(cfg);
}

static void test_config_get_bool_accepts_all_spellings_and_rejects_others(void **state)
{
	struct config *cfg = parse("[s]\na = yes\nb = off\nc = TRUE\nd = 0\ne = maybe\n", NULL);
	struct errmsg e;
	bool b;

	assert_non_null(cfg);
	assert_int_equal(config_get_bool(cfg, "s", "a", false, &b, &e), 0);
	assert_true(b);
	assert_int_equal(config_get_bool(cfg, "s", "b", true, &b, &e), 0);
	assert_false(b);
	assert_int_equal(config_get_bool(cfg, "s", "c", false, &b, &e), 0);
	assert_true(b);
	assert_int_equal(config_get_bool(cfg, "s", "d", true, &b, &e), 0);
	assert_false(b);
	assert_int_equal(config_get_bool(cfg, "s", "missing", true, &b, &e), 0);
	assert_true(b);
	assert_int_equal(config_get_bool(cfg, "s", "e", true, &b, &e), -EINVAL);
	assert_string_equal(errmsg_str(&e), "host.conf:6: [s] e: 'maybe' is not a boolean "
					    "(true/false, yes/no, on/off, 1/0)");
	config_free(cfg);
}

static void test_config_get_str_returns_value_or_default(void **state)
{
	struct config *cfg = parse("[s]\nname = web 1\n", NULL);
	const char *v;

	assert_non_null(cfg);
	assert_int_equal(config_get_str(cfg, "s", "name", "d", &v, NULL), 0);
	assert_string_equal(v, "web 1");
	assert_int_equal(config_get_str(cfg, "s", "nope", "d", &v, NULL), 0);
	assert_string_equal(v, "d");
	assert_int_equal(config_get_str(cfg, "s", "nope", NULL, &v, NULL), 0);
	assert_null(v);
	config_free(cfg);
}

static void test_config_check_known_accepts_listed_and_wildcard_keys(void **state)
{
	static const char *const known[] = {"verbose", "udsproxy.port", "env.*", NULL};
	struct config *cfg = parse("verbose = 1\n[udsproxy]\nport = 1\n[env]\nA = 1\nB = 2\n",
				   NULL);

	assert_non_null(cfg);
	assert_int_equal(config_check_known(cfg, known, NULL), 0);
	config_free(cfg);
}

static void test_config_check_known_rejects_first_unknown_key(void **state)
{
	static const char *const known[] = {"udsproxy.port", "udsproxy.addr", NULL};
	struct config *cfg = parse("[udsproxy]\nport = 1\nprot = 2\nzzz = 3\n", NULL);
	struct errmsg e;

	assert_non_null(cfg);
	assert_int_equal(config_check_known(cfg, known, &e), -EINVAL);
	assert_string_equal(errmsg_str(&e), "host.conf:3: [udsproxy] prot: unknown key");
	config_free(cfg);
}

static void test_config_check_known_does_not_confuse_section_prefixes(void **state)
{
	static const char *const known[] = {"udsproxy.port", "ud.*", NULL};
	struct config *cfg = parse("[uds]\nport = 1\n", NULL);
	struct errmsg e;

	assert_non_null(cfg);
	assert_int_equal(config_check_known(cfg, known, &e), -EINVAL);
	assert_string_equal(errmsg_str(&e), "host.conf:2: [uds] port: unknown key");
	config_free(cfg);
	cfg = parse("top = 1\n", NULL);
	assert_int_equal(config_check_known(cfg, known, &e), -EINVAL);
	assert_string_equal(errmsg_str(&e), "host.conf:1: top: unknown key");
	config_free(cfg);
}

static char tmpdir[64];

static int setup_tmpdir(void **state)
{
	strcpy(tmpdir, "/tmp/config_test.XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_tmpdir(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static void test_config_load_reads_a_file_and_names_it_in_errors(void **state)
{
	char path[128], expect[256];
	struct config *cfg;
	struct errmsg e;

	snprintf(path, sizeof(path), "%s/good.conf", tmpdir);
	write_text(path, "[s]\nk = v\n");
	cfg = config_load(path, &e);
	assert_non_null(cfg);
	assert_string_equal(config_name(cfg), path);
	assert_string_equal(config_find(cfg, "s", "k")->value, "v");
	config_free(cfg);

	snprintf(path, sizeof(path), "%s/bad.conf", tmpdir);
	write_text(path, "[s]\nk = v\nbroken\n");
	assert_null(config_load(path, &e));
	snprintf(expect, sizeof(expect), "%s:3: expected 'key = value'", path);
	assert_string_equal(errmsg_str(&e), expect);
}

static void test_config_load_missing_file_names_file_and_strerror(void **state)
{
	char path[128], expect[256];
	struct errmsg e;

	snprintf(path, sizeof(path), "%s/nope.conf", tmpdir);
	errno = 0;
	assert_null(config_load(path, &e));
	assert_int_equal(errno, ENOENT);
	snprintf(expect, sizeof(expect), "%s: No such file or directory", path);
	assert_string_equal(errmsg_str(&e), expect);

	errno = 0;
	assert_null(config_load(tmpdir, &e));
	assert_int_equal(errno, EISDIR);
	snprintf(expect, sizeof(expect), "%s: Is a directory", tmpdir);
	assert_string_equal(errmsg_str(&e), expect);
}

static void test_config_load_refuses_huge_file(void **state)
{
	char path[128], expect[256];
	struct errmsg e;
	FILE *f;

	snprintf(path, sizeof(path), "%s/huge.conf", tmpdir);
	f = fopen(path, "w");
	assert_non_null(f);
	for (int i = 0; i < 120000; i++)
		assert_true(fputs("# padding\n", f) >= 0);
	assert_int_equal(fclose(f), 0);
	errno = 0;
	assert_null(config_load(path, &e));
	assert_int_equal(errno, EFBIG);
	snprintf(expect, sizeof(expect), "%s: larger than 1048576 bytes", path);
	assert_string_equal(errmsg_str(&e), expect);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_parses_sections_keys_and_lines),
		cmocka_unit_test(test_config_keys_before_first_section_have_empty_section),
		cmocka_unit_test(test_config_keeps_repeated_keys_in_order_and_find_returns_last),
		cmocka_unit_test(test_config_matches_section_and_key_case_sensitively),
		cmocka_unit_test(test_config_treats_indented_lines_as_keys_not_continuations),
		cmocka_unit_test(test_config_rejects_indented_continuation_line),
		cmocka_unit_test(test_config_strips_inline_comments_and_crlf),
		cmocka_unit_test(test_config_accepts_empty_input_and_empty_value),
		cmocka_unit_test(test_config_skips_utf8_bom_at_start),
		cmocka_unit_test(test_config_refuses_a_misplaced_utf8_bom),
		cmocka_unit_test(test_config_accepts_text_without_final_newline),
		cmocka_unit_test(test_config_accepts_line_of_max_length_whole),
		cmocka_unit_test(test_config_rejects_line_longer_than_max),
		cmocka_unit_test(test_config_rejects_very_long_line_instead_of_splitting_it),
		cmocka_unit_test(test_config_rejects_section_without_closing_bracket),
		cmocka_unit_test(test_config_rejects_line_without_equals),
		cmocka_unit_test(test_config_rejects_empty_key),
		cmocka_unit_test(test_config_rejects_empty_section_name),
		cmocka_unit_test(test_config_rejects_section_name_inih_would_cut),
		cmocka_unit_test(test_config_rejects_text_after_section_header),
		cmocka_unit_test(test_config_rejects_nul_byte),
		cmocka_unit_test(test_config_reports_first_error_line),
		cmocka_unit_test(test_config_get_int_reports_out_of_range_with_file_line_key),
		cmocka_unit_test(test_config_get_int_rejects_malformed_and_overflowing_values),
		cmocka_unit_test(test_config_get_int_accepts_hex_and_uses_default_when_absent),
		cmocka_unit_test(test_config_get_int_names_key_without_section_brackets_at_top),
		cmocka_unit_test(test_config_get_bool_accepts_all_spellings_and_rejects_others),
		cmocka_unit_test(test_config_get_str_returns_value_or_default),
		cmocka_unit_test(test_config_check_known_accepts_listed_and_wildcard_keys),
		cmocka_unit_test(test_config_check_known_rejects_first_unknown_key),
		cmocka_unit_test(test_config_check_known_does_not_confuse_section_prefixes),
		cmocka_unit_test(test_config_load_reads_a_file_and_names_it_in_errors),
		cmocka_unit_test(test_config_load_missing_file_names_file_and_strerror),
		cmocka_unit_test(test_config_load_refuses_huge_file),
	};

	return cmocka_run_group_tests_name("config", tests, setup_tmpdir, teardown_tmpdir);
}
