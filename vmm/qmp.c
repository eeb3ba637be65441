/*
 * qmp: QMP server: unix socket listener, per-client streaming JSON input (json-c tokener),
 * negotiation, command dispatch (core and registered commands), events to all clients.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "loop.h"
#include "qmp.h"
#include "util.h"

#define QMP_READ_CHUNK 4096

struct qmp_client {
	struct qmp_server *s;
	int fd; /* -1 for the fuzz pseudo-client */
	bool negotiated;
	bool skip_to_newline; /* resynchronising after malformed input */
	bool close_after_flush;
	struct json_tokener *tok;
	size_t pending; /* bytes of the value being parsed */
	char *out;
	size_t out_len, out_cap;
	bool want_out; /* EPOLLOUT registered */
	bool dead;     /* to be closed when its callback returns */
};

struct qmp_cmd {
	char *name;
	qmp_cmd_fn fn;
	void *opaque;
	struct qmp_cmd *next;
};

/* All fields are owned by the loop thread. */
struct qmp_server {
	struct loop *loop;
	const struct qmp_vm_ops *ops;
	void *opaque;
	char *name;
	struct qmp_server_info info;
	int listen_fd;
	char *path;
	struct qmp_client *clients[QMP_MAX_CLIENTS];
	/* The client whose input is being handled: an event that fails for it marks it dead
	 * instead of freeing it under its own callback. */
	struct qmp_client *current;
	struct qmp_cmd *cmds; /* registered and core commands, newest first */
};

const char *qmp_run_state_name(enum qmp_run_state st)
{
	switch (st) {
	case QMP_RUN_STATE_PRELAUNCH:
		return "prelaunch";
	case QMP_RUN_STATE_RUNNING:
		return "running";
	case QMP_RUN_STATE_PAUSED:
		return "paused";
	case QMP_RUN_STATE_SHUTDOWN:
		return "shutdown";
	case QMP_RUN_STATE_INTERNAL_ERROR:
		return "internal-error";
	}
	return "unknown";
}

/* ---- output ---------------------------------------------------------------------------- */

static void client_close(struct qmp_client *c);

static void client_update_events(struct qmp_client *c)
{
	bool want = c->out_len > 0;

	if (c->fd < 0 || !c->s->loop || want == c->want_out)
		return;
	if (loop_mod_fd(c->s->loop, c->fd, EPOLLIN | (want ? EPOLLOUT : 0)) == 0)
		c->want_out = want;
}

/* Writes as much queued output as the socket takes now. 0, or -errno (peer gone). */
static int client_flush(struct qmp_client *c)
{
	while (c->fd >= 0 && c->out_len > 0) {
		ssize_t n = send(c->fd, c->out, c->out_len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			return -errno;
		}
		memmove(c->out, c->out + n, c->out_len - (size_t)n);
		c->out_len -= (size_t)n;
	}
	client_update_events(c);
	return 0;
}

/* Queues one JSON text and "\r\n". Drops (returns -ENOBUFS) beyond QMP_MAX_OUTPUT. */
static int client_queue(struct qmp_client *c, struct json_object *obj)
{
	const char *txt = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN);
	size_t len, need;

	if (!txt)
		return -ENOMEM;
	len = strlen(txt);
	if (__builtin_add_overflow(c->out_len, len + 2, &need) || need > QMP_MAX_OUTPUT)
		return -ENOBUFS;
	if (need > c->out_cap) {
		size_t cap = c->out_cap ? c->out_cap : 1024;
		char *p;

		while (cap < need)
			cap *= 2;
		p = realloc(c->out, cap);
		if (!p)
			return -ENOMEM;
		c->out = p;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, txt, len);
	memcpy(c->out + c->out_len + len, "\r\n", 2);
	c->out_len = need;
	return 0;
}

/* Takes obj. */
static int client_send(struct qmp_client *c, struct json_object *obj)
{
	int ret = client_queue(c, obj);

	json_object_put(obj);
	if (ret)
		return ret;
	return client_flush(c);
}

static void reply_add_id(struct json_object *reply, struct json_object *id)
{
	if (id)
		json_object_object_add(reply, "id", json_object_get(id));
}

