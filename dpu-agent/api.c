/* api: JSON-RPC methods of splitvirt-dpud, dispatch to the manager, console byte streams. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "api.h"
#include "log.h"
#include "mgr.h"
#include "rpc.h"
#include "util.h"
#include "xport.h"

#define API_VERSION "1"

static int code_of(int err)
{
	switch (err) {
	case -ENOENT:
		return RPC_E_NO_DOMAIN;
	case -EPERM:
		return RPC_E_STATE;
	case -EEXIST:
		return RPC_E_EXISTS;
	case -EINVAL:
		return RPC_E_BAD_XML;
	case -ENOMEM:
		return RPC_E_INTERNAL;
	default:
		return RPC_E_HOST;
	}
}

static json_object *info_json(const struct mgr_dominfo *i, bool full)
{
	json_object *o = json_object_new_object();
	char uuid[37];

	if (!o)
		return NULL;
	domain_uuid_format(i->uuid, uuid);
	json_object_object_add(o, "id", json_object_new_int(i->id));
	json_object_object_add(o, "name", json_object_new_string(i->name));
	json_object_object_add(o, "uuid", json_object_new_string(uuid));
	json_object_object_add(o, "state", json_object_new_string(dom_state_name(i->state)));
	json_object_object_add(o, "state_code", json_object_new_int((int)i->state));
	json_object_object_add(o, "reason", json_object_new_string(i->reason));
	json_object_object_add(o, "autostart", json_object_new_boolean(i->autostart));
	json_object_object_add(o, "persistent", json_object_new_boolean(1));
	if (full) {
		json_object_object_add(o, "os_type", json_object_new_string("hvm"));
		json_object_object_add(o, "vcpus", json_object_new_int((int)i->vcpus));
		json_object_object_add(o, "max_memory_kib",
				       json_object_new_int64((int64_t)i->memory_kib));
		json_object_object_add(o, "used_memory_kib",
				       json_object_new_int64((int64_t)i->current_memory_kib));
		json_object_object_add(o, "pid", json_object_new_int(i->pid));
		json_object_object_add(o, "started_ms",
				       json_object_new_int64((int64_t)i->started_ms));
	}
	return o;
}

/* The "name" parameter every verb but list/define/version takes, validated. */
static int get_name(const struct rpc_req *req, const char **name, struct errmsg *e)
{
	int r = rpc_param_str(req, "name", true, DOM_NAME_MAX + 8, name, e);

	if (!r)
		r = domain_name_check(*name, e);
	return r;
}

static json_object *do_list(struct mgr *m, const struct rpc_req *req, int *err, struct errmsg *e)
{
	struct mgr_dominfo *v;
	size_t n;
	bool all = false;
	json_object *o, *arr;

	*err = rpc_param_bool(req, "all", &all, e);
	if (*err)
		return NULL;
	*err = mgr_list(m, all, &v, &n);
	if (*err) {
		errmsg_set(e, "out of memory");
		return NULL;
	}
	o = json_object_new_object();
	arr = json_object_new_array();
	for (size_t i = 0; i < n; i++)
		json_object_array_add(arr, info_json(&v[i], false));
	json_object_object_add(o, "domains", arr);
	free(v);
	return o;
}

static json_object *dispatch(struct mgr *m, const struct rpc_req *req, int *err, int *console_fd,
			     struct errmsg *e)
{
	const char *name = NULL, *xml = NULL;
	json_object *o;
	bool flag = true;

	if (strcmp(req->method, "version") == 0) {
		o = json_object_new_object();
		json_object_object_add(o, "api", json_object_new_string(API_VERSION));
		json_object_object_add(o, "daemon", json_object_new_string("splitvirt-dpud"));
		return o;
	}
	if (strcmp(req->method, "list") == 0)
		return do_list(m, req, err, e);
	if (strcmp(req->method, "define") == 0) {
		char dname[DOM_NAME_MAX + 1];
		struct dom_warnings w;
		json_object *warr;

		*err = rpc_param_str(req, "xml", true, DOM_XML_MAX, &xml, e);
		if (*err)
			return NULL;
		*err = mgr_define(m, xml, strlen(xml), dname, &w, e);
		if (*err)
			return NULL;
		o = json_object_new_object();
		json_object_object_add(o, "name", json_object_new_string(dname));
		warr = json_object_new_array();
		for (size_t i = 0; i < w.n; i++)
			json_object_array_add(warr, json_object_new_string(w.text[i]));
		json_object_object_add(o, "warnings", warr);
		return o;
	}
	static const char *const named[] = {"dominfo", "domstate", "dumpxml",	"undefine",
					    "start",   "shutdown", "destroy",	"reboot",
					    "suspend", "resume",   "autostart", "console"};
	size_t k;

