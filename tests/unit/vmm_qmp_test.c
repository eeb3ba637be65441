/* Unit tests for vmm/qmp over real unix sockets and socketpairs: greeting, negotiation, each
 * core command, events, malformed/partial/oversized input, disconnect and reconnect. */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "loop.h"
#include "util.h"
#include "vmm/qmp.h"

/* A fake VM behind the ops table: counts calls and reports events like the real one. */
struct fake_vm {
	struct qmp_server *s;
	enum qmp_run_state state;
	int pauses, resumes, resets, powerdowns, quits;
	int fail_pause; /* -errno returned by pause */
};

static int fake_pause(void *o)
{
	struct fake_vm *vm = o;

	if (vm->fail_pause)
		return vm->fail_pause;
	vm->pauses++;
	vm->state = QMP_RUN_STATE_PAUSED;
	qmp_server_event_simple(vm->s, "STOP");
	return 0;
}

static int fake_resume(void *o)
{
	struct fake_vm *vm = o;

	vm->resumes++;
	vm->state = QMP_RUN_STATE_RUNNING;
	qmp_server_event_simple(vm->s, "RESUME");
	return 0;
}

static int fake_reset(void *o)
{
	struct fake_vm *vm = o;

	vm->resets++;
	qmp_server_event_reset(vm->s, false, "host-qmp-system-reset");
	return 0;
}

static int fake_powerdown(void *o)
{
	struct fake_vm *vm = o;

	vm->powerdowns++;
	qmp_server_event_simple(vm->s, "POWERDOWN");
	return 0;
}

static int fake_quit(void *o)
{
	struct fake_vm *vm = o;

	vm->quits++;
	vm->state = QMP_RUN_STATE_SHUTDOWN;
	qmp_server_event_shutdown(vm->s, false, "host-qmp-quit");
	return 0;
}

static enum qmp_run_state fake_state(void *o)
{
	return ((struct fake_vm *)o)->state;
}

static int fake_cpus(void *o, struct qmp_cpu_info *out, size_t max, size_t *n)
{
	size_t i;

	for (i = 0; i < 2 && i < max; i++) {
		memset(&out[i], 0, sizeof(out[i]));
		out[i].cpu_index = (uint32_t)i;
		out[i].thread_id = 1000 + (int64_t)i;
		out[i].core_id = (uint32_t)i;
	}
	*n = i;
	return 0;
}

static const struct qmp_vm_ops fake_ops = {
	.pause = fake_pause,
	.resume = fake_resume,
	.reset = fake_reset,
	.powerdown = fake_powerdown,
	.quit = fake_quit,
	.run_state = fake_state,
	.query_cpus = fake_cpus,
};

struct fixture {
	struct loop *l;
	struct fake_vm vm;
	char dir[64];
	char path[128];
};

/* A connected test client with its receive buffer. */
struct client {
	int fd;
	char buf[1 << 17];
	size_t len;
};

static int setup_with(void **state, const struct qmp_vm_ops *ops)
{
	struct qmp_server_info info = {.name = "vm1",
				       .version_major = 7,
				       .version_minor = 1,
				       .version_micro = 0,
				       .package = "splitvirt",
				       .kvm_present = true,
				       .kvm_enabled = true};
	struct fixture *f = calloc(1, sizeof(*f));
	struct errmsg e;

	assert_non_null(f);
	f->l = loop_new();
	assert_non_null(f->l);
	strcpy(f->dir, "/tmp/qmp_test.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/qmp.sock", f->dir);
	f->vm.state = QMP_RUN_STATE_RUNNING;
	f->vm.s = qmp_server_new(f->l, ops, &f->vm, &info, &e);
	assert_non_null(f->vm.s);
	if (qmp_server_listen(f->vm.s, f->path, &e))
		fail_msg("listen: %s", errmsg_str(&e));
	*state = f;
	return 0;
}

static int setup(void **state)
{
	return setup_with(state, &fake_ops);
}

static int setup_none(void **state)
{
	return setup_with(state, NULL);
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	qmp_server_free(f->vm.s);
	loop_free(f->l);
	unlink(f->path);
	rmdir(f->dir);
	free(f);
	return 0;
}

static void pump(struct fixture *f, int ms)
{
	uint64_t end = now_ms() + (uint64_t)ms;

	do
		loop_run_once(f->l, 5);
	while (now_ms() < end);
}

