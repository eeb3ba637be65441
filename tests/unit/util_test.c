/* Unit tests for lib/util: strict parsers, full I/O over real pipes and sockets, files, dirs. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "util.h"

static char tmpdir[64];

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

struct u64_case {
	const char *s;
	int base;
	int ret;
	uint64_t v;
};

static void test_parse_u64_accepts_whole_numbers_only(void **state)
{
	static const struct u64_case cases[] = {
		{"0", 10, 0, 0},
		{"42", 10, 0, 42},
		{"18446744073709551615", 10, 0, UINT64_MAX},
		{"0x1f", 0, 0, 31},
		{"0X1F", 0, 0, 31},
		{"010", 0, 0, 10}, /* never octal */
		{"ff", 16, 0, 255},
		{"0xff", 16, 0, 255},
		{"", 10, -EINVAL, 0},
		{" 1", 10, -EINVAL, 0},
		{"1 ", 10, -EINVAL, 0},
		{"1x", 10, -EINVAL, 0},
		{"+1", 10, -EINVAL, 0},
		{"-1", 10, -EINVAL, 0},
		{"-0", 10, -EINVAL, 0},
		{"0x", 0, -EINVAL, 0},
		{"0x0x1", 0, -EINVAL, 0},
		{"0x-1", 0, -EINVAL, 0},
		{"0x 1", 0, -EINVAL, 0},
		{"ff", 10, -EINVAL, 0},
		{"18446744073709551616", 10, -ERANGE, 0},
		{"99999999999999999999999", 10, -ERANGE, 0},
		{"0x10000000000000000", 0, -ERANGE, 0},
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		uint64_t v = 12345;
		int ret = parse_u64(cases[i].s, cases[i].base, &v);

		if (ret != cases[i].ret)
			fail_msg("parse_u64(\"%s\", %d) = %d, want %d", cases[i].s, cases[i].base,
				 ret, cases[i].ret);
		if (ret == 0 && v != cases[i].v)
			fail_msg("parse_u64(\"%s\") gave %llu", cases[i].s, (unsigned long long)v);
		if (ret != 0 && v != 12345)
			fail_msg("parse_u64(\"%s\") wrote its output on failure", cases[i].s);
	}
	assert_int_equal(parse_u64(NULL, 10, &(uint64_t){0}), -EINVAL);
}

static void test_parse_i64_handles_sign_and_limits(void **state)
{
	int64_t v;

	assert_int_equal(parse_i64("-9223372036854775808", 10, &v), 0);
	assert_true(v == INT64_MIN);
	assert_int_equal(parse_i64("9223372036854775807", 10, &v), 0);
	assert_true(v == INT64_MAX);
	assert_int_equal(parse_i64("-9223372036854775809", 10, &v), -ERANGE);
	assert_int_equal(parse_i64("9223372036854775808", 10, &v), -ERANGE);
	assert_int_equal(parse_i64("-12", 10, &v), 0);
	assert_int_equal(v, -12);
	assert_int_equal(parse_i64("-0x10", 0, &v), 0);
	assert_int_equal(v, -16);
	assert_int_equal(parse_i64("--1", 10, &v), -EINVAL);
	assert_int_equal(parse_i64("- 1", 10, &v), -EINVAL);
	assert_int_equal(parse_i64("-", 10, &v), -EINVAL);
	assert_int_equal(parse_i64("+5", 10, &v), -EINVAL);
	assert_int_equal(parse_i64("", 10, &v), -EINVAL);
	assert_int_equal(parse_i64(" -1", 10, &v), -EINVAL);
}

static void test_parse_u32_rejects_values_above_32_bits(void **state)
{
	uint32_t v;

	assert_int_equal(parse_u32("4294967295", 10, &v), 0);
	assert_true(v == UINT32_MAX);
	assert_int_equal(parse_u32("4294967296", 10, &v), -ERANGE);
	assert_int_equal(parse_u32("0xffffffff", 0, &v), 0);
	assert_int_equal(parse_u32("-1", 10, &v), -EINVAL);
	assert_int_equal(parse_u32("1.5", 10, &v), -EINVAL);
}

struct size_case {
	const char *s;
	uint64_t unit;
	int ret;
	uint64_t v;
};

