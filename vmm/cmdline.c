/*
 * cmdline: parses splitvm's StratoVirt-style command line into a validated
 * struct vm_config (option syntax, defaults and bounds from the guidebook).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errmsg.h"
#include "util.h"
#include "vm_config.h"

/* Properties of one option value ("a=b,c,d=e"); ",," stands for a literal comma. */
#define KV_MAX 32

struct kv_item {
	const char *key;
	const char *val; /* NULL for a bare flag ("server") */
	bool used;
};

struct kv_list {
	const char *opt; /* "-drive", for messages */
	char *buf;
	struct kv_item items[KV_MAX];
	size_t n;
};

static void kv_free(struct kv_list *kv)
{
	free(kv->buf);
	kv->buf = NULL;
	kv->n = 0;
}

/*
 * Splits s into properties. A first item without '=' is the value of
 * implied_key when that is given (e.g. "-smp 4" means cpus=4), else a flag.
 */
static int kv_parse(struct kv_list *kv, const char *opt, const char *s, const char *implied_key,
		    struct errmsg *e)
{
	size_t len = strlen(s), i, j;
	char *p;

	memset(kv, 0, sizeof(*kv));
	kv->opt = opt;
	kv->buf = malloc(len + 1);
	if (!kv->buf) {
		errmsg_set(e, "%s: out of memory", opt);
		return -ENOMEM;
	}
	if (len == 0) {
		errmsg_set(e, "%s: empty value", opt);
		return -EINVAL;
	}
	/* Unescape ",," and cut at single commas (written as NUL separators). */
	for (i = 0, j = 0; i < len; i++) {
		if (s[i] == ',' && s[i + 1] == ',') {
			kv->buf[j++] = ',';
			i++;
		} else if (s[i] == ',') {
			kv->buf[j++] = '\0';
		} else {
			kv->buf[j++] = s[i];
		}
	}
	kv->buf[j] = '\0';
	p = kv->buf;
	while (p <= kv->buf + j) {
		size_t plen = strlen(p);
		struct kv_item *it;
		char *eq;
		size_t k;

		if (plen == 0) {
			errmsg_set(e, "%s: empty property in '%s'", opt, s);
			return -EINVAL;
		}
		if (kv->n == KV_MAX) {
			errmsg_set(e, "%s: too many properties (at most %d)", opt, KV_MAX);
			return -EINVAL;
		}
		it = &kv->items[kv->n];
		eq = strchr(p, '=');
		if (eq) {
			*eq = '\0';
			it->key = p;
			it->val = eq + 1;
			if (*it->key == '\0') {
				errmsg_set(e, "%s: property with an empty name in '%s'", opt, s);
				return -EINVAL;
			}
		} else if (kv->n == 0 && implied_key) {
			it->key = implied_key;
			it->val = p;
		} else {
			it->key = p;
			it->val = NULL;
		}
		for (k = 0; k < kv->n; k++) {
			if (strcmp(kv->items[k].key, it->key) == 0) {
				errmsg_set(e, "%s: duplicate property '%s'", opt, it->key);
				return -EINVAL;
			}
		}
		kv->n++;
		p += plen + 1;
	}
	return 0;
}

static struct kv_item *kv_get(struct kv_list *kv, const char *key)
{
	size_t i;

	for (i = 0; i < kv->n; i++) {
		if (strcmp(kv->items[i].key, key) == 0) {
			kv->items[i].used = true;
			return &kv->items[i];
		}
	}
	return NULL;
}

/* Every property must have been consumed by a getter. */
static int kv_check_unused(struct kv_list *kv, const char *what, struct errmsg *e)
{
	size_t i;

	for (i = 0; i < kv->n; i++) {
		if (!kv->items[i].used) {
			if (what)
				errmsg_set(e, "%s: %s: unknown property '%s'", kv->opt, what,
					   kv->items[i].key);
			else
				errmsg_set(e, "%s: unknown property '%s'", kv->opt,
					   kv->items[i].key);
			return -EINVAL;
		}
	}
	return 0;
}

/* A property that needs a value: -ENOENT if absent, -EINVAL if a bare flag. */
static int kv_str(struct kv_list *kv, const char *key, const char **out, struct errmsg *e)
{
	struct kv_item *it = kv_get(kv, key);

	if (!it)
		return -ENOENT;
	if (!it->val || it->val[0] == '\0') {
		errmsg_set(e, "%s: %s: needs a value", kv->opt, key);
		return -EINVAL;
	}
	*out = it->val;
	return 0;
}

static int kv_bool(struct kv_list *kv, const char *key, bool *out, struct errmsg *e)
{
	const char *v;
	int ret = kv_str(kv, key, &v, e);

	if (ret)
		return ret;
	if (parse_bool(v, out)) {
		errmsg_set(e, "%s: %s: '%s' is not on/off or true/false", kv->opt, key, v);
		return -EINVAL;
	}
	return 0;
}

/* A bare flag ("server") or flag=on|off. */
static int kv_flag(struct kv_list *kv, const char *key, bool *out, struct errmsg *e)
{
	struct kv_item *it = kv_get(kv, key);

	if (!it)
		return -ENOENT;
	if (!it->val) {
		*out = true;
		return 0;
	}
	if (parse_bool(it->val, out)) {
		errmsg_set(e, "%s: %s: '%s' is not on/off", kv->opt, key, it->val);
		return -EINVAL;
	}
	return 0;
}

static int kv_u64(struct kv_list *kv, const char *key, uint64_t min, uint64_t max, uint64_t *out,
		  struct errmsg *e)
{
	const char *v;
	uint64_t n;
	int ret = kv_str(kv, key, &v, e);

	if (ret)
		return ret;
	ret = parse_u64(v, 0, &n);
	if (ret) {
		errmsg_set(e, "%s: %s: '%s' is not %s", kv->opt, key, v,
			   ret == -ERANGE ? "in range" : "a non-negative integer");
		return -EINVAL;
	}
	if (n < min || n > max) {
		errmsg_set(e, "%s: %s (%llu) must be between %llu and %llu", kv->opt, key,
			   (unsigned long long)n, (unsigned long long)min, (unsigned long long)max);
		return -EINVAL;
	}
	*out = n;
	return 0;
}

static int kv_u32(struct kv_list *kv, const char *key, uint32_t min, uint32_t max, uint32_t *out,
		  struct errmsg *e)
{
	uint64_t v;
	int ret = kv_u64(kv, key, min, max, &v, e);

	if (ret)
		return ret;
	*out = (uint32_t)v;
	return 0;
}

/* Absent is fine (returns 0 leaving *out alone); any other error is returned. */
#define OPTIONAL(expr)                   \
	do {                             \
		int _r = (expr);         \
		if (_r && _r != -ENOENT) \
			return _r;       \
	} while (0)

/* Likewise inside functions that own a kv_list and leave through `out`. */
#define OPTIONAL_GOTO(expr)         \
	do {                        \
		ret = (expr);       \
		if (ret == -ENOENT) \
			ret = 0;    \
		if (ret)            \
			goto out;   \
	} while (0)

static int required(int ret, struct kv_list *kv, const char *what, const char *key,
		    struct errmsg *e)
{
	if (ret == -ENOENT) {
		if (what)
			errmsg_set(e, "%s: %s: %s= is required", kv->opt, what, key);
		else
			errmsg_set(e, "%s: %s= is required", kv->opt, key);
		return -EINVAL;
	}
	return ret;
}

static int dup_str(char **dst, const char *src, const char *opt, struct errmsg *e)
{
	char *s = str_dup(src);

	if (!s) {
		errmsg_set(e, "%s: out of memory", opt);
		return -ENOMEM;
	}
	free(*dst);
	*dst = s;
	return 0;
}

static int check_id(const char *opt, const char *id, struct errmsg *e)
{
	size_t i, len = strlen(id);

	if (len > VMCFG_ID_MAX) {
		errmsg_set(e, "%s: id '%.20s...' is longer than %u bytes", opt, id, VMCFG_ID_MAX);
		return -EINVAL;
	}
	for (i = 0; i < len; i++) {
		char c = id[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c == '.')) {
			errmsg_set(e, "%s: id '%s' may only hold letters, digits, '-', '_' and '.'",
				   opt, id);
			return -EINVAL;
		}
	}
	return 0;
}

static int take_id(struct kv_list *kv, const char *what, bool needed, char **out, struct errmsg *e)
{
	const char *id;
	int ret = kv_str(kv, "id", &id, e);

	if (ret == -ENOENT && !needed)
		return 0;
	ret = required(ret, kv, what, "id", e);
	if (ret)
		return ret;
	ret = check_id(kv->opt, id, e);
	if (ret)
		return ret;
	return dup_str(out, id, kv->opt, e);
}

static bool is_pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

/* ---- -machine --------------------------------------------------------------- */

static int parse_machine(struct vm_config *cfg, const char *arg, struct errmsg *e)
{
	struct kv_list kv;
	bool usb = false;
	const char *v;
	int ret;

	ret = kv_parse(&kv, "-machine", arg, "type", e);
	if (ret)
		goto out;
	ret = required(kv_str(&kv, "type", &v, e), &kv, NULL, "type", e);
	if (ret)
		goto out;
	if (strcmp(v, "microvm") == 0) {
		cfg->machine.type = VM_MACHINE_MICROVM;
	} else if (strcmp(v, "none") == 0) {
		cfg->machine.type = VM_MACHINE_NONE;
	} else {
		errmsg_set(e, "-machine: type '%s' is not supported (microvm, none)", v);
		ret = -EINVAL;
		goto out;
	}
	ret = kv_bool(&kv, "dump-guest-core", &cfg->machine.dump_guest_core, e);
	if (ret && ret != -ENOENT)
		goto out;
	ret = kv_bool(&kv, "mem-share", &cfg->machine.mem_share, e);
	if (ret && ret != -ENOENT)
		goto out;
	ret = kv_bool(&kv, "acpi", &cfg->machine.acpi, e);
	if (ret && ret != -ENOENT)
		goto out;
	ret = kv_str(&kv, "accel", &v, e);
	if (ret == 0 && strcmp(v, "kvm") != 0) {
		errmsg_set(e, "-machine: accel '%s' is not supported (kvm)", v);
		ret = -EINVAL;
		goto out;
	} else if (ret && ret != -ENOENT) {
		goto out;
	}
	ret = kv_bool(&kv, "usb", &usb, e);
	if (ret == 0 && usb) {
		errmsg_set(e, "-machine: usb=on is not supported (off)");
		ret = -EINVAL;
		goto out;
	} else if (ret && ret != -ENOENT) {
		goto out;
	}
	ret = kv_check_unused(&kv, NULL, e);
out:
	kv_free(&kv);
	return ret;
}

