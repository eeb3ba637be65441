/*
 * mgr: the domain manager. Owns the table of domains; runs the lifecycle verbs
 * (render, netctl and splitvm through hostexec, QMP through hostsock) and keeps
 * each running VM's state from its QMP events, one monitor thread per VM.
 *
 * Locking: m->lock guards the table; vm->lock guards every field of a vm below
 * it and is held only briefly (never across host calls); vm->op serializes the
 * verbs on one domain and is held across host calls. The monitor thread never
 * takes vm->op, so a verb may wait for it.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "host-agent/supervise.h"
#include "console.h"
#include "log.h"
#include "mgr.h"
#include "qmp_client.h"
#include "render.h"
#include "util.h"

enum vm_end {
	END_NONE = 0,
	END_SHUTDOWN, /* powerdown requested or SHUTDOWN event: a clean stop */
	END_DESTROY,  /* quit requested */
};

struct vm {
	atomic_int refs;
	pthread_mutex_t op;
	pthread_mutex_t lock;
	pthread_cond_t cond;

	/* Under lock. */
	char name[DOM_NAME_MAX + 1];
	struct domain_def *def;	 /* the persistent definition */
	struct domain_def *live; /* what the running VM was started from */
	struct store_state st;
	bool autostart;
	bool removed;
	bool pending;	   /* recorded active, not yet found again (host unreachable) */
	bool auto_pending; /* autostart not done yet (host not ready); retried */
	unsigned auto_tries;
	uint64_t auto_next_ms;
	bool active; /* a splitvm process exists for it */
	bool qmp_up; /* the monitor holds a working QMP connection */
	enum vm_end ending;
	bool guest_reset;	       /* SHUTDOWN with reason guest-reset */
	bool guest_shutdown;	       /* SHUTDOWN initiated by the guest */
	uint64_t shutdown_deadline_ms; /* 0: none */
	struct qmp_client qmp;
	struct console *console; /* the serial broker while active with a serial port */
	bool reply_wait, reply_done;
	int reply_err;
	json_object *reply;
	struct errmsg reply_msg;
};

struct mgr {
	struct mgr_config cfg;
	struct render_opts ropts;
	struct store store;
	pthread_mutex_t lock;
	struct vm **vms; /* under lock */
	size_t n, cap;
	int32_t next_id; /* under lock */
	pthread_t reaper;
	atomic_bool stop;
};

static void vm_put(struct vm *vm)
{
	if (atomic_fetch_sub(&vm->refs, 1) != 1)
		return;
	domain_free(vm->def);
	domain_free(vm->live);
	if (vm->reply)
		json_object_put(vm->reply);
	pthread_mutex_destroy(&vm->op);
	pthread_mutex_destroy(&vm->lock);
	pthread_cond_destroy(&vm->cond);
	free(vm);
}

static struct vm *vm_new(const char *name, struct domain_def *def)
{
	struct vm *vm = calloc(1, sizeof(*vm));
	pthread_condattr_t ca;

	if (!vm)
		return NULL;
	atomic_init(&vm->refs, 1);
	pthread_mutex_init(&vm->op, NULL);
	pthread_mutex_init(&vm->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&vm->cond, &ca);
	pthread_condattr_destroy(&ca);
	str_copy(vm->name, sizeof(vm->name), name);
	vm->def = def;
	vm->qmp.fd = -1;
	vm->st.state = DOM_ST_SHUTOFF;
	vm->st.id = -1;
	return vm;
}

/* Finds a domain and takes a reference. */
static struct vm *vm_get(struct mgr *m, const char *name, struct errmsg *e)
{
	struct vm *vm = NULL;

	pthread_mutex_lock(&m->lock);
	for (size_t i = 0; i < m->n; i++) {
		if (strcmp(m->vms[i]->name, name) == 0) {
			vm = m->vms[i];
			atomic_fetch_add(&vm->refs, 1);
			break;
		}
	}
	pthread_mutex_unlock(&m->lock);
	if (!vm)
		errmsg_set(e, "Domain not found: no domain with matching name '%s'", name);
	return vm;
}

static int table_add(struct mgr *m, struct vm *vm)
{
	if (m->n == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 32;
		struct vm **v = realloc(m->vms, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		m->vms = v;
		m->cap = cap;
	}
	m->vms[m->n++] = vm;
	return 0;
}

static void table_remove(struct mgr *m, struct vm *vm)
{
	for (size_t i = 0; i < m->n; i++) {
		if (m->vms[i] == vm) {
			memmove(&m->vms[i], &m->vms[i + 1], (m->n - i - 1) * sizeof(*m->vms));
			m->n--;
			return;
		}
	}
}

/* Persists the state; called with vm->lock held (a small fsync'd file). */
static void vm_save_state(struct mgr *m, struct vm *vm)
{
	int ret;

	if (vm->removed)
		return;
	ret = store_save_state(&m->store, vm->name, &vm->st);
	if (ret)
		log_warn("%s: cannot save state: %s", vm->name, strerror(-ret));
}

static void vm_set_state(struct mgr *m, struct vm *vm, enum dom_state st, const char *reason)
{
	if (vm->st.state != st || strcmp(vm->st.reason, reason) != 0)
		log_info("%s: %s (%s)", vm->name, dom_state_name(st), reason);
	vm->st.state = st;
	str_copy(vm->st.reason, sizeof(vm->st.reason), reason);
	vm_save_state(m, vm);
	pthread_cond_broadcast(&vm->cond);
}

static void timespec_in(struct timespec *ts, int ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts->tv_nsec >= 1000000000) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000;
	}
}

/*
 * Runs a QMP command on a running VM; the monitor thread delivers the reply.
 * Commands on one VM are serialized by vm->op (every caller holds it).
 */