static struct client *connect_client(struct fixture *f)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct client *c = calloc(1, sizeof(*c));

	assert_non_null(c);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(c->fd >= 0);
	strcpy(sa.sun_path, f->path);
	assert_int_equal(connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return c;
}

static void client_free(struct client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	free(c);
}

static void send_str(struct client *c, const char *s)
{
	assert_int_equal(write_full(c->fd, s, strlen(s)), 0);
}

/*
 * Runs the server loop until the client has a whole line ("\r\n"); returns it parsed (the
 * caller puts it), or NULL when nothing arrived within timeout_ms.
 */
static struct json_object *recv_json_timeout(struct fixture *f, struct client *c, int timeout_ms)
{
	uint64_t end = now_ms() + (uint64_t)timeout_ms;

	for (;;) {
		char *nl = memchr(c->buf, '\n', c->len);

		if (nl) {
			struct json_object *o;
			size_t linelen = (size_t)(nl - c->buf) + 1;

			*nl = '\0';
			o = json_tokener_parse(c->buf);
			assert_non_null(o);
			memmove(c->buf, c->buf + linelen, c->len - linelen);
			c->len -= linelen;
			return o;
		}
		if (now_ms() > end)
			return NULL;
		loop_run_once(f->l, 5);
		struct pollfd p = {.fd = c->fd, .events = POLLIN};

		if (poll(&p, 1, 0) == 1) {
			ssize_t n = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len - 1);

			if (n <= 0)
				return NULL;
			c->len += (size_t)n;
		}
	}
}

static struct json_object *recv_json(struct fixture *f, struct client *c)
{
	struct json_object *o = recv_json_timeout(f, c, 2000);

	if (!o)
		fail_msg("no reply from the QMP server");
	return o;
}

static const char *jstr(struct json_object *o, const char *path)
{
	struct json_object *v = o;
	char buf[128], *tok, *save = NULL;

	snprintf(buf, sizeof(buf), "%s", path);
	for (tok = strtok_r(buf, ".", &save); tok; tok = strtok_r(NULL, ".", &save)) {
		if (!json_object_object_get_ex(v, tok, &v))
			return NULL;
	}
	return json_object_get_string(v);
}

static void expect_error(struct fixture *f, struct client *c, const char *cls, const char *desc)
{
	struct json_object *o = recv_json(f, c);

	assert_non_null(jstr(o, "error.class"));
	assert_string_equal(jstr(o, "error.class"), cls);
	if (desc)
		assert_string_equal(jstr(o, "error.desc"), desc);
	json_object_put(o);
}

/* Sends cmd and returns the "return" member (a reference the caller puts). */
static struct json_object *command(struct fixture *f, struct client *c, const char *cmd)
{
	struct json_object *o, *ret;

	send_str(c, cmd);
	o = recv_json(f, c);
	if (!json_object_object_get_ex(o, "return", &ret))
		fail_msg("no return for %s: %s", cmd, json_object_to_json_string(o));
	json_object_get(ret);
	json_object_put(o);
	return ret;
}

/* Connects, reads the greeting and negotiates. */
static struct client *ready_client(struct fixture *f)
{
	struct client *c = connect_client(f);
	struct json_object *o = recv_json(f, c);

	json_object_put(o);
	json_object_put(command(f, c, "{\"execute\":\"qmp_capabilities\"}"));
	return c;
}

/* ---- tests ------------------------------------------------------------------------------ */

static void test_qmp_greets_with_version_and_no_capabilities(void **state)
{
	struct fixture *f = *state;
	struct client *c = connect_client(f);
	struct json_object *o = recv_json(f, c), *caps;

	assert_string_equal(jstr(o, "QMP.version.qemu.major"), "7");
	assert_string_equal(jstr(o, "QMP.version.qemu.minor"), "1");
	assert_string_equal(jstr(o, "QMP.version.package"), "splitvirt");
	assert_true(
		json_object_object_get_ex(json_object_object_get(o, "QMP"), "capabilities", &caps));
	assert_true(json_object_is_type(caps, json_type_array));
	json_object_put(o);
	client_free(c);
}

