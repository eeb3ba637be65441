/* rexec protocol: message types and the field-by-field encoding of each message (docs/rexec.md). */
#ifndef SV_REXEC_PROTO_H
#define SV_REXEC_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "wire.h"

#define REXEC_PROTO_NAME    "rexec"
#define REXEC_PROTO_VERSION 1
#define REXEC_ROLE_CLIENT   1
#define REXEC_ROLE_SERVER   2

/* Limits a decoder enforces before anything is allocated or acted on. */
#define REXEC_MAX_ARGS	  65536u
#define REXEC_MAX_ENV	  4096u
#define REXEC_MAX_PAYLOAD WIRE_MAX_PAYLOAD   /* an EXEC may carry a full ARG_MAX argv */
#define REXEC_DATA_CHUNK  (256u * 1024)	     /* largest STDIN/STDOUT/STDERR payload */
#define REXEC_WINDOW	  (4u * 1024 * 1024) /* default flow-control window per direction */

enum rexec_type {
	REXEC_T_EXEC = 16,	/* c->s: start a program */
	REXEC_T_STDIN = 17,	/* c->s: raw bytes */
	REXEC_T_STDOUT = 18,	/* s->c: raw bytes (the pty's output with a tty) */
	REXEC_T_STDERR = 19,	/* s->c: raw bytes */
	REXEC_T_STDIN_EOF = 20, /* c->s: empty */
	REXEC_T_CREDIT = 21,	/* either way: u32 bytes the receiver may send more */
	REXEC_T_SIGNAL = 22,	/* c->s: u32 signo, delivered to the program's process group */
	REXEC_T_WINCH = 23,	/* c->s: u16 rows, u16 cols */
	REXEC_T_PID = 24,	/* s->c: i32 pid, u64 start time, u32 stdin window */
	REXEC_T_EXIT = 25,	/* s->c: u8 how, u32 value, u8 core */
	REXEC_T_KILL = 26,	/* c->s: i32 pid, u32 signo (rexec --signal) */
	REXEC_T_WAIT = 27,	/* c->s: i32 pid (rexec --wait) */
	REXEC_T_OK = 28,	/* s->c: empty; the request succeeded and the server closes */
};

enum {
	REXEC_F_TTY = 1u << 0,
	REXEC_F_DETACH = 1u << 1,
	REXEC_F_CWD_STRICT = 1u << 2, /* fail instead of falling back to "/" */
	REXEC_F_ALL = REXEC_F_TTY | REXEC_F_DETACH | REXEC_F_CWD_STRICT,
};

struct rexec_exec {
	uint32_t flags;
	uint16_t rows, cols;
	uint32_t window; /* bytes of STDOUT+STDERR the client accepts before a CREDIT */
	size_t argc;
	char **argv; /* argc entries + NULL; argv[0] is the program */
	size_t envc;
	char **env; /* envc "NAME=VALUE" entries + NULL */
	char *cwd;  /* "" means the server's default */
};

enum rexec_exit_how {
	REXEC_EXITED = 0,
	REXEC_SIGNALED = 1,
};

struct rexec_exit {
	uint8_t how;
	uint32_t value; /* exit code 0-255, or signal number */
	bool core;
};

struct rexec_pid {
	int32_t pid;
	uint64_t start_time; /* /proc/PID/stat field 22, clock ticks since boot */
	uint32_t window;     /* bytes of STDIN the server accepts before a CREDIT */
};

struct rexec_kill {
	int32_t pid;
	uint32_t signo;
};

/* Encoders build a whole frame (header included) into b; 0 or -errno. */
int rexec_enc_exec(struct wire_buf *b, const struct rexec_exec *x);
int rexec_enc_pid(struct wire_buf *b, const struct rexec_pid *p);
int rexec_enc_exit(struct wire_buf *b, const struct rexec_exit *x);
int rexec_enc_kill(struct wire_buf *b, const struct rexec_kill *k);
int rexec_enc_wait(struct wire_buf *b, int32_t pid);
int rexec_enc_u32(struct wire_buf *b, uint8_t type, uint32_t v); /* CREDIT, SIGNAL */
int rexec_enc_winch(struct wire_buf *b, uint16_t rows, uint16_t cols);
int rexec_enc_empty(struct wire_buf *b, uint8_t type); /* STDIN_EOF, OK */
int rexec_enc_error(struct wire_buf *b, uint32_t err, const char *msg);

/*
 * Decoders validate a payload completely (every byte consumed, ranges
 * checked) before filling the output: -EBADMSG on anything malformed.
 */
int rexec_dec_exec(const void *p, size_t len, struct rexec_exec *out);
void rexec_exec_free(struct rexec_exec *x);
int rexec_dec_pid(const void *p, size_t len, struct rexec_pid *out);
int rexec_dec_exit(const void *p, size_t len, struct rexec_exit *out);
int rexec_dec_kill(const void *p, size_t len, struct rexec_kill *out);
int rexec_dec_wait(const void *p, size_t len, int32_t *pid);
int rexec_dec_u32(const void *p, size_t len, uint32_t *v);
int rexec_dec_winch(const void *p, size_t len, uint16_t *rows, uint16_t *cols);
int rexec_dec_empty(const void *p, size_t len);
/* A WIRE_T_ERROR payload: errno and a printable one-line message (copied, truncated). */
int rexec_dec_error(const void *p, size_t len, uint32_t *err, char *msg, size_t msglen);

/* The name of a frame type for log lines ("EXEC", "type 99"). */
const char *rexec_type_name(uint8_t type, char *buf, size_t len);

#endif