static int send_error(struct qmp_client *c, struct json_object *id, const char *cls,
		      const char *desc)
{
	struct json_object *reply = json_object_new_object(), *err = json_object_new_object();

	if (!reply || !err) {
		json_object_put(reply);
		json_object_put(err);
		return -ENOMEM;
	}
	json_object_object_add(err, "class", json_object_new_string(cls));
	json_object_object_add(err, "desc", json_object_new_string(desc));
	json_object_object_add(reply, "error", err);
	reply_add_id(reply, id);
	return client_send(c, reply);
}

/* Takes ret (NULL means {}). */
static int send_return(struct qmp_client *c, struct json_object *id, struct json_object *ret)
{
	struct json_object *reply = json_object_new_object();

	if (!ret)
		ret = json_object_new_object();
	if (!reply || !ret) {
		json_object_put(reply);
		json_object_put(ret);
		return -ENOMEM;
	}
	json_object_object_add(reply, "return", ret);
	reply_add_id(reply, id);
	return client_send(c, reply);
}

static struct json_object *version_object(const struct qmp_server *s)
{
	struct json_object *v = json_object_new_object(), *q = json_object_new_object();

	json_object_object_add(q, "major", json_object_new_int(s->info.version_major));
	json_object_object_add(q, "minor", json_object_new_int(s->info.version_minor));
	json_object_object_add(q, "micro", json_object_new_int(s->info.version_micro));
	json_object_object_add(v, "qemu", q);
	json_object_object_add(v, "package",
			       json_object_new_string(s->info.package ? s->info.package : ""));
	return v;
}

static int send_greeting(struct qmp_client *c)
{
	struct json_object *g = json_object_new_object(), *qmp = json_object_new_object();

	json_object_object_add(qmp, "version", version_object(c->s));
	json_object_object_add(qmp, "capabilities", json_object_new_array());
	json_object_object_add(g, "QMP", qmp);
	return client_send(c, g);
}

/* ---- events ---------------------------------------------------------------------------- */

int qmp_server_event(struct qmp_server *s, const char *name, struct json_object *data)
{
	struct json_object *ev, *ts;
	struct timespec now;
	int i, n = 0;

	clock_gettime(CLOCK_REALTIME, &now);
	ev = json_object_new_object();
	ts = json_object_new_object();
	if (!data)
		data = json_object_new_object();
	if (!ev || !ts || !data) {
		json_object_put(ev);
		json_object_put(ts);
		json_object_put(data);
		return -ENOMEM;
	}
	json_object_object_add(ev, "event", json_object_new_string(name));
	json_object_object_add(ev, "data", data);
	json_object_object_add(ts, "seconds", json_object_new_int64(now.tv_sec));
	json_object_object_add(ts, "microseconds", json_object_new_int64(now.tv_nsec / 1000));
	json_object_object_add(ev, "timestamp", ts);
	for (i = 0; i < QMP_MAX_CLIENTS; i++) {
		struct qmp_client *c = s->clients[i];

		bool failed = false;

		if (!c || !c->negotiated || c->dead)
			continue;
		if (client_queue(c, ev) == 0) {
			n++;
			failed = client_flush(c) != 0;
		} else {
			log_warn("qmp: client fd %d: output queue full, disconnecting", c->fd);
			failed = true;
		}
		if (failed && c == s->current)
			c->dead = true;
		else if (failed)
			client_close(c);
	}
	json_object_put(ev);
	return n;
}

static int event_guest_reason(struct qmp_server *s, const char *name, bool guest,
			      const char *reason)
{
	struct json_object *d = json_object_new_object();

	if (!d)
		return -ENOMEM;
	json_object_object_add(d, "guest", json_object_new_boolean(guest));
	json_object_object_add(d, "reason", json_object_new_string(reason ? reason : "host-error"));
	return qmp_server_event(s, name, d);
}

int qmp_server_event_shutdown(struct qmp_server *s, bool guest, const char *reason)
{
	return event_guest_reason(s, "SHUTDOWN", guest, reason);
}

int qmp_server_event_reset(struct qmp_server *s, bool guest, const char *reason)
{
	return event_guest_reason(s, "RESET", guest, reason);
}

int qmp_server_event_simple(struct qmp_server *s, const char *name)
{
	return qmp_server_event(s, name, NULL);
}

/* ---- core commands ----------------------------------------------------------------------- */