static void test_parse_size_accepts_units_and_rejects_junk(void **state)
{
	static const struct size_case cases[] = {
		{"0", 1, 0, 0},
		{"512", 1, 0, 512},
		{"512", 1 << 20, 0, 512ull << 20}, /* StratoVirt -m 512 */
		{"512B", 1 << 20, 0, 512},
		{"4k", 1, 0, 4096},
		{"4K", 1, 0, 4096},
		{"4KB", 1, 0, 4096},
		{"4kib", 1, 0, 4096},
		{"2M", 1, 0, 2ull << 20},
		{"2MiB", 1, 0, 2ull << 20},
		{"3G", 1 << 20, 0, 3ull << 30},
		{"1T", 1, 0, 1ull << 40},
		{"16777215T", 1, 0, 16777215ull << 40},
		{"16777216T", 1, -ERANGE, 0},
		{"17179869184G", 1, -ERANGE, 0},
		{"18446744073709551616", 1, -ERANGE, 0},
		{"18446744073709551615", 2, -ERANGE, 0},
		{"", 1, -EINVAL, 0},
		{"K", 1, -EINVAL, 0},
		{" 1K", 1, -EINVAL, 0},
		{"1K ", 1, -EINVAL, 0},
		{"-1K", 1, -EINVAL, 0},
		{"1.5G", 1, -EINVAL, 0},
		{"1P", 1, -EINVAL, 0},
		{"1KX", 1, -EINVAL, 0},
		{"1KBB", 1, -EINVAL, 0},
		{"1iB", 1, -EINVAL, 0},
		{"0x10", 1, -EINVAL, 0},
		{"1", 0, -EINVAL, 0},
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		uint64_t v = 777;
		int ret = parse_size(cases[i].s, cases[i].unit, &v);

		if (ret != cases[i].ret)
			fail_msg("parse_size(\"%s\", %llu) = %d, want %d", cases[i].s,
				 (unsigned long long)cases[i].unit, ret, cases[i].ret);
		if (ret == 0 && v != cases[i].v)
			fail_msg("parse_size(\"%s\") gave %llu", cases[i].s, (unsigned long long)v);
	}
}

static void test_parse_bool_accepts_the_four_spellings(void **state)
{
	static const char *const yes[] = {"1", "on", "true", "yes", "ON", "True", "YES"};
	static const char *const no[] = {"0", "off", "false", "no", "OFF", "False", "No"};
	static const char *const bad[] = {"", "2", "y", "n", "yes ", " on", "enable"};
	bool b;

	for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
		b = false;
		assert_int_equal(parse_bool(yes[i], &b), 0);
		assert_true(b);
	}
	for (size_t i = 0; i < ARRAY_SIZE(no); i++) {
		b = true;
		assert_int_equal(parse_bool(no[i], &b), 0);
		assert_false(b);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		assert_int_equal(parse_bool(bad[i], &b), -EINVAL);
}

#define BIG (4u << 20)

struct pump {
	int fd;
	unsigned char *buf;
	size_t len;
	size_t chunk;
	long delay_ms;
	int ret;
};

/* Reads slowly in small pieces, so the writer meets a full pipe (EAGAIN, short writes). */
static void *slow_reader(void *arg)
{
	struct pump *p = arg;
	size_t got = 0;

	while (got < p->len) {
		ssize_t n = read(p->fd, p->buf + got,
				 p->len - got < p->chunk ? p->len - got : p->chunk);

		if (n <= 0) {
			p->ret = n < 0 ? -errno : -EPIPE;
			return NULL;
		}
		got += (size_t)n;
		if (p->delay_ms && got % (64 * 1024) < (size_t)n)
			sleep_ms(p->delay_ms);
	}
	return NULL;
}

static void *slow_writer(void *arg)
{
	struct pump *p = arg;
	size_t done = 0;

	sleep_ms(p->delay_ms);
	while (done < p->len) {
		size_t n = p->len - done < p->chunk ? p->len - done : p->chunk;
		ssize_t w = write(p->fd, p->buf + done, n);

		if (w < 0) {
			p->ret = -errno;
			return NULL;
		}
		done += (size_t)w;
		if (done % (256 * 1024) < (size_t)w)
			sleep_ms(1);
	}
	return NULL;
}

static void fill_pattern(unsigned char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (unsigned char)(i * 7 + i / 251);
}