/* ---- -smp ------------------------------------------------------------------- */

struct smp_in {
	uint32_t cpus, maxcpus, sockets, dies, clusters, cores, threads; /* 0: not given */
};

static int smp_get(struct kv_list *kv, const char *key, uint32_t *out, struct errmsg *e)
{
	const char *v;
	uint32_t n;
	int ret = kv_str(kv, key, &v, e);

	if (ret == -ENOENT)
		return 0;
	if (ret)
		return ret;
	ret = parse_u32(v, 10, &n);
	if (ret) {
		errmsg_set(e, "-smp: %s: '%s' is not %s", key, v,
			   ret == -ERANGE ? "in range" : "a positive integer");
		return -EINVAL;
	}
	if (n == 0) {
		errmsg_set(e, "-smp: %s must be at least 1", key);
		return -EINVAL;
	}
	*out = n;
	return 0;
}

/*
 * The guidebook's topology rules: dies and clusters default to 1; maxcpus to
 * the product of the given topology, else to cpus; of sockets, cores and
 * threads the missing ones are derived from maxcpus (cores first, then
 * sockets, then threads; the others default to 1); then
 * sockets*dies*clusters*cores*threads must equal maxcpus, maxcpus >= cpus,
 * and nothing may exceed 254.
 */
static int smp_resolve(const struct smp_in *in, struct vm_smp_config *out, struct errmsg *e)
{
	uint64_t maxcpus = in->maxcpus, sockets = in->sockets, cores = in->cores;
	uint64_t threads = in->threads, dies = in->dies ? in->dies : 1;
	uint64_t clusters = in->clusters ? in->clusters : 1, prod;

	if (in->cpus > VMCFG_MAX_CPUS) {
		errmsg_set(e, "-smp: cpus (%u) must be between 1 and %u", in->cpus, VMCFG_MAX_CPUS);
		return -EINVAL;
	}
	if (maxcpus == 0) {
		/* Each factor is < 2^32, but the product of five can overflow u64. */
		if (sockets && cores && threads) {
			prod = sockets;
			if (__builtin_mul_overflow(prod, dies, &prod) ||
			    __builtin_mul_overflow(prod, clusters, &prod) ||
			    __builtin_mul_overflow(prod, cores, &prod) ||
			    __builtin_mul_overflow(prod, threads, &prod))
				prod = UINT64_MAX;
			maxcpus = prod;
		} else {
			maxcpus = in->cpus;
		}
	}
	if (cores == 0) {
		if (sockets == 0)
			sockets = 1;
		if (threads == 0)
			threads = 1;
		cores = maxcpus / (sockets * dies * clusters * threads ?: 1);
	} else if (sockets == 0) {
		if (threads == 0)
			threads = 1;
		sockets = maxcpus / (dies * clusters * cores * threads ?: 1);
	}
	if (threads == 0)
		threads = maxcpus / (sockets * dies * clusters * cores ?: 1);

	if (maxcpus < in->cpus) {
		errmsg_set(e, "-smp: maxcpus (%llu) must be >= cpus (%u)",
			   (unsigned long long)maxcpus, in->cpus);
		return -EINVAL;
	}
	if (maxcpus > VMCFG_MAX_CPUS) {
		if (in->maxcpus)
			errmsg_set(e, "-smp: maxcpus (%llu) must be at most %u",
				   (unsigned long long)maxcpus, VMCFG_MAX_CPUS);
		else
			errmsg_set(e, "-smp: the topology gives maxcpus %llu, more than %u",
				   (unsigned long long)maxcpus, VMCFG_MAX_CPUS);
		return -EINVAL;
	}
	prod = sockets;
	if (__builtin_mul_overflow(prod, dies, &prod) ||
	    __builtin_mul_overflow(prod, clusters, &prod) ||
	    __builtin_mul_overflow(prod, cores, &prod) ||
	    __builtin_mul_overflow(prod, threads, &prod))
		prod = UINT64_MAX;
	if (prod != maxcpus || sockets == 0 || cores == 0 || threads == 0) {
		errmsg_set(e,
			   "-smp: sockets (%llu) * dies (%llu) * clusters (%llu) * cores (%llu) * "
			   "threads (%llu) must equal maxcpus (%llu)",
			   (unsigned long long)sockets, (unsigned long long)dies,
			   (unsigned long long)clusters, (unsigned long long)cores,
			   (unsigned long long)threads, (unsigned long long)maxcpus);
		return -EINVAL;
	}
	out->cpus = in->cpus;
	out->maxcpus = (uint32_t)maxcpus;
	out->sockets = (uint32_t)sockets;
	out->dies = (uint32_t)dies;
	out->clusters = (uint32_t)clusters;
	out->cores = (uint32_t)cores;
	out->threads = (uint32_t)threads;
	return 0;
}

static int parse_smp(struct vm_config *cfg, const char *arg, struct errmsg *e)
{
	struct smp_in in = {0};
	struct kv_list kv;
	int ret;

	ret = kv_parse(&kv, "-smp", arg, "cpus", e);
	if (ret)
		goto out;
	if ((ret = smp_get(&kv, "cpus", &in.cpus, e)) ||
	    (ret = smp_get(&kv, "maxcpus", &in.maxcpus, e)) ||
	    (ret = smp_get(&kv, "sockets", &in.sockets, e)) ||
	    (ret = smp_get(&kv, "dies", &in.dies, e)) ||
	    (ret = smp_get(&kv, "clusters", &in.clusters, e)) ||
	    (ret = smp_get(&kv, "cores", &in.cores, e)) ||
	    (ret = smp_get(&kv, "threads", &in.threads, e)))
		goto out;
	ret = kv_check_unused(&kv, NULL, e);
	if (ret)
		goto out;
	if (in.cpus == 0) {
		errmsg_set(e, "-smp: cpus= is required");
		ret = -EINVAL;
		goto out;
	}
	ret = smp_resolve(&in, &cfg->smp, e);
out:
	kv_free(&kv);
	return ret;
}

/* ---- -m, -cpu ---------------------------------------------------------------- */

/* "<megs>[m|M|g|G]": an integer, default unit M. */
static int parse_mem_size(const char *v, uint64_t *out, struct errmsg *e)
{
	size_t len = strlen(v), ndig = 0;
	uint64_t n = 0, unit = 1ull << 20, bytes;
	char digits[32];

	while (ndig < len && v[ndig] >= '0' && v[ndig] <= '9')
		ndig++;
	if (ndig == 0 || ndig >= sizeof(digits) || len - ndig > 1) {
		errmsg_set(e,
			   "-m: '%s' is not a memory size (an integer with optional unit M or G)",
			   v);
		return -EINVAL;
	}
	if (len - ndig == 1) {
		switch (v[ndig]) {
		case 'm':
		case 'M':
			break;
		case 'g':
		case 'G':
			unit = 1ull << 30;
			break;
		default:
			errmsg_set(e, "-m: '%s': unit '%c' is not supported (M or G)", v, v[ndig]);
			return -EINVAL;
		}
	}
	memcpy(digits, v, ndig);
	digits[ndig] = '\0';
	if (parse_u64(digits, 10, &n) || __builtin_mul_overflow(n, unit, &bytes)) {
		errmsg_set(e, "-m: '%s' is above the maximum of 512G", v);
		return -EINVAL;
	}
	if (bytes < VMCFG_MEM_MIN) {
		errmsg_set(e, "-m: '%s' is below the minimum of 128M", v);
		return -EINVAL;
	}
	if (bytes > VMCFG_MEM_MAX) {
		errmsg_set(e, "-m: '%s' is above the maximum of 512G", v);
		return -EINVAL;
	}
	*out = bytes;
	return 0;
}

static int parse_m(struct vm_config *cfg, const char *arg, struct errmsg *e)
{
	struct kv_list kv;
	const char *v;
	int ret;

	ret = kv_parse(&kv, "-m", arg, "size", e);
	if (ret)
		goto out;
	ret = required(kv_str(&kv, "size", &v, e), &kv, NULL, "size", e);
	if (ret)
		goto out;
	ret = kv_check_unused(&kv, NULL, e);
	if (ret)
		goto out;
	ret = parse_mem_size(v, &cfg->mem_size, e);
out:
	kv_free(&kv);
	return ret;
}

static int parse_cpu(struct vm_config *cfg, const char *arg, struct errmsg *e)
{
	struct kv_list kv;
	const char *v;
	bool pmu = false;
	int ret;

	ret = kv_parse(&kv, "-cpu", arg, "model", e);
	if (ret)
		goto out;
	ret = required(kv_str(&kv, "model", &v, e), &kv, NULL, "model", e);
	if (ret)
		goto out;
	if (strcmp(v, "host") != 0) {
		errmsg_set(e, "-cpu: model '%s' is not supported (host)", v);
		ret = -EINVAL;
		goto out;
	}
	ret = kv_bool(&kv, "pmu", &pmu, e);
	if (ret && ret != -ENOENT)
		goto out;
	if (pmu) {
		errmsg_set(e, "-cpu: pmu=on is only supported on aarch64");
		ret = -EINVAL;
		goto out;
	}
	ret = kv_check_unused(&kv, NULL, e);
out:
	kv_free(&kv);
	return ret;
}