static int vm_qmp(struct mgr *m, struct vm *vm, const char *cmd, json_object *args,
		  json_object **ret, struct errmsg *e)
{
	struct timespec ts;
	int r;

	pthread_mutex_lock(&vm->lock);
	if (!vm->qmp_up) {
		pthread_mutex_unlock(&vm->lock);
		errmsg_set(e, "%s: no QMP connection to the VM", vm->name);
		return -EIO;
	}
	if (vm->reply)
		json_object_put(vm->reply);
	vm->reply = NULL;
	vm->reply_wait = true;
	vm->reply_done = false;
	r = qmp_client_send(&vm->qmp, cmd, args);
	if (r) {
		vm->reply_wait = false;
		pthread_mutex_unlock(&vm->lock);
		errmsg_set(e, "%s: QMP %s: %s", vm->name, cmd, strerror(-r));
		return -EIO;
	}
	timespec_in(&ts, m->cfg.command_timeout_ms);
	while (!vm->reply_done && vm->qmp_up) {
		if (pthread_cond_timedwait(&vm->cond, &vm->lock, &ts) == ETIMEDOUT)
			break;
	}
	vm->reply_wait = false;
	if (!vm->reply_done) {
		r = vm->qmp_up ? -ETIMEDOUT : -EIO;
		pthread_mutex_unlock(&vm->lock);
		/* quit is answered and then the connection closes: both are success. */
		if (r == -EIO && strcmp(cmd, "quit") == 0)
			return 0;
		errmsg_set(e, "%s: QMP %s: %s", vm->name, cmd,
			   r == -ETIMEDOUT ? "no reply in time" : "connection lost");
		return r;
	}
	r = vm->reply_err;
	if (r)
		*e = vm->reply_msg;
	if (ret) {
		*ret = vm->reply;
		vm->reply = NULL;
	}
	pthread_mutex_unlock(&vm->lock);
	return r;
}

/* ---- host side helpers ---------------------------------------------------- */

static int netctl_run(struct mgr *m, const char *const *args, struct errmsg *e)
{
	char *argv[16];
	size_t n = 0;

	argv[n++] = m->cfg.netctl;
	for (size_t i = 0; args[i] && n < ARRAY_SIZE(argv) - 1; i++)
		argv[n++] = (char *)args[i];
	argv[n] = NULL;
	int r = hostexec_run(&m->cfg.exec, argv, m->cfg.command_timeout_ms, NULL, 0, e);
	if (r > 0) {
		errmsg_prefix(e, "netctl %s", args[0]);
		return -EIO;
	}
	return r;
}

static void taps_remove(struct mgr *m, const struct domain_def *d, size_t count)
{
	char tap[32];
	struct errmsg e;

	for (size_t i = 0; i < count; i++) {
		if (render_tap_name(&m->ropts, d, i, tap, sizeof(tap)))
			continue;
		const char *args[] = {"del", tap, NULL};
		if (netctl_run(m, args, &e))
			log_warn("%s: removing tap %s: %s", d->name, tap, errmsg_str(&e));
	}
}

static int taps_create(struct mgr *m, const struct domain_def *d, struct errmsg *e)
{
	char tap[32], mtu[16], queues[16];
	size_t i;
	int r;

	for (i = 0; i < d->n_ifaces; i++) {
		const struct dom_iface *ifc = &d->ifaces[i];
		const char *args[12];
		size_t n = 0;

		r = render_tap_name(&m->ropts, d, i, tap, sizeof(tap));
		if (r) {
			errmsg_set(e, "interface %zu: no tap name", i + 1);
			goto undo;
		}
		args[n++] = "add";
		args[n++] = tap;
		if (ifc->type == DOM_IF_BRIDGE) {
			args[n++] = "--bridge";
			args[n++] = ifc->bridge;
		}
		if (ifc->mtu) {
			snprintf(mtu, sizeof(mtu), "%u", ifc->mtu);
			args[n++] = "--mtu";
			args[n++] = mtu;
		}
		if (ifc->queues > 1) {
			snprintf(queues, sizeof(queues), "%u", ifc->queues);
			args[n++] = "--queues";
			args[n++] = queues;
		}
		args[n++] = "--up";
		args[n] = NULL;
		r = netctl_run(m, args, e);
		if (r)
			goto undo;
	}
	return 0;
undo:
	taps_remove(m, d, i);
	return r;
}

static int vm_path(struct mgr *m, const char *name, const char *file, char *buf, size_t len)
{
	return render_vm_path(&m->ropts, name, file, buf, len);
}

static const char *serial_path(struct mgr *m, const struct domain_def *d, char *buf, size_t len)
{
	if (d->serial == DOM_SERIAL_UNIX)
		return d->serial_path;
	if (d->serial == DOM_SERIAL_PTY && !vm_path(m, d->name, "serial.sock", buf, len))
		return buf;
	return NULL;
}

static void vm_console_start(struct mgr *m, struct vm *vm);

static pid_t read_pidfile(struct mgr *m, const char *name)
{
	char path[256];
	char *buf = NULL;
	size_t len;
	uint32_t pid = 0;

	if (vm_path(m, name, "pid", path, sizeof(path)) || read_file(path, 64, &buf, &len))
		return 0;
	buf[strcspn(buf, " \n")] = '\0';
	if (parse_u32(buf, 10, &pid) || pid > INT32_MAX)
		pid = 0;
	free(buf);
	return (pid_t)pid;
}

/* The host answered that the socket cannot be used: its VM is not there. */
static bool sock_gone(int err)
{
	return err == -ECONNREFUSED || err == -ENOENT || err == -EACCES || err == -ENOTDIR ||
	       err == -ENOTSOCK || err == -ELOOP;
}

/*
 * Connects QMP to the VM's socket, retrying until deadline. With stop_on_gone,
 * the host's refusal (the socket is gone or dead) ends the attempts at once;
 * without, it is retried too (a VM starting up has no socket yet).
 */
static int qmp_connect(struct mgr *m, const char *name, struct qmp_client *c, uint64_t deadline,
		       bool stop_on_gone, struct errmsg *e)
{
	char path[256];
	int fd, r;

	if (vm_path(m, name, "qmp.sock", path, sizeof(path)))
		return -ENAMETOOLONG;
	for (;;) {
		fd = hostsock_connect(&m->cfg.sock, path, e);
		if (fd >= 0) {
			r = qmp_client_open(c, fd, m->cfg.command_timeout_ms, e);
			if (!r)
				return 0;
		} else {
			r = fd;
			if (stop_on_gone && sock_gone(r))
				return r;
		}
		if (now_ms() >= deadline)
			return r;
		usleep(20000);
	}
}

/* ---- the monitor thread ---------------------------------------------------- */

static void *restart_thread(void *arg);

static void spawn_restart(struct mgr *m, struct vm *vm)
{
	struct {
		struct mgr *m;
		struct vm *vm;
	} *a = malloc(sizeof(*a));
	pthread_t t;

	if (!a)
		return;
	a->m = m;
	a->vm = vm;
	atomic_fetch_add(&vm->refs, 1);
	if (pthread_create(&t, NULL, restart_thread, a)) {
		vm_put(vm);
		free(a);
		return;
	}
	pthread_detach(t);
}

