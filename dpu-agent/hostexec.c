/* hostexec: run a host program via rexec or directly, with captured output and a deadline. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hostexec.h"
#include "util.h"

extern char **environ;

#define HOSTEXEC_MAX_ARGS 256

/* The last non-empty line of buf, trimmed, into dst. */
static void last_line(const char *buf, size_t len, char *dst, size_t dlen)
{
	size_t end = len, start;

	while (end > 0 && (buf[end - 1] == '\n' || buf[end - 1] == '\r'))
		end--;
	start = end;
	while (start > 0 && buf[start - 1] != '\n')
		start--;
	snprintf(dst, dlen, "%.*s", (int)(end - start), buf + start);
}

int hostexec_run(const struct hostexec *h, char *const argv[], int timeout_ms, char *out,
		 size_t outlen, struct errmsg *e)
{
	char *args[HOSTEXEC_MAX_ARGS + 4];
	char **envp = environ;
	char errbuf[4096], line[256];
	size_t n = 0, olen = 0, elen = 0, i;
	int opipe[2] = {-1, -1}, epipe[2] = {-1, -1};
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int ret, status;
	uint64_t deadline = now_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 30000);
	bool killed = false;

	if (h->mode == HOSTEXEC_REXEC) {
		args[n++] = (char *)h->rexec;
		if (h->server[0]) {
			args[n++] = (char *)"--server";
			args[n++] = (char *)h->server;
		}
	}
	for (i = 0; argv[i]; i++) {
		if (n >= HOSTEXEC_MAX_ARGS) {
			errmsg_set(e, "%s: too many arguments", argv[0]);
			return -E2BIG;
		}
		args[n++] = argv[i];
	}
	args[n] = NULL;
	if (pipe2(opipe, O_CLOEXEC) < 0 || pipe2(epipe, O_CLOEXEC) < 0) {
		ret = -errno;
		errmsg_set(e, "%s: pipe: %s", argv[0], strerror(errno));
		goto out_close;
	}
	ret = posix_spawn_file_actions_init(&fa);
	if (ret) {
		ret = -ret;
		goto out_close;
	}
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, opipe[1], 1);
	posix_spawn_file_actions_adddup2(&fa, epipe[1], 2);
	ret = posix_spawn(&pid, args[0], &fa, NULL, args, envp);
	posix_spawn_file_actions_destroy(&fa);
	if (ret) {
		errmsg_set(e, "%s: cannot run: %s", args[0], strerror(ret));
		ret = -ret;
		goto out_close;
	}
	close(opipe[1]);
	close(epipe[1]);
	opipe[1] = epipe[1] = -1;
	if (out && outlen)
		out[0] = '\0';
	/*
	 * Read until the program exits, not until EOF: a daemonizing program's
	 * child may keep the pipes open for as long as it lives.
	 */
	for (bool exited = false;;) {
		struct pollfd p[2] = {{.fd = opipe[0], .events = POLLIN},
				      {.fd = epipe[0], .events = POLLIN}};
		uint64_t now = now_ms();
		int r;

		if (!exited) {
			pid_t w = waitpid(pid, &status, WNOHANG);

			if (w == pid)
				exited = true;
			else if (w < 0 && errno != EINTR) {
				ret = -errno;
				goto out_close;
			}
		}
		if (p[0].fd < 0 && p[1].fd < 0 && exited)
			break;
		if (!exited && now >= deadline) {
			kill(pid, SIGKILL);
			killed = true;
			while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
				;
			break;
		}
		r = poll(p, 2, exited ? 0 : 20);
		if (r < 0 && errno != EINTR) {
			ret = -errno;
			kill(pid, SIGKILL);
			while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
				;
			goto out_close;
		}
		if (r <= 0) {
			if (exited)
				break; /* drained what was there */
			continue;
		}
		for (i = 0; i < 2; i++) {
			char tmp[4096];
			ssize_t k;
			int *fdp = i == 0 ? &opipe[0] : &epipe[0];

			if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			k = read(*fdp, tmp, sizeof(tmp));
			if (k <= 0) {
				close(*fdp);
				*fdp = -1;
				continue;
			}
			if (i == 0 && out && outlen) {
				size_t c = (size_t)k;

				if (c > outlen - 1 - olen)
					c = outlen - 1 - olen;
				memcpy(out + olen, tmp, c);
				olen += c;
				out[olen] = '\0';
			} else if (i == 1) {
				/* Keep the tail: the reason is usually the last line. */
				if ((size_t)k >= sizeof(errbuf)) {
					memcpy(errbuf, tmp + k - (sizeof(errbuf) - 1),
					       sizeof(errbuf) - 1);
					elen = sizeof(errbuf) - 1;
				} else {
					if (elen + (size_t)k > sizeof(errbuf) - 1) {
						size_t drop = elen + (size_t)k -
							      (sizeof(errbuf) - 1);

						memmove(errbuf, errbuf + drop, elen - drop);
						elen -= drop;
					}
					memcpy(errbuf + elen, tmp, (size_t)k);
					elen += (size_t)k;
				}
			}
		}
	}
	if (killed) {
		errmsg_set(e, "%s: timed out after %d ms", argv[0], timeout_ms);
		ret = -ETIMEDOUT;
		goto out_close;
	}
	ret = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	if (ret) {
		last_line(errbuf, elen, line, sizeof(line));
		if (line[0])
			errmsg_set(e, "%s", line);
		else
			errmsg_set(e, "%s: exit status %d", argv[0], ret);
	}
out_close:
	for (i = 0; i < 2; i++) {
		if (opipe[i] >= 0)
			close(opipe[i]);
		if (epipe[i] >= 0)
			close(epipe[i]);
	}
	return ret;
}
