/* Unit tests for lib/log: format, levels, file/stderr/tty destinations, whole lines from threads. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"
#include "util.h"

static char tmpdir[64];
static char logpath[128];

__attribute__((noinline)) static char *slurp(const char *path)
{
	char *buf = NULL;

	assert_int_equal(read_file(path, 64 << 20, &buf, NULL), 0);
	return buf;
}

static void assert_matches(const char *text, const char *re)
{
	regex_t r;
	int ret;

	assert_int_equal(regcomp(&r, re, REG_EXTENDED | REG_NEWLINE | REG_NOSUB), 0);
	ret = regexec(&r, text, 0, NULL, 0);
	regfree(&r);
	if (ret)
		fail_msg("\"%s\" does not match /%s/", text, re);
}

static int fresh_log(void **state)
{
	snprintf(logpath, sizeof(logpath), "%s/log.%d", tmpdir, rand());
	return log_init("logtest", logpath, LOG_LVL_INFO);
}

static int close_log(void **state)
{
	log_close();
	return 0;
}

static void test_log_file_lines_have_timestamp_prog_pid_and_level(void **state)
{
	char want[128], *text;

	log_warn("disk %s is %d%% full", "vda", 93);
	text = slurp(logpath);
	snprintf(want, sizeof(want),
		 "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z "
		 "logtest\\[%d\\]: "
		 "warn: disk vda is 93%% full\n$",
		 (int)getpid());
	assert_matches(text, want);
	assert_null(strchr(text, '\033'));
	free(text);
}

static void test_log_filters_by_level(void **state)
{
	char *text;

	log_debug("hidden");
	log_info("shown-info");
	log_set_level(LOG_LVL_ERROR);
	assert_int_equal(log_get_level(), LOG_LVL_ERROR);
	log_warn("hidden-warn");
	log_error("shown-error");
	log_set_level(LOG_LVL_DEBUG);
	log_debug("shown-debug");
	text = slurp(logpath);
	assert_null(strstr(text, "hidden"));
	assert_non_null(strstr(text, ": info: shown-info\n"));
	assert_non_null(strstr(text, ": error: shown-error\n"));
	assert_non_null(strstr(text, ": debug: shown-debug\n"));
	free(text);
}

static void test_log_never_truncates_long_messages(void **state)
{
	size_t n = 100000;
	char *big = malloc(n + 1), *text, *p;

	assert_non_null(big);
	for (size_t i = 0; i < n; i++)
		big[i] = (char)('a' + i % 26);
	big[n] = '\0';
	log_info("start %s end", big);
	text = slurp(logpath);
	p = strstr(text, ": info: start ");
	assert_non_null(p);
	p += strlen(": info: start ");
	assert_memory_equal(p, big, n);
	assert_string_equal(p + n, " end\n");
	free(text);
	free(big);
}

static void test_log_escapes_control_characters_and_strips_final_newline(void **state)
{
	char *text;

	log_info("peer said \"%s\"\n", "ok\nlogtest[1]: error: forged\r\x1b[2J");
	text = slurp(logpath);
	assert_non_null(strstr(text, ": info: peer said \"ok\\x0alogtest[1]: error: "
				     "forged\\x0d\\x1b[2J\"\n"));
	/* exactly one line */
	assert_ptr_equal(strchr(text, '\n'), text + strlen(text) - 1);
	free(text);
}

static void test_log_preserves_errno(void **state)
{
	errno = ENOSPC;
	log_info("x");
	assert_int_equal(errno, ENOSPC);
	errno = EBADF;
	log_debug("filtered");
	assert_int_equal(errno, EBADF);
}

static void test_log_init_appends_to_existing_file(void **state)
{
	char *text;

	log_info("first");
	assert_int_equal(log_init("again", logpath, LOG_LVL_INFO), 0);
	log_info("second");
	text = slurp(logpath);
	assert_non_null(strstr(text, "logtest["));
	assert_non_null(strstr(text, ": info: first\n"));
	assert_non_null(strstr(text, "again["));
	assert_non_null(strstr(text, ": info: second\n"));
	free(text);
}