static void *restart_thread(void *arg)
{
	struct {
		struct mgr *m;
		struct vm *vm;
	} *a = arg;
	struct errmsg e;

	if (mgr_start(a->m, a->vm->name, &e))
		log_error("%s: restart failed: %s", a->vm->name, errmsg_str(&e));
	vm_put(a->vm);
	free(a);
	return NULL;
}

/* Called with vm->lock held. */
static void handle_event(struct mgr *m, struct vm *vm, json_object *ev)
{
	json_object *name, *data, *v;
	const char *what;

	if (!json_object_object_get_ex(ev, "event", &name))
		return;
	what = json_object_get_string(name);
	json_object_object_get_ex(ev, "data", &data);
	log_debug("%s: QMP event %s", vm->name, what);
	if (strcmp(what, "STOP") == 0) {
		if (vm->st.state != DOM_ST_PAUSED)
			vm_set_state(m, vm, DOM_ST_PAUSED,
				     vm->st.state == DOM_ST_RUNNING ? "user" : "unknown");
	} else if (strcmp(what, "RESUME") == 0) {
		if (vm->st.state == DOM_ST_PAUSED)
			vm_set_state(m, vm, DOM_ST_RUNNING, "unpaused");
	} else if (strcmp(what, "SHUTDOWN") == 0) {
		bool guest = false;
		const char *reason = "";

		if (data && json_object_object_get_ex(data, "guest", &v))
			guest = json_object_get_boolean(v);
		if (data && json_object_object_get_ex(data, "reason", &v))
			reason = json_object_get_string(v);
		if (vm->ending == END_NONE)
			vm->ending = END_SHUTDOWN;
		vm->guest_shutdown = guest;
		vm->guest_reset = strcmp(reason, "guest-reset") == 0;
		if (vm->ending == END_SHUTDOWN && vm->st.state != DOM_ST_SHUTDOWN)
			vm_set_state(m, vm, DOM_ST_SHUTDOWN, guest ? "guest" : "user");
	} else if (strcmp(what, "RESET") == 0) {
		bool guest = false;

		if (data && json_object_object_get_ex(data, "guest", &v))
			guest = json_object_get_boolean(v);
		/* on_reboot=destroy: a guest reboot ends the VM. */
		if (guest && vm->live && vm->live->on_reboot == DOM_ACT_DESTROY) {
			vm->ending = END_SHUTDOWN;
			qmp_client_send(&vm->qmp, "quit", NULL);
		}
	}
}

/* The VM's process is gone: record how it ended and apply on_poweroff/on_crash. */
static void vm_ended(struct mgr *m, struct vm *vm)
{
	struct domain_def *live;
	bool restart = false;

	struct console *con;

	pthread_mutex_lock(&vm->lock);
	live = vm->live;
	vm->live = NULL;
	con = vm->console;
	vm->console = NULL;
	pthread_mutex_unlock(&vm->lock);
	console_stop(con);
	if (live)
		taps_remove(m, live, live->n_ifaces);
	pthread_mutex_lock(&vm->lock);
	vm->active = false;
	vm->st.id = -1;
	vm->st.pid = 0;
	vm->shutdown_deadline_ms = 0;
	switch (vm->ending) {
	case END_DESTROY:
		vm_set_state(m, vm, DOM_ST_SHUTOFF, "destroyed");
		break;
	case END_SHUTDOWN:
		vm_set_state(m, vm, DOM_ST_SHUTOFF, "shutdown");
		if (live && vm->guest_reset && live->on_reboot == DOM_ACT_RESTART)
			restart = true;
		else if (live && vm->guest_shutdown && live->on_poweroff == DOM_ACT_RESTART)
			restart = true;
		break;
	case END_NONE:
		log_warn("%s: splitvm exited unexpectedly", vm->name);
		vm_set_state(m, vm, DOM_ST_CRASHED, "emulator exited");
		if (live && live->on_crash == DOM_ACT_RESTART)
			restart = true;
		break;
	}
	vm->ending = END_NONE;
	bool removed = vm->removed;
	pthread_mutex_unlock(&vm->lock);
	domain_free(live);
	if (restart && !removed)
		spawn_restart(m, vm);
}

static void *monitor_thread(void *arg)
{
	void **a = arg;
	struct mgr *m = a[0];
	struct vm *vm = a[1];
	struct qmp_client *c = &vm->qmp;
	json_object *msg, *v;
	struct errmsg e;
	int r;

	free(a);
	for (;;) {
		/* The monitor is the only reader; vm->lock is not held while blocked. */
		r = qmp_client_read(c, -1, &msg);
		if (r) {
			struct qmp_client nc;
			bool expected, back = false;
			int cr = -EHOSTUNREACH;

			pthread_mutex_lock(&vm->lock);
			vm->qmp_up = false;
			expected = vm->ending != END_NONE;
			pthread_cond_broadcast(&vm->cond);
			pthread_mutex_unlock(&vm->lock);
			/*
			 * Lost without being asked to stop: the link may have dropped
			 * while the VM runs on. Only the host's refusal (the socket
			 * is dead) means the VM is gone; while the host cannot be
			 * reached at all, keep trying: its state is unknown, not ended.
			 */
			while (!expected) {
				cr = qmp_connect(m, vm->name, &nc, now_ms() + 1000, true, &e);
				if (!cr || sock_gone(cr))
					break;
				log_warn("%s: QMP unreachable (%s); retrying", vm->name,
					 errmsg_str(&e));
				pthread_mutex_lock(&vm->lock);
				expected = vm->ending != END_NONE || vm->removed;
				pthread_mutex_unlock(&vm->lock);
			}
			if (!expected && !cr) {
				log_warn("%s: QMP connection lost (%s); reconnected", vm->name,
					 strerror(-r));
				pthread_mutex_lock(&vm->lock);
				qmp_client_close(&vm->qmp);
				vm->qmp = nc;
				vm->qmp_up = true;
				pthread_mutex_unlock(&vm->lock);
				back = true;
			}
			if (back)
				continue;
			pthread_mutex_lock(&vm->lock);
			qmp_client_close(&vm->qmp);
			pthread_mutex_unlock(&vm->lock);
			vm_ended(m, vm);
			break;
		}
		pthread_mutex_lock(&vm->lock);
		if (json_object_object_get_ex(msg, "event", NULL)) {
			handle_event(m, vm, msg);
		} else if (vm->reply_wait && !vm->reply_done) {
			if (json_object_object_get_ex(msg, "return", &v)) {
				vm->reply = json_object_get(v);
				vm->reply_err = 0;
			} else {
				json_object *err, *desc;

				vm->reply_err = -EIO;
				if (json_object_object_get_ex(msg, "error", &err) &&
				    json_object_object_get_ex(err, "desc", &desc))
					errmsg_set(&vm->reply_msg, "%s: %s", vm->name,
						   json_object_get_string(desc));
				else
					errmsg_set(&vm->reply_msg, "%s: QMP error", vm->name);
			}
			vm->reply_done = true;
			pthread_cond_broadcast(&vm->cond);
		}
		pthread_mutex_unlock(&vm->lock);
		json_object_put(msg);
	}
	vm_put(vm);
	return NULL;
}

