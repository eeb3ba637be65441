/* Unit tests for host-agent/supervise.c with real child processes: start, restart, backoff, stop. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "host-agent/supervise.h"
#include "util.h"

static void poll_for(struct sup *s, int ms)
{
	uint64_t end = now_ms() + (uint64_t)ms;

	while (now_ms() < end) {
		sup_poll(s);
		usleep(10000);
	}
}

static void test_sup_split_handles_quotes(void **state)
{
	char *argv[8];
	struct errmsg e;

	assert_int_equal(sup_split("/bin/sh -c 'echo a  b' \"x\"''y", argv, 7, &e), 0);
	assert_string_equal(argv[0], "/bin/sh");
	assert_string_equal(argv[2], "echo a  b");
	assert_string_equal(argv[3], "xy");
	assert_null(argv[4]);
	for (int i = 0; argv[i]; i++)
		free(argv[i]);
	assert_int_equal(sup_split("   ", argv, 7, &e), -EINVAL);
	assert_int_equal(sup_split("a b c d", argv, 3, &e), -EINVAL);
	assert_non_null(strstr(e.text, "more than 3 words"));
}

static void test_sup_restarts_a_killed_child_with_growing_backoff(void **state)
{
	struct sup s;
	struct errmsg e;
	pid_t first, second;

	sup_init(&s);
	s.backoff_min_ms = 50;
	assert_int_equal(sup_add(&s, "sleeper", "/bin/sleep 30", NULL, &e), 0);
	sup_poll(&s);
	first = s.c[0].pid;
	assert_true(first > 0);
	assert_int_equal(kill(first, SIGKILL), 0);
	poll_for(&s, 20);
	/* Reaped, and not restarted before the backoff. */
	assert_int_equal(s.c[0].restarts, 1);
	poll_for(&s, 150);
	second = s.c[0].pid;
	assert_true(second > 0);
	assert_int_not_equal(second, first);
	assert_int_equal(s.c[0].backoff_ms, 100);
	assert_int_equal(kill(second, SIGKILL), 0);
	poll_for(&s, 50);
	assert_int_equal(s.c[0].pid, 0); /* backoff now 100 ms */
	poll_for(&s, 200);
	assert_true(s.c[0].pid > 0);
	assert_int_equal(s.c[0].restarts, 2);
	sup_stop_all(&s, 1000);
	assert_int_equal(s.c[0].pid, 0);
	sup_free(&s);
}

static void test_sup_stop_kills_a_child_ignoring_sigterm(void **state)
{
	struct sup s;
	struct errmsg e;
	pid_t pid;

	sup_init(&s);
	assert_int_equal(sup_add(&s, "stubborn",
				 "/bin/sh -c 'trap \"\" TERM; while :; do sleep 0.05; done'", NULL,
				 &e),
			 0);
	sup_poll(&s);
	pid = s.c[0].pid;
	usleep(100000);
	sup_stop_all(&s, 200);
	assert_int_equal(s.c[0].pid, 0);
	assert_int_equal(kill(pid, 0), -1);
	sup_free(&s);
}

static void test_sup_wait_ready_sees_the_ready_path(void **state)
{
	struct sup s;
	struct errmsg e;
	char path[64], cmd[160];

	snprintf(path, sizeof(path), "/tmp/sup_ready.%d", (int)getpid());
	unlink(path);
	snprintf(cmd, sizeof(cmd), "/bin/sh -c 'sleep 0.1; touch %s; exec sleep 30'", path);
	sup_init(&s);
	assert_int_equal(sup_add(&s, "r", cmd, path, &e), 0);
	assert_int_equal(sup_wait_ready(&s, 5000), 0);
	assert_int_equal(access(path, F_OK), 0);
	sup_stop_all(&s, 1000);
	unlink(path);
	sup_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sup_split_handles_quotes),
		cmocka_unit_test(test_sup_restarts_a_killed_child_with_growing_backoff),
		cmocka_unit_test(test_sup_stop_kills_a_child_ignoring_sigterm),
		cmocka_unit_test(test_sup_wait_ready_sees_the_ready_path),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
