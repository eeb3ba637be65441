/* Unit tests for vmm/seccomp: in forked children, allowed syscalls work, a forbidden one is
 * fatal with a log line naming it (or SIGSYS in kill mode), ioctl requests are filtered. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "vmm/seccomp.h"

enum child_action { DO_ALLOWED, DO_SOCKET, DO_BAD_IOCTL, DO_EXTRA, DO_REGISTERED, DO_GETPGID };

/* Runs action in a child under the filter; returns the wait status and the child's log. */
static int run_child(enum vmm_seccomp_action mode, enum child_action act, char *log, size_t len)
{
	const char *const extra[] = {"getpgid", NULL};
	int p[2], status;
	pid_t pid;
	ssize_t n;

	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct vmm_seccomp_opts o = {
			.action = mode, .log_fd = p[1], .extra = act == DO_EXTRA ? extra : NULL};
		struct errmsg e;
		char c = 'x';
		int pp[2];

		close(p[0]);
		if (pipe(pp) < 0)
			syscall(SYS_exit_group, 2);
		if (act == DO_REGISTERED && vmm_seccomp_allow("getpgid"))
			syscall(SYS_exit_group, 6);
		if (vmm_seccomp_install(&o, &e))
			syscall(SYS_exit_group, 3);
		switch (act) {
		case DO_ALLOWED:
			/* the main loop's bread and butter */
			if (write(pp[1], &c, 1) != 1 || read(pp[0], &c, 1) != 1 || getpid() <= 0)
				syscall(SYS_exit_group, 4);
			close(pp[0]);
			break;
		case DO_SOCKET:
			socket(AF_INET, SOCK_STREAM, 0);
			break;
		case DO_BAD_IOCTL:
			ioctl(pp[0], TIOCSTI, "x");
			break;
		case DO_EXTRA:
		case DO_REGISTERED:
		case DO_GETPGID:
			if (syscall(SYS_getpgid, 0) <= 0)
				syscall(SYS_exit_group, 5);
			break;
		}
		syscall(SYS_exit_group, 0);
	}
	close(p[1]);
	n = read(p[0], log, len - 1);
	log[n > 0 ? n : 0] = '\0';
	close(p[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return status;
}

static void test_seccomp_allows_what_the_running_vmm_does(void **state)
{
	char log[256];
	int st = run_child(VMM_SECCOMP_TRAP_LOG, DO_ALLOWED, log, sizeof(log));

	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_string_equal(log, "");
}

static void test_seccomp_forbidden_syscall_is_fatal_and_named(void **state)
{
	char log[256];
	int st = run_child(VMM_SECCOMP_TRAP_LOG, DO_SOCKET, log, sizeof(log));

	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 128 + SIGSYS);
	assert_string_equal(log, "splitvm: seccomp: forbidden syscall socket (41), killing the "
				 "process\n");
}

static void test_seccomp_filters_ioctl_requests(void **state)
{
	char log[256];
	int st = run_child(VMM_SECCOMP_TRAP_LOG, DO_BAD_IOCTL, log, sizeof(log));

	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 128 + SIGSYS);
	assert_non_null(strstr(log, "forbidden syscall ioctl (16)"));
}

static void test_seccomp_kill_mode_dies_of_sigsys(void **state)
{
	char log[256];
	int st = run_child(VMM_SECCOMP_KILL, DO_SOCKET, log, sizeof(log));

	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGSYS);
}

static void test_seccomp_extra_syscalls_are_allowed(void **state)
{
	char log[256];
	int st = run_child(VMM_SECCOMP_TRAP_LOG, DO_EXTRA, log, sizeof(log));

	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

static void test_seccomp_devices_can_register_syscalls_before_install(void **state)
{
	char log[256];
	int st = run_child(VMM_SECCOMP_TRAP_LOG, DO_REGISTERED, log, sizeof(log));

	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	/* without registration the same call is fatal */
	st = run_child(VMM_SECCOMP_TRAP_LOG, DO_GETPGID, log, sizeof(log));
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 128 + SIGSYS);
	assert_non_null(strstr(log, "forbidden syscall getpgid"));
}

static void test_seccomp_allowlist_is_small_and_resolvable(void **state)
{
	const char *const *l = vmm_seccomp_allowlist();
	size_t n = 0;

	while (l[n])
		n++;
	assert_int_equal(n, vmm_seccomp_allowlist_count());
	/* StratoVirt's microvm list has 51; stay well under it */
	assert_true(n < 40);
	/* device additions count once, and not when already in the base list */
	assert_int_equal(vmm_seccomp_allow("io_uring_enter"), 0);
	assert_int_equal(vmm_seccomp_allow("io_uring_enter"), 0);
	assert_int_equal(vmm_seccomp_allow("timerfd_settime"), 0);
	assert_int_equal(vmm_seccomp_total_count(), n + 1);
}

static void test_seccomp_unknown_extra_is_refused(void **state)
{
	const char *const extra[] = {"no_such_syscall", NULL};
	int p[2], status;
	pid_t pid;

	assert_int_equal(pipe(p), 0);
	pid = fork();
	if (pid == 0) {
		struct vmm_seccomp_opts o = {
			.action = VMM_SECCOMP_TRAP_LOG, .log_fd = -1, .extra = extra};
		struct errmsg e;
		int r = vmm_seccomp_install(&o, &e);

		if (write(p[1], errmsg_str(&e), strlen(errmsg_str(&e))) < 0)
			r = 0;
		syscall(SYS_exit_group, r == -EINVAL ? 0 : 1);
	}
	close(p[1]);
	char buf[128] = {0};
	assert_true(read(p[0], buf, sizeof(buf) - 1) > 0);
	close(p[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_string_equal(buf, "unknown syscall 'no_such_syscall'");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seccomp_allows_what_the_running_vmm_does),
		cmocka_unit_test(test_seccomp_forbidden_syscall_is_fatal_and_named),
		cmocka_unit_test(test_seccomp_filters_ioctl_requests),
		cmocka_unit_test(test_seccomp_kill_mode_dies_of_sigsys),
		cmocka_unit_test(test_seccomp_extra_syscalls_are_allowed),
		cmocka_unit_test(test_seccomp_devices_can_register_syscalls_before_install),
		cmocka_unit_test(test_seccomp_allowlist_is_small_and_resolvable),
		cmocka_unit_test(test_seccomp_unknown_extra_is_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