/* ---- -name, -qmp --------------------------------------------------------------- */

static int parse_name(struct vm_config *cfg, const char *arg, struct errmsg *e)
{
	struct kv_list kv;
	const char *v;
	bool dbg;
	int ret;

	/* A plain name, or libvirt's "guest=NAME,debug-threads=on". */
	if (!strchr(arg, '=') && !strchr(arg, ','))
		return dup_str(&cfg->name, arg, "-name", e);
	ret = kv_parse(&kv, "-name", arg, "guest", e);
	if (ret)
		goto out;
	ret = required(kv_str(&kv, "guest", &v, e), &kv, NULL, "guest", e);
	if (ret)
		goto out;
	ret = kv_bool(&kv, "debug-threads", &dbg, e);
	if (ret && ret != -ENOENT)
		goto out;
	ret = kv_check_unused(&kv, NULL, e);
	if (ret)
		goto out;
	ret = dup_str(&cfg->name, v, "-name", e);
out:
	kv_free(&kv);
	return ret;
}

static int parse_qmp(struct vm_config *cfg, const char *arg, struct errmsg *e)
{
	bool server = false, nowait = false, wait = true;
	struct kv_list kv;
	const char *addr;
	int ret;

	ret = kv_parse(&kv, "-qmp", arg, NULL, e);
	if (ret)
		goto out;
	/* The address is the first item, a flag-like "unix:PATH" (or "unix:PATH=..."). */
	if (kv.items[0].val) {
		errmsg_set(e, "-qmp: '%s' is not unix:PATH,server,nowait", arg);
		ret = -EINVAL;
		goto out;
	}
	kv.items[0].used = true;
	addr = kv.items[0].key;
	if (!str_has_prefix(addr, "unix:")) {
		errmsg_set(e, "-qmp: '%s': only unix:PATH sockets are supported", addr);
		ret = -EINVAL;
		goto out;
	}
	addr += 5;
	if (addr[0] == '\0') {
		errmsg_set(e, "-qmp: unix: needs a socket path");
		ret = -EINVAL;
		goto out;
	}
	if (strlen(addr) >= 108) {
		errmsg_set(e, "-qmp: socket path '%.40s...' is longer than 107 bytes", addr);
		ret = -EINVAL;
		goto out;
	}
	OPTIONAL_GOTO(kv_flag(&kv, "server", &server, e));
	OPTIONAL_GOTO(kv_flag(&kv, "nowait", &nowait, e));
	OPTIONAL_GOTO(kv_flag(&kv, "wait", &wait, e));
	ret = kv_check_unused(&kv, NULL, e);
	if (ret)
		goto out;
	if (!server || !(nowait || !wait)) {
		errmsg_set(
			e,
			"-qmp: only server,nowait sockets are supported (unix:PATH,server,nowait)");
		ret = -EINVAL;
		goto out;
	}
	ret = dup_str(&cfg->qmp_path, addr, "-qmp", e);
out:
	kv_free(&kv);
	return ret;
}

/* ---- -chardev, -serial --------------------------------------------------------- */

static int chardev_add(struct vm_config *cfg, const char *opt, struct vm_chardev_config **out,
		       struct errmsg *e)
{
	if (cfg->n_chardevs == VMCFG_MAX_CHARDEVS) {
		errmsg_set(e, "%s: too many chardevs (at most %u)", opt, VMCFG_MAX_CHARDEVS);
		return -EINVAL;
	}
	*out = &cfg->chardevs[cfg->n_chardevs++];
	memset(*out, 0, sizeof(**out));
	return 0;
}

/* Fills c from kv whose first item is the backend name (already set in c). */
static int chardev_props(struct kv_list *kv, struct vm_chardev_config *c, struct errmsg *e)
{
	const char *bname = vm_chardev_backend_name(c->backend);
	bool wait = true;
	const char *path;
	int ret;

	ret = kv_str(kv, "path", &path, e);
	if (ret && ret != -ENOENT)
		return ret;
	if (ret == 0) {
		if (c->backend != VM_CHARDEV_FILE && c->backend != VM_CHARDEV_SOCKET) {
			errmsg_set(e, "%s: %s: path= is only for file and socket backends", kv->opt,
				   bname);
			return -EINVAL;
		}
		ret = dup_str(&c->path, path, kv->opt, e);
		if (ret)
			return ret;
		if (c->backend == VM_CHARDEV_SOCKET && strlen(path) >= 108) {
			errmsg_set(e, "%s: socket path '%.40s...' is longer than 107 bytes",
				   kv->opt, path);
			return -EINVAL;
		}
	} else if (c->backend == VM_CHARDEV_FILE || c->backend == VM_CHARDEV_SOCKET) {
		errmsg_set(e, "%s: %s: path= is required", kv->opt, bname);
		return -EINVAL;
	}
	if (c->backend == VM_CHARDEV_SOCKET) {
		OPTIONAL(kv_flag(kv, "server", &c->server, e));
		OPTIONAL(kv_flag(kv, "nowait", &c->nowait, e));
		OPTIONAL(kv_flag(kv, "wait", &wait, e));
		if (!wait)
			c->nowait = true;
		if (!c->server || !c->nowait) {
			errmsg_set(e, "%s: socket: only server,nowait is supported", kv->opt);
			return -EINVAL;
		}
	}
	return kv_check_unused(kv, bname, e);
}

static int backend_from_name(const char *opt, const char *name, enum vm_chardev_backend *out,
			     struct errmsg *e)
{
	static const enum vm_chardev_backend all[] = {VM_CHARDEV_STDIO, VM_CHARDEV_PTY,
						      VM_CHARDEV_FILE, VM_CHARDEV_SOCKET};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(all); i++) {
		if (strcmp(name, vm_chardev_backend_name(all[i])) == 0) {
			*out = all[i];
			return 0;
		}
	}
	errmsg_set(e, "%s: backend '%s' is not supported (stdio, pty, socket, file)", opt, name);
	return -EINVAL;
}

static int parse_chardev(struct vm_config *cfg, const char *arg, struct errmsg *e)
{
	struct vm_chardev_config *c;
	struct kv_list kv;
	int ret;

	ret = kv_parse(&kv, "-chardev", arg, NULL, e);
	if (ret)
		goto out;
	if (kv.items[0].val) {
		errmsg_set(e,
			   "-chardev: the first item must be the backend (stdio, pty, socket, "
			   "file), not '%s='",
			   kv.items[0].key);
		ret = -EINVAL;
		goto out;
	}
	kv.items[0].used = true;
	ret = chardev_add(cfg, "-chardev", &c, e);
	if (ret)
		goto out;
	ret = backend_from_name("-chardev", kv.items[0].key, &c->backend, e);
	if (ret)
		goto out;
	ret = take_id(&kv, NULL, true, &c->id, e);
	if (ret)
		goto out;
	if (vm_config_find_chardev(cfg, c->id) != (int)(c - cfg->chardevs)) {
		errmsg_set(e, "-chardev: duplicate id '%s'", c->id);
		ret = -EINVAL;
		goto out;
	}
	ret = chardev_props(&kv, c, e);
out:
	kv_free(&kv);
	return ret;
}

/* Remembered until all options are read: "chardev:ID" may name a later -chardev. */
struct pending {
	char *serial_chardev;
};

static int parse_serial(struct vm_config *cfg, struct pending *pend, const char *arg,
			struct errmsg *e)
{
	struct vm_chardev_config *c;
	struct kv_list kv;
	int ret;

	if (str_has_prefix(arg, "chardev:")) {
		if (arg[8] == '\0') {
			errmsg_set(e, "-serial: chardev: needs an id");
			return -EINVAL;
		}
		return dup_str(&pend->serial_chardev, arg + 8, "-serial", e);
	}
	ret = kv_parse(&kv, "-serial", arg, NULL, e);
	if (ret)
		goto out;
	if (kv.items[0].val) {
		errmsg_set(
			e,
			"-serial: '%s' is not stdio, pty, file,path=, socket,path=,server,nowait "
			"or chardev:ID",
			arg);
		ret = -EINVAL;
		goto out;
	}
	kv.items[0].used = true;
	ret = chardev_add(cfg, "-serial", &c, e);
	if (ret)
		goto out;
	ret = backend_from_name("-serial", kv.items[0].key, &c->backend, e);
	if (ret)
		goto out;
	ret = dup_str(&c->id, VMCFG_SERIAL_CHARDEV_ID, "-serial", e);
	if (ret)
		goto out;
	ret = chardev_props(&kv, c, e);
	if (ret)
		goto out;
	cfg->serial = (int)(c - cfg->chardevs);
out:
	kv_free(&kv);
	return ret;
}

/* ---- -drive ---------------------------------------------------------------------- */