static void test_write_full_writes_everything_to_a_nonblocking_pipe(void **state)
{
	unsigned char *src = malloc(BIG), *dst = calloc(1, BIG);
	struct pump p = {0};
	pthread_t th;
	int fds[2];

	assert_non_null(src);
	assert_non_null(dst);
	fill_pattern(src, BIG);
	assert_int_equal(pipe(fds), 0);
	assert_int_equal(fd_set_nonblock(fds[1], true), 0);
	p = (struct pump){.fd = fds[0], .buf = dst, .len = BIG, .chunk = 3000, .delay_ms = 1};
	assert_int_equal(pthread_create(&th, NULL, slow_reader, &p), 0);
	assert_int_equal(write_full(fds[1], src, BIG), 0);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(p.ret, 0);
	assert_memory_equal(src, dst, BIG);
	close(fds[0]);
	close(fds[1]);
	free(src);
	free(dst);
}

static void test_read_full_reads_everything_from_a_nonblocking_pipe(void **state)
{
	unsigned char *src = malloc(BIG), *dst = calloc(1, BIG);
	struct pump p;
	pthread_t th;
	int fds[2];

	assert_non_null(src);
	assert_non_null(dst);
	fill_pattern(src, BIG);
	assert_int_equal(pipe(fds), 0);
	assert_int_equal(fd_set_nonblock(fds[0], true), 0);
	p = (struct pump){.fd = fds[1], .buf = src, .len = BIG, .chunk = 1000, .delay_ms = 5};
	assert_int_equal(pthread_create(&th, NULL, slow_writer, &p), 0);
	assert_int_equal(read_full(fds[0], dst, BIG), 0);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(p.ret, 0);
	assert_memory_equal(src, dst, BIG);
	close(fds[0]);
	close(fds[1]);
	free(src);
	free(dst);
}

static volatile sig_atomic_t alarms;

static void on_alarm(int signo)
{
	alarms++;
}

static void test_read_full_retries_after_eintr(void **state)
{
	struct sigaction sa = {.sa_handler = on_alarm}, old;
	struct itimerval it = {{0, 2000}, {0, 2000}}, off = {0};
	unsigned char src[64 * 1024], dst[sizeof(src)];
	struct pump p;
	pthread_t th;
	sigset_t set;
	int fds[2];

	fill_pattern(src, sizeof(src));
	/* no SA_RESTART: a blocking read() is interrupted with EINTR every 2 ms */
	sigemptyset(&sa.sa_mask);
	assert_int_equal(sigaction(SIGALRM, &sa, &old), 0);
	assert_int_equal(pipe(fds), 0);
	p = (struct pump){
		.fd = fds[1], .buf = src, .len = sizeof(src), .chunk = 512, .delay_ms = 60};
	/* the writer thread must not take the alarms: only the reading thread can see EINTR */
	sigemptyset(&set);
	sigaddset(&set, SIGALRM);
	assert_int_equal(pthread_sigmask(SIG_BLOCK, &set, NULL), 0);
	assert_int_equal(pthread_create(&th, NULL, slow_writer, &p), 0);
	assert_int_equal(pthread_sigmask(SIG_UNBLOCK, &set, NULL), 0);
	alarms = 0;
	assert_int_equal(setitimer(ITIMER_REAL, &it, NULL), 0);
	assert_int_equal(read_full(fds[0], dst, sizeof(dst)), 0);
	assert_int_equal(setitimer(ITIMER_REAL, &off, NULL), 0);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(sigaction(SIGALRM, &old, NULL), 0);
	assert_true(alarms > 0);
	assert_memory_equal(src, dst, sizeof(src));
	close(fds[0]);
	close(fds[1]);
}

static void test_read_full_reports_early_eof_as_epipe(void **state)
{
	char buf[10];
	int fds[2];

	assert_int_equal(pipe(fds), 0);
	assert_int_equal(write(fds[1], "abc", 3), 3);
	close(fds[1]);
	assert_int_equal(read_full(fds[0], buf, sizeof(buf)), -EPIPE);
	close(fds[0]);
	assert_int_equal(read_full(fds[0], buf, 1), -EBADF);
}

static void test_write_full_to_closed_socket_peer_returns_epipe_without_signal(void **state)
{
	char buf[4096] = {0};
	int sv[2], ret = 0;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	close(sv[1]);
	/* SIGPIPE is at its default (terminate): the test survives only if none is raised */
	for (int i = 0; i < 4 && ret == 0; i++)
		ret = write_full(sv[0], buf, sizeof(buf));
	assert_int_equal(ret, -EPIPE);
	close(sv[0]);
}

static void test_write_full_and_read_full_accept_zero_length(void **state)
{
	int fds[2];

	assert_int_equal(pipe(fds), 0);
	assert_int_equal(write_full(fds[1], NULL, 0), 0);
	assert_int_equal(read_full(fds[0], NULL, 0), 0);
	close(fds[0]);
	close(fds[1]);
}

