/*
 * vmm_bench: measures one VMM start-up for tests/bench/vmm.sh.
 *   vmm_bench QMP_SOCKET GUEST_MEM_MIB PATTERN -- VMM ARGS...
 * Runs the VMM with the guest serial on its stdout, and prints one line:
 *   ready_wall_ms ready_cpu_ms first_byte_ms pattern_ms rss_kb guest_rss_kb overhead_kb
 * ready = the QMP socket accepts a connection (CPU = all threads, from /proc schedstat);
 * first_byte = the guest's first serial byte; pattern = PATTERN seen on the serial;
 * overhead = RSS of every mapping except guest RAM (the mapping GUEST_MEM_MIB big).
 * Then it sends QMP quit and reaps the VMM.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static double cpu_ms(pid_t pid)
{
	char path[64], buf[128];
	struct dirent *d;
	double total = 0;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	dir = opendir(path);
	if (!dir)
		return -1;
	while ((d = readdir(dir))) {
		char p2[320];
		FILE *f;

		if (d->d_name[0] == '.')
			continue;
		snprintf(p2, sizeof(p2), "/proc/%d/task/%s/schedstat", pid, d->d_name);
		f = fopen(p2, "r");
		if (!f)
			continue;
		if (fgets(buf, sizeof(buf), f))
			total += strtoull(buf, NULL, 10) / 1e6;
		fclose(f);
	}
	closedir(dir);
	return total;
}

/* Total RSS and the RSS of the guest RAM mapping (Size == mem_kb), from smaps. */
static void rss(pid_t pid, unsigned long mem_kb, unsigned long *total, unsigned long *guest)
{
	char path[64], line[512];
	unsigned long size = 0, v;
	FILE *f;

	*total = *guest = 0;
	snprintf(path, sizeof(path), "/proc/%d/smaps", pid);
	f = fopen(path, "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "Size: %lu kB", &v) == 1)
			size = v;
		else if (sscanf(line, "Rss: %lu kB", &v) == 1) {
			*total += v;
			if (size == mem_kb)
				*guest += v;
		}
	}
	fclose(f);
}

static int qmp_connect(const char *path)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0)
		return fd;
	close(fd);
	return -1;
}

int main(int argc, char **argv)
{
	const char *sock, *pattern;
	unsigned long mem_kb, rtotal = 0, rguest = 0;
	double t0, t_ready = -1, c_ready = -1, t_first = -1, t_pat = -1;
	char serial[65536];
	size_t have = 0;
	int pfd[2], qfd = -1, st;
	pid_t pid;

	if (argc < 6 || strcmp(argv[4], "--") != 0) {
		fprintf(stderr,
			"usage: vmm_bench QMP_SOCKET GUEST_MEM_MIB PATTERN -- VMM ARGS...\n");
		return 2;
	}
	sock = argv[1];
	mem_kb = strtoul(argv[2], NULL, 10) * 1024;
	pattern = argv[3];
	unlink(sock);
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return 1;
	t0 = now_ms();
	pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		dup2(null, 0);
		dup2(pfd[1], 1);
		dup2(null, 2);
		execvp(argv[5], argv + 5);
		_exit(127);
	}
	close(pfd[1]);
	fcntl(pfd[0], F_SETFL, O_NONBLOCK);
	while (now_ms() - t0 < 30000) {
		struct pollfd p = {.fd = pfd[0], .events = POLLIN};
		struct timespec ts = {0, 100000};

		if (t_ready < 0) {
			qfd = qmp_connect(sock);
			if (qfd >= 0) {
				t_ready = now_ms() - t0;
				c_ready = cpu_ms(pid);
			}
		}
		if (ppoll(&p, 1, &ts, NULL) > 0) {
			ssize_t n = read(pfd[0], serial + have, sizeof(serial) - 1 - have);

			if (n > 0) {
				if (t_first < 0)
					t_first = now_ms() - t0;
				have += (size_t)n;
				serial[have] = 0;
				if (t_pat < 0 && strstr(serial, pattern))
					t_pat = now_ms() - t0;
			} else if (n == 0) {
				break;
			}
		}
		if (t_ready >= 0 && t_pat >= 0)
			break;
	}
	if (t_ready >= 0 && t_pat >= 0) {
		usleep(200000);
		rss(pid, mem_kb, &rtotal, &rguest);
	}
	if (qfd >= 0) {
		const char *q = "{\"execute\":\"qmp_capabilities\"}\n{\"execute\":\"quit\"}\n";

		if (write(qfd, q, strlen(q)) < 0)
			perror("qmp");
	}
	for (int i = 0; i < 100; i++) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			goto reaped;
		usleep(50000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
reaped:
	if (qfd >= 0)
		close(qfd);
	if (t_ready < 0 || t_pat < 0) {
		fprintf(stderr, "vmm_bench: %s never got ready (qmp %.1f, serial pattern %.1f)\n",
			argv[5], t_ready, t_pat);
		return 1;
	}
	printf("%.2f %.2f %.2f %.2f %lu %lu %lu\n", t_ready, c_ready, t_first, t_pat, rtotal,
	       rguest, rtotal - rguest);
	return 0;
}