static void test_qmp_refuses_commands_before_negotiation(void **state)
{
	struct fixture *f = *state;
	struct client *c = connect_client(f);

	json_object_put(recv_json(f, c));
	send_str(c, "{\"execute\":\"query-status\"}\n");
	expect_error(f, c, "CommandNotFound",
		     "Expecting capabilities negotiation with 'qmp_capabilities'");
	send_str(c, "{\"execute\":\"stop\"}");
	expect_error(f, c, "CommandNotFound", NULL);
	assert_int_equal(f->vm.pauses, 0);
	client_free(c);
}

static void test_qmp_negotiates_once(void **state)
{
	struct fixture *f = *state;
	struct client *c = connect_client(f);

	json_object_put(recv_json(f, c));
	send_str(c, "{\"execute\":\"qmp_capabilities\",\"arguments\":{\"enable\":[\"oob\"]}}");
	expect_error(f, c, "GenericError", "Capability is not available (none are offered)");
	json_object_put(command(f, c, "{\"execute\":\"qmp_capabilities\",\"arguments\":{}}"));
	send_str(c, "{\"execute\":\"qmp_capabilities\"}");
	expect_error(f, c, "CommandNotFound",
		     "Capabilities negotiation is already complete, command ignored");
	client_free(c);
}

static void test_qmp_query_status_follows_the_vm(void **state)
{
	struct fixture *f = *state;
	struct client *c = ready_client(f);
	struct json_object *r;

	r = command(f, c, "{\"execute\":\"query-status\"}");
	assert_string_equal(jstr(r, "status"), "running");
	assert_string_equal(jstr(r, "running"), "true");
	json_object_put(r);
	f->vm.state = QMP_RUN_STATE_PAUSED;
	r = command(f, c, "{\"execute\":\"query-status\"}");
	assert_string_equal(jstr(r, "status"), "paused");
	assert_string_equal(jstr(r, "running"), "false");
	json_object_put(r);
	client_free(c);
}

static void test_qmp_query_version_name_and_kvm(void **state)
{
	struct fixture *f = *state;
	struct client *c = ready_client(f);
	struct json_object *r;

	r = command(f, c, "{\"execute\":\"query-version\"}");
	assert_string_equal(jstr(r, "qemu.major"), "7");
	assert_string_equal(jstr(r, "package"), "splitvirt");
	json_object_put(r);
	r = command(f, c, "{\"execute\":\"query-name\"}");
	assert_string_equal(jstr(r, "name"), "vm1");
	json_object_put(r);
	r = command(f, c, "{\"execute\":\"query-kvm\"}");
	assert_string_equal(jstr(r, "enabled"), "true");
	assert_string_equal(jstr(r, "present"), "true");
	json_object_put(r);
	client_free(c);
}

static int cmd_echo(struct qmp_server *s, struct json_object *args, struct json_object **ret,
		    struct errmsg *e, void *opaque)
{
	struct json_object *v;

	(*(int *)opaque)++;
	if (!json_object_object_get_ex(args, "value", &v)) {
		errmsg_set(e, "Parameter 'value' is missing");
		return -EINVAL;
	}
	*ret = json_object_new_object();
	json_object_object_add(*ret, "value", json_object_get(v));
	return 0;
}

static int cmd_nodev(struct qmp_server *s, struct json_object *args, struct json_object **ret,
		     struct errmsg *e, void *opaque)
{
	const char *which = opaque;

	errmsg_set(e, "No balloon device has been activated");
	return strcmp(which, "enodev") == 0 ? -ENODEV : -ENOENT;
}