static int parse_drive(struct vm_config *cfg, const char *arg, struct errmsg *e)
{
	struct vm_drive_config *d;
	bool aio_set = false;
	struct kv_list kv;
	const char *v;
	int ret;

	ret = kv_parse(&kv, "-drive", arg, NULL, e);
	if (ret)
		goto out;
	if (cfg->n_drives == VMCFG_MAX_DRIVES) {
		errmsg_set(e, "-drive: too many drives (at most %u)", VMCFG_MAX_DRIVES);
		ret = -EINVAL;
		goto out;
	}
	d = &cfg->drives[cfg->n_drives++];
	memset(d, 0, sizeof(*d));
	d->direct = true;
	ret = take_id(&kv, NULL, true, &d->id, e);
	if (ret)
		goto out;
	if (vm_config_find_drive(cfg, d->id) != (int)(d - cfg->drives)) {
		errmsg_set(e, "-drive: duplicate id '%s'", d->id);
		ret = -EINVAL;
		goto out;
	}
	ret = required(kv_str(&kv, "file", &v, e), &kv, NULL, "file", e);
	if (ret)
		goto out;
	ret = dup_str(&d->file, v, "-drive", e);
	if (ret)
		goto out;
	OPTIONAL_GOTO(kv_bool(&kv, "readonly", &d->readonly, e));
	OPTIONAL_GOTO(kv_bool(&kv, "direct", &d->direct, e));
	ret = kv_str(&kv, "aio", &v, e);
	if (ret == 0) {
		aio_set = true;
		if (strcmp(v, "native") == 0)
			d->aio = VM_AIO_NATIVE;
		else if (strcmp(v, "io_uring") == 0)
			d->aio = VM_AIO_IO_URING;
		else if (strcmp(v, "off") == 0)
			d->aio = VM_AIO_OFF;
		else {
			errmsg_set(e, "-drive: aio '%s' is not supported (native, io_uring, off)",
				   v);
			ret = -EINVAL;
			goto out;
		}
	} else if (ret != -ENOENT) {
		goto out;
	}
	if (!aio_set)
		d->aio = d->direct ? VM_AIO_NATIVE : VM_AIO_OFF;
	else if (d->aio == VM_AIO_NATIVE && !d->direct) {
		errmsg_set(e, "-drive: aio=native needs direct=on (Linux AIO is only asynchronous "
			      "with O_DIRECT)");
		ret = -EINVAL;
		goto out;
	}
	ret = kv_str(&kv, "discard", &v, e);
	if (ret == 0) {
		if (strcmp(v, "unmap") == 0 || strcmp(v, "on") == 0)
			d->discard = VM_DISCARD_UNMAP;
		else if (strcmp(v, "ignore") == 0 || strcmp(v, "off") == 0)
			d->discard = VM_DISCARD_IGNORE;
		else {
			errmsg_set(e, "-drive: discard '%s' is not supported (unmap, ignore)", v);
			ret = -EINVAL;
			goto out;
		}
	} else if (ret != -ENOENT) {
		goto out;
	}
	ret = kv_str(&kv, "detect-zeroes", &v, e);
	if (ret == 0) {
		if (strcmp(v, "unmap") == 0)
			d->detect_zeroes = VM_DETECT_ZEROES_UNMAP;
		else if (strcmp(v, "on") == 0)
			d->detect_zeroes = VM_DETECT_ZEROES_ON;
		else if (strcmp(v, "off") == 0)
			d->detect_zeroes = VM_DETECT_ZEROES_OFF;
		else {
			errmsg_set(e,
				   "-drive: detect-zeroes '%s' is not supported (unmap, on, off)",
				   v);
			ret = -EINVAL;
			goto out;
		}
		/* Guidebook: with discard=ignore, unmap behaves as on. */
		if (d->detect_zeroes == VM_DETECT_ZEROES_UNMAP && d->discard == VM_DISCARD_IGNORE)
			d->detect_zeroes = VM_DETECT_ZEROES_ON;
	} else if (ret != -ENOENT) {
		goto out;
	}
	OPTIONAL_GOTO(kv_u64(&kv, "throttling.iops-total", 1, 1000000000ull, &d->iops_total, e));
	ret = kv_str(&kv, "if", &v, e);
	if (ret == 0 && strcmp(v, "none") != 0) {
		errmsg_set(e, "-drive: if '%s' is not supported by microvm (none)", v);
		ret = -EINVAL;
		goto out;
	} else if (ret && ret != -ENOENT) {
		goto out;
	}
	ret = kv_str(&kv, "format", &v, e);
	if (ret == 0 && strcmp(v, "raw") != 0) {
		errmsg_set(e, "-drive: format '%s' is not supported by microvm (raw)", v);
		ret = -EINVAL;
		goto out;
	} else if (ret && ret != -ENOENT) {
		goto out;
	}
	ret = kv_check_unused(&kv, NULL, e);
out:
	kv_free(&kv);
	return ret;
}

/* ---- -netdev ---------------------------------------------------------------------- */

static int parse_fd_prop(struct kv_list *kv, const char *key, int *out, struct errmsg *e)
{
	uint64_t v;
	int ret = kv_u64(kv, key, 0, INT_MAX, &v, e);

	if (ret)
		return ret;
	*out = (int)v;
	return 0;
}

static int parse_netdev(struct vm_config *cfg, const char *arg, struct errmsg *e)
{
	struct vm_netdev_config *n;
	struct kv_list kv;
	const char *v;
	int ret;

	ret = kv_parse(&kv, "-netdev", arg, "type", e);
	if (ret)
		goto out;
	ret = required(kv_str(&kv, "type", &v, e), &kv, NULL, "type", e);
	if (ret)
		goto out;
	if (strcmp(v, "tap") != 0) {
		errmsg_set(e, "-netdev: type '%s' is not supported (tap)", v);
		ret = -EINVAL;
		goto out;
	}
	if (cfg->n_netdevs == VMCFG_MAX_NETDEVS) {
		errmsg_set(e, "-netdev: too many netdevs (at most %u)", VMCFG_MAX_NETDEVS);
		ret = -EINVAL;
		goto out;
	}
	n = &cfg->netdevs[cfg->n_netdevs++];
	memset(n, 0, sizeof(*n));
	n->fd = -1;
	n->vhostfd = -1;
	n->queues = 1;
	ret = take_id(&kv, "tap", true, &n->id, e);
	if (ret)
		goto out;
	if (vm_config_find_netdev(cfg, n->id) != (int)(n - cfg->netdevs)) {
		errmsg_set(e, "-netdev: duplicate id '%s'", n->id);
		ret = -EINVAL;
		goto out;
	}
	ret = kv_str(&kv, "ifname", &v, e);
	if (ret == 0) {
		if (strlen(v) >= 16) {
			errmsg_set(e, "-netdev: ifname '%s' is longer than 15 bytes", v);
			ret = -EINVAL;
			goto out;
		}
		ret = dup_str(&n->ifname, v, "-netdev", e);
		if (ret)
			goto out;
	} else if (ret != -ENOENT) {
		goto out;
	}
	OPTIONAL_GOTO(parse_fd_prop(&kv, "fd", &n->fd, e));
	if (!n->ifname && n->fd < 0) {
		errmsg_set(e, "-netdev: tap: ifname= or fd= is required");
		ret = -EINVAL;
		goto out;
	}
	/* Guidebook: with both, the tap is opened by ifname. */
	if (n->ifname)
		n->fd = -1;
	OPTIONAL_GOTO(kv_u32(&kv, "queues", 1, VMCFG_NET_MAX_QUEUES, &n->queues, e));
	OPTIONAL_GOTO(kv_bool(&kv, "vhost", &n->vhost, e));
	OPTIONAL_GOTO(parse_fd_prop(&kv, "vhostfd", &n->vhostfd, e));
	if (n->vhostfd >= 0 && !n->vhost) {
		errmsg_set(e, "-netdev: vhostfd= needs vhost=on");
		ret = -EINVAL;
		goto out;
	}
	ret = kv_check_unused(&kv, "tap", e);
out:
	kv_free(&kv);
	return ret;
}

/* ---- -object ----------------------------------------------------------------------- */

static int object_id_taken(const struct vm_config *cfg, const char *id)
{
	return vm_config_find_iothread(cfg, id) >= 0 || vm_config_find_rng(cfg, id) >= 0;
}

static int parse_object(struct vm_config *cfg, const char *arg, struct errmsg *e)
{
	struct kv_list kv;
	char *id = NULL;
	const char *type, *v;
	int ret;

	ret = kv_parse(&kv, "-object", arg, "qom-type", e);
	if (ret)
		goto out;
	ret = required(kv_str(&kv, "qom-type", &type, e), &kv, NULL, "qom-type", e);
	if (ret)
		goto out;
	if (strcmp(type, "iothread") != 0 && strcmp(type, "rng-random") != 0) {
		errmsg_set(e, "-object: type '%s' is not supported (iothread, rng-random)", type);
		ret = -EINVAL;
		goto out;
	}
	ret = take_id(&kv, type, true, &id, e);
	if (ret)
		goto out;
	if (object_id_taken(cfg, id)) {
		errmsg_set(e, "-object: duplicate id '%s'", id);
		ret = -EINVAL;
		goto out;
	}
	if (strcmp(type, "iothread") == 0) {
		if (cfg->n_iothreads == VMCFG_MAX_IOTHREADS) {
			errmsg_set(e, "-object: too many iothreads (at most %u)",
				   VMCFG_MAX_IOTHREADS);
			ret = -EINVAL;
			goto out;
		}
		ret = kv_check_unused(&kv, type, e);
		if (ret)
			goto out;
		cfg->iothreads[cfg->n_iothreads++].id = id;
		id = NULL;
	} else {
		struct vm_rng_config *r;

		if (cfg->n_rngs == VMCFG_MAX_RNGS) {
			errmsg_set(e, "-object: too many rng-random objects (at most %u)",
				   VMCFG_MAX_RNGS);
			ret = -EINVAL;
			goto out;
		}
		ret = required(kv_str(&kv, "filename", &v, e), &kv, type, "filename", e);
		if (ret)
			goto out;
		ret = kv_check_unused(&kv, type, e);
		if (ret)
			goto out;
		r = &cfg->rngs[cfg->n_rngs];
		memset(r, 0, sizeof(*r));
		ret = dup_str(&r->filename, v, "-object", e);
		if (ret)
			goto out;
		r->id = id;
		id = NULL;
		cfg->n_rngs++;
	}
out:
	free(id);
	kv_free(&kv);
	return ret;
}

/* ---- -device ------------------------------------------------------------------------ */

/* Names of referenced objects, resolved once every option has been read. */
struct dev_refs {
	char *drive, *netdev, *rng, *chardev, *iothread;
};

struct device_pending {
	struct dev_refs refs[VMCFG_MAX_DEVICES];
};