static int vm_op(struct qmp_server *s, int (*op)(void *), const char *cmd, struct errmsg *e)
{
	int ret;

	if (!op) {
		errmsg_set(e, "'%s' is not supported by this machine", cmd);
		return -EOPNOTSUPP;
	}
	ret = op(s->opaque);
	if (ret)
		errmsg_set(e, "%s failed: %s", cmd, strerror(-ret));
	return ret;
}

static int cmd_stop(struct qmp_server *s, struct json_object *a, struct json_object **r,
		    struct errmsg *e, void *o)
{
	return vm_op(s, s->ops ? s->ops->pause : NULL, "stop", e);
}

static int cmd_cont(struct qmp_server *s, struct json_object *a, struct json_object **r,
		    struct errmsg *e, void *o)
{
	return vm_op(s, s->ops ? s->ops->resume : NULL, "cont", e);
}

static int cmd_system_reset(struct qmp_server *s, struct json_object *a, struct json_object **r,
			    struct errmsg *e, void *o)
{
	return vm_op(s, s->ops ? s->ops->reset : NULL, "system_reset", e);
}

static int cmd_system_powerdown(struct qmp_server *s, struct json_object *a, struct json_object **r,
				struct errmsg *e, void *o)
{
	return vm_op(s, s->ops ? s->ops->powerdown : NULL, "system_powerdown", e);
}

static enum qmp_run_state run_state(struct qmp_server *s)
{
	if (s->ops && s->ops->run_state)
		return s->ops->run_state(s->opaque);
	return QMP_RUN_STATE_PRELAUNCH;
}

static int cmd_query_status(struct qmp_server *s, struct json_object *a, struct json_object **r,
			    struct errmsg *e, void *o)
{
	enum qmp_run_state st = run_state(s);

	*r = json_object_new_object();
	json_object_object_add(*r, "status", json_object_new_string(qmp_run_state_name(st)));
	json_object_object_add(*r, "singlestep", json_object_new_boolean(false));
	json_object_object_add(*r, "running", json_object_new_boolean(st == QMP_RUN_STATE_RUNNING));
	return 0;
}

static int cmd_query_version(struct qmp_server *s, struct json_object *a, struct json_object **r,
			     struct errmsg *e, void *o)
{
	*r = version_object(s);
	return 0;
}

static int cmd_query_name(struct qmp_server *s, struct json_object *a, struct json_object **r,
			  struct errmsg *e, void *o)
{
	*r = json_object_new_object();
	if (s->name)
		json_object_object_add(*r, "name", json_object_new_string(s->name));
	return 0;
}

static int cmd_query_kvm(struct qmp_server *s, struct json_object *a, struct json_object **r,
			 struct errmsg *e, void *o)
{
	*r = json_object_new_object();
	json_object_object_add(*r, "enabled", json_object_new_boolean(s->info.kvm_enabled));
	json_object_object_add(*r, "present", json_object_new_boolean(s->info.kvm_present));
	return 0;
}

static int cmd_query_cpus_fast(struct qmp_server *s, struct json_object *a, struct json_object **r,
			       struct errmsg *e, void *o)
{
	struct qmp_cpu_info *cpus;
	size_t n = 0, i;
	int ret;

	*r = json_object_new_array();
	if (!s->ops || !s->ops->query_cpus)
		return 0;
	cpus = calloc(256, sizeof(*cpus));
	if (!cpus) {
		errmsg_set(e, "query-cpus-fast: out of memory");
		return -ENOMEM;
	}
	ret = s->ops->query_cpus(s->opaque, cpus, 256, &n);
	if (ret) {
		errmsg_set(e, "query-cpus-fast failed: %s", strerror(-ret));
		free(cpus);
		return ret;
	}
	for (i = 0; i < n && i < 256; i++) {
		struct json_object *cpu = json_object_new_object(),
				   *props = json_object_new_object();
		char qom[64];

		snprintf(qom, sizeof(qom), "/machine/unattached/device[%u]", cpus[i].cpu_index);
		json_object_object_add(cpu, "cpu-index", json_object_new_int64(cpus[i].cpu_index));
		json_object_object_add(cpu, "thread-id", json_object_new_int64(cpus[i].thread_id));
		json_object_object_add(cpu, "qom-path", json_object_new_string(qom));
		json_object_object_add(cpu, "target", json_object_new_string("x86_64"));
		json_object_object_add(props, "socket-id",
				       json_object_new_int64(cpus[i].socket_id));
		json_object_object_add(props, "die-id", json_object_new_int64(cpus[i].die_id));
		json_object_object_add(props, "cluster-id",
				       json_object_new_int64(cpus[i].cluster_id));
		json_object_object_add(props, "core-id", json_object_new_int64(cpus[i].core_id));
		json_object_object_add(props, "thread-id",
				       json_object_new_int64(cpus[i].thread_id_in_core));
		json_object_object_add(cpu, "props", props);
		json_object_array_add(*r, cpu);
	}
	free(cpus);
	return 0;
}