static int start_monitor(struct mgr *m, struct vm *vm)
{
	void **a = malloc(2 * sizeof(void *));
	pthread_t t;

	if (!a)
		return -ENOMEM;
	a[0] = m;
	a[1] = vm;
	atomic_fetch_add(&vm->refs, 1);
	if (pthread_create(&t, NULL, monitor_thread, a)) {
		vm_put(vm);
		free(a);
		return -EAGAIN;
	}
	pthread_detach(t);
	return 0;
}

/* ---- verbs -------------------------------------------------------------------- */

void mgr_config_defaults(struct mgr_config *c)
{
	memset(c, 0, sizeof(*c));
	str_copy(c->store_dir, sizeof(c->store_dir), STORE_DIR);
	str_copy(c->run_dir, sizeof(c->run_dir), RENDER_RUN_DIR);
	str_copy(c->splitvm, sizeof(c->splitvm), "/usr/bin/splitvm");
	str_copy(c->netctl, sizeof(c->netctl), "/usr/sbin/splitvirt-netctl");
	str_copy(c->tap_prefix, sizeof(c->tap_prefix), RENDER_TAP_PREFIX);
	c->make_run_dirs = true;
	c->start_timeout_ms = 10000;
	c->shutdown_timeout_ms = 30000;
	c->command_timeout_ms = 10000;
}

static void fill_info(struct vm *vm, struct mgr_dominfo *o)
{
	memset(o, 0, sizeof(*o));
	str_copy(o->name, sizeof(o->name), vm->name);
	memcpy(o->uuid, vm->def->uuid, 16);
	o->id = vm->active || vm->pending ? vm->st.id : -1;
	o->state = vm->st.state;
	str_copy(o->reason, sizeof(o->reason), vm->st.reason);
	o->autostart = vm->autostart;
	o->vcpus = (vm->live ? vm->live : vm->def)->vcpus;
	o->memory_kib = (vm->live ? vm->live : vm->def)->memory_kib;
	o->current_memory_kib = (vm->live ? vm->live : vm->def)->current_memory_kib;
	o->pid = vm->st.pid;
	o->started_ms = vm->st.started_ms;
}

/* virsh's order: active domains by id, then inactive ones by name. */
static int info_cmp(const void *a, const void *b)
{
	const struct mgr_dominfo *x = a, *y = b;

	if ((x->id >= 0) != (y->id >= 0))
		return x->id >= 0 ? -1 : 1;
	if (x->id >= 0 && x->id != y->id)
		return x->id < y->id ? -1 : 1;
	return strcmp(x->name, y->name);
}

int mgr_list(struct mgr *m, bool all, struct mgr_dominfo **out, size_t *n)
{
	struct mgr_dominfo *v;
	size_t k = 0;

	pthread_mutex_lock(&m->lock);
	v = calloc(m->n ? m->n : 1, sizeof(*v));
	if (!v) {
		pthread_mutex_unlock(&m->lock);
		return -ENOMEM;
	}
	for (size_t i = 0; i < m->n; i++) {
		struct vm *vm = m->vms[i];

		pthread_mutex_lock(&vm->lock);
		if (all || vm->active || vm->pending)
			fill_info(vm, &v[k++]);
		pthread_mutex_unlock(&vm->lock);
	}
	pthread_mutex_unlock(&m->lock);
	qsort(v, k, sizeof(*v), info_cmp);
	*out = v;
	*n = k;
	return 0;
}

int mgr_info(struct mgr *m, const char *name, struct mgr_dominfo *out, struct errmsg *e)
{
	struct vm *vm = vm_get(m, name, e);

	if (!vm)
		return -ENOENT;
	pthread_mutex_lock(&vm->lock);
	fill_info(vm, out);
	pthread_mutex_unlock(&vm->lock);
	vm_put(vm);
	return 0;
}

int mgr_dumpxml(struct mgr *m, const char *name, char **xml, struct errmsg *e)
{
	struct vm *vm = vm_get(m, name, e);

	if (!vm)
		return -ENOENT;
	pthread_mutex_lock(&vm->lock);
	/* Like virsh: the running configuration while active. */
	*xml = domain_format(vm->live ? vm->live : vm->def);
	pthread_mutex_unlock(&vm->lock);
	vm_put(vm);
	if (!*xml) {
		errmsg_set(e, "%s: out of memory", name);
		return -ENOMEM;
	}
	return 0;
}

int mgr_define(struct mgr *m, const char *xml, size_t len, char name[DOM_NAME_MAX + 1],
	       struct dom_warnings *w, struct errmsg *e)
{
	struct domain_def *d = NULL;
	struct vm *vm = NULL, *same = NULL;
	char u1[37];
	int r;