static void write_text(const char *path, const char *text, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write_full(fd, text, len), 0);
	assert_int_equal(close(fd), 0);
}

static void test_read_file_reads_and_nul_terminates(void **state)
{
	char path[128], *buf = NULL;
	size_t len = 0;

	snprintf(path, sizeof(path), "%s/f", tmpdir);
	write_text(path, "hello\0world", 11);
	assert_int_equal(read_file(path, 11, &buf, &len), 0);
	assert_int_equal(len, 11);
	assert_memory_equal(buf, "hello\0world", 12);
	free(buf);
	assert_int_equal(read_file(path, 10, &buf, &len), -EFBIG);
	snprintf(path, sizeof(path), "%s/empty", tmpdir);
	write_text(path, "", 0);
	assert_int_equal(read_file(path, 0, &buf, NULL), 0);
	assert_string_equal(buf, "");
	free(buf);
}

static void test_read_file_reads_files_without_a_size(void **state)
{
	char *buf = NULL;
	size_t len = 0;

	/* procfs reports st_size 0; the content must still come through whole */
	assert_int_equal(read_file("/proc/self/status", 1 << 20, &buf, &len), 0);
	assert_true(len > 100);
	assert_non_null(strstr(buf, "Pid:"));
	assert_int_equal(strlen(buf), len);
	free(buf);
}

static void test_read_file_reports_open_errors(void **state)
{
	char path[128], *buf = NULL;

	snprintf(path, sizeof(path), "%s/missing", tmpdir);
	assert_int_equal(read_file(path, 100, &buf, NULL), -ENOENT);
	assert_int_equal(read_file(tmpdir, 100, &buf, NULL), -EISDIR);
	assert_null(buf);
}

static void test_read_file_handles_sizes_across_buffer_growth(void **state)
{
	static char text[3 * 4096 + 17];
	char path[128], *buf = NULL;
	size_t len;

	memset(text, 'z', sizeof(text));
	snprintf(path, sizeof(path), "%s/grow", tmpdir);
	write_text(path, text, sizeof(text));
	assert_int_equal(read_file(path, sizeof(text), &buf, &len), 0);
	assert_int_equal(len, sizeof(text));
	assert_memory_equal(buf, text, sizeof(text));
	assert_int_equal(buf[len], '\0');
	free(buf);
	assert_int_equal(read_file(path, sizeof(text) - 1, &buf, &len), -EFBIG);
	assert_int_equal(read_file(path, SIZE_MAX, &buf, &len), 0);
	assert_int_equal(len, sizeof(text));
	free(buf);
}

static void test_fd_flags_toggle(void **state)
{
	int fds[2];

	assert_int_equal(pipe(fds), 0);
	assert_int_equal(fd_set_nonblock(fds[0], true), 0);
	assert_true(fcntl(fds[0], F_GETFL) & O_NONBLOCK);
	assert_int_equal(fd_set_nonblock(fds[0], false), 0);
	assert_false(fcntl(fds[0], F_GETFL) & O_NONBLOCK);
	assert_int_equal(fd_set_cloexec(fds[0], true), 0);
	assert_true(fcntl(fds[0], F_GETFD) & FD_CLOEXEC);
	assert_int_equal(fd_set_cloexec(fds[0], false), 0);
	assert_false(fcntl(fds[0], F_GETFD) & FD_CLOEXEC);
	close(fds[0]);
	close(fds[1]);
	assert_int_equal(fd_set_nonblock(fds[0], true), -EBADF);
	assert_int_equal(fd_set_cloexec(fds[0], true), -EBADF);
}

static void test_clocks_are_monotonic_and_consistent(void **state)
{
	uint64_t a = now_ns(), ms = now_ms(), b = now_ns();

	assert_true(b >= a);
	assert_true(ms >= a / 1000000 && ms <= b / 1000000);
}

static void test_str_copy_refuses_what_does_not_fit(void **state)
{
	char buf[8 + 4];

	memset(buf, '#', sizeof(buf));
	assert_int_equal(str_copy(buf, 8, "1234567"), 0);
	assert_string_equal(buf, "1234567");
	memset(buf, '#', sizeof(buf));
	assert_int_equal(str_copy(buf, 8, "12345678"), -ENAMETOOLONG);
	assert_int_equal(buf[0], '\0');
	for (size_t i = 8; i < sizeof(buf); i++)
		assert_int_equal(buf[i], '#');
	assert_int_equal(str_copy(buf, 0, ""), -ENAMETOOLONG);
	assert_int_equal(str_copy(buf, 1, ""), 0);
	assert_string_equal(buf, "");
}

