/* rpc: JSON-RPC 2.0 request/response lines: strict parsing and building (json-c). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "rpc.h"
#include "util.h"

void rpc_req_free(struct rpc_req *req)
{
	if (req->id)
		json_object_put(req->id);
	if (req->params)
		json_object_put(req->params);
	memset(req, 0, sizeof(*req));
}

static json_object *parse_json(const char *s, size_t len, struct errmsg *e)
{
	json_tokener *tok;
	json_object *obj;
	enum json_tokener_error err;
	size_t end;

	if (len > RPC_LINE_MAX || len > INT32_MAX) {
		errmsg_set(e, "request larger than %u bytes", RPC_LINE_MAX);
		return NULL;
	}
	if (memchr(s, '\0', len)) {
		errmsg_set(e, "request contains a NUL byte");
		return NULL;
	}
	tok = json_tokener_new_ex(32);
	if (!tok) {
		errmsg_set(e, "out of memory");
		return NULL;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	obj = json_tokener_parse_ex(tok, s, (int)len);
	err = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	if (!obj && err == json_tokener_continue) {
		/* A top-level number needs a terminator; a truncated object is an error. */
		obj = json_tokener_parse_ex(tok, "", 1);
		err = json_tokener_get_error(tok);
		end = len;
	}
	if (!obj) {
		errmsg_set(e, "not valid JSON: %s", json_tokener_error_desc(err));
		json_tokener_free(tok);
		return NULL;
	}
	for (; end < len; end++) {
		if (!strchr(" \t\r\n", s[end])) {
			errmsg_set(e, "trailing bytes after the JSON value");
			json_object_put(obj);
			json_tokener_free(tok);
			return NULL;
		}
	}
	json_tokener_free(tok);
	return obj;
}

int rpc_parse_request(const char *line, size_t len, struct rpc_req *req, int *code,
		      struct errmsg *e)
{
	json_object *obj, *v;
	const char *m;
	size_t mlen;

	memset(req, 0, sizeof(*req));
	*code = RPC_E_PARSE;
	obj = parse_json(line, len, e);
	if (!obj)
		return -EINVAL;
	*code = RPC_E_INVALID;
	if (!json_object_is_type(obj, json_type_object)) {
		errmsg_set(e, "request is not a JSON object");
		goto bad;
	}
	if (!json_object_object_get_ex(obj, "jsonrpc", &v) ||
	    !json_object_is_type(v, json_type_string) ||
	    strcmp(json_object_get_string(v), "2.0") != 0) {
		errmsg_set(e, "jsonrpc: must be \"2.0\"");
		goto bad;
	}
	if (json_object_object_get_ex(obj, "id", &v)) {
		if (v && !json_object_is_type(v, json_type_int) &&
		    !json_object_is_type(v, json_type_string)) {
			errmsg_set(e, "id: must be an integer, a string or null");
			goto bad;
		}
		if (v && json_object_is_type(v, json_type_string) &&
		    json_object_get_string_len(v) > 128) {
			errmsg_set(e, "id: longer than 128 bytes");
			goto bad;
		}
		req->id = v ? json_object_get(v) : NULL;
	}
	if (!json_object_object_get_ex(obj, "method", &v) ||
	    !json_object_is_type(v, json_type_string)) {
		errmsg_set(e, "method: missing or not a string");
		goto bad;
	}
	m = json_object_get_string(v);
	mlen = (size_t)json_object_get_string_len(v);
	if (mlen == 0 || mlen > RPC_METHOD_MAX || strlen(m) != mlen) {
		errmsg_set(e, "method: empty or longer than %d bytes", RPC_METHOD_MAX);
		goto bad;
	}
	for (size_t i = 0; i < mlen; i++) {
		if (!((m[i] >= 'a' && m[i] <= 'z') || m[i] == '_' || m[i] == '.')) {
			errmsg_set(e, "method: only [a-z_.] allowed");
			goto bad;
		}
	}
	memcpy(req->method, m, mlen + 1);
	if (json_object_object_get_ex(obj, "params", &v) && v) {
		if (!json_object_is_type(v, json_type_object)) {
			errmsg_set(e, "params: must be an object");
			goto bad;
		}
		req->params = json_object_get(v);
	} else {
		req->params = json_object_new_object();
		if (!req->params) {
			errmsg_set(e, "out of memory");
			goto bad;
		}
	}
	json_object_object_foreach(obj, key, val)
	{
		(void)val;
		if (strcmp(key, "jsonrpc") && strcmp(key, "id") && strcmp(key, "method") &&
		    strcmp(key, "params")) {
			errmsg_set(e, "unknown member '%.40s'", key);
			goto bad;
		}
	}
	json_object_put(obj);
	*code = 0;
	return 0;
bad:
	json_object_put(obj);
	rpc_req_free(req);
	return -EINVAL;
}

int rpc_param_str(const struct rpc_req *req, const char *key, bool required, size_t max,
		  const char **out, struct errmsg *e)
{
	json_object *v;

	if (!json_object_object_get_ex(req->params, key, &v) || !v) {
		if (!required)
			return 0;
		errmsg_set(e, "params.%s: missing", key);
		return -EINVAL;
	}
	if (!json_object_is_type(v, json_type_string)) {
		errmsg_set(e, "params.%s: must be a string", key);
		return -EINVAL;
	}
	if ((size_t)json_object_get_string_len(v) > max) {
		errmsg_set(e, "params.%s: longer than %zu bytes", key, max);
		return -EINVAL;
	}
	if (strlen(json_object_get_string(v)) != (size_t)json_object_get_string_len(v)) {
		errmsg_set(e, "params.%s: contains a NUL byte", key);
		return -EINVAL;
	}
	*out = json_object_get_string(v);
	return 0;
}