	r = domain_parse(xml, len, &d, w, e);
	if (r)
		return r == -ENOMEM ? r : -EINVAL;
	pthread_mutex_lock(&m->lock);
	for (size_t i = 0; i < m->n; i++) {
		struct vm *o = m->vms[i];
		bool name_eq = strcmp(o->name, d->name) == 0;
		bool uuid_eq = memcmp(o->def->uuid, d->uuid, 16) == 0;

		if (name_eq && !uuid_eq) {
			domain_uuid_format(o->def->uuid, u1);
			errmsg_set(e, "operation failed: domain '%s' already exists with uuid %s",
				   d->name, u1);
			r = -EEXIST;
			goto out_unlock;
		}
		if (uuid_eq && !name_eq) {
			domain_uuid_format(d->uuid, u1);
			errmsg_set(e,
				   "operation failed: domain '%s' is already defined with uuid %s",
				   o->name, u1);
			r = -EEXIST;
			goto out_unlock;
		}
		if (name_eq)
			same = o;
	}
	/* Written before the table changes: a failed write leaves nothing behind. */
	r = store_save_def(&m->store, d, e);
	if (r)
		goto out_unlock;
	str_copy(name, DOM_NAME_MAX + 1, d->name);
	if (same) {
		pthread_mutex_lock(&same->lock);
		domain_free(same->def);
		same->def = d;
		pthread_mutex_unlock(&same->lock);
		d = NULL;
	} else {
		vm = vm_new(d->name, d);
		if (!vm || table_add(m, vm)) {
			if (vm) {
				vm->def = NULL;
				vm_put(vm);
			}
			store_remove(&m->store, d->name);
			errmsg_set(e, "out of memory");
			r = -ENOMEM;
			goto out_unlock;
		}
		d = NULL;
		pthread_mutex_lock(&vm->lock);
		vm_save_state(m, vm);
		pthread_mutex_unlock(&vm->lock);
	}
	log_info("%s: defined", name);
out_unlock:
	pthread_mutex_unlock(&m->lock);
	domain_free(d);
	return r;
}

int mgr_undefine(struct mgr *m, const char *name, struct errmsg *e)
{
	struct vm *vm = vm_get(m, name, e);
	int r;

	if (!vm)
		return -ENOENT;
	pthread_mutex_lock(&vm->op);
	pthread_mutex_lock(&m->lock);
	pthread_mutex_lock(&vm->lock);
	if (vm->active) {
		errmsg_set(e,
			   "Requested operation is not valid: domain '%s' is active; destroy it "
			   "first",
			   name);
		r = -EPERM;
	} else if (vm->removed) {
		errmsg_set(e, "Domain not found: no domain with matching name '%s'", name);
		r = -ENOENT;
	} else {
		r = store_remove(&m->store, name);
		if (r) {
			errmsg_set(e, "%s: cannot remove its files: %s", name, strerror(-r));
		} else {
			vm->removed = true;
			table_remove(m, vm);
			log_info("%s: undefined", name);
		}
	}
	pthread_mutex_unlock(&vm->lock);
	pthread_mutex_unlock(&m->lock);
	pthread_mutex_unlock(&vm->op);
	if (!r)
		vm_put(vm); /* the table's reference */
	vm_put(vm);
	return r;
}

static void unlink_stale(struct mgr *m, const struct domain_def *d)
{
	static const char *const files[] = {"qmp.sock", "serial.sock", "pid"};
	char path[256];

	for (size_t i = 0; i < ARRAY_SIZE(files); i++)
		if (!vm_path(m, d->name, files[i], path, sizeof(path)))
			unlink(path);
}

static int do_start(struct mgr *m, struct vm *vm, struct errmsg *e)
{
	struct domain_def *d;
	struct qmp_client c;
	struct argv argv;
	json_object *ret = NULL;
	char path[256];
	const char *status;
	struct console *con = NULL;
	const char *spath;
	char sbuf[256];
	int r;

	pthread_mutex_lock(&vm->lock);
	if (vm->removed) {
		pthread_mutex_unlock(&vm->lock);
		errmsg_set(e, "Domain not found: no domain with matching name '%s'", vm->name);
		return -ENOENT;
	}
	if (vm->active) {
		pthread_mutex_unlock(&vm->lock);
		errmsg_set(e, "Requested operation is not valid: domain '%s' is already active",
			   vm->name);
		return -EPERM;
	}
	d = domain_dup(vm->def);
	pthread_mutex_unlock(&vm->lock);
	if (!d) {
		errmsg_set(e, "%s: out of memory", vm->name);
		return -ENOMEM;
	}
	if (m->cfg.make_run_dirs) {
		r = vm_path(m, d->name, NULL, path, sizeof(path));
		if (!r)
			r = mkdir_p(path, 0700);
		if (r) {
			errmsg_set(e, "%s: cannot create %s: %s", d->name, path, strerror(-r));
			goto out_def;
		}
		unlink_stale(m, d);
	}
	r = render_argv(d, &m->ropts, &argv, e);
	if (r)
		goto out_def;
	if (m->cfg.splitvm_args[0]) {
		char *words[33];

		r = sup_split(m->cfg.splitvm_args, words, 32, e);
		if (r) {
			errmsg_prefix(e, "splitvm_args");
			goto out_argv;
		}
		for (size_t i = 0; words[i]; i++) {
			argv_add(&argv, words[i]);
			free(words[i]);
		}
		if (argv.err) {
			r = argv.err;
			goto out_argv;
		}
	}
	r = taps_create(m, d, e);
	if (r)
		goto out_argv;
	r = hostexec_run(&m->cfg.exec, argv.v, m->cfg.start_timeout_ms, NULL, 0, e);
	if (r) {
		if (r > 0) {
			errmsg_prefix(e, "%s: splitvm failed", d->name);
			r = -EIO;
		}
		goto out_taps;
	}
	r = qmp_connect(m, d->name, &c, now_ms() + (uint64_t)m->cfg.start_timeout_ms, false, e);
	if (r) {
		errmsg_prefix(e, "%s: splitvm started but its QMP socket", d->name);
		r = -EIO;
		goto out_taps;
	}
	/* the serial broker first: splitvm drops serial output nobody reads, and the guest
	 * prints from its first instruction on */
	spath = serial_path(m, d, sbuf, sizeof(sbuf));
	if (spath) {
		con = console_start(&m->cfg.sock, d->name, spath);
		if (!con)
			log_warn("%s: cannot start its console broker", d->name);
		else if (console_wait_serial(con, m->cfg.command_timeout_ms))
			log_warn("%s: serial socket not reached: early boot output may be lost",
				 d->name);
	}
	r = qmp_client_execute(&c, "query-status", NULL, m->cfg.command_timeout_ms, NULL, NULL,
			       &ret, e);
	status = r ? "" : qmp_status_of(ret);
	if (!r && strcmp(status, "running") != 0) {
		r = qmp_client_execute(&c, "cont", NULL, m->cfg.command_timeout_ms, NULL, NULL,
				       NULL, e);
	}
	if (ret)
		json_object_put(ret);
	if (r) {
		errmsg_prefix(e, "%s", d->name);
		qmp_client_send(&c, "quit", NULL);
		qmp_client_close(&c);
		console_stop(con);
		r = -EIO;
		goto out_taps;
	}
	pthread_mutex_lock(&m->lock);
	int32_t id = m->next_id++;
	pthread_mutex_unlock(&m->lock);
	pthread_mutex_lock(&vm->lock);
	vm->qmp = c;
	vm->qmp_up = true;
	vm->active = true;
	vm->ending = END_NONE;
	vm->guest_reset = vm->guest_shutdown = false;
	vm->live = d;
	vm->st.id = id;
	vm->st.pid = read_pidfile(m, d->name);
	vm->st.started_ms = (uint64_t)time(NULL) * 1000;
	vm_set_state(m, vm, DOM_ST_RUNNING, "booted");
	if (con && !vm->console)
		vm->console = con;
	else
		console_stop(con);
	vm_console_start(m, vm);
	pthread_mutex_unlock(&vm->lock);
	r = start_monitor(m, vm);
	if (r) {
		/* Without a monitor nobody reads QMP: stop the VM rather than lose it. */
		pthread_mutex_lock(&vm->lock);
		qmp_client_send(&vm->qmp, "quit", NULL);
		pthread_mutex_unlock(&vm->lock);
		errmsg_set(e, "%s: cannot start its monitor thread", vm->name);
		return r;
	}
	argv_free(&argv);
	return 0;

out_taps:
	taps_remove(m, d, d->n_ifaces);
out_argv:
	argv_free(&argv);
out_def:
	domain_free(d);
	return r;
}