static int cmd_query_commands(struct qmp_server *s, struct json_object *a, struct json_object **r,
			      struct errmsg *e, void *o)
{
	const struct qmp_cmd *cmd;

	*r = json_object_new_array();
	for (cmd = s->cmds; cmd; cmd = cmd->next) {
		struct json_object *c = json_object_new_object();

		json_object_object_add(c, "name", json_object_new_string(cmd->name));
		json_object_array_add(*r, c);
	}
	return 0;
}

/* quit is special-cased in dispatch: the reply must reach the client before ops->quit. */
static int cmd_quit(struct qmp_server *s, struct json_object *a, struct json_object **r,
		    struct errmsg *e, void *o)
{
	if (!s->ops || !s->ops->quit) {
		errmsg_set(e, "'quit' is not supported by this machine");
		return -EOPNOTSUPP;
	}
	return 0;
}

/* qmp_capabilities is handled by dispatch (it depends on the client); listed here. */
static int cmd_qmp_capabilities(struct qmp_server *s, struct json_object *a, struct json_object **r,
				struct errmsg *e, void *o)
{
	return 0;
}

static const struct {
	const char *name;
	qmp_cmd_fn fn;
} core_cmds[] = {
	{"qmp_capabilities", cmd_qmp_capabilities},
	{"query-commands", cmd_query_commands},
	{"query-version", cmd_query_version},
	{"query-status", cmd_query_status},
	{"query-name", cmd_query_name},
	{"query-kvm", cmd_query_kvm},
	{"query-cpus-fast", cmd_query_cpus_fast},
	{"stop", cmd_stop},
	{"cont", cmd_cont},
	{"system_reset", cmd_system_reset},
	{"system_powerdown", cmd_system_powerdown},
	{"quit", cmd_quit},
};

static bool is_core(qmp_cmd_fn fn)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(core_cmds); i++)
		if (core_cmds[i].fn == fn)
			return true;
	return false;
}

static const struct qmp_cmd *find_cmd(const struct qmp_server *s, const char *name)
{
	const struct qmp_cmd *c;

	for (c = s->cmds; c; c = c->next)
		if (strcmp(c->name, name) == 0)
			return c;
	return NULL;
}

int qmp_server_register(struct qmp_server *s, const char *name, qmp_cmd_fn fn, void *opaque)
{
	struct qmp_cmd *c;

	if (!name || !fn || !name[0])
		return -EINVAL;
	if (find_cmd(s, name))
		return -EEXIST;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->name = str_dup(name);
	if (!c->name) {
		free(c);
		return -ENOMEM;
	}
	c->fn = fn;
	c->opaque = opaque;
	c->next = s->cmds;
	s->cmds = c;
	return 0;
}

/* Device commands waiting for a server (set-up, main thread). */
#define QMP_MAX_PREREGISTERED 16
static struct {
	const char *name;
	qmp_cmd_fn fn;
	void *opaque;
} prereg[QMP_MAX_PREREGISTERED];
static size_t n_prereg;

int qmp_preregister(const char *name, qmp_cmd_fn fn, void *opaque)
{
	if (n_prereg == QMP_MAX_PREREGISTERED)
		return -E2BIG;
	prereg[n_prereg].name = name;
	prereg[n_prereg].fn = fn;
	prereg[n_prereg].opaque = opaque;
	n_prereg++;
	return 0;
}

void qmp_preregister_remove(void *opaque)
{
	size_t i = 0;

	while (i < n_prereg) {
		if (prereg[i].opaque == opaque) {
			memmove(&prereg[i], &prereg[i + 1], (n_prereg - i - 1) * sizeof(prereg[0]));
			n_prereg--;
		} else {
			i++;
		}
	}
}