static void test_log_init_failure_keeps_previous_destination(void **state)
{
	char bad[160], *text;

	snprintf(bad, sizeof(bad), "%s/no/such/dir/log", tmpdir);
	assert_int_equal(log_init("other", bad, LOG_LVL_DEBUG), -ENOENT);
	assert_int_equal(log_init("other", tmpdir, LOG_LVL_DEBUG), -EISDIR);
	log_info("still here");
	text = slurp(logpath);
	assert_non_null(strstr(text, "logtest["));
	assert_non_null(strstr(text, ": info: still here\n"));
	free(text);
}

static void test_log_uses_basename_of_program(void **state)
{
	char *text;

	assert_int_equal(log_init("/usr/sbin/udsproxyd", logpath, LOG_LVL_INFO), 0);
	log_info("named");
	text = slurp(logpath);
	assert_non_null(strstr(text, " udsproxyd["));
	assert_null(strstr(text, "/usr/sbin"));
	free(text);
}

#define THREADS 4
#define LINES	500
#define PAYLOAD 3000

static void *log_many(void *arg)
{
	char payload[PAYLOAD + 1];
	long id = (long)arg;

	memset(payload, (int)('A' + id), PAYLOAD);
	payload[PAYLOAD] = '\0';
	for (int i = 0; i < LINES; i++)
		log_info("t%ld n%d %s", id, i, payload);
	return NULL;
}

static void test_log_lines_from_threads_never_interleave(void **state)
{
	int seen[THREADS] = {0};
	pthread_t th[THREADS];
	char *text, *line, *save = NULL;
	int lines = 0;

	for (long i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, log_many, (void *)i), 0);
	for (int i = 0; i < THREADS; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
	text = slurp(logpath);
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *p = strstr(line, ": info: t");
		long id;
		int n, off = 0;

		assert_non_null(p);
		assert_int_equal(sscanf(p, ": info: t%ld n%d %n", &id, &n, &off), 2);
		assert_true(id >= 0 && id < THREADS);
		assert_int_equal(n, seen[id]); /* each thread's lines in order, none lost */
		seen[id]++;
		p += off;
		assert_int_equal(strlen(p), PAYLOAD);
		for (int k = 0; k < PAYLOAD; k++)
			if (p[k] != (char)('A' + id))
				fail_msg("line %d of thread %ld is mixed with another", n, id);
		lines++;
	}
	assert_int_equal(lines, THREADS * LINES);
	free(text);
}

static _Atomic bool spin_stop;

static void *log_spin(void *arg)
{
	while (!spin_stop)
		log_info("spinning %s", "background line");
	return NULL;
}

/* Waits up to 10 s for pid; a child stuck on the log lock is killed and reported. */
static int wait_child(pid_t pid)
{
	int status;

	for (int i = 0; i < 1000; i++) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -1;
}

static void test_log_child_can_log_after_fork_while_threads_log(void **state)
{
	pthread_t th[2];
	int stuck = 0;

	/* The spinners write hundreds of MB a second: send it all to /dev/null. A child
	 * stuck on a lock copied in the locked state never exits; that is what we detect. */
	assert_int_equal(log_init("logtest", "/dev/null", LOG_LVL_INFO), 0);
	spin_stop = false;
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&th[i], NULL, log_spin, NULL), 0);
	for (int i = 0; i < 100; i++) {
		pid_t pid = fork();

		assert_true(pid >= 0);
		if (pid == 0) {
			log_info("child %d", i);
			_exit(0);
		}
		if (wait_child(pid) != 0) {
			stuck++;
			break;
		}
	}
	spin_stop = true;
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
	assert_int_equal(stuck, 0);
}

/* Runs fn with fd 2 pointed at `fd`, restoring stderr afterwards. */
static void with_stderr(int fd, void (*fn)(void))
{
	int saved = dup(STDERR_FILENO);

	assert_true(saved >= 0);
	assert_int_equal(dup2(fd, STDERR_FILENO), STDERR_FILENO);
	fn();
	assert_int_equal(dup2(saved, STDERR_FILENO), STDERR_FILENO);
	close(saved);
}

static void log_to_stderr(void)
{
	assert_int_equal(log_init("errtest", NULL, LOG_LVL_INFO), 0);
	log_error("plain %d", 1);
	log_close();
}