static void test_str_dup_and_has_prefix(void **state)
{
	char *d = str_dup("abc");

	assert_non_null(d);
	assert_string_equal(d, "abc");
	free(d);
	errno = 0;
	assert_null(str_dup(NULL));
	assert_int_equal(errno, EINVAL);
	assert_true(str_has_prefix("unix:/x", "unix:"));
	assert_true(str_has_prefix("unix:", "unix:"));
	assert_true(str_has_prefix("x", ""));
	assert_false(str_has_prefix("uni", "unix:"));
	assert_false(str_has_prefix(NULL, "a"));
}

static void test_mkdir_p_creates_every_component_with_mode(void **state)
{
	char path[256], sub[256];
	struct stat st;
	mode_t old = umask(0);

	snprintf(path, sizeof(path), "%s/a//b/c/", tmpdir);
	assert_int_equal(mkdir_p(path, 0750), 0);
	snprintf(sub, sizeof(sub), "%s/a/b/c", tmpdir);
	assert_int_equal(stat(sub, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0750);
	snprintf(sub, sizeof(sub), "%s/a", tmpdir);
	assert_int_equal(stat(sub, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0750);
	/* existing directories are fine */
	assert_int_equal(mkdir_p(path, 0700), 0);
	assert_int_equal(mkdir_p("/", 0700), 0);
	umask(old);
}

static void test_mkdir_p_refuses_a_file_in_the_way(void **state)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/file", tmpdir);
	write_text(path, "x", 1);
	assert_int_equal(mkdir_p(path, 0700), -ENOTDIR);
	snprintf(path, sizeof(path), "%s/file/sub", tmpdir);
	assert_int_equal(mkdir_p(path, 0700), -ENOTDIR);
	assert_int_equal(mkdir_p("", 0700), -EINVAL);
	assert_int_equal(mkdir_p(NULL, 0700), -EINVAL);
}

static void test_mkdir_p_creates_relative_paths(void **state)
{
	char cwd[256], path[256];
	struct stat st;

	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(tmpdir), 0);
	assert_int_equal(mkdir_p("rel/x", 0700), 0);
	assert_int_equal(chdir(cwd), 0);
	snprintf(path, sizeof(path), "%s/rel/x", tmpdir);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
}

static int setup_tmpdir(void **state)
{
	strcpy(tmpdir, "/tmp/util_test.XXXXXX");
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
		cmocka_unit_test(test_parse_u64_accepts_whole_numbers_only),
		cmocka_unit_test(test_parse_i64_handles_sign_and_limits),
		cmocka_unit_test(test_parse_u32_rejects_values_above_32_bits),
		cmocka_unit_test(test_parse_size_accepts_units_and_rejects_junk),
		cmocka_unit_test(test_parse_bool_accepts_the_four_spellings),
		cmocka_unit_test(test_write_full_writes_everything_to_a_nonblocking_pipe),
		cmocka_unit_test(test_read_full_reads_everything_from_a_nonblocking_pipe),
		cmocka_unit_test(test_read_full_retries_after_eintr),
		cmocka_unit_test(test_read_full_reports_early_eof_as_epipe),
		cmocka_unit_test(
			test_write_full_to_closed_socket_peer_returns_epipe_without_signal),
		cmocka_unit_test(test_write_full_and_read_full_accept_zero_length),
		cmocka_unit_test(test_read_file_reads_and_nul_terminates),
		cmocka_unit_test(test_read_file_reads_files_without_a_size),
		cmocka_unit_test(test_read_file_reports_open_errors),
		cmocka_unit_test(test_read_file_handles_sizes_across_buffer_growth),
		cmocka_unit_test(test_fd_flags_toggle),
		cmocka_unit_test(test_clocks_are_monotonic_and_consistent),
		cmocka_unit_test(test_str_copy_refuses_what_does_not_fit),
		cmocka_unit_test(test_str_dup_and_has_prefix),
		cmocka_unit_test(test_mkdir_p_creates_every_component_with_mode),
		cmocka_unit_test(test_mkdir_p_refuses_a_file_in_the_way),
		cmocka_unit_test(test_mkdir_p_creates_relative_paths),
	};

	return cmocka_run_group_tests_name("util", tests, setup_tmpdir, teardown_tmpdir);
}
