/* Unit tests for rexec/registry: pid + start time records survive as files and reject junk. */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "rexec/registry.h"

static char dir[64];

static int setup(void **state)
{
	strcpy(dir, "/tmp/rexec_reg_XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_start_time_of_a_live_process_is_stable_and_nonzero(void **state)
{
	uint64_t a, b;

	assert_int_equal(rexec_proc_start_time(getpid(), &a), 0);
	assert_int_equal(rexec_proc_start_time(getpid(), &b), 0);
	assert_true(a == b);
	assert_true(a > 0);
	assert_int_equal(rexec_proc_start_time(0x7ffffff0, &a), -ENOENT);
}

static void test_entry_and_exit_round_trip_through_files(void **state)
{
	struct rexec_reg_entry ent = {.pid = getpid(), .detached = true}, got;
	struct rexec_exit x = {.how = REXEC_SIGNALED, .value = 9}, y;
	char sub[PATH_MAX];

	snprintf(sub, sizeof(sub), "%s/procs", dir); /* created on demand */
	assert_int_equal(rexec_proc_start_time(ent.pid, &ent.start_time), 0);
	assert_int_equal(rexec_reg_add(sub, &ent), 0);
	assert_int_equal(rexec_reg_get(sub, ent.pid, &got), 0);
	assert_int_equal(got.pid, ent.pid);
	assert_true(got.start_time == ent.start_time);
	assert_true(got.detached);
	assert_true(rexec_reg_alive(&got));
	assert_int_equal(rexec_reg_get_exit(sub, &got, &y), -ENOENT);
	assert_int_equal(rexec_reg_set_exit(sub, &got, &x), 0);
	assert_int_equal(rexec_reg_get_exit(sub, &got, &y), 0);
	assert_int_equal(y.how, REXEC_SIGNALED);
	assert_int_equal(y.value, 9);
	rexec_reg_remove(sub, ent.pid);
	assert_int_equal(rexec_reg_get(sub, ent.pid, &got), -ENOENT);
}

static void test_a_reused_pid_is_not_the_registered_process(void **state)
{
	struct rexec_reg_entry ent = {.pid = getpid()}, got;
	struct rexec_exit x = {.how = REXEC_EXITED, .value = 3}, y;

	assert_int_equal(rexec_proc_start_time(ent.pid, &ent.start_time), 0);
	ent.start_time += 1; /* as if the pid had been recycled since */
	assert_int_equal(rexec_reg_add(dir, &ent), 0);
	assert_int_equal(rexec_reg_get(dir, ent.pid, &got), 0);
	assert_false(rexec_reg_alive(&got));
	assert_int_equal(rexec_reg_set_exit(dir, &got, &x), 0);
	got.start_time -= 1;
	assert_int_equal(rexec_reg_get_exit(dir, &got, &y), -ENOENT);
	rexec_reg_remove(dir, ent.pid);
}

static void test_dead_child_is_not_alive(void **state)
{
	struct rexec_reg_entry ent = {0};
	int st;
	pid_t pid = fork();

	if (pid == 0) {
		pause();
		_exit(0);
	}
	assert_true(pid > 0);
	ent.pid = pid;
	assert_int_equal(rexec_proc_start_time(pid, &ent.start_time), 0);
	assert_true(rexec_reg_alive(&ent));
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	assert_false(rexec_reg_alive(&ent));
}

static void test_parsers_refuse_malformed_records(void **state)
{
	static const char *const bad_entries[] = {
		"",	   "1 2",   "1 2 3",  "0 5 0",	   "-1 5 0",
		"1 2 0 4", "a b c", "1  2 0", "1 2 0\n\n", "99999999999 1 0",
	};
	static const char *const bad_exits[] = {
		"", "1 0 256 0", "1 1 0 0", "1 1 65 0", "1 2 0 0", "1 0 0 2", "1 0 0", "x 0 0 0",
	};
	struct rexec_reg_entry ent;
	struct rexec_exit x;
	uint64_t start;
	size_t i;

	for (i = 0; i < sizeof(bad_entries) / sizeof(bad_entries[0]); i++)
		assert_int_equal(rexec_reg_parse_entry(bad_entries[i], &ent), -EINVAL);
	for (i = 0; i < sizeof(bad_exits) / sizeof(bad_exits[0]); i++)
		assert_int_equal(rexec_reg_parse_exit(bad_exits[i], &start, &x), -EINVAL);
	assert_int_equal(rexec_reg_parse_entry("12 34 1\n", &ent), 0);
	assert_int_equal(rexec_reg_parse_exit("34 0 255 0\n", &start, &x), 0);
	assert_int_equal(x.value, 255);
}

static void test_prune_forgets_old_records_of_dead_processes_only(void **state)
{
	struct rexec_reg_entry live = {.pid = getpid()}, dead = {0}, fresh = {0}, got;
	struct rexec_exit x = {.how = REXEC_EXITED, .value = 0};
	char sub[PATH_MAX], path[PATH_MAX + 32];
	struct timespec old[2] = {{.tv_sec = 1000}, {.tv_sec = 1000}};
	int st;
	pid_t p1 = fork(), p2;

	if (p1 == 0)
		_exit(0);
	p2 = fork();
	if (p2 == 0)
		_exit(0);
	snprintf(sub, sizeof(sub), "%s/prune", dir);
	assert_int_equal(rexec_proc_start_time(live.pid, &live.start_time), 0);
	dead.pid = p1;
	fresh.pid = p2;
	assert_int_equal(rexec_proc_start_time(p1, &dead.start_time), 0);
	assert_int_equal(rexec_proc_start_time(p2, &fresh.start_time), 0);
	waitpid(p1, &st, 0);
	waitpid(p2, &st, 0);
	assert_int_equal(rexec_reg_add(sub, &live), 0);
	assert_int_equal(rexec_reg_add(sub, &dead), 0);
	assert_int_equal(rexec_reg_add(sub, &fresh), 0);
	assert_int_equal(rexec_reg_set_exit(sub, &dead, &x), 0);
	assert_int_equal(rexec_reg_set_exit(sub, &fresh, &x), 0);
	snprintf(path, sizeof(path), "%s/%d.exit", sub, (int)p1);
	assert_int_equal(utimensat(AT_FDCWD, path, old, 0), 0);
	snprintf(path, sizeof(path), "%s/%d", sub, (int)p1);
	assert_int_equal(utimensat(AT_FDCWD, path, old, 0), 0);
	assert_int_equal(rexec_reg_prune(sub, 60, 60), 1);
	assert_int_equal(rexec_reg_get(sub, p1, &got), -ENOENT);
	assert_int_equal(rexec_reg_get(sub, p2, &got), 0);	 /* its record is recent */
	assert_int_equal(rexec_reg_get(sub, live.pid, &got), 0); /* alive */
	rexec_reg_remove(sub, p2);
	rexec_reg_remove(sub, live.pid);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_start_time_of_a_live_process_is_stable_and_nonzero),
		cmocka_unit_test(test_entry_and_exit_round_trip_through_files),
		cmocka_unit_test(test_a_reused_pid_is_not_the_registered_process),
		cmocka_unit_test(test_dead_child_is_not_alive),
		cmocka_unit_test(test_parsers_refuse_malformed_records),
		cmocka_unit_test(test_prune_forgets_old_records_of_dead_processes_only),
	};

	return cmocka_run_group_tests_name("rexec_registry", tests, setup, teardown);
}
