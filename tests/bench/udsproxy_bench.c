/* udsproxy_bench: the peer programs of tests/bench/udsproxy.sh.
 *
 *   udsproxy_bench server PATH          sink/echo server (thread per connection)
 *   udsproxy_bench tput PATH BYTES      one stream of BYTES: prints "tput MIB_S"
 *   udsproxy_bench pingpong PATH N      1-byte round trips: prints "pingpong MEDIAN_US P99_US"
 *   udsproxy_bench connect PATH N       connect + first 1-byte round trip, N times:
 *                                       prints "connect MEDIAN_US P99_US"
 * The first byte a client sends picks the server's mode: 'T' sink (answers the byte count
 * at EOF), 'P' echo.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define BUF (256 * 1024)

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int die(const char *what)
{
	fprintf(stderr, "udsproxy_bench: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int full_write(int fd, const void *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p = (const char *)p + w;
		n -= (size_t)w;
	}
	return 0;
}

static int full_read(int fd, void *p, size_t n)
{
	while (n) {
		ssize_t r = read(fd, p, n);

		if (r <= 0) {
			if (r < 0 && errno == EINTR)
				continue;
			return -1;
		}
		p = (char *)p + r;
		n -= (size_t)r;
	}
	return 0;
}

static void *serve_one(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char *buf = malloc(BUF);
	char mode;

	if (!buf || read(fd, &mode, 1) != 1)
		goto out;
	if (mode == 'T') {
		uint64_t total = 0;
		ssize_t n;

		while ((n = read(fd, buf, BUF)) > 0)
			total += (uint64_t)n;
		(void)full_write(fd, &total, sizeof(total));
	} else {
		ssize_t n;

		while ((n = read(fd, buf, BUF)) > 0)
			if (full_write(fd, buf, (size_t)n))
				break;
	}
out:
	free(buf);
	close(fd);
	return NULL;
}

static int connect_to(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	if (fd < 0)
		die("socket");
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
		die(path);
	return fd;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void print_lat(const char *what, uint64_t *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_u64);
	printf("%s %.1f %.1f\n", what, v[n / 2] / 1000.0, v[(n * 99) / 100] / 1000.0);
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "server")) {
		struct sockaddr_un sa = {.sun_family = AF_UNIX};
		int l = socket(AF_UNIX, SOCK_STREAM, 0);

		/* A client that goes away mid-write must end its thread, not the server. */
		signal(SIGPIPE, SIG_IGN);
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", argv[2]);
		unlink(argv[2]);
		if (l < 0 || bind(l, (struct sockaddr *)&sa, sizeof(sa)) || listen(l, 1024))
			die(argv[2]);
		for (;;) {
			pthread_t t;
			int c = accept(l, NULL, NULL);

			if (c < 0)
				continue;
			if (pthread_create(&t, NULL, serve_one, (void *)(intptr_t)c) == 0)
				pthread_detach(t);
			else
				close(c);
		}
	}
	if (argc == 4 && !strcmp(argv[1], "tput")) {
		uint64_t bytes = strtoull(argv[3], NULL, 0), left = bytes, got = 0, t0;
		char *buf = calloc(1, BUF);
		int fd = connect_to(argv[2]);

		if (!buf)
			die("malloc");
		for (size_t i = 0; i < BUF; i++)
			buf[i] = (char)(i * 131);
		t0 = now_ns();
		if (full_write(fd, "T", 1))
			die("write");
		while (left) {
			size_t n = left < BUF ? left : BUF;

			if (full_write(fd, buf, n))
				die("write");
			left -= n;
		}
		shutdown(fd, SHUT_WR);
		if (full_read(fd, &got, sizeof(got)) || got != bytes) {
			fprintf(stderr, "udsproxy_bench: sink got %llu of %llu bytes\n",
				(unsigned long long)got, (unsigned long long)bytes);
			return 1;
		}
		printf("tput %.1f\n", (double)bytes / (1 << 20) / ((now_ns() - t0) / 1e9));
		return 0;
	}
	if (argc == 4 && (!strcmp(argv[1], "pingpong") || !strcmp(argv[1], "connect"))) {
		size_t n = strtoul(argv[3], NULL, 0), i;
		uint64_t *v = calloc(n ? n : 1, sizeof(*v));
		int pp = !strcmp(argv[1], "pingpong"), fd = -1;
		char c = 'x';

		if (!v || !n)
			die("count");
		if (pp) {
			fd = connect_to(argv[2]);
			if (full_write(fd, "P", 1))
				die("write");
			for (i = 0; i < 100; i++) /* warm up */
				if (full_write(fd, &c, 1) || full_read(fd, &c, 1))
					die("pingpong");
		}
		for (i = 0; i < n; i++) {
			uint64_t t0 = now_ns();

			if (!pp) {
				fd = connect_to(argv[2]);
				if (full_write(fd, "P", 1))
					die("write");
			}
			if (full_write(fd, &c, 1) || full_read(fd, &c, 1))
				die("round trip");
			v[i] = now_ns() - t0;
			if (!pp)
				close(fd);
		}
		print_lat(pp ? "pingpong" : "connect", v, n);
		return 0;
	}
	fprintf(stderr, "usage: udsproxy_bench server PATH | tput PATH BYTES | pingpong PATH N | "
			"connect PATH N\n");
	return 2;
}