static void test_qmp_query_commands_lists_core_and_registered(void **state)
{
	struct fixture *f = *state;
	struct client *c;
	struct json_object *r;
	int calls = 0;
	size_t i;
	bool seen_echo = false, seen_quit = false, seen_cpus = false;

	assert_int_equal(qmp_server_register(f->vm.s, "x-echo", cmd_echo, &calls), 0);
	assert_int_equal(qmp_server_register(f->vm.s, "x-echo", cmd_echo, &calls), -EEXIST);
	assert_int_equal(qmp_server_register(f->vm.s, "stop", cmd_echo, &calls), -EEXIST);
	c = ready_client(f);
	r = command(f, c, "{\"execute\":\"query-commands\"}");
	assert_true(json_object_is_type(r, json_type_array));
	for (i = 0; i < json_object_array_length(r); i++) {
		const char *n = jstr(json_object_array_get_idx(r, i), "name");

		seen_echo |= strcmp(n, "x-echo") == 0;
		seen_quit |= strcmp(n, "quit") == 0;
		seen_cpus |= strcmp(n, "query-cpus-fast") == 0;
	}
	assert_true(seen_echo && seen_quit && seen_cpus);
	json_object_put(r);
	r = command(f, c, "{\"execute\":\"x-echo\",\"arguments\":{\"value\":[1,\"two\"]}}");
	assert_string_equal(json_object_to_json_string_ext(json_object_object_get(r, "value"),
							   JSON_C_TO_STRING_PLAIN),
			    "[1,\"two\"]");
	json_object_put(r);
	send_str(c, "{\"execute\":\"x-echo\"}");
	expect_error(f, c, "GenericError", "Parameter 'value' is missing");
	assert_int_equal(calls, 2);
	client_free(c);
}

static void test_qmp_registered_errors_map_to_classes(void **state)
{
	struct fixture *f = *state;
	struct client *c;

	assert_int_equal(qmp_server_register(f->vm.s, "query-balloon", cmd_nodev, "enodev"), 0);
	assert_int_equal(qmp_server_register(f->vm.s, "x-find", cmd_nodev, "enoent"), 0);
	c = ready_client(f);
	send_str(c, "{\"execute\":\"query-balloon\"}");
	expect_error(f, c, "DeviceNotActive", "No balloon device has been activated");
	send_str(c, "{\"execute\":\"x-find\"}");
	expect_error(f, c, "DeviceNotFound", NULL);
	client_free(c);
}

static void test_qmp_query_cpus_fast_lists_vcpus(void **state)
{
	struct fixture *f = *state;
	struct client *c = ready_client(f);
	struct json_object *r = command(f, c, "{\"execute\":\"query-cpus-fast\"}");

	assert_int_equal(json_object_array_length(r), 2);
	assert_string_equal(jstr(json_object_array_get_idx(r, 1), "cpu-index"), "1");
	assert_string_equal(jstr(json_object_array_get_idx(r, 1), "thread-id"), "1001");
	assert_string_equal(jstr(json_object_array_get_idx(r, 1), "props.core-id"), "1");
	json_object_put(r);
	client_free(c);
}

/* Reads the next message, which must be the event `name`, and checks its timestamp. */
static void expect_event(struct fixture *f, struct client *c, const char *name)
{
	struct json_object *o = recv_json(f, c);

	assert_non_null(jstr(o, "event"));
	assert_string_equal(jstr(o, "event"), name);
	assert_non_null(jstr(o, "timestamp.seconds"));
	assert_true(atoll(jstr(o, "timestamp.seconds")) > 1600000000);
	assert_non_null(jstr(o, "timestamp.microseconds"));
	json_object_put(o);
}

static void expect_return(struct fixture *f, struct client *c)
{
	struct json_object *o = recv_json(f, c);

	assert_true(json_object_object_get_ex(o, "return", NULL));
	json_object_put(o);
}

static void test_qmp_vm_commands_call_ops_and_events_reach_every_client(void **state)
{
	struct fixture *f = *state;
	struct client *a = ready_client(f), *b = ready_client(f);
	struct client *raw = connect_client(f);

	json_object_put(recv_json(f, raw)); /* greeting only: not negotiated */
	send_str(a, "{\"execute\":\"stop\"}");
	expect_event(f, a, "STOP");
	expect_return(f, a);
	expect_event(f, b, "STOP");
	assert_int_equal(f->vm.pauses, 1);
	send_str(a, "{\"execute\":\"cont\"}");
	expect_event(f, a, "RESUME");
	expect_return(f, a);
	expect_event(f, b, "RESUME");
	send_str(b, "{\"execute\":\"system_reset\"}");
	expect_event(f, b, "RESET");
	expect_return(f, b);
	expect_event(f, a, "RESET");
	send_str(b, "{\"execute\":\"system_powerdown\"}");
	expect_event(f, b, "POWERDOWN");
	expect_return(f, b);
	expect_event(f, a, "POWERDOWN");
	assert_int_equal(f->vm.resumes, 1);
	assert_int_equal(f->vm.resets, 1);
	assert_int_equal(f->vm.powerdowns, 1);
	/* the un-negotiated client got no events */
	assert_null(recv_json_timeout(f, raw, 100));
	client_free(a);
	client_free(b);
	client_free(raw);
}