int mgr_start(struct mgr *m, const char *name, struct errmsg *e)
{
	struct vm *vm = vm_get(m, name, e);
	int r;

	if (!vm)
		return -ENOENT;
	pthread_mutex_lock(&vm->op);
	r = do_start(m, vm, e);
	pthread_mutex_unlock(&vm->op);
	vm_put(vm);
	return r;
}

/* Waits (vm->lock held) until the VM is no longer active. */
static int wait_inactive(struct vm *vm, int ms)
{
	struct timespec ts;

	timespec_in(&ts, ms);
	while (vm->active) {
		if (pthread_cond_timedwait(&vm->cond, &vm->lock, &ts) == ETIMEDOUT)
			return vm->active ? -ETIMEDOUT : 0;
	}
	return 0;
}

static int do_destroy(struct mgr *m, struct vm *vm, struct errmsg *e)
{
	int r;

	pthread_mutex_lock(&vm->lock);
	if (!vm->active) {
		pthread_mutex_unlock(&vm->lock);
		errmsg_set(e, "Requested operation is not valid: domain '%s' is not running",
			   vm->name);
		return -EPERM;
	}
	vm->ending = END_DESTROY;
	pthread_mutex_unlock(&vm->lock);
	r = vm_qmp(m, vm, "quit", NULL, NULL, e);
	pthread_mutex_lock(&vm->lock);
	if (r && vm->active && vm->qmp_up) {
		pthread_mutex_unlock(&vm->lock);
		return r;
	}
	r = wait_inactive(vm, m->cfg.command_timeout_ms);
	pthread_mutex_unlock(&vm->lock);
	if (r)
		errmsg_set(e, "%s: splitvm did not exit after quit", vm->name);
	return r;
}

int mgr_destroy(struct mgr *m, const char *name, struct errmsg *e)
{
	struct vm *vm = vm_get(m, name, e);
	int r;

	if (!vm)
		return -ENOENT;
	pthread_mutex_lock(&vm->op);
	r = do_destroy(m, vm, e);
	pthread_mutex_unlock(&vm->op);
	vm_put(vm);
	return r;
}

/* Runs a QMP verb that needs the VM active and, if want is not 0, in state want. */
static int simple_verb(struct mgr *m, const char *name, const char *cmd, enum dom_state want,
		       enum dom_state then, const char *reason, struct errmsg *e)
{
	struct vm *vm = vm_get(m, name, e);
	int r = 0;

	if (!vm)
		return -ENOENT;
	pthread_mutex_lock(&vm->op);
	pthread_mutex_lock(&vm->lock);
	if (!vm->active) {
		errmsg_set(e, "Requested operation is not valid: domain '%s' is not running", name);
		r = -EPERM;
	} else if (want && vm->st.state != want) {
		errmsg_set(e, "Requested operation is not valid: domain '%s' is %s", name,
			   dom_state_name(vm->st.state));
		r = -EPERM;
	}
	pthread_mutex_unlock(&vm->lock);
	if (!r)
		r = vm_qmp(m, vm, cmd, NULL, NULL, e);
	if (!r && then) {
		pthread_mutex_lock(&vm->lock);
		if (vm->active)
			vm_set_state(m, vm, then, reason);
		pthread_mutex_unlock(&vm->lock);
	}
	pthread_mutex_unlock(&vm->op);
	vm_put(vm);
	return r;
}

int mgr_suspend(struct mgr *m, const char *name, struct errmsg *e)
{
	return simple_verb(m, name, "stop", DOM_ST_RUNNING, DOM_ST_PAUSED, "user", e);
}

int mgr_resume(struct mgr *m, const char *name, struct errmsg *e)
{
	return simple_verb(m, name, "cont", DOM_ST_PAUSED, DOM_ST_RUNNING, "unpaused", e);
}

int mgr_reboot(struct mgr *m, const char *name, struct errmsg *e)
{
	return simple_verb(m, name, "system_reset", 0, 0, NULL, e);
}

int mgr_shutdown(struct mgr *m, const char *name, struct errmsg *e)
{
	struct vm *vm = vm_get(m, name, e);
	int r = 0;

	if (!vm)
		return -ENOENT;
	pthread_mutex_lock(&vm->op);
	pthread_mutex_lock(&vm->lock);
	if (!vm->active) {
		errmsg_set(e, "Requested operation is not valid: domain '%s' is not running", name);
		r = -EPERM;
	} else {
		vm->ending = END_SHUTDOWN;
		vm->shutdown_deadline_ms = now_ms() + (uint64_t)m->cfg.shutdown_timeout_ms;
	}
	pthread_mutex_unlock(&vm->lock);
	if (!r)
		r = vm_qmp(m, vm, "system_powerdown", NULL, NULL, e);
	if (r) {
		pthread_mutex_lock(&vm->lock);
		if (vm->ending == END_SHUTDOWN && vm->active && vm->qmp_up)
			vm->ending = END_NONE;
		vm->shutdown_deadline_ms = 0;
		pthread_mutex_unlock(&vm->lock);
	}
	pthread_mutex_unlock(&vm->op);
	vm_put(vm);
	return r;
}