static int take_ref(struct kv_list *kv, const char *what, const char *key, bool needed, char **out,
		    struct errmsg *e)
{
	const char *v;
	int ret = kv_str(kv, key, &v, e);

	if (ret == -ENOENT && !needed)
		return 0;
	ret = required(ret, kv, what, key, e);
	if (ret)
		return ret;
	return dup_str(out, v, kv->opt, e);
}

static int parse_mac(const char *s, uint8_t mac[6])
{
	unsigned i;

	if (strlen(s) != 17)
		return -EINVAL;
	for (i = 0; i < 6; i++) {
		char hex[3] = {s[i * 3], s[i * 3 + 1], '\0'};
		uint32_t b;

		if (i < 5 && s[i * 3 + 2] != ':')
			return -EINVAL;
		if (parse_u32(hex, 16, &b))
			return -EINVAL;
		mac[i] = (uint8_t)b;
	}
	return 0;
}

static int parse_dev_blk(struct vm_config *cfg, struct kv_list *kv, struct vm_device_config *d,
			 struct dev_refs *r, struct errmsg *e)
{
	const char *what = "virtio-blk-device", *v;
	uint64_t bi;
	int ret;

	d->blk.drive = -1;
	d->blk.bootindex = -1;
	d->blk.queue_size = 256;
	ret = take_ref(kv, what, "drive", true, &r->drive, e);
	if (ret)
		return ret;
	ret = kv_str(kv, "serial", &v, e);
	if (ret == 0) {
		if (strlen(v) > 20) {
			errmsg_set(e, "-device: %s: serial '%s' is longer than 20 bytes", what, v);
			return -EINVAL;
		}
		ret = dup_str(&d->blk.serial, v, kv->opt, e);
		if (ret)
			return ret;
	} else if (ret != -ENOENT) {
		return ret;
	}
	OPTIONAL(kv_u32(kv, "num-queues", 1, VMCFG_BLK_MAX_QUEUES, &d->blk.num_queues, e));
	OPTIONAL(kv_u32(kv, "queue-size", 3, 1024, &d->blk.queue_size, e));
	if (!is_pow2(d->blk.queue_size)) {
		errmsg_set(e, "-device: %s: queue-size (%u) must be a power of 2 in (2, 1024]",
			   what, d->blk.queue_size);
		return -EINVAL;
	}
	ret = kv_u64(kv, "bootindex", 0, 255, &bi, e);
	if (ret == 0)
		d->blk.bootindex = (int)bi;
	else if (ret != -ENOENT)
		return ret;
	return 0;
}

static int parse_dev_net(struct vm_config *cfg, struct kv_list *kv, struct vm_device_config *d,
			 struct dev_refs *r, struct errmsg *e)
{
	const char *what = "virtio-net-device", *v;
	int ret;

	d->net.netdev = -1;
	d->net.queue_size = 256;
	ret = take_ref(kv, what, "netdev", true, &r->netdev, e);
	if (ret)
		return ret;
	ret = kv_str(kv, "mac", &v, e);
	if (ret == 0) {
		if (parse_mac(v, d->net.mac)) {
			errmsg_set(e, "-device: %s: mac '%s' is not xx:xx:xx:xx:xx:xx", what, v);
			return -EINVAL;
		}
		if (d->net.mac[0] & 1) {
			errmsg_set(e, "-device: %s: mac '%s' is a multicast address", what, v);
			return -EINVAL;
		}
		d->net.mac_set = true;
	} else if (ret != -ENOENT) {
		return ret;
	}
	OPTIONAL(kv_bool(kv, "mq", &d->net.mq, e));
	OPTIONAL(kv_u32(kv, "queue-size", 256, 4096, &d->net.queue_size, e));
	if (!is_pow2(d->net.queue_size)) {
		errmsg_set(e, "-device: %s: queue-size (%u) must be a power of 2 in [256, 4096]",
			   what, d->net.queue_size);
		return -EINVAL;
	}
	return 0;
}

static int parse_dev_vsock(struct vm_config *cfg, struct kv_list *kv, struct vm_device_config *d,
			   struct errmsg *e)
{
	const char *what = "vhost-vsock-device", *v;
	size_t i;
	int ret;

	d->vsock.vhostfd = -1;
	for (i = 0; i + 1 < cfg->n_devices; i++) {
		if (cfg->devices[i].kind == VM_DEV_VHOST_VSOCK) {
			errmsg_set(e, "-device: %s: only one vsock device is supported", what);
			return -EINVAL;
		}
	}
	ret = required(kv_u64(kv, "guest-cid", 3, UINT32_MAX - 1ull, &d->vsock.guest_cid, e), kv,
		       what, "guest-cid", e);
	if (ret)
		return ret;
	OPTIONAL(parse_fd_prop(kv, "vhostfd", &d->vsock.vhostfd, e));
	ret = kv_str(kv, "uds-path", &v, e);
	if (ret == 0) {
		if (strlen(v) >= 100) {
			errmsg_set(e,
				   "-device: %s: uds-path '%.40s...' is too long for unix sockets",
				   what, v);
			return -EINVAL;
		}
		ret = dup_str(&d->vsock.uds_path, v, kv->opt, e);
		if (ret)
			return ret;
		if (d->vsock.vhostfd >= 0) {
			errmsg_set(e, "-device: %s: uds-path= and vhostfd= exclude each other",
				   what);
			return -EINVAL;
		}
	} else if (ret != -ENOENT) {
		return ret;
	}
	return 0;
}

static int parse_dev_rng(struct vm_config *cfg, struct kv_list *kv, struct vm_device_config *d,
			 struct dev_refs *r, struct errmsg *e)
{
	const char *what = "virtio-rng-device";
	bool have_max, have_period;
	uint64_t rate;
	int ret;

	d->rng.rng = -1;
	ret = take_ref(kv, what, "rng", true, &r->rng, e);
	if (ret)
		return ret;
	ret = kv_u64(kv, "max-bytes", 1, UINT64_MAX, &d->rng.max_bytes, e);
	if (ret && ret != -ENOENT)
		return ret;
	have_max = ret == 0;
	ret = kv_u64(kv, "period", 1, UINT32_MAX, &d->rng.period_ms, e);
	if (ret && ret != -ENOENT)
		return ret;
	have_period = ret == 0;
	if (have_max != have_period) {
		errmsg_set(e, "-device: %s: max-bytes and period must be given together", what);
		return -EINVAL;
	}
	if (have_max) {
		/* bytes/s = max-bytes / period * 1000, which must lie in [64, 1e9]. */
		if (__builtin_mul_overflow(d->rng.max_bytes, 1000, &rate))
			rate = UINT64_MAX;
		else
			rate /= d->rng.period_ms;
		if (rate < 64 || rate > 1000000000ull) {
			errmsg_set(e,
				   "-device: %s: max-bytes/period*1000 (%llu bytes/s) must be "
				   "between 64 and 1000000000",
				   what, (unsigned long long)rate);
			return -EINVAL;
		}
	}
	return 0;
}

static int parse_dev_port(struct vm_config *cfg, struct kv_list *kv, struct vm_device_config *d,
			  struct dev_refs *r, struct errmsg *e)
{
	const char *what = vm_device_kind_name(d->kind);
	uint64_t nr;
	int ret;

	d->port.chardev = -1;
	d->port.nr = -1;
	d->port.bus = -1;
	ret = take_ref(kv, what, "chardev", true, &r->chardev, e);
	if (ret)
		return ret;
	ret = kv_u64(kv, "nr", 0, VMCFG_SERIAL_MAX_PORTS - 1, &nr, e);
	if (ret == 0)
		d->port.nr = (int)nr;
	else if (ret != -ENOENT)
		return ret;
	if (d->port.nr == 0 && d->kind == VM_DEV_VIRTSERIALPORT) {
		errmsg_set(e, "-device: virtserialport: nr=0 is reserved for virtconsole");
		return -EINVAL;
	}
	return 0;
}

static const struct {
	const char *name;
	enum vm_device_kind kind;
	bool id_required;
	bool mmio; /* takes a virtio-mmio slot */
} device_kinds[] = {
	{"virtio-blk-device", VM_DEV_VIRTIO_BLK, true, true},
	{"virtio-net-device", VM_DEV_VIRTIO_NET, true, true},
	{"vhost-vsock-device", VM_DEV_VHOST_VSOCK, true, true},
	{"virtio-rng-device", VM_DEV_VIRTIO_RNG, false, true},
	{"virtio-balloon-device", VM_DEV_VIRTIO_BALLOON, false, true},
	{"virtio-serial-device", VM_DEV_VIRTIO_SERIAL, false, true},
	{"virtconsole", VM_DEV_VIRTCONSOLE, true, false},
	{"virtserialport", VM_DEV_VIRTSERIALPORT, true, false},
};

const char *vm_device_kind_name(enum vm_device_kind kind)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(device_kinds); i++)
		if (device_kinds[i].kind == kind)
			return device_kinds[i].name;
	return "?";
}

static int device_id_taken(const struct vm_config *cfg, const char *id, size_t upto)
{
	size_t i;

	for (i = 0; i < upto; i++)
		if (cfg->devices[i].id && strcmp(cfg->devices[i].id, id) == 0)
			return 1;
	return 0;
}

static int parse_device(struct vm_config *cfg, struct device_pending *dp, const char *arg,
			struct errmsg *e)
{
	struct vm_device_config *d;
	struct dev_refs *r;
	struct kv_list kv;
	const char *driver;
	size_t i, k, n_mmio = 0;
	int ret;