static void test_qmp_quit_replies_then_quits_and_closes(void **state)
{
	struct fixture *f = *state;
	struct client *c = ready_client(f), *other = ready_client(f);
	struct json_object *o;
	char byte;

	send_str(c, "{\"execute\":\"quit\",\"id\":\"q1\"}");
	o = recv_json(f, c);
	assert_true(json_object_object_get_ex(o, "return", NULL));
	assert_string_equal(jstr(o, "id"), "q1");
	json_object_put(o);
	assert_int_equal(f->vm.quits, 1);
	/* The other client sees SHUTDOWN; the quitting one is closed after its reply. */
	o = recv_json(f, other);
	assert_string_equal(jstr(o, "event"), "SHUTDOWN");
	assert_string_equal(jstr(o, "data.reason"), "host-qmp-quit");
	assert_string_equal(jstr(o, "data.guest"), "false");
	json_object_put(o);
	pump(f, 50);
	/* Whatever else is queued (its own SHUTDOWN event), the connection ends. */
	while ((o = recv_json_timeout(f, c, 50)) != NULL)
		json_object_put(o);
	assert_int_equal(read(c->fd, &byte, 1), 0);
	client_free(c);
	client_free(other);
}

static void test_qmp_echoes_any_id(void **state)
{
	struct fixture *f = *state;
	struct client *c = ready_client(f);
	struct json_object *o;

	send_str(c, "{\"execute\":\"query-name\",\"id\":{\"n\":[1,2]}}");
	o = recv_json(f, c);
	assert_string_equal(json_object_to_json_string_ext(json_object_object_get(o, "id"),
							   JSON_C_TO_STRING_PLAIN),
			    "{\"n\":[1,2]}");
	json_object_put(o);
	send_str(c, "{\"execute\":\"nope\",\"id\":7}");
	o = recv_json(f, c);
	assert_string_equal(jstr(o, "id"), "7");
	assert_string_equal(jstr(o, "error.class"), "CommandNotFound");
	assert_string_equal(jstr(o, "error.desc"), "The command nope has not been found");
	json_object_put(o);
	client_free(c);
}

static void test_qmp_malformed_json_is_an_error_and_the_connection_survives(void **state)
{
	struct fixture *f = *state;
	struct client *c = ready_client(f);
	struct json_object *r;

	send_str(c, "{\"execute\": ]\n");
	expect_error(f, c, "GenericError", NULL);
	send_str(c, "garbage\n");
	expect_error(f, c, "GenericError", NULL);
	/* the command on the line after the bad one, in the same read, is answered */
	send_str(c, "{\"a\" 1}\n{\"execute\":\"query-name\",\"id\":\"after\"}\n");
	expect_error(f, c, "GenericError", NULL);
	r = recv_json(f, c);
	assert_string_equal(jstr(r, "return.name"), "vm1");
	assert_string_equal(jstr(r, "id"), "after");
	json_object_put(r);
	/* a NUL byte */
	assert_int_equal(write_full(c->fd, "\0\n", 2), 0);
	expect_error(f, c, "GenericError", "JSON parse error: NUL byte");
	r = command(f, c, "{\"execute\":\"query-kvm\"}");
	json_object_put(r);
	client_free(c);
}

static void test_qmp_non_object_and_bad_members_are_errors(void **state)
{
	struct fixture *f = *state;
	struct client *c = ready_client(f);

	send_str(c, "[1,2]");
	expect_error(f, c, "GenericError", "QMP input must be a JSON object");
	send_str(c, "\"str\"");
	expect_error(f, c, "GenericError", "QMP input must be a JSON object");
	send_str(c, "null\n");
	expect_error(f, c, "GenericError", "QMP input must be a JSON object");
	send_str(c, "42\n");
	expect_error(f, c, "GenericError", "QMP input must be a JSON object");
	send_str(c, "{}");
	expect_error(f, c, "GenericError", "QMP input lacks member 'execute'");
	send_str(c, "{\"execute\":1}");
	expect_error(f, c, "GenericError", "QMP input member 'execute' must be a string");
	send_str(c, "{\"execute\":\"stop\",\"arguments\":[]}");
	expect_error(f, c, "GenericError", "QMP input member 'arguments' must be an object");
	send_str(c, "{\"execute\":\"stop\",\"extra\":1}");
	expect_error(f, c, "GenericError", "QMP input member 'extra' is unexpected");
	send_str(c, "{\"execute\":\"stop\",\"arguments\":{\"force\":true}}");
	expect_error(f, c, "GenericError", "Parameter 'force' is unexpected");
	assert_int_equal(f->vm.pauses, 0);
	client_free(c);
}