/* ---- dispatch -------------------------------------------------------------------------------- */

static const char *error_class(int err)
{
	if (err == -ENOENT)
		return "DeviceNotFound";
	if (err == -ENODEV)
		return "DeviceNotActive";
	return "GenericError";
}

/* Handles one complete JSON value from c. Returns -errno when c must be closed. */
static int dispatch(struct qmp_client *c, struct json_object *req)
{
	struct qmp_server *s = c->s;
	struct json_object *id = NULL, *exec = NULL, *args = NULL, *ret = NULL;
	const struct qmp_cmd *cmd;
	struct json_object_iterator it, end;
	struct errmsg e = {{0}};
	const char *name;
	bool own_args = false;
	int r;

	if (!json_object_is_type(req, json_type_object))
		return send_error(c, NULL, "GenericError", "QMP input must be a JSON object");
	json_object_object_get_ex(req, "id", &id);
	it = json_object_iter_begin(req);
	end = json_object_iter_end(req);
	for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
		const char *k = json_object_iter_peek_name(&it);
		char desc[160];

		if (strcmp(k, "execute") && strcmp(k, "arguments") && strcmp(k, "id")) {
			snprintf(desc, sizeof(desc), "QMP input member '%.100s' is unexpected", k);
			return send_error(c, id, "GenericError", desc);
		}
	}
	if (!json_object_object_get_ex(req, "execute", &exec))
		return send_error(c, id, "GenericError", "QMP input lacks member 'execute'");
	if (!json_object_is_type(exec, json_type_string))
		return send_error(c, id, "GenericError",
				  "QMP input member 'execute' must be a string");
	name = json_object_get_string(exec);
	if (json_object_object_get_ex(req, "arguments", &args)) {
		if (!json_object_is_type(args, json_type_object))
			return send_error(c, id, "GenericError",
					  "QMP input member 'arguments' must be an object");
	} else {
		args = json_object_new_object();
		if (!args)
			return -ENOMEM;
		own_args = true;
	}

	if (strcmp(name, "qmp_capabilities") == 0) {
		struct json_object *enable = NULL;

		if (c->negotiated) {
			r = send_error(c, id, "CommandNotFound",
				       "Capabilities negotiation is already complete, command "
				       "ignored");
			goto out;
		}
		it = json_object_iter_begin(args);
		end = json_object_iter_end(args);
		for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
			if (strcmp(json_object_iter_peek_name(&it), "enable") != 0) {
				r = send_error(c, id, "GenericError",
					       "Parameter of qmp_capabilities is unexpected");
				goto out;
			}
		}
		if (json_object_object_get_ex(args, "enable", &enable)) {
			if (!json_object_is_type(enable, json_type_array)) {
				r = send_error(c, id, "GenericError",
					       "Parameter 'enable' expects an array");
				goto out;
			}
			if (json_object_array_length(enable) > 0) {
				r = send_error(c, id, "GenericError",
					       "Capability is not available (none are offered)");
				goto out;
			}
		}
		c->negotiated = true;
		r = send_return(c, id, NULL);
		goto out;
	}
	if (!c->negotiated) {
		r = send_error(c, id, "CommandNotFound",
			       "Expecting capabilities negotiation with 'qmp_capabilities'");
		goto out;
	}
	cmd = find_cmd(s, name);
	if (!cmd) {
		char desc[160];

		snprintf(desc, sizeof(desc), "The command %.100s has not been found", name);
		r = send_error(c, id, "CommandNotFound", desc);
		goto out;
	}
	/* The core commands take no arguments; a registered command checks its own. */
	if (is_core(cmd->fn) && json_object_object_length(args) > 0) {
		char desc[200];

		it = json_object_iter_begin(args);
		snprintf(desc, sizeof(desc), "Parameter '%.100s' is unexpected",
			 json_object_iter_peek_name(&it));
		r = send_error(c, id, "GenericError", desc);
		goto out;
	}
	r = cmd->fn(s, args, &ret, &e, cmd->opaque);
	if (r) {
		json_object_put(ret);
		r = send_error(c, id, error_class(r),
			       errmsg_str(&e)[0] ? errmsg_str(&e) : strerror(-r));
		goto out;
	}
	r = send_return(c, id, ret);
	if (cmd->fn == cmd_quit) {
		/* The reply is on its way (or queued); the VM shuts down now. */
		c->close_after_flush = true;
		s->ops->quit(s->opaque);
	}
