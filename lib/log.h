/* log: leveled logging to stderr or a file (-D [file]), journald friendly. */
#ifndef SV_LOG_H
#define SV_LOG_H

#include <stdbool.h>

enum log_level {
	LOG_LVL_ERROR = 0,
	LOG_LVL_WARN,
	LOG_LVL_INFO,
	LOG_LVL_DEBUG,
};

/*
 * Sets the program name and destination. file == NULL logs to stderr.
 * Colour is used only when the destination is a tty. Returns 0 or -errno
 * (the file could not be opened). May be called again to redirect.
 *
 * Lines are "prog[pid]: level: message", written with one write(2) under a
 * lock (also held across fork). A file (opened O_APPEND) adds a UTC timestamp
 * in front; stderr that is systemd's JOURNAL_STREAM gets "<N>" priority
 * prefixes; NO_COLOR turns colour off. Control characters in the message are
 * escaped as \xNN and a trailing newline is dropped, so one call is one line.
 * Nothing is cut: long messages are formatted into an allocated buffer.
 */
int log_init(const char *prog, const char *file, enum log_level level);
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* "error", "warn"/"warning", "info", "debug" (case-insensitive) -> 0, else -EINVAL.
 * "trace" (a StratoVirt level) is accepted as debug. */
int log_level_parse(const char *s, enum log_level *out);
/* Reads a level from the environment variable `var` if set (e.g. STRATOVIRT_LOG_LEVEL). */
int log_level_from_env(const char *var);
/* Closes a log file opened by log_init (back to stderr). */
void log_close(void);

/*
 * The file of a getopt_long "-D [file]" option with an optional argument, as
 * StratoVirt takes it: getopt attaches an optional argument only when written
 * "-Dfile" or "--log=file", so the next word is taken too when it does not look
 * like an option (and stands before `limit`, normally argc). NULL: log to stderr.
 * Call it from the option's case; it advances optind past a word it takes.
 */
const char *log_file_optarg(int limit, char *const argv[]);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_LVL_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)

#endif