static void test_qmp_parses_input_split_across_reads(void **state)
{
	struct fixture *f = *state;
	struct client *c = ready_client(f);
	const char *cmd = "{\"execute\" : \"query-name\", \"id\": \"split\"}";
	struct json_object *o;
	size_t i;

	for (i = 0; cmd[i]; i++) {
		assert_int_equal(write_full(c->fd, &cmd[i], 1), 0);
		pump(f, 1);
	}
	o = recv_json(f, c);
	assert_string_equal(jstr(o, "return.name"), "vm1");
	assert_string_equal(jstr(o, "id"), "split");
	json_object_put(o);
	client_free(c);
}

static void test_qmp_answers_several_commands_in_one_write(void **state)
{
	struct fixture *f = *state;
	struct client *c = ready_client(f);
	struct json_object *o;
	int i;

	send_str(c, "{\"execute\":\"query-name\",\"id\":1}{\"execute\":\"query-kvm\",\"id\":2}\r\n"
		    "  {\"execute\":\"query-status\",\"id\":3}");
	for (i = 1; i <= 3; i++) {
		o = recv_json(f, c);
		assert_int_equal(atoi(jstr(o, "id")), i);
		assert_true(json_object_object_get_ex(o, "return", NULL));
		json_object_put(o);
	}
	client_free(c);
}

static void test_qmp_refuses_oversized_and_too_deep_input(void **state)
{
	struct fixture *f = *state;
	struct client *c = ready_client(f);
	size_t big = QMP_MAX_INPUT + 1000;
	char *buf = malloc(big + 2), deep[200];
	struct json_object *r;
	int i;

	assert_non_null(buf);
	buf[0] = '"';
	memset(buf + 1, 'a', big - 1);
	buf[big] = '\n';
	buf[big + 1] = '\0';
	send_str(c, "{\"execute\":\"x\",\"id\":");
	send_str(c, buf);
	expect_error(f, c, "GenericError", "QMP input is too long (more than 65536 bytes)");
	free(buf);
	r = command(f, c, "{\"execute\":\"query-name\"}");
	json_object_put(r);
	for (i = 0; i < 100; i++)
		deep[i] = '[';
	deep[100] = '\n';
	deep[101] = '\0';
	send_str(c, deep);
	expect_error(f, c, "GenericError", NULL);
	r = command(f, c, "{\"execute\":\"query-name\"}");
	json_object_put(r);
	client_free(c);
}

static void test_qmp_client_can_disconnect_and_another_connect(void **state)
{
	struct fixture *f = *state;
	struct client *c = ready_client(f);
	struct json_object *r;

	send_str(c, "{\"execute\":\"query-na"); /* disconnect mid-command */
	pump(f, 20);
	client_free(c);
	pump(f, 50);
	assert_int_equal(qmp_server_client_count(f->vm.s), 0);
	c = ready_client(f);
	r = command(f, c, "{\"execute\":\"query-name\"}");
	assert_string_equal(jstr(r, "name"), "vm1");
	json_object_put(r);
	assert_int_equal(qmp_server_client_count(f->vm.s), 1);
	client_free(c);
}

static void test_qmp_socketpair_client_is_served(void **state)
{
	struct fixture *f = *state;
	struct client *c = calloc(1, sizeof(*c));
	struct json_object *r;
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	c->fd = sv[0];
	assert_int_equal(qmp_server_add_client(f->vm.s, sv[1]), 0);
	json_object_put(recv_json(f, c));
	json_object_put(command(f, c, "{\"execute\":\"qmp_capabilities\"}"));
	r = command(f, c, "{\"execute\":\"query-status\"}");
	assert_string_equal(jstr(r, "status"), "running");
	json_object_put(r);
	client_free(c);
}

