/* rexec protocol: encoding and strict decoding of every rexec message (docs/rexec.md). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

static int finish(struct wire_buf *b, uint8_t type)
{
	return wire_frame_end(b, type, 0, 0);
}

static void start(struct wire_buf *b)
{
	wire_buf_reset(b);
	wire_frame_begin(b);
}

int rexec_enc_exec(struct wire_buf *b, const struct rexec_exec *x)
{
	size_t i;

	if (x->argc < 1 || x->argc > REXEC_MAX_ARGS || x->envc > REXEC_MAX_ENV)
		return -E2BIG;
	start(b);
	wire_put_u32(b, x->flags);
	wire_put_u16(b, x->rows);
	wire_put_u16(b, x->cols);
	wire_put_u32(b, x->window);
	wire_put_u32(b, (uint32_t)x->argc);
	for (i = 0; i < x->argc; i++)
		wire_put_bytes(b, x->argv[i], strlen(x->argv[i]));
	wire_put_u32(b, (uint32_t)x->envc);
	for (i = 0; i < x->envc; i++)
		wire_put_bytes(b, x->env[i], strlen(x->env[i]));
	wire_put_bytes(b, x->cwd ? x->cwd : "", x->cwd ? strlen(x->cwd) : 0);
	return finish(b, REXEC_T_EXEC);
}

int rexec_enc_pid(struct wire_buf *b, const struct rexec_pid *p)
{
	start(b);
	wire_put_i32(b, p->pid);
	wire_put_u64(b, p->start_time);
	wire_put_u32(b, p->window);
	return finish(b, REXEC_T_PID);
}

int rexec_enc_exit(struct wire_buf *b, const struct rexec_exit *x)
{
	start(b);
	wire_put_u8(b, x->how);
	wire_put_u32(b, x->value);
	wire_put_u8(b, x->core ? 1 : 0);
	return finish(b, REXEC_T_EXIT);
}

int rexec_enc_kill(struct wire_buf *b, const struct rexec_kill *k)
{
	start(b);
	wire_put_i32(b, k->pid);
	wire_put_u32(b, k->signo);
	return finish(b, REXEC_T_KILL);
}

int rexec_enc_wait(struct wire_buf *b, int32_t pid)
{
	start(b);
	wire_put_i32(b, pid);
	return finish(b, REXEC_T_WAIT);
}

int rexec_enc_u32(struct wire_buf *b, uint8_t type, uint32_t v)
{
	start(b);
	wire_put_u32(b, v);
	return finish(b, type);
}

int rexec_enc_winch(struct wire_buf *b, uint16_t rows, uint16_t cols)
{
	start(b);
	wire_put_u16(b, rows);
	wire_put_u16(b, cols);
	return finish(b, REXEC_T_WINCH);
}

int rexec_enc_empty(struct wire_buf *b, uint8_t type)
{
	start(b);
	return finish(b, type);
}

int rexec_enc_error(struct wire_buf *b, uint32_t err, const char *msg)
{
	start(b);
	wire_put_u32(b, err);
	wire_put_str(b, msg ? msg : "");
	return wire_frame_end(b, WIRE_T_ERROR, 0, 0);
}

/*
 * One argv or env string: bytes without NUL (execve could not carry one).
 * Empty strings are legal arguments; the caller decides where they are not.
 */
static int get_cstr(struct wire_reader *r, char **out)
{
	const uint8_t *p;
	uint32_t len;
	char *s;

	if (wire_get_bytes(r, &p, &len))
		return -EBADMSG;
	if (len == UINT32_MAX || memchr(p, 0, len))
		return -EBADMSG;
	s = malloc((size_t)len + 1);
	if (!s)
		return -ENOMEM;
	memcpy(s, p, len);
	s[len] = '\0';
	*out = s;
	return 0;
}

