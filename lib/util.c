/* util: strict number parsing, full-length I/O, fd flags, clocks, strings, mkdir -p. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

/*
 * The digits of an unsigned number, without sign or surrounding space.
 * strtoull() alone would accept " 1", "-1" (as a huge value), "+1" and treat
 * "010" as octal under base 0; we accept none of those.
 */
static int parse_digits(const char *s, int base, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (!s || !out)
		return -EINVAL;
	if (base == 0) {
		if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
			base = 16;
			s += 2;
		} else {
			base = 10;
		}
	} else if (base == 16 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		s += 2;
	}
	if (base < 2 || base > 36)
		return -EINVAL;
	/* The first character must be a digit of the base: no space, sign or empty string. */
	if (!isalnum((unsigned char)s[0]))
		return -EINVAL;
	/* strtoull(base 16) would skip a second "0x": "0x0x1" is not a number. */
	if (base == 16 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, base);
	if (end == s || *end != '\0')
		return -EINVAL;
	if (errno == ERANGE)
		return -ERANGE;
	if (errno)
		return -EINVAL;
	*out = v;
	return 0;
}

int parse_u64(const char *s, int base, uint64_t *out)
{
	uint64_t v;
	int ret;

	ret = parse_digits(s, base, &v);
	if (ret)
		return ret;
	*out = v;
	return 0;
}

int parse_i64(const char *s, int base, int64_t *out)
{
	bool neg = false;
	uint64_t v;
	int ret;

	if (!s || !out)
		return -EINVAL;
	if (s[0] == '-') {
		neg = true;
		s++;
	}
	ret = parse_digits(s, base, &v);
	if (ret)
		return ret;
	if (neg) {
		if (v > (uint64_t)INT64_MAX + 1)
			return -ERANGE;
		*out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
	} else {
		if (v > INT64_MAX)
			return -ERANGE;
		*out = (int64_t)v;
	}
	return 0;
}

int parse_u32(const char *s, int base, uint32_t *out)
{
	uint64_t v;
	int ret;

	ret = parse_digits(s, base, &v);
	if (ret)
		return ret;
	if (v > UINT32_MAX)
		return -ERANGE;
	*out = (uint32_t)v;
	return 0;
}

int parse_size(const char *s, uint64_t default_unit, uint64_t *out)
{
	static const char units[] = "KMGT";
	uint64_t v, unit = default_unit, res;
	const char *p;
	char num[32];
	size_t n;
	int ret;

	if (!s || !out || default_unit == 0)
		return -EINVAL;
	for (p = s; isdigit((unsigned char)*p); p++)
		;
	n = (size_t)(p - s);
	if (n == 0)
		return -EINVAL;
	if (n >= sizeof(num))
		return -ERANGE; /* more digits than any uint64_t has */
	memcpy(num, s, n);
	num[n] = '\0';
	ret = parse_digits(num, 10, &v);
	if (ret)
		return ret;

	if (*p) {
		const char *u = strchr(units, toupper((unsigned char)*p));

		if (u) {
			unit = 1024;
			for (const char *q = units; q < u; q++)
				unit *= 1024;
			p++;
			/* "K", "KB", "KiB" (case-insensitive) */
			if (strcasecmp(p, "") && strcasecmp(p, "b") && strcasecmp(p, "ib"))
				return -EINVAL;
		} else if (!strcasecmp(p, "b")) {
			unit = 1; /* "512B" is bytes whatever the default unit */
		} else {
			return -EINVAL;
		}
	}
	if (__builtin_mul_overflow(v, unit, &res))
		return -ERANGE;
	*out = res;
	return 0;
}

int parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = {"1", "on", "true", "yes"};
	static const char *const no[] = {"0", "off", "false", "no"};
	size_t i;

	if (!s || !out)
		return -EINVAL;
	for (i = 0; i < ARRAY_SIZE(yes); i++) {
		if (!strcasecmp(s, yes[i])) {
			*out = true;
			return 0;
		}
		if (!strcasecmp(s, no[i])) {
			*out = false;
			return 0;
		}
	}
	return -EINVAL;
}

/* Waits until fd is ready for `events` after an EAGAIN. */
static int wait_ready(int fd, short events)
{
	struct pollfd pfd = {.fd = fd, .events = events};

	for (;;) {
		int r = poll(&pfd, 1, -1);

		if (r >= 0)
			return 0; /* ready, or an error/hangup the next I/O call reports */
		if (errno != EINTR)
			return -errno;
	}
}