static void test_qmp_vm_op_failure_is_a_generic_error(void **state)
{
	struct fixture *f = *state;
	struct client *c = ready_client(f);

	f->vm.fail_pause = -EBUSY;
	send_str(c, "{\"execute\":\"stop\"}");
	expect_error(f, c, "GenericError", "stop failed: Device or resource busy");
	client_free(c);
}

static void test_qmp_machine_none_answers_queries_and_refuses_vm_commands(void **state)
{
	struct fixture *f = *state;
	struct client *c = ready_client(f);
	struct json_object *r;

	r = command(f, c, "{\"execute\":\"query-status\"}");
	assert_string_equal(jstr(r, "status"), "prelaunch");
	json_object_put(r);
	r = command(f, c, "{\"execute\":\"query-cpus-fast\"}");
	assert_int_equal(json_object_array_length(r), 0);
	json_object_put(r);
	r = command(f, c, "{\"execute\":\"query-commands\"}");
	assert_true(json_object_array_length(r) >= 12);
	json_object_put(r);
	send_str(c, "{\"execute\":\"stop\"}");
	expect_error(f, c, "GenericError", "'stop' is not supported by this machine");
	send_str(c, "{\"execute\":\"quit\"}");
	expect_error(f, c, "GenericError", "'quit' is not supported by this machine");
	client_free(c);
}