int mgr_autostart(struct mgr *m, const char *name, bool on, struct errmsg *e)
{
	struct vm *vm = vm_get(m, name, e);
	int r;

	if (!vm)
		return -ENOENT;
	pthread_mutex_lock(&vm->lock);
	r = store_set_autostart(&m->store, name, on);
	if (r)
		errmsg_set(e, "%s: cannot change autostart: %s", name, strerror(-r));
	else
		vm->autostart = on;
	pthread_mutex_unlock(&vm->lock);
	vm_put(vm);
	return r;
}

int mgr_console(struct mgr *m, const char *name, int *fd, struct errmsg *e)
{
	struct vm *vm = vm_get(m, name, e);
	int r = 0;

	if (!vm)
		return -ENOENT;
	pthread_mutex_lock(&vm->lock);
	if (!vm->active) {
		errmsg_set(e, "Requested operation is not valid: domain '%s' is not running", name);
		r = -EPERM;
	} else if (!vm->console) {
		errmsg_set(e, "%s: the domain has no serial console", name);
		r = -EPERM;
	} else {
		r = console_attach(vm->console, e);
		if (r >= 0) {
			*fd = r;
			r = 0;
		} else if (r == -EBUSY) {
			r = -EPERM;
		}
	}
	pthread_mutex_unlock(&vm->lock);
	vm_put(vm);
	return r;
}

/* Starts the serial broker of a VM that just became active (vm->lock held). */
static void vm_console_start(struct mgr *m, struct vm *vm)
{
	char buf[256];
	const char *path;

	if (vm->console || !vm->live)
		return;
	path = serial_path(m, vm->live, buf, sizeof(buf));
	if (!path)
		return;
	vm->console = console_start(&m->cfg.sock, vm->name, path);
	if (!vm->console)
		log_warn("%s: cannot start its console broker", vm->name);
}

/* ---- start-up: load, reconcile, the shutdown reaper ---------------------------- */

enum rec_result {
	REC_FOUND,
	REC_GONE,
	REC_UNREACHABLE,
};

static enum rec_result reconcile_one(struct mgr *m, struct vm *vm);
static bool reconcile_apply(struct mgr *m, struct vm *vm, enum rec_result res);

struct load_ctx {
	struct mgr *m;
	int err;
};

static void load_one(const char *name, void *arg)
{
	struct load_ctx *lc = arg;
	struct mgr *m = lc->m;
	struct domain_def *d = NULL;
	struct errmsg e;
	struct vm *vm;

	if (store_load_def(&m->store, name, &d, &e)) {
		log_error("skipping a stored definition: %s", errmsg_str(&e));
		return;
	}
	vm = vm_new(name, d);
	if (!vm || table_add(m, vm)) {
		if (vm)
			vm_put(vm);
		else
			domain_free(d);
		lc->err = -ENOMEM;
		return;
	}
	store_load_state(&m->store, name, &vm->st);
	vm->autostart = store_get_autostart(&m->store, name);
	if (vm->st.id >= m->next_id)
		m->next_id = vm->st.id + 1;
}

static void load_bad(const char *file, const char *why, void *arg)
{
	log_warn("skipping %s: %s", file, why);
}

static void *reaper_thread(void *arg)
{
	struct mgr *m = arg;

	while (!atomic_load(&m->stop)) {
		struct vm *due[64];
		size_t n = 0;
		uint64_t now = now_ms();

		pthread_mutex_lock(&m->lock);
		for (size_t i = 0; i < m->n && n < ARRAY_SIZE(due); i++) {
			struct vm *vm = m->vms[i];

			pthread_mutex_lock(&vm->lock);
			if (vm->active && vm->shutdown_deadline_ms &&
			    now >= vm->shutdown_deadline_ms) {
				vm->shutdown_deadline_ms = 0;
				atomic_fetch_add(&vm->refs, 1);
				due[n++] = vm;
			} else if ((vm->pending || (vm->auto_pending && now >= vm->auto_next_ms)) &&
				   n < ARRAY_SIZE(due)) {
				atomic_fetch_add(&vm->refs, 1);
				due[n++] = vm;
			}
			pthread_mutex_unlock(&vm->lock);
		}
		pthread_mutex_unlock(&m->lock);
		for (size_t i = 0; i < n; i++) {
			struct errmsg e;

			pthread_mutex_lock(&due[i]->lock);
			bool pending = due[i]->pending || due[i]->auto_pending;
			pthread_mutex_unlock(&due[i]->lock);
			if (pending) {
				pthread_mutex_lock(&due[i]->op);
				if (reconcile_apply(m, due[i], reconcile_one(m, due[i])))
					log_info("%s: reconciled", due[i]->name);
				pthread_mutex_unlock(&due[i]->op);
				vm_put(due[i]);
				continue;
			}
			log_warn("%s: no power-off within %d ms of shutdown; destroying",
				 due[i]->name, m->cfg.shutdown_timeout_ms);
			pthread_mutex_lock(&due[i]->op);
			pthread_mutex_lock(&due[i]->lock);
			bool still = due[i]->active;
			pthread_mutex_unlock(&due[i]->lock);
			if (still && do_destroy(m, due[i], &e))
				log_error("%s: %s", due[i]->name, errmsg_str(&e));
			pthread_mutex_unlock(&due[i]->op);
			vm_put(due[i]);
		}
		usleep(100000);
	}
	return NULL;
}