	ret = kv_parse(&kv, "-device", arg, "driver", e);
	if (ret)
		goto out;
	ret = required(kv_str(&kv, "driver", &driver, e), &kv, NULL, "driver", e);
	if (ret)
		goto out;
	for (k = 0; k < ARRAY_SIZE(device_kinds); k++)
		if (strcmp(device_kinds[k].name, driver) == 0)
			break;
	if (k == ARRAY_SIZE(device_kinds)) {
		errmsg_set(e,
			   "-device: '%s' is not a supported device (virtio-blk-device, "
			   "virtio-net-device, vhost-vsock-device, virtio-rng-device, "
			   "virtio-balloon-device, virtio-serial-device, virtconsole, "
			   "virtserialport)",
			   driver);
		ret = -EINVAL;
		goto out;
	}
	if (cfg->n_devices == VMCFG_MAX_DEVICES) {
		errmsg_set(e, "-device: too many devices (at most %u)", VMCFG_MAX_DEVICES);
		ret = -EINVAL;
		goto out;
	}
	for (i = 0; i < cfg->n_devices; i++)
		for (size_t j = 0; j < ARRAY_SIZE(device_kinds); j++)
			if (device_kinds[j].kind == cfg->devices[i].kind && device_kinds[j].mmio)
				n_mmio++;
	if (device_kinds[k].mmio && n_mmio == VMCFG_MAX_MMIO_DEVICES) {
		errmsg_set(e, "-device: %s: too many virtio-mmio devices (at most %u on microvm)",
			   driver, VMCFG_MAX_MMIO_DEVICES);
		ret = -EINVAL;
		goto out;
	}
	d = &cfg->devices[cfg->n_devices];
	r = &dp->refs[cfg->n_devices];
	cfg->n_devices++;
	memset(d, 0, sizeof(*d));
	d->kind = device_kinds[k].kind;
	d->iothread = -1;
	ret = take_id(&kv, driver, device_kinds[k].id_required, &d->id, e);
	if (ret)
		goto out;
	if (d->id && device_id_taken(cfg, d->id, cfg->n_devices - 1)) {
		errmsg_set(e, "-device: duplicate id '%s'", d->id);
		ret = -EINVAL;
		goto out;
	}
	if (d->kind == VM_DEV_VIRTIO_BLK || d->kind == VM_DEV_VIRTIO_NET) {
		ret = take_ref(&kv, driver, "iothread", false, &r->iothread, e);
		if (ret)
			goto out;
	}
	switch (d->kind) {
	case VM_DEV_VIRTIO_BLK:
		ret = parse_dev_blk(cfg, &kv, d, r, e);
		break;
	case VM_DEV_VIRTIO_NET:
		ret = parse_dev_net(cfg, &kv, d, r, e);
		break;
	case VM_DEV_VHOST_VSOCK:
		ret = parse_dev_vsock(cfg, &kv, d, e);
		break;
	case VM_DEV_VIRTIO_RNG:
		ret = parse_dev_rng(cfg, &kv, d, r, e);
		break;
	case VM_DEV_VIRTIO_BALLOON:
		for (i = 0; i + 1 < cfg->n_devices; i++) {
			if (cfg->devices[i].kind == VM_DEV_VIRTIO_BALLOON) {
				errmsg_set(e, "-device: %s: only one balloon device is supported",
					   driver);
				ret = -EINVAL;
				goto out;
			}
		}
		ret = kv_bool(&kv, "deflate-on-oom", &d->balloon.deflate_on_oom, e);
		if (ret && ret != -ENOENT)
			break;
		ret = kv_bool(&kv, "free-page-reporting", &d->balloon.free_page_reporting, e);
		if (ret == -ENOENT)
			ret = 0;
		break;
	case VM_DEV_VIRTIO_SERIAL:
		for (i = 0; i + 1 < cfg->n_devices; i++) {
			if (cfg->devices[i].kind == VM_DEV_VIRTIO_SERIAL) {
				errmsg_set(
					e,
					"-device: %s: only one virtio-serial device is supported",
					driver);
				ret = -EINVAL;
				goto out;
			}
		}
		d->serial.max_ports = VMCFG_SERIAL_MAX_PORTS;
		ret = kv_u32(&kv, "max_ports", 1, VMCFG_SERIAL_MAX_PORTS, &d->serial.max_ports, e);
		if (ret == -ENOENT)
			ret = 0;
		break;
	case VM_DEV_VIRTCONSOLE:
	case VM_DEV_VIRTSERIALPORT:
		ret = parse_dev_port(cfg, &kv, d, r, e);
		break;
	}
	if (ret)
		goto out;
	ret = kv_check_unused(&kv, driver, e);
out:
	kv_free(&kv);
	return ret;
}

/* Gives every device an id (ports and balloons may come without) and resolves references. */
static int resolve_devices(struct vm_config *cfg, struct device_pending *dp, struct errmsg *e)
{
	bool chardev_used[VMCFG_MAX_CHARDEVS] = {false}, drive_used[VMCFG_MAX_DRIVES] = {false};
	bool netdev_used[VMCFG_MAX_NETDEVS] = {false}, nr_used[VMCFG_SERIAL_MAX_PORTS] = {false};
	int serial_bus = -1, n_ports = 0, n_nr = 0, next_nr = 1;
	size_t i;

	if (cfg->serial >= 0)
		chardev_used[cfg->serial] = true;
	for (i = 0; i < cfg->n_devices; i++) {
		struct vm_device_config *d = &cfg->devices[i];
		const char *name = vm_device_kind_name(d->kind);
		struct dev_refs *r = &dp->refs[i];
		int idx;

		if (!d->id) {
			char buf[32];
			unsigned n = 0;

			do
				snprintf(buf, sizeof(buf), "%s%u",
					 d->kind == VM_DEV_VIRTIO_BALLOON ? "balloon"
					 : d->kind == VM_DEV_VIRTIO_RNG	  ? "rng"
									  : "virtio-serial",
					 n++);
			while (device_id_taken(cfg, buf, cfg->n_devices));
			if (dup_str(&d->id, buf, "-device", e))
				return -ENOMEM;
		}
		if (r->iothread) {
			idx = vm_config_find_iothread(cfg, r->iothread);
			if (idx < 0) {
				errmsg_set(e,
					   "-device: %s: iothread '%s' is not defined (-object "
					   "iothread,id=%s)",
					   name, r->iothread, r->iothread);
				return -EINVAL;
			}
			d->iothread = idx;
		}
		switch (d->kind) {
		case VM_DEV_VIRTIO_BLK:
			idx = vm_config_find_drive(cfg, r->drive);
			if (idx < 0) {
				errmsg_set(
					e,
					"-device: %s: drive '%s' is not defined (-drive id=%s,...)",
					name, r->drive, r->drive);
				return -EINVAL;
			}
			if (drive_used[idx]) {
				errmsg_set(e, "-device: %s: drive '%s' is used by another device",
					   name, r->drive);
				return -EINVAL;
			}
			drive_used[idx] = true;
			d->blk.drive = idx;
			if (d->blk.num_queues == 0)
				d->blk.num_queues = cfg->smp.cpus < VMCFG_BLK_MAX_QUEUES
							    ? cfg->smp.cpus
							    : VMCFG_BLK_MAX_QUEUES;
			break;
		case VM_DEV_VIRTIO_NET:
			idx = vm_config_find_netdev(cfg, r->netdev);
			if (idx < 0) {
				errmsg_set(e,
					   "-device: %s: netdev '%s' is not defined (-netdev "
					   "tap,id=%s,...)",
					   name, r->netdev, r->netdev);
				return -EINVAL;
			}
			if (netdev_used[idx]) {
				errmsg_set(e, "-device: %s: netdev '%s' is used by another device",
					   name, r->netdev);
				return -EINVAL;
			}
			netdev_used[idx] = true;
			d->net.netdev = idx;
			if (d->net.mq && cfg->netdevs[idx].queues < 2) {
				errmsg_set(e, "-device: %s: mq=on needs a netdev with queues >= 2",
					   name);
				return -EINVAL;
			}
			break;
		case VM_DEV_VIRTIO_RNG:
			idx = vm_config_find_rng(cfg, r->rng);
			if (idx < 0) {
				errmsg_set(e,
					   "-device: %s: rng '%s' is not defined (-object "
					   "rng-random,id=%s,filename=...)",
					   name, r->rng, r->rng);
				return -EINVAL;
			}
			d->rng.rng = idx;
			break;
		case VM_DEV_VIRTIO_SERIAL:
			serial_bus = (int)i;
			break;
		case VM_DEV_VIRTCONSOLE:
		case VM_DEV_VIRTSERIALPORT:
			idx = vm_config_find_chardev(cfg, r->chardev);
			if (idx < 0) {
				errmsg_set(e,
					   "-device: %s: chardev '%s' is not defined (-chardev "
					   "...,id=%s)",
					   name, r->chardev, r->chardev);
				return -EINVAL;
			}
			if (chardev_used[idx]) {
				errmsg_set(e,
					   "-device: %s: chardev '%s' is used by another frontend",
					   name, r->chardev);
				return -EINVAL;
			}
			chardev_used[idx] = true;
			d->port.chardev = idx;
			n_ports++;
			if (d->port.nr >= 0)
				n_nr++;
			break;
		default:
			break;
		}
	}
	if (n_ports == 0)
		return 0;
	if (serial_bus < 0) {
		errmsg_set(e, "-device: virtconsole/virtserialport need a virtio-serial-device");
		return -EINVAL;
	}
	if (n_nr && n_nr != n_ports) {
		errmsg_set(e, "-device: nr= must be set on every virtconsole/virtserialport or on "
			      "none");
		return -EINVAL;
	}
	if ((uint32_t)n_ports > cfg->devices[serial_bus].serial.max_ports) {
		errmsg_set(e, "-device: %d ports exceed the virtio-serial-device's max_ports (%u)",
			   n_ports, cfg->devices[serial_bus].serial.max_ports);
		return -EINVAL;
	}
	for (i = 0; i < cfg->n_devices; i++) {
		struct vm_device_config *d = &cfg->devices[i];

		if (d->kind != VM_DEV_VIRTCONSOLE && d->kind != VM_DEV_VIRTSERIALPORT)
			continue;
		d->port.bus = serial_bus;
		if (d->port.nr < 0) {
			/* The first console gets port 0 (hvc0), the others count up from 1. */
			if (d->kind == VM_DEV_VIRTCONSOLE && !nr_used[0])
				d->port.nr = 0;
			else
				d->port.nr = next_nr++;
		}
		if ((uint32_t)d->port.nr >= cfg->devices[serial_bus].serial.max_ports) {
			errmsg_set(e, "-device: %s: nr (%d) must be below max_ports (%u)", d->id,
				   d->port.nr, cfg->devices[serial_bus].serial.max_ports);
			return -EINVAL;
		}
		if (nr_used[d->port.nr]) {
			errmsg_set(e, "-device: %s: port nr %d is used twice", d->id, d->port.nr);
			return -EINVAL;
		}
		nr_used[d->port.nr] = true;
	}
	return 0;
}

