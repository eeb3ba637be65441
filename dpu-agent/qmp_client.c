/* qmp_client: the agent's side of QMP: a json-c stream tokenizer over a socket. */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "qmp_client.h"
#include "util.h"

int qmp_client_read(struct qmp_client *c, int timeout_ms, json_object **out)
{
	uint64_t deadline = timeout_ms < 0 ? 0 : now_ms() + (uint64_t)timeout_ms;

	for (;;) {
		/* Parse what is buffered first: one read may carry several messages. */
		while (c->off < c->len) {
			size_t n = c->len - c->off;
			json_object *obj;
			enum json_tokener_error err;
			size_t used;

			/* Skip white space between messages (QMP ends each with CRLF). */
			if (c->msg_bytes == 0 && strchr(" \t\r\n", c->buf[c->off])) {
				c->off++;
				continue;
			}
			obj = json_tokener_parse_ex(c->tok, c->buf + c->off, (int)n);
			err = json_tokener_get_error(c->tok);
			used = json_tokener_get_parse_end(c->tok);
			if (used > n)
				used = n;
			if (obj) {
				c->off += used;
				c->msg_bytes = 0;
				json_tokener_reset(c->tok);
				if (!json_object_is_type(obj, json_type_object)) {
					json_object_put(obj);
					return -EBADMSG;
				}
				*out = obj;
				return 0;
			}
			if (err != json_tokener_continue) {
				json_tokener_reset(c->tok);
				return -EBADMSG;
			}
			c->msg_bytes += n;
			c->off = c->len;
			if (c->msg_bytes > QMP_MSG_MAX)
				return -EMSGSIZE;
		}
		c->off = c->len = 0;
		if (timeout_ms >= 0) {
			uint64_t now = now_ms();
			struct pollfd p = {.fd = c->fd, .events = POLLIN};
			int r;

			if (now >= deadline)
				return -ETIMEDOUT;
			r = poll(&p, 1, (int)(deadline - now));
			if (r < 0 && errno != EINTR)
				return -errno;
			if (r <= 0)
				continue;
		}
		ssize_t r = read(c->fd, c->buf, sizeof(c->buf));
		if (r < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -errno;
		}
		if (r == 0)
			return -EPIPE;
		c->len = (size_t)r;
	}
}

int qmp_client_send(struct qmp_client *c, const char *cmd, json_object *args)
{
	json_object *o = json_object_new_object();
	const char *s;
	int ret;

	if (!o)
		return -ENOMEM;
	json_object_object_add(o, "execute", json_object_new_string(cmd));
	if (args)
		json_object_object_add(o, "arguments", json_object_get(args));
	s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	ret = write_full(c->fd, s, strlen(s));
	if (!ret)
		ret = write_full(c->fd, "\r\n", 2);
	json_object_put(o);
	return ret;
}

static void qmp_error_text(json_object *msg, struct errmsg *e)
{
	json_object *err, *desc, *cls;

	if (json_object_object_get_ex(msg, "error", &err) &&
	    json_object_object_get_ex(err, "desc", &desc)) {
		if (json_object_object_get_ex(err, "class", &cls))
			errmsg_set(e, "%s: %s", json_object_get_string(cls),
				   json_object_get_string(desc));
		else
			errmsg_set(e, "%s", json_object_get_string(desc));
	} else {
		errmsg_set(e, "malformed QMP error reply");
	}
}

int qmp_client_execute(struct qmp_client *c, const char *cmd, json_object *args, int timeout_ms,
		       qmp_event_cb on_event, void *arg, json_object **ret, struct errmsg *e)
{
	json_object *msg, *v;
	int r;

	if (ret)
		*ret = NULL;
	r = qmp_client_send(c, cmd, args);
	if (r) {
		errmsg_set(e, "QMP %s: %s", cmd, strerror(-r));
		return r;
	}
	for (;;) {
		r = qmp_client_read(c, timeout_ms, &msg);
		if (r) {
			errmsg_set(e, "QMP %s: %s", cmd, strerror(-r));
			return r;
		}
		if (json_object_object_get_ex(msg, "event", NULL)) {
			if (on_event)
				on_event(msg, arg);
			json_object_put(msg);
			continue;
		}
		if (json_object_object_get_ex(msg, "return", &v)) {
			if (ret)
				*ret = json_object_get(v);
			json_object_put(msg);
			return 0;
		}
		if (json_object_object_get_ex(msg, "error", NULL)) {
			qmp_error_text(msg, e);
			errmsg_prefix(e, "QMP %s", cmd);
			json_object_put(msg);
			return -EIO;
		}
		json_object_put(msg); /* neither: ignore (e.g. a stray greeting) */
	}
}

int qmp_client_open(struct qmp_client *c, int fd, int timeout_ms, struct errmsg *e)
{
	json_object *msg;
	int r;

	memset(c, 0, sizeof(*c));
	c->fd = fd;
	c->tok = json_tokener_new_ex(64);
	if (!c->tok) {
		close(fd);
		c->fd = -1;
		return -ENOMEM;
	}
	r = qmp_client_read(c, timeout_ms, &msg);
	if (r) {
		errmsg_set(e, "QMP greeting: %s", strerror(-r));
		goto fail;
	}
	if (!json_object_object_get_ex(msg, "QMP", NULL)) {
		json_object_put(msg);
		errmsg_set(e, "QMP greeting: not a QMP server");
		r = -EPROTO;
		goto fail;
	}
	json_object_put(msg);
	r = qmp_client_execute(c, "qmp_capabilities", NULL, timeout_ms, NULL, NULL, NULL, e);
	if (r)
		goto fail;
	return 0;
fail:
	qmp_client_close(c);
	return r;
}

void qmp_client_close(struct qmp_client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	if (c->tok)
		json_tokener_free(c->tok);
	c->tok = NULL;
}

const char *qmp_status_of(json_object *ret)
{
	json_object *st;

	if (ret && json_object_object_get_ex(ret, "status", &st) &&
	    json_object_is_type(st, json_type_string))
		return json_object_get_string(st);
	return "unknown";
}