static void test_qmp_listen_replaces_stale_socket_and_refuses_live_one(void **state)
{
	struct fixture *f = *state;
	struct qmp_server *other;
	struct errmsg e;
	char stale[160];
	int fd;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct stat st;

	other = qmp_server_new(f->l, NULL, NULL, NULL, &e);
	assert_non_null(other);
	/* live: f's server listens there */
	assert_int_equal(qmp_server_listen(other, f->path, &e), -EADDRINUSE);
	assert_non_null(strstr(errmsg_str(&e), "another process is listening on it"));
	/* stale: a bound socket nobody listens on */
	snprintf(stale, sizeof(stale), "%s/stale.sock", f->dir);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	strcpy(sa.sun_path, stale);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	assert_int_equal(qmp_server_listen(other, stale, &e), 0);
	assert_int_equal(stat(stale, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	qmp_server_free(other);
	assert_int_not_equal(stat(stale, &st), 0); /* unlinked on free */
	/* not a socket */
	other = qmp_server_new(f->l, NULL, NULL, NULL, &e);
	assert_int_equal(qmp_server_listen(other, f->dir, &e), -EEXIST);
	qmp_server_free(other);
}

static void test_qmp_feed_for_test_matches_socket_behaviour(void **state)
{
	struct fixture *f = *state;
	const char *in = "{\"execute\":\"query-name\"}{\"execute\":\"x\"} [";
	char *out = qmp_server_feed_for_test(f->vm.s, (const uint8_t *)in, strlen(in), true);

	assert_non_null(out);
	assert_non_null(strstr(out, "{\"return\":{\"name\":\"vm1\"}}\r\n"));
	assert_non_null(strstr(out, "CommandNotFound"));
	free(out);
}

/* An event payload large enough to overflow a client that does not read. */
static struct json_object *big_data(void)
{
	static char blob[64 * 1024];
	struct json_object *d = json_object_new_object();

	memset(blob, 'x', sizeof(blob) - 1);
	json_object_object_add(d, "blob", json_object_new_string(blob));
	return d;
}

static int fake_pause_flood(void *o)
{
	struct fake_vm *vm = o;
	int i;

	/* a guest that makes the VM emit far more than the client reads */
	for (i = 0; i < 64; i++)
		qmp_server_event(vm->s, "FLOOD", big_data());
	return 0;
}

static void test_qmp_client_that_does_not_read_is_dropped_safely(void **state)
{
	struct fixture *f = *state;
	struct client *a = ready_client(f), *b = ready_client(f);
	struct qmp_vm_ops ops = fake_ops;
	struct qmp_server *s2, *orig = f->vm.s;
	struct json_object *r;
	struct errmsg e;
	int i;

	/* b never reads: events pile up until it is disconnected; a is unaffected */
	for (i = 0; i < 64; i++)
		qmp_server_event(f->vm.s, "FLOOD", big_data());
	pump(f, 20);
	assert_true(qmp_server_client_count(f->vm.s) <= 2);
	client_free(b);
	client_free(a);
	pump(f, 20);
	assert_int_equal(qmp_server_client_count(f->vm.s), 0);

	/* the client whose own command floods it is dropped after its command, not during */
	ops.pause = fake_pause_flood;
	s2 = qmp_server_new(f->l, &ops, &f->vm, NULL, &e);
	assert_non_null(s2);
	{
		int sv[2];
		struct client *c = calloc(1, sizeof(*c));

		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
		c->fd = sv[0];
		f->vm.s = s2;
		assert_int_equal(qmp_server_add_client(s2, sv[1]), 0);
		send_str(c, "{\"execute\":\"qmp_capabilities\"}{\"execute\":\"stop\"}");
		pump(f, 100);
		assert_int_equal(qmp_server_client_count(s2), 0);
		client_free(c);
	}
	/* the server still serves new clients */
	{
		int sv[2];
		struct client *c = calloc(1, sizeof(*c));

		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
		c->fd = sv[0];
		assert_int_equal(qmp_server_add_client(s2, sv[1]), 0);
		json_object_put(recv_json(f, c));
		json_object_put(command(f, c, "{\"execute\":\"qmp_capabilities\"}"));
		r = command(f, c, "{\"execute\":\"query-status\"}");
		json_object_put(r);
		client_free(c);
	}
	qmp_server_free(s2);
	f->vm.s = orig;
}

static int cmd_pre(struct qmp_server *s, struct json_object *args, struct json_object **ret,
		   struct errmsg *e, void *opaque)
{
	*ret = json_object_new_string(opaque);
	return 0;
}

static void test_qmp_preregistered_commands_join_new_servers(void **state)
{
	struct qmp_server *s;
	struct errmsg e;
	const char *in = "{\"execute\":\"x-pre\"}";
	char *out;

	assert_int_equal(qmp_preregister("x-pre", cmd_pre, "device-a"), 0);
	s = qmp_server_new(NULL, NULL, NULL, NULL, &e);
	out = qmp_server_feed_for_test(s, (const uint8_t *)in, strlen(in), true);
	assert_string_equal(out, "{\"return\":\"device-a\"}\r\n");
	free(out);
	qmp_server_free(s);
	/* after the device is gone, new servers do not have it */
	qmp_preregister_remove("device-a");
	s = qmp_server_new(NULL, NULL, NULL, NULL, &e);
	out = qmp_server_feed_for_test(s, (const uint8_t *)in, strlen(in), true);
	assert_non_null(strstr(out, "CommandNotFound"));
	free(out);
	qmp_server_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_qmp_greets_with_version_and_no_capabilities,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_qmp_refuses_commands_before_negotiation, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_qmp_negotiates_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_qmp_query_status_follows_the_vm, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_qmp_query_version_name_and_kvm, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_qmp_query_commands_lists_core_and_registered,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_qmp_registered_errors_map_to_classes, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_qmp_query_cpus_fast_lists_vcpus, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_qmp_vm_commands_call_ops_and_events_reach_every_client, setup,
			teardown),
		cmocka_unit_test_setup_teardown(test_qmp_quit_replies_then_quits_and_closes, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_qmp_echoes_any_id, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_qmp_malformed_json_is_an_error_and_the_connection_survives, setup,
			teardown),
		cmocka_unit_test_setup_teardown(test_qmp_non_object_and_bad_members_are_errors,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_qmp_parses_input_split_across_reads, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_qmp_answers_several_commands_in_one_write,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_qmp_refuses_oversized_and_too_deep_input,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_qmp_client_can_disconnect_and_another_connect,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_qmp_socketpair_client_is_served, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_qmp_vm_op_failure_is_a_generic_error, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_qmp_machine_none_answers_queries_and_refuses_vm_commands, setup_none,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_qmp_listen_replaces_stale_socket_and_refuses_live_one, setup,
			teardown),
		cmocka_unit_test_setup_teardown(test_qmp_feed_for_test_matches_socket_behaviour,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_qmp_client_that_does_not_read_is_dropped_safely, setup, teardown),
		cmocka_unit_test(test_qmp_preregistered_commands_join_new_servers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
