/* forbidden_syscall: LD_PRELOAD helper for tests/integration/vmm/seccomp.sh. On SIGUSR2 it
 * makes a syscall splitvm's seccomp allowlist does not contain (sysinfo: harmless, and
 * used by neither libc nor the sanitizer runtimes while splitvm runs), so the test can
 * check that such a call kills the VMM with a log line naming it. Never linked into splitvm. */
#include <signal.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <unistd.h>

static void forbidden(int sig)
{
	(void)sig;
	struct sysinfo info;

	syscall(SYS_sysinfo, &info);
}

__attribute__((constructor)) static void install(void)
{
	struct sigaction sa = {.sa_handler = forbidden};

	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR2, &sa, NULL);
}