out:
	if (own_args)
		json_object_put(args);
	return r == -ENOBUFS || r == -EPIPE || r == -ECONNRESET ? r : 0;
}

/* Feeds received bytes through the tokener; dispatches every complete value. */
static int client_input(struct qmp_client *c, const char *buf, size_t len)
{
	size_t off = 0;

	while (off < len) {
		struct json_object *obj;
		enum json_tokener_error jerr;
		size_t used, chunk;
		const char *nul;
		int ret;

		if (c->skip_to_newline) {
			const char *nl = memchr(buf + off, '\n', len - off);

			if (!nl)
				return 0;
			off = (size_t)(nl - buf) + 1;
			c->skip_to_newline = false;
			continue;
		}
		chunk = len - off;
		/* json-c stops at a NUL byte; it is never valid JSON outside strings either. */
		nul = memchr(buf + off, '\0', chunk);
		if (nul == buf + off) {
			json_tokener_reset(c->tok);
			c->pending = 0;
			c->skip_to_newline = true;
			ret = send_error(c, NULL, "GenericError", "JSON parse error: NUL byte");
			if (ret)
				return ret;
			continue;
		}
		if (nul)
			chunk = (size_t)(nul - (buf + off));
		if (chunk > QMP_MAX_INPUT - c->pending)
			chunk = QMP_MAX_INPUT - c->pending + 1;
		obj = json_tokener_parse_ex(c->tok, buf + off, (int)chunk);
		jerr = json_tokener_get_error(c->tok);
		used = json_tokener_get_parse_end(c->tok);
		if (used == 0 && jerr == json_tokener_continue)
			used = chunk;
		if (used > chunk)
			used = chunk;
		if (jerr == json_tokener_continue) {
			c->pending += used;
			off += used;
			if (c->pending > QMP_MAX_INPUT) {
				json_tokener_reset(c->tok);
				c->pending = 0;
				c->skip_to_newline = true;
				ret = send_error(c, NULL, "GenericError",
						 "QMP input is too long (more than 65536 bytes)");
				if (ret)
					return ret;
			}
			continue;
		}
		if (jerr != json_tokener_success) {
			char desc[160];

			snprintf(desc, sizeof(desc), "JSON parse error: %s",
				 json_tokener_error_desc(jerr));
			json_tokener_reset(c->tok);
			c->pending = 0;
			c->skip_to_newline = true;
			/* used is the offending byte, which may itself be a newline: skip from it. */
			off += used;
			ret = send_error(c, NULL, "GenericError", desc);
			if (ret)
				return ret;
			continue;
		}
		off += used;
		c->pending = 0;
		json_tokener_reset(c->tok);
		if (!obj) {
			/* A JSON null: not an object. */
			ret = send_error(c, NULL, "GenericError",
					 "QMP input must be a JSON object");
		} else {
			ret = dispatch(c, obj);
			json_object_put(obj);
		}
		if (ret)
			return ret;
		if (c->close_after_flush)
			return 0;
	}
	return 0;
}

/* ---- clients and the listener -------------------------------------------------------------- */

static void client_free(struct qmp_client *c)
{
	if (c->tok)
		json_tokener_free(c->tok);
	free(c->out);
	free(c);
}

static void client_close(struct qmp_client *c)
{
	struct qmp_server *s = c->s;
	int i;

	for (i = 0; i < QMP_MAX_CLIENTS; i++)
		if (s->clients[i] == c)
			s->clients[i] = NULL;
	if (c->fd >= 0) {
		if (s->loop)
			loop_del_fd(s->loop, c->fd);
		close(c->fd);
	}
	client_free(c);
}

static struct qmp_client *client_new(struct qmp_server *s, int fd)
{
	struct qmp_client *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->s = s;
	c->fd = fd;
	c->tok = json_tokener_new_ex(QMP_MAX_DEPTH);
	if (!c->tok) {
		free(c);
		return NULL;
	}
	return c;
}