static void test_log_to_stderr_has_no_timestamp_and_no_colour_when_not_a_tty(void **state)
{
	char path[160], want[128], *text;
	int fd;

	snprintf(path, sizeof(path), "%s/stderr.out", tmpdir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	with_stderr(fd, log_to_stderr);
	close(fd);
	text = slurp(path);
	snprintf(want, sizeof(want), "^errtest\\[%d\\]: error: plain 1\n$", (int)getpid());
	assert_matches(text, want);
	free(text);
}

static void test_log_to_journald_stream_adds_priority_prefix(void **state)
{
	char path[160], env[64], want[160], *text;
	struct stat st;
	int fd;

	snprintf(path, sizeof(path), "%s/journal.out", tmpdir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	/* what systemd exports when a unit's stderr is connected to journald */
	snprintf(env, sizeof(env), "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", env, 1);
	with_stderr(fd, log_to_stderr);
	/* a stream that is not ours (another inode) gets no prefix */
	snprintf(env, sizeof(env), "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino + 1);
	setenv("JOURNAL_STREAM", env, 1);
	with_stderr(fd, log_to_stderr);
	setenv("JOURNAL_STREAM", "garbage", 1);
	with_stderr(fd, log_to_stderr);
	unsetenv("JOURNAL_STREAM");
	close(fd);
	text = slurp(path);
	snprintf(want, sizeof(want),
		 "^<3>errtest\\[%d\\]: error: plain 1\n"
		 "errtest\\[%d\\]: error: plain 1\n"
		 "errtest\\[%d\\]: error: plain 1\n$",
		 (int)getpid(), (int)getpid(), (int)getpid());
	assert_matches(text, want);
	free(text);
}

/* Everything readable from a pty master within a short while. */
static size_t drain_pty(int master, char *buf, size_t n)
{
	struct pollfd pfd = {.fd = master, .events = POLLIN};
	size_t got = 0;

	while (got < n - 1 && poll(&pfd, 1, 200) > 0) {
		ssize_t r = read(master, buf + got, n - 1 - got);

		if (r <= 0)
			break;
		got += (size_t)r;
	}
	buf[got] = '\0';
	return got;
}

static int open_pty(int *slave)
{
	int master = posix_openpt(O_RDWR | O_NOCTTY);

	if (master < 0 || grantpt(master) || unlockpt(master))
		return -1;
	*slave = open(ptsname(master), O_RDWR | O_NOCTTY);
	return *slave < 0 ? -1 : master;
}

static void test_log_to_a_tty_is_coloured_unless_no_color(void **state)
{
	char buf[512];
	int master, slave = -1;

	master = open_pty(&slave);
	if (master < 0)
		skip();
	unsetenv("NO_COLOR");
	with_stderr(slave, log_to_stderr);
	drain_pty(master, buf, sizeof(buf));
	assert_non_null(strstr(buf, "errtest["));
	assert_non_null(strstr(buf, "\033[1;31merror\033[0m: plain 1"));

	setenv("NO_COLOR", "1", 1);
	with_stderr(slave, log_to_stderr);
	unsetenv("NO_COLOR");
	drain_pty(master, buf, sizeof(buf));
	assert_non_null(strstr(buf, ": error: plain 1"));
	assert_null(strchr(buf, '\033'));
	close(slave);
	close(master);
}

static void test_log_level_parse_knows_the_names(void **state)
{
	enum log_level l;

	assert_int_equal(log_level_parse("error", &l), 0);
	assert_int_equal(l, LOG_LVL_ERROR);
	assert_int_equal(log_level_parse("WARN", &l), 0);
	assert_int_equal(l, LOG_LVL_WARN);
	assert_int_equal(log_level_parse("warning", &l), 0);
	assert_int_equal(l, LOG_LVL_WARN);
	assert_int_equal(log_level_parse("Info", &l), 0);
	assert_int_equal(l, LOG_LVL_INFO);
	assert_int_equal(log_level_parse("debug", &l), 0);
	assert_int_equal(l, LOG_LVL_DEBUG);
	assert_int_equal(log_level_parse("trace", &l), 0);
	assert_int_equal(l, LOG_LVL_DEBUG);
	assert_int_equal(log_level_parse("", &l), -EINVAL);
	assert_int_equal(log_level_parse("verbose", &l), -EINVAL);
	assert_int_equal(log_level_parse("info ", &l), -EINVAL);
	assert_int_equal(log_level_parse(NULL, &l), -EINVAL);
}

static void test_log_level_from_env_reads_the_variable(void **state)
{
	log_set_level(LOG_LVL_WARN);
	unsetenv("SV_TEST_LOG_LEVEL");
	assert_int_equal(log_level_from_env("SV_TEST_LOG_LEVEL"), 0);
	assert_int_equal(log_get_level(), LOG_LVL_WARN);
	setenv("SV_TEST_LOG_LEVEL", "debug", 1);
	assert_int_equal(log_level_from_env("SV_TEST_LOG_LEVEL"), 0);
	assert_int_equal(log_get_level(), LOG_LVL_DEBUG);
	setenv("SV_TEST_LOG_LEVEL", "loud", 1);
	assert_int_equal(log_level_from_env("SV_TEST_LOG_LEVEL"), -EINVAL);
	assert_int_equal(log_get_level(), LOG_LVL_DEBUG);
	unsetenv("SV_TEST_LOG_LEVEL");
}

static int setup_tmpdir(void **state)
{
	strcpy(tmpdir, "/tmp/log_test.XXXXXX");
	srand((unsigned)getpid());
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_tmpdir(void **state)
{
	char cmd[128];

	log_close();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

#define FILE_TEST(t) cmocka_unit_test_setup_teardown(t, fresh_log, close_log)

/* Parses argv with "D::" as the daemons do and returns what log_file_optarg gave. */
static const char *parse_D(int argc, char **argv, int *rest)
{
	static const struct option opts[] = {{"log", optional_argument, NULL, 'D'}, {0}};
	const char *file = "(no -D)";
	int opt;

	optind = 0;
	while ((opt = getopt_long(argc, argv, "D::x", opts, NULL)) != -1)
		if (opt == 'D')
			file = log_file_optarg(argc, argv);
	*rest = optind;
	return file ? file : "(stderr)";
}

static void test_log_file_optarg_takes_the_file_in_every_form(void **state)
{
	char *a1[] = {"d", "-D", "/tmp/l", "-x", NULL};
	char *a2[] = {"d", "-D/tmp/l", NULL};
	char *a3[] = {"d", "--log=/tmp/l", NULL};
	char *a4[] = {"d", "-D", "-x", NULL};
	char *a5[] = {"d", "-D", NULL};
	int rest;

	assert_string_equal(parse_D(4, a1, &rest), "/tmp/l");
	assert_int_equal(rest, 4);
	assert_string_equal(parse_D(2, a2, &rest), "/tmp/l");
	assert_string_equal(parse_D(2, a3, &rest), "/tmp/l");
	/* a following option is not a file: log to stderr */
	assert_string_equal(parse_D(3, a4, &rest), "(stderr)");
	assert_int_equal(rest, 3);
	assert_string_equal(parse_D(2, a5, &rest), "(stderr)");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		FILE_TEST(test_log_file_lines_have_timestamp_prog_pid_and_level),
		FILE_TEST(test_log_filters_by_level),
		FILE_TEST(test_log_never_truncates_long_messages),
		FILE_TEST(test_log_escapes_control_characters_and_strips_final_newline),
		FILE_TEST(test_log_preserves_errno),
		FILE_TEST(test_log_init_appends_to_existing_file),
		FILE_TEST(test_log_init_failure_keeps_previous_destination),
		FILE_TEST(test_log_uses_basename_of_program),
		FILE_TEST(test_log_lines_from_threads_never_interleave),
		FILE_TEST(test_log_child_can_log_after_fork_while_threads_log),
		cmocka_unit_test(test_log_to_stderr_has_no_timestamp_and_no_colour_when_not_a_tty),
		cmocka_unit_test(test_log_to_journald_stream_adds_priority_prefix),
		cmocka_unit_test(test_log_to_a_tty_is_coloured_unless_no_color),
		cmocka_unit_test(test_log_level_parse_knows_the_names),
		cmocka_unit_test(test_log_level_from_env_reads_the_variable),
		cmocka_unit_test(test_log_file_optarg_takes_the_file_in_every_form),
	};

	return cmocka_run_group_tests_name("log", tests, setup_tmpdir, teardown_tmpdir);
}