/* ---- the option table ----------------------------------------------------------------- */

enum opt_arg { ARG_NONE, ARG_REQUIRED, ARG_OPTIONAL };

enum opt_id {
	OPT_MACHINE,
	OPT_SMP,
	OPT_CPU,
	OPT_M,
	OPT_MEM_PATH,
	OPT_MEM_PREALLOC,
	OPT_KERNEL,
	OPT_APPEND,
	OPT_INITRD,
	OPT_NAME,
	OPT_S,
	OPT_D,
	OPT_DAEMONIZE,
	OPT_NO_REBOOT,
	OPT_PIDFILE,
	OPT_DISABLE_SECCOMP,
	OPT_QMP,
	OPT_SERIAL,
	OPT_CHARDEV,
	OPT_DRIVE,
	OPT_DEVICE,
	OPT_NETDEV,
	OPT_OBJECT,
	OPT_HELP,
	OPT_VERSION,
	OPT_NOOP,
	OPT_COUNT,
};

static const struct opt_def {
	const char *name;
	enum opt_id id;
	enum opt_arg arg;
	bool repeatable;
} opts[] = {
	{"-machine", OPT_MACHINE, ARG_REQUIRED, false},
	{"-smp", OPT_SMP, ARG_REQUIRED, false},
	{"-cpu", OPT_CPU, ARG_REQUIRED, false},
	{"-m", OPT_M, ARG_REQUIRED, false},
	{"-mem-path", OPT_MEM_PATH, ARG_REQUIRED, false},
	{"-mem-prealloc", OPT_MEM_PREALLOC, ARG_NONE, false},
	{"-kernel", OPT_KERNEL, ARG_REQUIRED, false},
	{"-append", OPT_APPEND, ARG_REQUIRED, false},
	{"-initrd", OPT_INITRD, ARG_REQUIRED, false},
	{"-name", OPT_NAME, ARG_REQUIRED, false},
	{"-S", OPT_S, ARG_NONE, false},
	{"-D", OPT_D, ARG_OPTIONAL, false},
	{"-daemonize", OPT_DAEMONIZE, ARG_NONE, false},
	{"-no-reboot", OPT_NO_REBOOT, ARG_NONE, false},
	{"-pidfile", OPT_PIDFILE, ARG_REQUIRED, false},
	{"-disable-seccomp", OPT_DISABLE_SECCOMP, ARG_NONE, false},
	{"-qmp", OPT_QMP, ARG_REQUIRED, false},
	{"-serial", OPT_SERIAL, ARG_REQUIRED, false},
	{"-chardev", OPT_CHARDEV, ARG_REQUIRED, true},
	{"-drive", OPT_DRIVE, ARG_REQUIRED, true},
	{"-device", OPT_DEVICE, ARG_REQUIRED, true},
	{"-netdev", OPT_NETDEV, ARG_REQUIRED, true},
	{"-object", OPT_OBJECT, ARG_REQUIRED, true},
	{"-h", OPT_HELP, ARG_NONE, true},
	{"--help", OPT_HELP, ARG_NONE, true},
	{"-help", OPT_HELP, ARG_NONE, true},
	{"-version", OPT_VERSION, ARG_NONE, true},
	{"--version", OPT_VERSION, ARG_NONE, true},
	/* Passed by libvirt; accepted and ignored (guidebook section 7). */
	{"-overcommit", OPT_NOOP, ARG_REQUIRED, true},
	{"-uuid", OPT_NOOP, ARG_REQUIRED, true},
	{"-no-user-config", OPT_NOOP, ARG_NONE, true},
	{"-nodefaults", OPT_NOOP, ARG_NONE, true},
	{"-sandbox", OPT_NOOP, ARG_REQUIRED, true},
	{"-msg", OPT_NOOP, ARG_REQUIRED, true},
	{"-rtc", OPT_NOOP, ARG_REQUIRED, true},
	{"-no-shutdown", OPT_NOOP, ARG_NONE, true},
	{"-nographic", OPT_NOOP, ARG_NONE, true},
	{"-realtime", OPT_NOOP, ARG_REQUIRED, true},
	{"-display", OPT_NOOP, ARG_REQUIRED, true},
	{"-usb", OPT_NOOP, ARG_NONE, true},
	{"-boot", OPT_NOOP, ARG_REQUIRED, true},
};

static const struct opt_def *find_opt(const char *name)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(opts); i++)
		if (strcmp(opts[i].name, name) == 0)
			return &opts[i];
	return NULL;
}

static int set_path(char **dst, const char *opt, const char *v, struct errmsg *e)
{
	if (v[0] == '\0') {
		errmsg_set(e, "%s: empty path", opt);
		return -EINVAL;
	}
	if (strlen(v) >= PATH_MAX) {
		errmsg_set(e, "%s: path longer than %d bytes", opt, PATH_MAX - 1);
		return -EINVAL;
	}
	return dup_str(dst, v, opt, e);
}

static int apply_opt(struct vm_config *cfg, struct pending *pend, struct device_pending *dp,
		     const struct opt_def *o, const char *arg, struct errmsg *e)
{
	switch (o->id) {
	case OPT_MACHINE:
		return parse_machine(cfg, arg, e);
	case OPT_SMP:
		return parse_smp(cfg, arg, e);
	case OPT_CPU:
		return parse_cpu(cfg, arg, e);
	case OPT_M:
		return parse_m(cfg, arg, e);
	case OPT_MEM_PATH:
		if (arg[0] != '/') {
			errmsg_set(e, "-mem-path: '%s' is not an absolute path", arg);
			return -EINVAL;
		}
		return set_path(&cfg->mem_path, o->name, arg, e);
	case OPT_MEM_PREALLOC:
		cfg->mem_prealloc = true;
		return 0;
	case OPT_KERNEL:
		return set_path(&cfg->kernel, o->name, arg, e);
	case OPT_APPEND:
		return dup_str(&cfg->append, arg, o->name, e);
	case OPT_INITRD:
		return set_path(&cfg->initrd, o->name, arg, e);
	case OPT_NAME:
		return parse_name(cfg, arg, e);
	case OPT_S:
		cfg->start_paused = true;
		return 0;
	case OPT_D:
		cfg->log = true;
		return arg ? set_path(&cfg->log_file, o->name, arg, e) : 0;
	case OPT_DAEMONIZE:
		cfg->daemonize = true;
		return 0;
	case OPT_NO_REBOOT:
		cfg->no_reboot = true;
		return 0;
	case OPT_PIDFILE:
		return set_path(&cfg->pidfile, o->name, arg, e);
	case OPT_DISABLE_SECCOMP:
		cfg->seccomp = false;
		return 0;
	case OPT_QMP:
		return parse_qmp(cfg, arg, e);
	case OPT_SERIAL:
		return parse_serial(cfg, pend, arg, e);
	case OPT_CHARDEV:
		return parse_chardev(cfg, arg, e);
	case OPT_DRIVE:
		return parse_drive(cfg, arg, e);
	case OPT_DEVICE:
		return parse_device(cfg, dp, arg, e);
	case OPT_NETDEV:
		return parse_netdev(cfg, arg, e);
	case OPT_OBJECT:
		return parse_object(cfg, arg, e);
	case OPT_HELP:
		if (cfg->action == VM_ACTION_RUN)
			cfg->action = VM_ACTION_HELP;
		return 0;
	case OPT_VERSION:
		if (cfg->action == VM_ACTION_RUN)
			cfg->action = VM_ACTION_VERSION;
		return 0;
	case OPT_NOOP:
	case OPT_COUNT:
		return 0;
	}
	return 0;
}

/* Checks that need the whole command line. */
static int validate(struct vm_config *cfg, struct pending *pend, struct device_pending *dp,
		    struct errmsg *e)
{
	size_t i;
	int ret;

	if (pend->serial_chardev) {
		int idx = vm_config_find_chardev(cfg, pend->serial_chardev);

		if (idx < 0) {
			errmsg_set(e, "-serial: chardev '%s' is not defined (-chardev ...,id=%s)",
				   pend->serial_chardev, pend->serial_chardev);
			return -EINVAL;
		}
		cfg->serial = idx;
	}
	ret = resolve_devices(cfg, dp, e);
	if (ret)
		return ret;
	{
		/* stdin can feed only one frontend */
		int stdio = -1;

		for (i = 0; i < cfg->n_chardevs; i++) {
			if (cfg->chardevs[i].backend != VM_CHARDEV_STDIO)
				continue;
			if (stdio >= 0) {
				errmsg_set(
					e,
					"-chardev: only one stdio backend is allowed (%s and %s)",
					cfg->chardevs[stdio].id, cfg->chardevs[i].id);
				return -EINVAL;
			}
			stdio = (int)i;
		}
	}
	if (cfg->daemonize) {
		for (i = 0; i < cfg->n_chardevs; i++) {
			if (cfg->chardevs[i].backend == VM_CHARDEV_STDIO) {
				errmsg_set(e,
					   "-daemonize: cannot be used with a stdio chardev (%s)",
					   (int)i == cfg->serial ? "-serial stdio"
								 : cfg->chardevs[i].id);
				return -EINVAL;
			}
		}
		if (cfg->log && !cfg->log_file) {
			errmsg_set(e, "-daemonize: cannot log to stderr; give -D a file");
			return -EINVAL;
		}
	}
	if (cfg->machine.type == VM_MACHINE_MICROVM) {
		if (!cfg->kernel) {
			errmsg_set(e, "-kernel: is required for machine type microvm");
			return -EINVAL;
		}
	} else {
		if (cfg->kernel || cfg->initrd || cfg->n_devices) {
			errmsg_set(e,
				   "-machine: type none runs no VM; -kernel, -initrd and -device "
				   "are not allowed");
			return -EINVAL;
		}
	}
	if (cfg->initrd && !cfg->kernel) {
		errmsg_set(e, "-initrd: needs -kernel");
		return -EINVAL;
	}
	return 0;
}