static void client_cb(struct loop *l, int fd, uint32_t events, void *arg)
{
	struct qmp_client *c = arg;
	char buf[QMP_READ_CHUNK];
	ssize_t n;
	int ret;

	if (events & EPOLLOUT) {
		if (client_flush(c)) {
			client_close(c);
			return;
		}
		if (c->close_after_flush && c->out_len == 0) {
			client_close(c);
			return;
		}
	}
	if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return;
	if (c->close_after_flush) {
		/* After quit, input is ignored; the client is closed once the reply is out. */
		if (c->out_len == 0)
			client_close(c);
		return;
	}
	n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		client_close(c);
		return;
	}
	c->s->current = c;
	ret = client_input(c, buf, (size_t)n);
	c->s->current = NULL;
	if (ret || c->dead || (c->close_after_flush && c->out_len == 0))
		client_close(c);
}

int qmp_server_add_client(struct qmp_server *s, int fd)
{
	struct qmp_client *c;
	int i, ret;

	for (i = 0; i < QMP_MAX_CLIENTS; i++)
		if (!s->clients[i])
			break;
	if (i == QMP_MAX_CLIENTS) {
		close(fd);
		return -EMFILE;
	}
	ret = fd_set_nonblock(fd, true);
	if (ret) {
		close(fd);
		return ret;
	}
	c = client_new(s, fd);
	if (!c) {
		close(fd);
		return -ENOMEM;
	}
	if (s->loop) {
		ret = loop_add_fd(s->loop, fd, EPOLLIN, client_cb, c);
		if (ret) {
			close(fd);
			client_free(c);
			return ret;
		}
	}
	s->clients[i] = c;
	ret = send_greeting(c);
	if (ret) {
		client_close(c);
		return ret;
	}
	return 0;
}

size_t qmp_server_client_count(const struct qmp_server *s)
{
	size_t n = 0;
	int i;

	for (i = 0; i < QMP_MAX_CLIENTS; i++)
		n += s->clients[i] != NULL;
	return n;
}

static void listen_cb(struct loop *l, int fd, uint32_t events, void *arg)
{
	struct qmp_server *s = arg;
	int cfd, ret;

	cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (cfd < 0) {
		if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
			log_warn("qmp: accept on %s: %s", s->path, strerror(errno));
		return;
	}
	ret = qmp_server_add_client(s, cfd);
	if (ret == -EMFILE)
		log_warn("qmp: %s: refusing a client: %d already connected", s->path,
			 QMP_MAX_CLIENTS);
	else if (ret)
		log_warn("qmp: %s: client set-up failed: %s", s->path, strerror(-ret));
}

/* A socket file nobody listens on is left over from a dead VMM: remove it. */
static int clear_stale_socket(const char *path, struct errmsg *e)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct stat st;
	int fd, ret;

	if (lstat(path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		ret = -errno;
		errmsg_set(e, "%s: %s", path, strerror(errno));
		return ret;
	}
	if (!S_ISSOCK(st.st_mode)) {
		errmsg_set(e, "%s: exists and is not a socket", path);
		return -EEXIST;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		ret = -errno;
		errmsg_set(e, "%s: socket: %s", path, strerror(errno));
		return ret;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	ret = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	close(fd);
	if (ret == 0) {
		errmsg_set(e, "%s: another process is listening on it", path);
		return -EADDRINUSE;
	}
	if (unlink(path) < 0 && errno != ENOENT) {
		ret = -errno;
		errmsg_set(e, "%s: cannot remove stale socket: %s", path, strerror(errno));
		return ret;
	}
	return 0;
}

int qmp_server_listen(struct qmp_server *s, const char *path, struct errmsg *e)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd, ret;

	if (!s->loop) {
		errmsg_set(e, "qmp: no event loop");
		return -EINVAL;
	}
	if (s->listen_fd >= 0) {
		errmsg_set(e, "qmp: already listening on %s", s->path);
		return -EBUSY;
	}
	if (!path || !path[0] || strlen(path) >= sizeof(sa.sun_path)) {
		errmsg_set(e, "qmp: socket path '%s' is empty or too long", path ? path : "");
		return -ENAMETOOLONG;
	}
	ret = clear_stale_socket(path, e);
	if (ret)
		return ret;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		ret = -errno;
		errmsg_set(e, "qmp: socket: %s", strerror(errno));
		return ret;
	}
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		ret = -errno;
		errmsg_set(e, "qmp: bind %s: %s", path, strerror(errno));
		goto err_close;
	}
	if (chmod(path, 0600) < 0) {
		ret = -errno;
		errmsg_set(e, "qmp: chmod %s: %s", path, strerror(errno));
		goto err_unlink;
	}
	if (listen(fd, 8) < 0) {
		ret = -errno;
		errmsg_set(e, "qmp: listen %s: %s", path, strerror(errno));
		goto err_unlink;
	}
	s->path = str_dup(path);
	if (!s->path) {
		ret = -ENOMEM;
		errmsg_set(e, "qmp: out of memory");
		goto err_unlink;
	}
	ret = loop_add_fd(s->loop, fd, EPOLLIN, listen_cb, s);
	if (ret) {
		errmsg_set(e, "qmp: %s: event loop: %s", path, strerror(-ret));
		free(s->path);
		s->path = NULL;
		goto err_unlink;
	}
	s->listen_fd = fd;
	return 0;