int write_full(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	bool is_sock = true;

	while (len > 0) {
		ssize_t n;

		/* send(MSG_NOSIGNAL) turns a closed socket peer into -EPIPE, not SIGPIPE. */
		if (is_sock) {
			n = send(fd, p, len, MSG_NOSIGNAL);
			if (n < 0 && errno == ENOTSOCK) {
				is_sock = false;
				continue;
			}
		} else {
			n = write(fd, p, len);
		}
		if (n < 0) {
			int ret;

			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				return -errno;
			ret = wait_ready(fd, POLLOUT);
			if (ret)
				return ret;
			continue;
		}
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int read_full(int fd, void *buf, size_t len)
{
	char *p = buf;

	while (len > 0) {
		ssize_t n = read(fd, p, len);

		if (n < 0) {
			int ret;

			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				return -errno;
			ret = wait_ready(fd, POLLIN);
			if (ret)
				return ret;
			continue;
		}
		if (n == 0)
			return -EPIPE;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int read_file(const char *path, size_t max, char **out, size_t *len)
{
	size_t cap = 0, used = 0;
	char *buf = NULL;
	int fd, ret;

	if (!path || !out)
		return -EINVAL;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	for (;;) {
		ssize_t n;

		/* Keep room for one byte past max (to detect -EFBIG) and the NUL. */
		if (used + 1 >= cap) {
			size_t ncap = cap ? cap * 2 : 4096;
			char *nbuf;

			if (cap > SIZE_MAX / 2) {
				ret = -EFBIG;
				goto err;
			}
			if (max < SIZE_MAX - 2 && ncap > max + 2)
				ncap = max + 2;
			if (ncap <= cap) {
				ret = -EFBIG;
				goto err;
			}
			nbuf = realloc(buf, ncap);
			if (!nbuf) {
				ret = -ENOMEM;
				goto err;
			}
			buf = nbuf;
			cap = ncap;
		}
		n = read(fd, buf + used, cap - used - 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			ret = -errno;
			goto err;
		}
		if (n == 0)
			break;
		used += (size_t)n;
		if (used > max) {
			ret = -EFBIG;
			goto err;
		}
	}
	close(fd);
	buf[used] = '\0';
	*out = buf;
	if (len)
		*len = used;
	return 0;

err:
	free(buf);
	close(fd);
	return ret;
}

static int fd_set_flag(int fd, int get, int set, int flag, bool on)
{
	int flags = fcntl(fd, get);

	if (flags < 0)
		return -errno;
	if (!!(flags & flag) == on)
		return 0;
	flags = on ? flags | flag : flags & ~flag;
	if (fcntl(fd, set, flags) < 0)
		return -errno;
	return 0;
}

int fd_set_nonblock(int fd, bool on)
{
	return fd_set_flag(fd, F_GETFL, F_SETFL, O_NONBLOCK, on);
}

int fd_set_cloexec(int fd, bool on)
{
	return fd_set_flag(fd, F_GETFD, F_SETFD, FD_CLOEXEC, on);
}

uint64_t now_ns(void)
{
	struct timespec ts;

	/* CLOCK_MONOTONIC cannot fail with a valid pointer. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t now_ms(void)
{
	return now_ns() / 1000000ull;
}

char *str_dup(const char *s)
{
	char *d;

	if (!s) {
		errno = EINVAL;
		return NULL;
	}
	d = strdup(s);
	if (!d)
		errno = ENOMEM;
	return d;
}

int str_copy(char *dst, size_t n, const char *src)
{
	size_t len;

	if (!dst || !src)
		return -EINVAL;
	len = strlen(src);
	if (len >= n) {
		if (n > 0)
			dst[0] = '\0';
		return -ENAMETOOLONG;
	}
	memcpy(dst, src, len + 1);
	return 0;
}

bool str_has_prefix(const char *s, const char *prefix)
{
	if (!s || !prefix)
		return false;
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Creates one directory; an existing directory is fine, anything else there is not. */
static int mkdir_one(const char *path, mode_t mode)
{
	struct stat st;

	if (mkdir(path, mode) == 0)
		return 0;
	if (errno != EEXIST)
		return -errno;
	if (stat(path, &st) < 0)
		return -errno;
	return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

int mkdir_p(const char *path, mode_t mode)
{
	char *buf, *p;
	int ret = 0;

	if (!path || !*path)
		return -EINVAL;
	buf = str_dup(path);
	if (!buf)
		return -ENOMEM;
	p = buf;
	while (*p == '/')
		p++;
	while (*p) {
		char *slash = strchr(p, '/');

		if (slash)
			*slash = '\0';
		ret = mkdir_one(buf, mode);
		if (ret)
			break;
		if (!slash)
			break;
		*slash = '/';
		p = slash + 1;
		while (*p == '/')
			p++;
	}
	free(buf);
	return ret;
}
