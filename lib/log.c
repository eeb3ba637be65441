/* log: leveled, one-write-per-line logging to stderr or a file, colour only on a tty. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

/*
 * Process-wide logger state. `lock` guards prog/fd/is_file/colour so that a
 * redirect (log_init/log_close) never races with a line being written; the
 * level is an atomic so the common "is this level enabled" check takes no lock.
 */
static struct {
	pthread_mutex_t lock;
	char prog[64];
	int fd;	      /* 2 for stderr, else the -D file */
	bool is_file; /* fd is ours: timestamps, closed on redirect */
	bool colour;  /* decided when the destination is chosen */
	bool journal; /* stderr is a journald stream: "<N>" priority prefixes */
	bool style_known;
} logger = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.fd = STDERR_FILENO,
};

static _Atomic int log_level_cur = LOG_LVL_INFO;

/*
 * A child forked while another thread held the lock would deadlock on its
 * first log line (rexec logs between fork and exec); hold the lock across fork.
 */
static void log_atfork_prepare(void)
{
	pthread_mutex_lock(&logger.lock);
}

static void log_atfork_release(void)
{
	pthread_mutex_unlock(&logger.lock);
}

__attribute__((constructor)) static void log_register_atfork(void)
{
	/* Only fails with ENOMEM at start-up; logging then just lacks the fork guard. */
	(void)pthread_atfork(log_atfork_prepare, log_atfork_release, log_atfork_release);
}

/* The whole line with write(2): one call unless the destination takes less. */
static void log_write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0) {
			struct pollfd pfd = {.fd = fd, .events = POLLOUT};

			if (errno == EINTR)
				continue;
			/* a non-blocking stderr shared with a terminal or pipe: wait for room */
			if ((errno == EAGAIN || errno == EWOULDBLOCK) && poll(&pfd, 1, 1000) >= 0)
				continue;
			return; /* nowhere better to report a failing log destination */
		}
		buf += n;
		len -= (size_t)n;
	}
}

static const char *const level_names[] = {
	[LOG_LVL_ERROR] = "error",
	[LOG_LVL_WARN] = "warn",
	[LOG_LVL_INFO] = "info",
	[LOG_LVL_DEBUG] = "debug",
};

/* sd-daemon(3) priority prefixes: LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG. */
static const char *const level_journal[] = {
	[LOG_LVL_ERROR] = "<3>",
	[LOG_LVL_WARN] = "<4>",
	[LOG_LVL_INFO] = "<6>",
	[LOG_LVL_DEBUG] = "<7>",
};

static const char *const level_colours[] = {
	[LOG_LVL_ERROR] = "\033[1;31m",
	[LOG_LVL_WARN] = "\033[1;33m",
	[LOG_LVL_INFO] = "\033[32m",
	[LOG_LVL_DEBUG] = "\033[2m",
};

/* Colour only for a terminal, and never when NO_COLOR is set (no-color.org). */
static bool want_colour(int fd)
{
	const char *nc = getenv("NO_COLOR");

	if (nc && *nc)
		return false;
	return isatty(fd) == 1;
}

/*
 * systemd sets JOURNAL_STREAM=DEV:INO when a unit's stderr goes to journald;
 * if fd is that stream, lines carry sd-daemon "<N>" prefixes so journald
 * records each line's priority instead of treating all as info.
 */
static bool is_journal_stream(int fd)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	int end = 0;

	if (!js || sscanf(js, "%llu:%llu%n", &dev, &ino, &end) != 2 || js[end] != '\0')
		return false;
	if (fstat(fd, &st) < 0)
		return false;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

/* Called with the lock held whenever the destination changes. */
static void log_pick_style(int fd, bool is_file)
{
	logger.journal = !is_file && is_journal_stream(fd);
	logger.colour = !logger.journal && want_colour(fd);
	logger.style_known = true;
}

int log_init(const char *prog, const char *file, enum log_level level)
{
	int fd = STDERR_FILENO;
	int old_fd;
	bool old_is_file;

	if (file) {
		fd = open(file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0640);
		if (fd < 0)
			return -errno;
	}
	pthread_mutex_lock(&logger.lock);
	if (prog) {
		const char *base = strrchr(prog, '/');

		/* A too-long name is shortened, not refused: it only labels lines. */
		snprintf(logger.prog, sizeof(logger.prog), "%s", base ? base + 1 : prog);
	}
	old_fd = logger.fd;
	old_is_file = logger.is_file;
	logger.fd = fd;
	logger.is_file = file != NULL;
	log_pick_style(fd, logger.is_file);
	pthread_mutex_unlock(&logger.lock);
	if (old_is_file && old_fd != fd)
		close(old_fd);
	log_set_level(level);
	return 0;
}

const char *log_file_optarg(int limit, char *const argv[])
{
	if (optarg)
		return optarg;
	if (optind < limit && argv[optind] && argv[optind][0] != '-')
		return argv[optind++];
	return NULL;
}

void log_close(void)
{
	int old_fd;
	bool old_is_file;

	pthread_mutex_lock(&logger.lock);
	old_fd = logger.fd;
	old_is_file = logger.is_file;
	logger.fd = STDERR_FILENO;
	logger.is_file = false;
	log_pick_style(STDERR_FILENO, false);
	pthread_mutex_unlock(&logger.lock);
	if (old_is_file)
		close(old_fd);
}

void log_set_level(enum log_level level)
{
	if ((int)level < LOG_LVL_ERROR)
		level = LOG_LVL_ERROR;
	if (level > LOG_LVL_DEBUG)
		level = LOG_LVL_DEBUG;
	atomic_store(&log_level_cur, (int)level);
}

enum log_level log_get_level(void)
{
	return (enum log_level)atomic_load(&log_level_cur);
}

