/* util: small helpers every component uses: strict number parsing, full I/O, fd flags. */
#ifndef SV_UTIL_H
#define SV_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Whole-string decimal (or 0x hex when base 0) parsing; -EINVAL/-ERANGE. */
int parse_u64(const char *s, int base, uint64_t *out);
int parse_i64(const char *s, int base, int64_t *out);
int parse_u32(const char *s, int base, uint32_t *out);
/*
 * A size with an optional unit suffix K/M/G/T (powers of 1024, case-insensitive,
 * an optional trailing "B"/"iB"); default_unit multiplies a bare number
 * (1 for bytes, 1<<20 for StratoVirt's -m). -EINVAL/-ERANGE on overflow.
 */
int parse_size(const char *s, uint64_t default_unit, uint64_t *out);
/* on/off, true/false, yes/no, 1/0 */
int parse_bool(const char *s, bool *out);

/* Full read/write on a blocking or non-blocking fd (EINTR retried; EAGAIN waits with poll). */
int write_full(int fd, const void *buf, size_t len);
/* Reads exactly len bytes; -EPIPE on early EOF. */
int read_full(int fd, void *buf, size_t len);
/* Reads a whole (small) file into a NUL-terminated malloc'd buffer, at most max bytes
 * (-EFBIG beyond). */
int read_file(const char *path, size_t max, char **out, size_t *len);

int fd_set_nonblock(int fd, bool on);
int fd_set_cloexec(int fd, bool on);

/* Monotonic clock in ms / ns. */
uint64_t now_ms(void);
uint64_t now_ns(void);

/* strdup that returns NULL (errno ENOMEM) instead of never failing. */
char *str_dup(const char *s);
/* Copies src into dst of size n; -ENAMETOOLONG (dst untouched beyond n) if it does not fit. */
int str_copy(char *dst, size_t n, const char *src);
bool str_has_prefix(const char *s, const char *prefix);

/* mkdir -p with mode for created components. 0 or -errno. */
int mkdir_p(const char *path, mode_t mode);

#endif