static void free_strv(char **v, size_t n)
{
	size_t i;

	if (!v)
		return;
	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void rexec_exec_free(struct rexec_exec *x)
{
	free_strv(x->argv, x->argc);
	free_strv(x->env, x->envc);
	free(x->cwd);
	memset(x, 0, sizeof(*x));
}

/* Reads a count-prefixed list of strings; every count is checked against what is left. */
static int get_strv(struct wire_reader *r, uint32_t max, char ***out, size_t *n)
{
	uint32_t count, i;
	char **v;
	int ret;

	if (wire_get_u32(r, &count))
		return -EBADMSG;
	/* Each string needs at least its 4-byte length: bounds the allocation by the frame. */
	if (count > max || count > (r->len - r->off) / 4)
		return -EBADMSG;
	v = calloc((size_t)count + 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (i = 0; i < count; i++) {
		ret = get_cstr(r, &v[i]);
		if (ret) {
			free_strv(v, i);
			return ret;
		}
	}
	*out = v;
	*n = count;
	return 0;
}

int rexec_dec_exec(const void *p, size_t len, struct rexec_exec *out)
{
	struct rexec_exec x = {0};
	struct wire_reader r;
	size_t i;
	int ret = -EBADMSG;

	wire_reader_init(&r, p, len);
	if (wire_get_u32(&r, &x.flags) || wire_get_u16(&r, &x.rows) || wire_get_u16(&r, &x.cols) ||
	    wire_get_u32(&r, &x.window))
		goto err;
	if (x.flags & ~(uint32_t)REXEC_F_ALL)
		goto err;
	/* A window below one chunk would stall the stream; above 1 GiB is nonsense. */
	if (x.window < REXEC_DATA_CHUNK || x.window > (1u << 30))
		goto err;
	ret = get_strv(&r, REXEC_MAX_ARGS, &x.argv, &x.argc);
	if (ret)
		goto err;
	ret = -EBADMSG;
	if (x.argc < 1 || x.argv[0][0] == '\0')
		goto err;
	ret = get_strv(&r, REXEC_MAX_ENV, &x.env, &x.envc);
	if (ret)
		goto err;
	ret = -EBADMSG;
	for (i = 0; i < x.envc; i++) {
		const char *eq = strchr(x.env[i], '=');

		if (!eq || eq == x.env[i])
			goto err;
	}
	ret = get_cstr(&r, &x.cwd);
	if (ret)
		goto err;
	ret = -EBADMSG;
	if (x.cwd[0] != '\0' && x.cwd[0] != '/')
		goto err;
	if (wire_reader_done(&r))
		goto err;
	*out = x;
	return 0;
err:
	rexec_exec_free(&x);
	return ret;
}

int rexec_dec_pid(const void *p, size_t len, struct rexec_pid *out)
{
	struct wire_reader r;
	struct rexec_pid v;

	wire_reader_init(&r, p, len);
	if (wire_get_i32(&r, &v.pid) || wire_get_u64(&r, &v.start_time) ||
	    wire_get_u32(&r, &v.window) || wire_reader_done(&r))
		return -EBADMSG;
	if (v.pid <= 0 || v.window < REXEC_DATA_CHUNK || v.window > (1u << 30))
		return -EBADMSG;
	*out = v;
	return 0;
}

int rexec_dec_exit(const void *p, size_t len, struct rexec_exit *out)
{
	struct wire_reader r;
	uint8_t how, core;
	uint32_t value;

	wire_reader_init(&r, p, len);
	if (wire_get_u8(&r, &how) || wire_get_u32(&r, &value) || wire_get_u8(&r, &core) ||
	    wire_reader_done(&r))
		return -EBADMSG;
	if (core > 1)
		return -EBADMSG;
	if (how == REXEC_EXITED) {
		if (value > 255)
			return -EBADMSG;
	} else if (how == REXEC_SIGNALED) {
		if (value < 1 || value > 64)
			return -EBADMSG;
	} else {
		return -EBADMSG;
	}
	out->how = how;
	out->value = value;
	out->core = core;
	return 0;
}

int rexec_dec_kill(const void *p, size_t len, struct rexec_kill *out)
{
	struct wire_reader r;
	struct rexec_kill k;

	wire_reader_init(&r, p, len);
	if (wire_get_i32(&r, &k.pid) || wire_get_u32(&r, &k.signo) || wire_reader_done(&r))
		return -EBADMSG;
	if (k.pid <= 0 || k.signo > 64)
		return -EBADMSG;
	*out = k;
	return 0;
}

int rexec_dec_wait(const void *p, size_t len, int32_t *pid)
{
	struct wire_reader r;
	int32_t v;

	wire_reader_init(&r, p, len);
	if (wire_get_i32(&r, &v) || wire_reader_done(&r) || v <= 0)
		return -EBADMSG;
	*pid = v;
	return 0;
}

int rexec_dec_u32(const void *p, size_t len, uint32_t *v)
{
	struct wire_reader r;

	wire_reader_init(&r, p, len);
	if (wire_get_u32(&r, v) || wire_reader_done(&r))
		return -EBADMSG;
	return 0;
}

int rexec_dec_winch(const void *p, size_t len, uint16_t *rows, uint16_t *cols)
{
	struct wire_reader r;

	wire_reader_init(&r, p, len);
	if (wire_get_u16(&r, rows) || wire_get_u16(&r, cols) || wire_reader_done(&r))
		return -EBADMSG;
	return 0;
}

int rexec_dec_empty(const void *p, size_t len)
{
	return len == 0 ? 0 : -EBADMSG;
}

int rexec_dec_error(const void *p, size_t len, uint32_t *err, char *msg, size_t msglen)
{
	struct wire_reader r;
	const uint8_t *s;
	uint32_t slen;
	size_t i, n = 0;

	if (msglen == 0)
		return -EINVAL;
	wire_reader_init(&r, p, len);
	if (wire_get_u32(&r, err) || wire_get_bytes(&r, &s, &slen) || wire_reader_done(&r))
		return -EBADMSG;
	if (slen == UINT32_MAX)
		slen = 0;
	/* The message ends up on a terminal: keep it printable and on one line. */
	for (i = 0; i < slen && n + 1 < msglen; i++)
		msg[n++] = (s[i] >= 0x20 && s[i] < 0x7f) ? (char)s[i] : '?';
	msg[n] = '\0';
	return 0;
}

const char *rexec_type_name(uint8_t type, char *buf, size_t len)
{
	static const char *const names[] = {
		[REXEC_T_EXEC] = "EXEC",
		[REXEC_T_STDIN] = "STDIN",
		[REXEC_T_STDOUT] = "STDOUT",
		[REXEC_T_STDERR] = "STDERR",
		[REXEC_T_STDIN_EOF] = "STDIN_EOF",
		[REXEC_T_CREDIT] = "CREDIT",
		[REXEC_T_SIGNAL] = "SIGNAL",
		[REXEC_T_WINCH] = "WINCH",
		[REXEC_T_PID] = "PID",
		[REXEC_T_EXIT] = "EXIT",
		[REXEC_T_KILL] = "KILL",
		[REXEC_T_WAIT] = "WAIT",
		[REXEC_T_OK] = "OK",
	};

	if (type == WIRE_T_ERROR)
		return "ERROR";
	if (type < sizeof(names) / sizeof(names[0]) && names[type])
		return names[type];
	snprintf(buf, len, "type %u", type);
	return buf;
}