int log_level_parse(const char *s, enum log_level *out)
{
	static const struct {
		const char *name;
		enum log_level level;
	} names[] = {
		{"error", LOG_LVL_ERROR},
		{"warn", LOG_LVL_WARN},
		{"warning", LOG_LVL_WARN},
		{"info", LOG_LVL_INFO},
		{"debug", LOG_LVL_DEBUG},
		/* StratoVirt's STRATOVIRT_LOG_LEVEL also knows "trace"; our finest is debug. */
		{"trace", LOG_LVL_DEBUG},
	};
	size_t i;

	if (!s || !out)
		return -EINVAL;
	for (i = 0; i < ARRAY_SIZE(names); i++) {
		if (!strcasecmp(s, names[i].name)) {
			*out = names[i].level;
			return 0;
		}
	}
	return -EINVAL;
}

int log_level_from_env(const char *var)
{
	enum log_level level;
	const char *v;
	int ret;

	if (!var)
		return -EINVAL;
	v = getenv(var);
	if (!v || !*v)
		return 0;
	ret = log_level_parse(v, &level);
	if (ret)
		return ret;
	log_set_level(level);
	return 0;
}

/* Bytes `c` becomes in the output: control characters are escaped as \xNN so a
 * message carrying peer-supplied text cannot forge extra log lines. */
static size_t escaped_len(unsigned char c)
{
	return (c < 0x20 && c != '\t') || c == 0x7f ? 4 : 1;
}

static char *escape_into(char *dst, const char *src, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)src[i];

		if (escaped_len(c) == 1) {
			*dst++ = (char)c;
			continue;
		}
		*dst++ = '\\';
		*dst++ = 'x';
		*dst++ = hex[c >> 4];
		*dst++ = hex[c & 0xf];
	}
	return dst;
}

/* "2026-11-22T00:04:20.123Z " (UTC, so lines from both machines sort together). */
static size_t format_time(char *buf, size_t n)
{
	struct timespec ts;
	struct tm tm;
	size_t len;
	int m;

	if (clock_gettime(CLOCK_REALTIME, &ts) < 0 || !gmtime_r(&ts.tv_sec, &tm))
		return 0;
	len = strftime(buf, n, "%Y-%m-%dT%H:%M:%S", &tm);
	if (len == 0)
		return 0;
	m = snprintf(buf + len, n - len, ".%03ldZ ", ts.tv_nsec / 1000000L);
	if (m < 0 || (size_t)m >= n - len)
		return 0;
	return len + (size_t)m;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	char small[1024], head[160], tsbuf[48];
	char *msg = small, *line = NULL, *p;
	size_t msg_len, out_len, head_len, ts_len = 0, i, total;
	int saved_errno = errno; /* callers often log then return -errno */
	const char *colour = "", *reset = "";
	bool truncated = false;
	va_list ap;
	int n;

	if ((int)level < LOG_LVL_ERROR || level > LOG_LVL_DEBUG)
		level = LOG_LVL_ERROR;
	if ((int)level > atomic_load(&log_level_cur))
		return;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0) {
		snprintf(small, sizeof(small), "(unformattable log message: %s)", fmt);
		n = (int)strlen(small);
	} else if ((size_t)n >= sizeof(small)) {
		/* Long messages are formatted again into a buffer of the right size. */
		msg = malloc((size_t)n + 1);
		if (msg) {
			va_start(ap, fmt);
			n = vsnprintf(msg, (size_t)n + 1, fmt, ap);
			va_end(ap);
			if (n < 0) {
				free(msg);
				msg = small;
				n = (int)strlen(small);
				truncated = true;
			}
		} else {
			msg = small;
			n = (int)strlen(small);
			truncated = true;
		}
	}
	msg_len = (size_t)n;
	/* Callers sometimes end a message with "\n"; the line ending is ours. */
	while (msg_len > 0 && (msg[msg_len - 1] == '\n' || msg[msg_len - 1] == '\r'))
		msg_len--;

	out_len = 0;
	for (i = 0; i < msg_len; i++)
		out_len += escaped_len((unsigned char)msg[i]);

	pthread_mutex_lock(&logger.lock);
	if (!logger.style_known)
		log_pick_style(logger.fd, logger.is_file);
	if (logger.colour) {
		colour = level_colours[level];
		reset = "\033[0m";
	}
	if (logger.is_file)
		ts_len = format_time(tsbuf, sizeof(tsbuf));
	n = snprintf(head, sizeof(head),
		     "%s%s[%ld]: %s%s%s: ", logger.journal ? level_journal[level] : "",
		     logger.prog[0] ? logger.prog : program_invocation_short_name, (long)getpid(),
		     colour, level_names[level], reset);
	head_len = n < 0 ? 0 : (size_t)n >= sizeof(head) ? sizeof(head) - 1 : (size_t)n;

	/* ts + head + message + "..." + "\n" */
	total = ts_len + head_len + out_len + 4;
	line = malloc(total);
	if (line) {
		p = line;
		memcpy(p, tsbuf, ts_len);
		p += ts_len;
		memcpy(p, head, head_len);
		p += head_len;
		p = escape_into(p, msg, msg_len);
		if (truncated) {
			memcpy(p, "...", 3);
			p += 3;
		}
		*p++ = '\n';
		/* One write per line: lines from threads and processes never interleave. */
		log_write_all(logger.fd, line, (size_t)(p - line));
	} else {
		/* No memory for the escaped copy: emit what we safely can, marked cut. */
		static const char oom[] = "(log line dropped: out of memory)\n";

		log_write_all(logger.fd, oom, sizeof(oom) - 1);
	}
	pthread_mutex_unlock(&logger.lock);
	free(line);
	if (msg != small)
		free(msg);
	errno = saved_errno;
}