	for (k = 0; k < sizeof(named) / sizeof(named[0]); k++)
		if (strcmp(req->method, named[k]) == 0)
			break;
	if (k == sizeof(named) / sizeof(named[0])) {
		errmsg_set(e, "unknown method '%s'", req->method);
		*err = -ENOSYS;
		return NULL;
	}
	*err = get_name(req, &name, e);
	if (*err)
		return NULL;
	if (strcmp(req->method, "dominfo") == 0 || strcmp(req->method, "domstate") == 0) {
		struct mgr_dominfo i;

		*err = mgr_info(m, name, &i, e);
		return *err ? NULL : info_json(&i, true);
	}
	if (strcmp(req->method, "dumpxml") == 0) {
		char *x;

		*err = mgr_dumpxml(m, name, &x, e);
		if (*err)
			return NULL;
		o = json_object_new_object();
		json_object_object_add(o, "xml", json_object_new_string(x));
		free(x);
		return o;
	}
	if (strcmp(req->method, "undefine") == 0)
		*err = mgr_undefine(m, name, e);
	else if (strcmp(req->method, "start") == 0)
		*err = mgr_start(m, name, e);
	else if (strcmp(req->method, "shutdown") == 0)
		*err = mgr_shutdown(m, name, e);
	else if (strcmp(req->method, "destroy") == 0)
		*err = mgr_destroy(m, name, e);
	else if (strcmp(req->method, "reboot") == 0)
		*err = mgr_reboot(m, name, e);
	else if (strcmp(req->method, "suspend") == 0)
		*err = mgr_suspend(m, name, e);
	else if (strcmp(req->method, "resume") == 0)
		*err = mgr_resume(m, name, e);
	else if (strcmp(req->method, "autostart") == 0) {
		*err = rpc_param_bool(req, "enable", &flag, e);
		if (!*err)
			*err = mgr_autostart(m, name, flag, e);
	} else if (strcmp(req->method, "console") == 0) {
		*err = mgr_console(m, name, console_fd, e);
	} else {
		errmsg_set(e, "unknown method '%s'", req->method);
		*err = -ENOSYS;
		return NULL;
	}
	return *err ? NULL : json_object_new_object();
}

char *api_handle_line(struct mgr *m, const char *line, size_t len, int *console_fd)
{
	struct rpc_req req;
	struct errmsg e = {{0}};
	json_object *res;
	int code, err = 0;
	char *out;

	*console_fd = -1;
	if (rpc_parse_request(line, len, &req, &code, &e))
		return rpc_error_line(NULL, code, errmsg_str(&e));
	res = dispatch(m, &req, &err, console_fd, &e);
	if (err) {
		if (err == -ENOSYS)
			code = RPC_E_METHOD;
		else if (err == -EINVAL && !json_object_object_get_ex(req.params, "xml", NULL))
			code = RPC_E_PARAMS;
		else
			code = code_of(err);
		out = rpc_error_line(req.id, code, errmsg_str(&e));
	} else {
		out = rpc_result_line(req.id, res);
	}
	rpc_req_free(&req);
	return out;
}

/* Copies bytes both ways between the client and the serial socket until either closes. */
static void console_bridge(struct xport_conn *c, int sfd)
{
	char buf[16384];
	int cfd = xport_fd(c);

	for (;;) {
		struct pollfd p[2] = {{.fd = cfd, .events = POLLIN}, {.fd = sfd, .events = POLLIN}};
		ssize_t n;

		if (!xport_pending(c) && poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		if (xport_pending(c) || (p[0].revents & (POLLIN | POLLHUP | POLLERR))) {
			n = xport_read(c, buf, sizeof(buf));
			if (n <= 0)
				return;
			if (write_full(sfd, buf, (size_t)n))
				return;
		}
		if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
			n = read(sfd, buf, sizeof(buf));
			if (n <= 0)
				return;
			if (xport_write_all(c, buf, (size_t)n))
				return;
		}
	}
}

void api_serve(struct mgr *m, struct xport_conn *c)
{
	struct rpc_lines lines;
	char *line, *p, *out;
	size_t len;
	int r, cfd;

	rpc_lines_init(&lines);
	for (;;) {
		r = rpc_lines_next(&lines, &line, &len);
		if (r < 0) {
			out = rpc_error_line(NULL, RPC_E_INVALID, "request line too long");
			if (out)
				xport_write_all(c, out, strlen(out));
			free(out);
			log_warn("%s: request line too long; closing", xport_peer_desc(c));
			break;
		}
		if (r == 0) {
			ssize_t n;

			if (rpc_lines_space(&lines, 65536, &p))
				break;
			n = xport_read(c, p, 65536);
			if (n <= 0)
				break;
			rpc_lines_commit(&lines, (size_t)n);
			continue;
		}
		out = api_handle_line(m, line, len, &cfd);
		if (!out || xport_write_all(c, out, strlen(out))) {
			free(out);
			if (cfd >= 0)
				close(cfd);
			break;
		}
		free(out);
		if (cfd >= 0) {
			console_bridge(c, cfd);
			close(cfd);
			break;
		}
	}
	rpc_lines_free(&lines);
	xport_close(c);
}