int rpc_param_bool(const struct rpc_req *req, const char *key, bool *out, struct errmsg *e)
{
	json_object *v;

	if (!json_object_object_get_ex(req->params, key, &v) || !v)
		return 0;
	if (!json_object_is_type(v, json_type_boolean)) {
		errmsg_set(e, "params.%s: must be true or false", key);
		return -EINVAL;
	}
	*out = json_object_get_boolean(v);
	return 0;
}

static char *to_line(json_object *o)
{
	const char *s;
	char *line;
	size_t n;

	if (!o)
		return NULL;
	s = json_object_to_json_string_ext(o,
					   JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	n = strlen(s);
	line = malloc(n + 2);
	if (line) {
		memcpy(line, s, n);
		line[n] = '\n';
		line[n + 1] = '\0';
	}
	json_object_put(o);
	return line;
}

static json_object *envelope(json_object *id)
{
	json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	json_object_object_add(o, "jsonrpc", json_object_new_string("2.0"));
	json_object_object_add(o, "id", id ? json_object_get(id) : NULL);
	return o;
}

char *rpc_result_line(json_object *id, json_object *result)
{
	json_object *o = envelope(id);

	if (!o) {
		json_object_put(result);
		return NULL;
	}
	json_object_object_add(o, "result", result ? result : json_object_new_object());
	return to_line(o);
}

char *rpc_error_line(json_object *id, int code, const char *message)
{
	json_object *o = envelope(id), *err;

	if (!o)
		return NULL;
	err = json_object_new_object();
	json_object_object_add(err, "code", json_object_new_int(code));
	json_object_object_add(err, "message", json_object_new_string(message));
	json_object_object_add(o, "error", err);
	return to_line(o);
}

char *rpc_request_line(int id, const char *method, json_object *params)
{
	json_object *o = json_object_new_object();

	if (!o) {
		json_object_put(params);
		return NULL;
	}
	json_object_object_add(o, "jsonrpc", json_object_new_string("2.0"));
	json_object_object_add(o, "id", json_object_new_int(id));
	json_object_object_add(o, "method", json_object_new_string(method));
	if (params)
		json_object_object_add(o, "params", params);
	return to_line(o);
}

int rpc_parse_response(const char *line, size_t len, json_object **result, int *code,
		       struct errmsg *e)
{
	json_object *obj, *v, *m;

	*result = NULL;
	*code = 0;
	obj = parse_json(line, len, e);
	if (!obj) {
		errmsg_prefix(e, "dpud reply");
		return -EBADMSG;
	}
	if (!json_object_is_type(obj, json_type_object)) {
		json_object_put(obj);
		errmsg_set(e, "dpud reply: not an object");
		return -EBADMSG;
	}
	if (json_object_object_get_ex(obj, "error", &v) && v) {
		if (json_object_object_get_ex(v, "code", &m))
			*code = json_object_get_int(m);
		if (json_object_object_get_ex(v, "message", &m))
			errmsg_set(e, "%s", json_object_get_string(m));
		else
			errmsg_set(e, "dpud reported an error without a message");
		json_object_put(obj);
		return -EREMOTEIO;
	}
	if (json_object_object_get_ex(obj, "result", &v))
		*result = v ? json_object_get(v) : NULL;
	json_object_put(obj);
	return 0;
}

void rpc_lines_init(struct rpc_lines *l)
{
	memset(l, 0, sizeof(*l));
}

void rpc_lines_free(struct rpc_lines *l)
{
	free(l->buf);
	rpc_lines_init(l);
}

int rpc_lines_next(struct rpc_lines *l, char **line, size_t *len)
{
	char *nl;

	if (l->start >= l->len) {
		l->start = l->len = 0;
		return 0;
	}
	nl = memchr(l->buf + l->start, '\n', l->len - l->start);
	if (!nl) {
		if (l->len - l->start > RPC_LINE_MAX)
			return -EMSGSIZE;
		return 0;
	}
	*nl = '\0';
	*line = l->buf + l->start;
	*len = (size_t)(nl - *line);
	l->start = (size_t)(nl - l->buf) + 1;
	return 1;
}

int rpc_lines_space(struct rpc_lines *l, size_t want, char **p)
{
	size_t need;

	/* Drop consumed bytes before growing. */
	if (l->start) {
		memmove(l->buf, l->buf + l->start, l->len - l->start);
		l->len -= l->start;
		l->start = 0;
	}
	if (__builtin_add_overflow(l->len, want, &need))
		return -EMSGSIZE;
	if (need > RPC_LINE_MAX + want)
		return -EMSGSIZE;
	if (need > l->cap) {
		size_t cap = l->cap ? l->cap : 4096;
		char *b;

		while (cap < need)
			cap *= 2;
		b = realloc(l->buf, cap + 1);
		if (!b)
			return -ENOMEM;
		l->buf = b;
		l->cap = cap;
	}
	*p = l->buf + l->len;
	return 0;
}

void rpc_lines_commit(struct rpc_lines *l, size_t n)
{
	l->len += n;
}