err_unlink:
	unlink(path);
err_close:
	close(fd);
	return ret;
}

int qmp_server_listen_fd(const struct qmp_server *s)
{
	return s->listen_fd;
}

struct qmp_server *qmp_server_new(struct loop *l, const struct qmp_vm_ops *ops, void *opaque,
				  const struct qmp_server_info *info, struct errmsg *e)
{
	struct qmp_server *s = calloc(1, sizeof(*s));
	size_t i;

	if (!s)
		goto err_nomem;
	s->loop = l;
	s->ops = ops;
	s->opaque = opaque;
	s->listen_fd = -1;
	if (info) {
		s->info = *info;
		if (info->name && !(s->name = str_dup(info->name)))
			goto err_nomem;
	}
	s->info.name = NULL;
	s->info.package = NULL;
	if (info && info->package) {
		/* Kept in the name buffer's lifetime: copy into a small owned string. */
		s->info.package = str_dup(info->package);
		if (!s->info.package)
			goto err_nomem;
	}
	/* json-c seeds its string hash from getrandom() on the first object key; do that now,
	 * during set-up, so the running VMM's seccomp allowlist need not include getrandom. */
	json_object_put(version_object(s));
	/* Registered newest first, so add in reverse to list the core commands in order. */
	for (i = ARRAY_SIZE(core_cmds); i-- > 0;)
		if (qmp_server_register(s, core_cmds[i].name, core_cmds[i].fn, NULL))
			goto err_nomem;
	for (i = 0; i < n_prereg; i++) {
		if (qmp_server_register(s, prereg[i].name, prereg[i].fn, prereg[i].opaque)) {
			errmsg_set(e, "qmp: cannot register %s", prereg[i].name);
			qmp_server_free(s);
			errno = EEXIST;
			return NULL;
		}
	}
	return s;

err_nomem:
	errmsg_set(e, "qmp: out of memory");
	qmp_server_free(s);
	errno = ENOMEM;
	return NULL;
}

void qmp_server_free(struct qmp_server *s)
{
	struct qmp_cmd *c, *next;
	int i;

	if (!s)
		return;
	for (i = 0; i < QMP_MAX_CLIENTS; i++) {
		if (s->clients[i]) {
			client_flush(s->clients[i]);
			client_close(s->clients[i]);
		}
	}
	if (s->listen_fd >= 0) {
		loop_del_fd(s->loop, s->listen_fd);
		close(s->listen_fd);
		unlink(s->path);
	}
	for (c = s->cmds; c; c = next) {
		next = c->next;
		free(c->name);
		free(c);
	}
	free(s->path);
	free(s->name);
	free((char *)s->info.package);
	free(s);
}

char *qmp_server_feed_for_test(struct qmp_server *s, const uint8_t *data, size_t len,
			       bool negotiated)
{
	struct qmp_client *c = client_new(s, -1);
	char *out;

	if (!c)
		return NULL;
	c->negotiated = negotiated;
	client_input(c, (const char *)data, len);
	out = malloc(c->out_len + 1);
	if (out) {
		memcpy(out, c->out ? c->out : "", c->out_len);
		out[c->out_len] = '\0';
	}
	client_free(c);
	return out;
}