static void config_defaults(struct vm_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->machine.type = VM_MACHINE_MICROVM;
	cfg->machine.dump_guest_core = true;
	cfg->machine.acpi = true;
	cfg->smp = (struct vm_smp_config){1, 1, 1, 1, 1, 1, 1};
	cfg->mem_size = VMCFG_MEM_DEFAULT;
	cfg->seccomp = true;
	cfg->serial = -1;
}

static void dev_refs_free(struct device_pending *dp)
{
	size_t i;

	for (i = 0; i < VMCFG_MAX_DEVICES; i++) {
		free(dp->refs[i].drive);
		free(dp->refs[i].netdev);
		free(dp->refs[i].rng);
		free(dp->refs[i].chardev);
		free(dp->refs[i].iothread);
	}
}

int vm_config_parse(struct vm_config *cfg, int argc, char *const argv[], struct errmsg *e)
{
	struct device_pending *dp;
	struct pending pend = {0};
	bool seen[OPT_COUNT] = {false};
	int i, ret = 0;

	config_defaults(cfg);
	dp = calloc(1, sizeof(*dp));
	if (!dp) {
		errmsg_set(e, "out of memory");
		return -ENOMEM;
	}
	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *val = NULL;
		const struct opt_def *o;

		o = find_opt(a);
		if (!o) {
			if (a[0] == '-')
				errmsg_set(e, "%s: unknown option (see -h)", a);
			else
				errmsg_set(e, "'%s': unexpected argument (options start with '-')",
					   a);
			ret = -EINVAL;
			goto out;
		}
		if (seen[o->id] && !o->repeatable) {
			errmsg_set(e, "%s: given more than once", o->name);
			ret = -EINVAL;
			goto out;
		}
		seen[o->id] = true;
		if (o->arg == ARG_REQUIRED) {
			if (i + 1 >= argc) {
				errmsg_set(e, "%s: needs an argument", o->name);
				ret = -EINVAL;
				goto out;
			}
			val = argv[++i];
		} else if (o->arg == ARG_OPTIONAL && i + 1 < argc && argv[i + 1][0] != '-') {
			val = argv[++i];
		}
		ret = apply_opt(cfg, &pend, dp, o, val, e);
		if (ret)
			goto out;
	}
	if (cfg->action != VM_ACTION_RUN)
		goto out;
	ret = validate(cfg, &pend, dp, e);
out:
	free(pend.serial_chardev);
	dev_refs_free(dp);
	free(dp);
	return ret;
}

void vm_config_free(struct vm_config *cfg)
{
	size_t i;

	free(cfg->mem_path);
	free(cfg->kernel);
	free(cfg->append);
	free(cfg->initrd);
	free(cfg->name);
	free(cfg->log_file);
	free(cfg->pidfile);
	free(cfg->qmp_path);
	for (i = 0; i < cfg->n_chardevs; i++) {
		free(cfg->chardevs[i].id);
		free(cfg->chardevs[i].path);
	}
	for (i = 0; i < cfg->n_drives; i++) {
		free(cfg->drives[i].id);
		free(cfg->drives[i].file);
	}
	for (i = 0; i < cfg->n_netdevs; i++) {
		free(cfg->netdevs[i].id);
		free(cfg->netdevs[i].ifname);
	}
	for (i = 0; i < cfg->n_iothreads; i++)
		free(cfg->iothreads[i].id);
	for (i = 0; i < cfg->n_rngs; i++) {
		free(cfg->rngs[i].id);
		free(cfg->rngs[i].filename);
	}
	for (i = 0; i < cfg->n_devices; i++) {
		struct vm_device_config *d = &cfg->devices[i];

		free(d->id);
		if (d->kind == VM_DEV_VIRTIO_BLK)
			free(d->blk.serial);
		else if (d->kind == VM_DEV_VHOST_VSOCK)
			free(d->vsock.uds_path);
	}
	memset(cfg, 0, sizeof(*cfg));
	cfg->serial = -1;
}

/* ---- lookups and names ------------------------------------------------------------------- */

#define FIND_BY_ID(arr, n, id)                                               \
	do {                                                                 \
		size_t _i;                                                   \
		if (!(id))                                                   \
			return -1;                                           \
		for (_i = 0; _i < (n); _i++)                                 \
			if ((arr)[_i].id && strcmp((arr)[_i].id, (id)) == 0) \
				return (int)_i;                              \
		return -1;                                                   \
	} while (0)

int vm_config_find_chardev(const struct vm_config *cfg, const char *id)
{
	FIND_BY_ID(cfg->chardevs, cfg->n_chardevs, id);
}

int vm_config_find_drive(const struct vm_config *cfg, const char *id)
{
	FIND_BY_ID(cfg->drives, cfg->n_drives, id);
}

int vm_config_find_netdev(const struct vm_config *cfg, const char *id)
{
	FIND_BY_ID(cfg->netdevs, cfg->n_netdevs, id);
}

int vm_config_find_iothread(const struct vm_config *cfg, const char *id)
{
	FIND_BY_ID(cfg->iothreads, cfg->n_iothreads, id);
}

int vm_config_find_rng(const struct vm_config *cfg, const char *id)
{
	FIND_BY_ID(cfg->rngs, cfg->n_rngs, id);
}

const char *vm_aio_name(enum vm_aio aio)
{
	switch (aio) {
	case VM_AIO_NATIVE:
		return "native";
	case VM_AIO_IO_URING:
		return "io_uring";
	case VM_AIO_OFF:
		return "off";
	}
	return "?";
}

const char *vm_chardev_backend_name(enum vm_chardev_backend b)
{
	switch (b) {
	case VM_CHARDEV_STDIO:
		return "stdio";
	case VM_CHARDEV_PTY:
		return "pty";
	case VM_CHARDEV_FILE:
		return "file";
	case VM_CHARDEV_SOCKET:
		return "socket";
	}
	return "?";
}

const char *vm_config_usage(void)
{
	return "Usage: splitvm [options]\n"
	       "  -machine [type=]microvm|none[,dump-guest-core=on|off][,mem-share=on|off]\n"
	       "           [,accel=kvm][,acpi=on|off]\n"
	       "  -smp "
	       "[cpus=]n[,maxcpus=n][,sockets=n][,dies=n][,clusters=n][,cores=n][,threads=n]\n"
	       "  -cpu host\n"
	       "  -m [size=]megs[M|G]        guest RAM, 128M..512G (default 256M)\n"
	       "  -mem-path PATH             back guest RAM by a file or hugetlbfs directory\n"
	       "  -mem-prealloc              populate guest RAM at start\n"
	       "  -kernel PATH               bzImage or ELF vmlinux (PVH)\n"
	       "  -append CMDLINE            kernel command line\n"
	       "  -initrd PATH               initial ramdisk\n"
	       "  -name NAME                 VM name (query-name)\n"
	       "  -S                         start with the vCPUs paused (QMP cont starts them)\n"
	       "  -D [FILE]                  log to FILE or stderr; level from "
	       "STRATOVIRT_LOG_LEVEL\n"
	       "  -daemonize                 run in the background\n"
	       "  -no-reboot                 exit when the guest reboots instead of resetting\n"
	       "  -pidfile PATH              write the process id to PATH\n"
	       "  -disable-seccomp           do not install the syscall allowlist\n"
	       "  -qmp unix:PATH,server,nowait  QMP control socket\n"
	       "  -serial stdio|pty|file,path=P|socket,path=P,server,nowait|chardev:ID\n"
	       "  -chardev stdio|pty|file|socket,id=ID[,path=P][,server,nowait]\n"
	       "  -drive id=ID,file=P[,readonly=on|off][,direct=on|off][,aio=native|io_uring|off]\n"
	       "         [,discard=unmap|ignore][,detect-zeroes=unmap|on|off]\n"
	       "         [,throttling.iops-total=N]\n"
	       "  -device virtio-blk-device,drive=ID,id=ID[,serial=S][,num-queues=N]\n"
	       "          [,queue-size=N][,iothread=ID]\n"
	       "  -device virtio-net-device,netdev=ID,id=ID[,mac=M][,mq=on|off][,iothread=ID]\n"
	       "  -device vhost-vsock-device,id=ID,guest-cid=N[,uds-path=P]\n"
	       "  -device virtio-rng-device,rng=ID[,max-bytes=N,period=MS]\n"
	       "  -device "
	       "virtio-balloon-device[,deflate-on-oom=on|off][,free-page-reporting=on|off]\n"
	       "  -device virtio-serial-device[,id=ID][,max_ports=N]\n"
	       "  -device virtconsole|virtserialport,id=ID,chardev=ID[,nr=N]\n"
	       "  -netdev tap,id=ID,ifname=NAME|fd=N[,queues=N][,vhost=on|off][,vhostfd=N]\n"
	       "  -object iothread,id=ID | rng-random,id=ID,filename=PATH\n"
	       "  -h, --help                 this text\n"
	       "  -version                   print the version\n";
}