int mgr_new(const struct mgr_config *cfg, struct mgr **out, struct errmsg *e)
{
	struct mgr *m = calloc(1, sizeof(*m));
	struct load_ctx lc = {.m = m};
	int r;

	if (!m)
		return -ENOMEM;
	m->cfg = *cfg;
	m->ropts.splitvm = m->cfg.splitvm;
	m->ropts.run_dir = m->cfg.run_dir;
	m->ropts.tap_prefix = m->cfg.tap_prefix;
	m->next_id = 1;
	pthread_mutex_init(&m->lock, NULL);
	r = store_open(&m->store, cfg->store_dir, e);
	if (r)
		goto fail;
	r = store_list(&m->store, load_one, load_bad, &lc);
	if (!r)
		r = lc.err;
	if (r) {
		errmsg_set(e, "%s: cannot list: %s", cfg->store_dir, strerror(-r));
		goto fail_store;
	}
	r = pthread_create(&m->reaper, NULL, reaper_thread, m);
	if (r) {
		r = -r;
		errmsg_set(e, "cannot start a thread: %s", strerror(-r));
		goto fail_store;
	}
	*out = m;
	return 0;
fail_store:
	store_close(&m->store);
fail:
	for (size_t i = 0; i < m->n; i++)
		vm_put(m->vms[i]);
	free(m->vms);
	free(m);
	return r;
}

/* Looks for the VM of one domain (vm->op held): found running, gone, or unknown for now. */
static enum rec_result reconcile_one(struct mgr *m, struct vm *vm)
{
	struct qmp_client c;
	struct errmsg e;
	json_object *ret = NULL;
	const char *status;
	int32_t id;
	int r;

	r = qmp_connect(m, vm->name, &c, 0, true, &e);
	if (r)
		return sock_gone(r) ? REC_GONE : REC_UNREACHABLE;
	r = qmp_client_execute(&c, "query-status", NULL, m->cfg.command_timeout_ms, NULL, NULL,
			       &ret, &e);
	if (r) {
		qmp_client_close(&c);
		return REC_UNREACHABLE;
	}
	status = qmp_status_of(ret);
	if (strcmp(status, "prelaunch") == 0)
		/* Started by an agent that died before its cont. */
		qmp_client_execute(&c, "cont", NULL, m->cfg.command_timeout_ms, NULL, NULL, NULL,
				   &e);
	pthread_mutex_lock(&m->lock);
	id = vm->st.id > 0 ? vm->st.id : m->next_id++;
	pthread_mutex_unlock(&m->lock);
	pthread_mutex_lock(&vm->lock);
	vm->qmp = c;
	vm->qmp_up = true;
	vm->active = true;
	vm->ending = END_NONE;
	vm->live = domain_dup(vm->def);
	vm->st.id = id;
	if (!vm->st.pid)
		vm->st.pid = read_pidfile(m, vm->name);
	if (strcmp(status, "paused") == 0)
		vm_set_state(m, vm, DOM_ST_PAUSED,
			     vm->st.state == DOM_ST_PAUSED ? vm->st.reason : "unknown");
	else
		vm_set_state(m, vm, DOM_ST_RUNNING,
			     vm->st.state == DOM_ST_RUNNING ? vm->st.reason : "unpaused");
	vm_console_start(m, vm);
	pthread_mutex_unlock(&vm->lock);
	json_object_put(ret);
	log_info("%s: found running (id %d)", vm->name, id);
	if (start_monitor(m, vm))
		log_error("%s: cannot start its monitor", vm->name);
	return REC_FOUND;
}

/* Applies a reconcile result (vm->op held); returns true when it is settled. */
static bool reconcile_apply(struct mgr *m, struct vm *vm, enum rec_result res)
{
	struct errmsg e;
	bool was_active, autostart;

	pthread_mutex_lock(&vm->lock);
	was_active = vm->st.state == DOM_ST_RUNNING || vm->st.state == DOM_ST_PAUSED ||
		     vm->st.state == DOM_ST_SHUTDOWN;
	if (res == REC_UNREACHABLE && was_active) {
		/* Recorded as running but the host cannot be asked yet: keep trying. */
		vm->pending = true;
		pthread_mutex_unlock(&vm->lock);
		return false;
	}
	vm->pending = false;
	if (res == REC_UNREACHABLE && vm->autostart && !vm->active) {
		/* Autostart needs the host: wait until it answers. */
		vm->auto_pending = true;
		vm->auto_next_ms = now_ms() + 200;
		pthread_mutex_unlock(&vm->lock);
		return false;
	}
	if (res != REC_FOUND && was_active) {
		log_warn("%s: was %s but its VM is gone", vm->name, dom_state_name(vm->st.state));
		vm->st.id = -1;
		vm->st.pid = 0;
		vm_set_state(m, vm, DOM_ST_SHUTOFF, "unknown");
	}
	autostart = vm->autostart && !vm->active && !vm->removed;
	pthread_mutex_unlock(&vm->lock);
	if (autostart) {
		int r = do_start(m, vm, &e);
		bool retry;

		pthread_mutex_lock(&vm->lock);
		vm->auto_pending = false;
		/* The host side may still be coming up (mounts, links): retry a while. */
		if (r && r != -EPERM && r != -ENOENT && ++vm->auto_tries < 30) {
			vm->auto_pending = true;
			vm->auto_next_ms = now_ms() + 500;
		}
		retry = vm->auto_pending;
		pthread_mutex_unlock(&vm->lock);
		if (r)
			log_error("%s: autostart failed%s: %s", vm->name,
				  retry ? " (will retry)" : "", errmsg_str(&e));
		else
			log_info("%s: autostarted", vm->name);
	}
	return true;
}

void mgr_reconcile(struct mgr *m)
{
	struct vm **vms;
	size_t n;

	pthread_mutex_lock(&m->lock);
	n = m->n;
	vms = calloc(n ? n : 1, sizeof(*vms));
	for (size_t i = 0; vms && i < n; i++) {
		vms[i] = m->vms[i];
		atomic_fetch_add(&vms[i]->refs, 1);
	}
	pthread_mutex_unlock(&m->lock);
	if (!vms)
		return;
	for (size_t i = 0; i < n; i++) {
		pthread_mutex_lock(&vms[i]->op);
		if (!reconcile_apply(m, vms[i], reconcile_one(m, vms[i])))
			log_warn("%s: the host cannot be reached yet; its state is kept and "
				 "checked again",
				 vms[i]->name);
		pthread_mutex_unlock(&vms[i]->op);
		vm_put(vms[i]);
	}
	free(vms);
}

void mgr_free(struct mgr *m)
{
	atomic_store(&m->stop, true);
	pthread_join(m->reaper, NULL);
	/* Running VMs keep running: the agent only lets go of them. */
	pthread_mutex_lock(&m->lock);
	for (size_t i = 0; i < m->n; i++)
		vm_put(m->vms[i]);
	m->n = 0;
	pthread_mutex_unlock(&m->lock);
	free(m->vms);
	store_close(&m->store);
	free(m);
}
