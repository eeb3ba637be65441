/* domain_xml: libvirt domain XML (the subset splitvm runs) to and from struct domain_def. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlsave.h>

#include "domain.h"
#include "util.h"

struct px {
	struct domain_def *d;
	struct dom_warnings *w;
	struct errmsg *e;
};

static void px_warn(struct px *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void px_warn(struct px *p, const char *fmt, ...)
{
	va_list ap;

	if (!p->w)
		return;
	if (p->w->n >= DOM_MAX_WARNINGS) {
		p->w->dropped++;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(p->w->text[p->w->n], sizeof(p->w->text[0]), fmt, ap);
	va_end(ap);
	p->w->n++;
}

static bool name_is(const xmlNode *n, const char *s)
{
	return n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, s) == 0;
}

static const char *attr(const xmlNode *n, const char *name)
{
	const xmlAttr *a;

	for (a = n->properties; a; a = a->next) {
		if (strcmp((const char *)a->name, name) == 0 && a->children &&
		    a->children->type == XML_TEXT_NODE && !a->children->next)
			return (const char *)a->children->content;
		if (strcmp((const char *)a->name, name) == 0)
			return "";
	}
	return NULL;
}

/*
 * Unknown attributes are warned about rather than refused: libvirt itself
 * ignores attributes it does not know, and XML written for it carries many
 * (addresses, aliases) that change nothing here.
 */
static void check_attrs(struct px *p, const xmlNode *n, const char *where, const char *const *known)
{
	const xmlAttr *a;
	size_t i;

	for (a = n->properties; a; a = a->next) {
		for (i = 0; known[i]; i++)
			if (strcmp((const char *)a->name, known[i]) == 0)
				break;
		if (!known[i])
			px_warn(p, "%s: attribute '%s' ignored", where, (const char *)a->name);
	}
}

/*
 * The text of an element that must hold only text (no child elements), with
 * surrounding white space trimmed, copied into buf. -EINVAL with a message.
 */
static int text_of(struct px *p, const xmlNode *n, const char *where, char *buf, size_t size)
{
	const xmlNode *c;
	size_t len = 0, start, end;
	const char *s;

	buf[0] = '\0';
	for (c = n->children; c; c = c->next) {
		if (c->type == XML_ELEMENT_NODE) {
			errmsg_set(p->e, "%s: unexpected element <%s>", where,
				   (const char *)c->name);
			return -EINVAL;
		}
		if (c->type != XML_TEXT_NODE && c->type != XML_CDATA_SECTION_NODE)
			continue;
		s = (const char *)c->content;
		if (!s)
			continue;
		size_t sl = strlen(s);
		if (len + sl >= size) {
			errmsg_set(p->e, "%s: value too long (at most %zu bytes)", where, size - 1);
			return -EINVAL;
		}
		memcpy(buf + len, s, sl);
		len += sl;
		buf[len] = '\0';
	}
	for (start = 0; start < len && strchr(" \t\r\n", buf[start]); start++)
		;
	for (end = len; end > start && strchr(" \t\r\n", buf[end - 1]); end--)
		;
	memmove(buf, buf + start, end - start);
	buf[end - start] = '\0';
	return 0;
}

static int text_dup(struct px *p, const xmlNode *n, const char *where, size_t max, char **out)
{
	char *buf;
	int ret;

	buf = malloc(max + 1);
	if (!buf)
		return -ENOMEM;
	ret = text_of(p, n, where, buf, max + 1);
	if (ret) {
		free(buf);
		return ret;
	}
	*out = buf;
	return 0;
}

static int path_check(struct px *p, const char *where, const char *path)
{
	const unsigned char *s;

	if (path[0] != '/') {
		errmsg_set(p->e, "%s: '%s' is not an absolute path", where, path);
		return -EINVAL;
	}
	for (s = (const unsigned char *)path; *s; s++) {
		/* Paths go onto a command line as option values: ',' is a separator there. */
		if (*s < 0x20 || *s == 0x7f || *s == ',') {
			errmsg_set(p->e, "%s: path contains a control character or ','", where);
			return -EINVAL;
		}
	}
	if (strlen(path) >= 4096) {
		errmsg_set(p->e, "%s: path too long", where);
		return -EINVAL;
	}
	return 0;
}

static int dup_path(struct px *p, const char *where, const char *v, char **out)
{
	int ret;

	if (!v || !v[0]) {
		errmsg_set(p->e, "%s: missing", where);
		return -EINVAL;
	}
	ret = path_check(p, where, v);
	if (ret)
		return ret;
	*out = str_dup(v);
	return *out ? 0 : -ENOMEM;
}

int domain_name_check(const char *name, struct errmsg *e)
{
	size_t i, len = strlen(name);

	if (len == 0) {
		errmsg_set(e, "name: empty");
		return -EINVAL;
	}
	if (len > DOM_NAME_MAX) {
		errmsg_set(e, "name: '%.*s...' longer than %d bytes", 20, name, DOM_NAME_MAX);
		return -EINVAL;
	}
	for (i = 0; i < len; i++) {
		char c = name[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (c >= '0' && c <= '9') || (i > 0 && (c == '-' || c == '_' || c == '.'));
		if (!ok) {
			errmsg_set(e,
				   "name: '%s': only letters, digits and -_. allowed (not first)",
				   name);
			return -EINVAL;
		}
	}
	return 0;
}

void domain_uuid_format(const uint8_t u[16], char out[37])
{
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12],
		 u[13], u[14], u[15]);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* libvirt accepts 8-4-4-4-12 and 32 plain hex digits. */
int domain_uuid_parse(const char *s, uint8_t u[16])
{
	size_t i = 0, len = strlen(s);
	bool dashed = len == 36;

	if (len != 36 && len != 32)
		return -EINVAL;
	for (size_t k = 0; k < 16; k++) {
		int hi, lo;

		if (dashed && (i == 8 || i == 13 || i == 18 || i == 23)) {
			if (s[i] != '-')
				return -EINVAL;
			i++;
		}
		hi = hexval(s[i]);
		lo = hexval(s[i + 1]);
		if (hi < 0 || lo < 0)
			return -EINVAL;
		u[k] = (uint8_t)(hi << 4 | lo);
		i += 2;
	}
	return i == len ? 0 : -EINVAL;
}

const char *domain_action_name(enum dom_action a)
{
	switch (a) {
	case DOM_ACT_DESTROY:
		return "destroy";
	case DOM_ACT_RESTART:
		return "restart";
	case DOM_ACT_PRESERVE:
		return "preserve";
	}
	return "destroy";
}

/* libvirt's scaled integers: unit names and their multipliers. */
static int unit_scale(const char *unit, uint64_t *mul)
{
	static const struct {
		const char *name;
		uint64_t mul;
	} units[] = {
		{"b", 1},
		{"bytes", 1},
		{"KB", 1000ull},
		{"k", 1024ull},
		{"K", 1024ull},
		{"KiB", 1024ull},
		{"MB", 1000ull * 1000},
		{"m", 1024ull * 1024},
		{"M", 1024ull * 1024},
		{"MiB", 1024ull * 1024},
		{"GB", 1000ull * 1000 * 1000},
		{"g", 1024ull * 1024 * 1024},
		{"G", 1024ull * 1024 * 1024},
		{"GiB", 1024ull * 1024 * 1024},
		{"TB", 1000ull * 1000 * 1000 * 1000},
		{"t", 1024ull * 1024 * 1024 * 1024},
		{"T", 1024ull * 1024 * 1024 * 1024},
		{"TiB", 1024ull * 1024 * 1024 * 1024},
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(units); i++) {
		if (strcmp(unit, units[i].name) == 0) {
			*mul = units[i].mul;
			return 0;
		}
	}
	return -EINVAL;
}

/* A memory element into KiB (rounded up like libvirt), range-checked. */
static int parse_memory(struct px *p, const xmlNode *n, const char *where, uint64_t *kib)
{
	static const char *const known[] = {"unit", NULL};
	char buf[32];
	const char *unit;
	uint64_t v, mul = 1024, bytes;
	int ret;

	check_attrs(p, n, where, known);
	ret = text_of(p, n, where, buf, sizeof(buf));
	if (ret)
		return ret;
	if (parse_u64(buf, 10, &v)) {
		errmsg_set(p->e, "%s: '%s' is not a number", where, buf);
		return -EINVAL;
	}
	unit = attr(n, "unit");
	if (unit && unit_scale(unit, &mul)) {
		errmsg_set(p->e, "%s: unknown unit '%s'", where, unit);
		return -EINVAL;
	}
	if (__builtin_mul_overflow(v, mul, &bytes)) {
		errmsg_set(p->e, "%s: %s %s is out of range (128 MiB to 512 GiB)", where, buf,
			   unit ? unit : "KiB");
		return -EINVAL;
	}
	*kib = bytes / 1024 + (bytes % 1024 ? 1 : 0);
	if (*kib < DOM_MEM_MIN_KIB || *kib > DOM_MEM_MAX_KIB) {
		errmsg_set(p->e, "%s: %s %s is out of range (128 MiB to 512 GiB)", where, buf,
			   unit ? unit : "KiB");
		return -EINVAL;
	}
	return 0;
}

static int parse_u32_text(struct px *p, const char *where, const char *s, uint32_t min,
			  uint32_t max, uint32_t *out)
{
	uint32_t v;

	if (parse_u32(s, 10, &v) || v < min || v > max) {
		errmsg_set(p->e, "%s: '%s' must be a number from %u to %u", where, s, min, max);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

static int parse_action(struct px *p, const xmlNode *n, const char *where, bool crash,
			enum dom_action *out)
{
	char buf[32];
	int ret;

	ret = text_of(p, n, where, buf, sizeof(buf));
	if (ret)
		return ret;
	if (strcmp(buf, "destroy") == 0)
		*out = DOM_ACT_DESTROY;
	else if (strcmp(buf, "restart") == 0)
		*out = DOM_ACT_RESTART;
	else if (crash && strcmp(buf, "preserve") == 0)
		*out = DOM_ACT_PRESERVE;
	else {
		errmsg_set(p->e, "%s: '%s' is not supported (destroy, restart%s)", where, buf,
			   crash ? ", preserve" : "");
		return -EINVAL;
	}
	return 0;
}

static int parse_os(struct px *p, const xmlNode *os)
{
	static const char *const type_attrs[] = {"arch", "machine", NULL};
	struct domain_def *d = p->d;
	const xmlNode *c;
	char buf[16];
	int ret;
	bool have_type = false;

	for (c = os->children; c; c = c->next) {
		if (c->type != XML_ELEMENT_NODE)
			continue;
		if (name_is(c, "type")) {
			const char *arch = attr(c, "arch"), *machine = attr(c, "machine");

			check_attrs(p, c, "os/type", type_attrs);
			ret = text_of(p, c, "os/type", buf, sizeof(buf));
			if (ret)
				return ret;
			if (strcmp(buf, "hvm") != 0) {
				errmsg_set(p->e, "os/type: '%s' is not supported (hvm)", buf);
				return -EINVAL;
			}
			if (arch && strcmp(arch, "x86_64") != 0) {
				errmsg_set(p->e, "os/type: arch '%s' is not supported (x86_64)",
					   arch);
				return -EINVAL;
			}
			if (machine && strcmp(machine, "microvm") != 0)
				px_warn(p, "os/type: machine '%s' ignored (splitvm runs microvm)",
					machine);
			have_type = true;
		} else if (name_is(c, "kernel")) {
			free(d->kernel);
			d->kernel = NULL;
			ret = text_dup(p, c, "os/kernel", 4095, &d->kernel);
			if (!ret)
				ret = path_check(p, "os/kernel", d->kernel);
			if (ret)
				return ret;
		} else if (name_is(c, "initrd")) {
			free(d->initrd);
			d->initrd = NULL;
			ret = text_dup(p, c, "os/initrd", 4095, &d->initrd);
			if (!ret && d->initrd[0])
				ret = path_check(p, "os/initrd", d->initrd);
			if (ret)
				return ret;
			if (!d->initrd[0]) {
				free(d->initrd);
				d->initrd = NULL;
			}
		} else if (name_is(c, "cmdline")) {
			free(d->cmdline);
			d->cmdline = NULL;
			ret = text_dup(p, c, "os/cmdline", 4095, &d->cmdline);
			if (ret)
				return ret;
			for (const char *s = d->cmdline; *s; s++) {
				if ((unsigned char)*s < 0x20 && *s != '\t') {
					errmsg_set(p->e,
						   "os/cmdline: contains a control character");
					return -EINVAL;
				}
			}
		} else if (name_is(c, "boot") || name_is(c, "bootmenu") || name_is(c, "smbios") ||
			   name_is(c, "bios")) {
			px_warn(p, "os/%s: ignored (splitvm boots the kernel directly)",
				(const char *)c->name);
		} else {
			errmsg_set(p->e, "os/%s: not supported", (const char *)c->name);
			return -EINVAL;
		}
	}
	if (!have_type) {
		errmsg_set(p->e, "os/type: missing (expected <type>hvm</type>)");
		return -EINVAL;
	}
	if (!d->kernel || !d->kernel[0]) {
		errmsg_set(p->e, "os/kernel: missing (splitvm boots a kernel directly)");
		return -EINVAL;
	}
	return 0;
}

static int parse_vcpu(struct px *p, const xmlNode *n)
{
	static const char *const known[] = {"placement", "current", "cpuset", NULL};
	const char *cur = attr(n, "current"), *placement = attr(n, "placement");
	char buf[16];
	int ret;

	check_attrs(p, n, "vcpu", known);
	if (placement && strcmp(placement, "static") != 0) {
		errmsg_set(p->e, "vcpu: placement '%s' is not supported (static)", placement);
		return -EINVAL;
	}
	if (attr(n, "cpuset"))
		px_warn(p, "vcpu: cpuset ignored");
	ret = text_of(p, n, "vcpu", buf, sizeof(buf));
	if (ret)
		return ret;
	ret = parse_u32_text(p, "vcpu", buf, 1, DOM_VCPU_MAX, &p->d->vcpus);
	if (ret)
		return ret;
	p->d->vcpus_cur = p->d->vcpus;
	if (cur) {
		ret = parse_u32_text(p, "vcpu: current", cur, 1, p->d->vcpus, &p->d->vcpus_cur);
		if (ret)
			return ret;
	}
	return 0;
}

static int parse_disk(struct px *p, const xmlNode *n)
{
	static const char *const disk_attrs[] = {"type", "device", NULL};
	static const char *const drv_attrs[] = {"name", "type", "cache", "io", NULL};
	static const char *const cache_names[] = {"default",   "none",	     "writethrough",
						  "writeback", "directsync", "unsafe"};
	static const char *const io_names[] = {"default", "native", "io_uring", "threads"};
	struct dom_disk *disk;
	const char *v;
	const xmlNode *c;
	char where[48];
	size_t i;
	int ret;

	if (p->d->n_disks >= DOM_MAX_DISKS) {
		errmsg_set(p->e, "devices/disk: more than %d disks", DOM_MAX_DISKS);
		return -EINVAL;
	}
	disk = &p->d->disks[p->d->n_disks];
	snprintf(where, sizeof(where), "devices/disk[%zu]", p->d->n_disks + 1);
	check_attrs(p, n, where, disk_attrs);
	v = attr(n, "type");
	if (!v || strcmp(v, "file") != 0) {
		errmsg_set(p->e, "%s: type '%s' is not supported (file)", where, v ? v : "(none)");
		return -EINVAL;
	}
	v = attr(n, "device");
	if (v && strcmp(v, "disk") != 0) {
		errmsg_set(p->e, "%s: device '%s' is not supported (disk)", where, v);
		return -EINVAL;
	}
	/* Counted now so domain_free releases what this disk allocates. */
	p->d->n_disks++;
	for (c = n->children; c; c = c->next) {
		if (c->type != XML_ELEMENT_NODE)
			continue;
		if (name_is(c, "driver")) {
			check_attrs(p, c, where, drv_attrs);
			v = attr(c, "name");
			if (v && strcmp(v, "qemu") != 0 && strcmp(v, "splitvm") != 0) {
				errmsg_set(p->e, "%s: driver name '%s' is not supported", where, v);
				return -EINVAL;
			}
			v = attr(c, "type");
			if (v && strcmp(v, "raw") != 0) {
				errmsg_set(p->e, "%s: driver type '%s' is not supported (raw)",
					   where, v);
				return -EINVAL;
			}
			v = attr(c, "cache");
			if (v) {
				for (i = 0; i < ARRAY_SIZE(cache_names); i++)
					if (strcmp(v, cache_names[i]) == 0)
						break;
				if (i == ARRAY_SIZE(cache_names)) {
					errmsg_set(p->e, "%s: cache '%s' is not supported", where,
						   v);
					return -EINVAL;
				}
				disk->cache = (enum dom_cache)i;
			}
			v = attr(c, "io");
			if (v) {
				for (i = 1; i < ARRAY_SIZE(io_names); i++)
					if (strcmp(v, io_names[i]) == 0)
						break;
				if (i == ARRAY_SIZE(io_names)) {
					errmsg_set(
						p->e,
						"%s: io '%s' is not supported (native, io_uring, "
						"threads)",
						where, v);
					return -EINVAL;
				}
				disk->io = (enum dom_io)i;
			}
		} else if (name_is(c, "source")) {
			static const char *const src_attrs[] = {"file", NULL};

			check_attrs(p, c, where, src_attrs);
			free(disk->source);
			disk->source = NULL;
			ret = dup_path(p, "devices/disk/source file", attr(c, "file"),
				       &disk->source);
			if (ret)
				return ret;
		} else if (name_is(c, "target")) {
			static const char *const tgt_attrs[] = {"dev", "bus", NULL};

			check_attrs(p, c, where, tgt_attrs);
			v = attr(c, "bus");
			if (v && strcmp(v, "virtio") != 0) {
				errmsg_set(p->e, "%s: target bus '%s' is not supported (virtio)",
					   where, v);
				return -EINVAL;
			}
			v = attr(c, "dev");
			if (!v || !str_has_prefix(v, "vd") || strlen(v) < 3 || strlen(v) > 4) {
				errmsg_set(p->e,
					   "%s: target dev '%s' is not a virtio name (vda...)",
					   where, v ? v : "(none)");
				return -EINVAL;
			}
			for (const char *s = v + 2; *s; s++) {
				if (*s < 'a' || *s > 'z') {
					errmsg_set(p->e, "%s: target dev '%s' is not a virtio name",
						   where, v);
					return -EINVAL;
				}
			}
			str_copy(disk->target, sizeof(disk->target), v);
		} else if (name_is(c, "readonly")) {
			disk->readonly = true;
		} else if (name_is(c, "serial")) {
			ret = text_of(p, c, "devices/disk/serial", disk->serial,
				      sizeof(disk->serial));
			if (ret)
				return ret;
			for (const char *s = disk->serial; *s; s++) {
				if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'z') ||
				      (*s >= 'A' && *s <= 'Z') || *s == '-' || *s == '_' ||
				      *s == '.')) {
					errmsg_set(p->e,
						   "%s: serial '%s' has a character outside "
						   "[A-Za-z0-9._-]",
						   where, disk->serial);
					return -EINVAL;
				}
			}
		} else if (name_is(c, "address") || name_is(c, "alias") || name_is(c, "boot") ||
			   name_is(c, "shareable")) {
			px_warn(p, "%s: <%s> ignored", where, (const char *)c->name);
		} else {
			errmsg_set(p->e, "%s: <%s> is not supported", where, (const char *)c->name);
			return -EINVAL;
		}
	}
	if (!disk->source) {
		errmsg_set(p->e, "%s: source file missing", where);
		return -EINVAL;
	}
	if (!disk->target[0]) {
		errmsg_set(p->e, "%s: target dev missing", where);
		return -EINVAL;
	}
	for (i = 0; i + 1 < p->d->n_disks; i++) {
		if (strcmp(p->d->disks[i].target, disk->target) == 0) {
			errmsg_set(p->e, "%s: target dev '%s' used twice", where, disk->target);
			return -EINVAL;
		}
	}
	return 0;
}

static int parse_mac(const char *s, uint8_t mac[6])
{
	unsigned v[6];
	char tail;

	if (strlen(s) != 17)
		return -EINVAL;
	for (size_t i = 0; i < 17; i++) {
		if (i % 3 == 2 ? s[i] != ':' : hexval(s[i]) < 0)
			return -EINVAL;
	}
	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
		   &tail) != 6)
		return -EINVAL;
	for (size_t i = 0; i < 6; i++)
		mac[i] = (uint8_t)v[i];
	return 0;
}

static bool ifname_ok(const char *s)
{
	size_t len = strlen(s);

	if (len == 0 || len > 15)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c == '.'))
			return false;
	}
	return true;
}

static int parse_iface(struct px *p, const xmlNode *n)
{
	static const char *const if_attrs[] = {"type", NULL};
	struct dom_iface *ifc;
	const xmlNode *c;
	const char *v;
	char where[48];
	bool have_mac = false, have_model = false;
	int ret;

	if (p->d->n_ifaces >= DOM_MAX_IFACES) {
		errmsg_set(p->e, "devices/interface: more than %d interfaces", DOM_MAX_IFACES);
		return -EINVAL;
	}
	ifc = &p->d->ifaces[p->d->n_ifaces];
	snprintf(where, sizeof(where), "devices/interface[%zu]", p->d->n_ifaces + 1);
	check_attrs(p, n, where, if_attrs);
	v = attr(n, "type");
	if (v && strcmp(v, "bridge") == 0) {
		ifc->type = DOM_IF_BRIDGE;
	} else if (v && strcmp(v, "ethernet") == 0) {
		ifc->type = DOM_IF_ETHERNET;
	} else {
		errmsg_set(p->e, "%s: type '%s' is not supported (bridge, ethernet)", where,
			   v ? v : "(none)");
		return -EINVAL;
	}
	p->d->n_ifaces++;
	for (c = n->children; c; c = c->next) {
		if (c->type != XML_ELEMENT_NODE)
			continue;
		if (name_is(c, "mac")) {
			v = attr(c, "address");
			if (!v || parse_mac(v, ifc->mac) || (ifc->mac[0] & 1)) {
				errmsg_set(p->e, "%s: mac address '%s' is not a unicast MAC", where,
					   v ? v : "(none)");
				return -EINVAL;
			}
			have_mac = true;
		} else if (name_is(c, "source")) {
			v = attr(c, "bridge");
			if (ifc->type != DOM_IF_BRIDGE) {
				px_warn(p, "%s: <source> ignored for type ethernet", where);
				continue;
			}
			if (!v || !ifname_ok(v)) {
				errmsg_set(p->e, "%s: source bridge '%s' is not an interface name",
					   where, v ? v : "(none)");
				return -EINVAL;
			}
			str_copy(ifc->bridge, sizeof(ifc->bridge), v);
		} else if (name_is(c, "target")) {
			v = attr(c, "dev");
			if (!v || !ifname_ok(v)) {
				errmsg_set(p->e, "%s: target dev '%s' is not an interface name",
					   where, v ? v : "(none)");
				return -EINVAL;
			}
			/* libvirt treats vnet* as its own generated names; so do we. */
			if (!str_has_prefix(v, "vnet"))
				str_copy(ifc->target, sizeof(ifc->target), v);
		} else if (name_is(c, "model")) {
			v = attr(c, "type");
			if (!v || strcmp(v, "virtio") != 0) {
				errmsg_set(p->e, "%s: model '%s' is not supported (virtio)", where,
					   v ? v : "(none)");
				return -EINVAL;
			}
			have_model = true;
		} else if (name_is(c, "driver")) {
			v = attr(c, "queues");
			if (v) {
				ret = parse_u32_text(p, "devices/interface/driver queues", v, 1, 16,
						     &ifc->queues);
				if (ret)
					return ret;
			}
		} else if (name_is(c, "mtu")) {
			v = attr(c, "size");
			ret = parse_u32_text(p, "devices/interface/mtu size", v ? v : "", 68, 65535,
					     &ifc->mtu);
			if (ret)
				return ret;
		} else if (name_is(c, "address") || name_is(c, "alias") || name_is(c, "link")) {
			px_warn(p, "%s: <%s> ignored", where, (const char *)c->name);
		} else {
			errmsg_set(p->e, "%s: <%s> is not supported", where, (const char *)c->name);
			return -EINVAL;
		}
	}
	if (ifc->type == DOM_IF_BRIDGE && !ifc->bridge[0]) {
		errmsg_set(p->e, "%s: source bridge missing", where);
		return -EINVAL;
	}
	if (!have_model)
		px_warn(p, "%s: no model given; using virtio", where);
	if (!have_mac) {
		/* Stable across restarts: derived from the uuid and the interface's index. */
		ifc->mac[0] = 0x52;
		ifc->mac[1] = 0x54;
		ifc->mac[2] = 0x00;
		ifc->mac[3] = p->d->uuid[13] ^ p->d->uuid[0];
		ifc->mac[4] = p->d->uuid[14] ^ p->d->uuid[1];
		ifc->mac[5] = (uint8_t)(p->d->uuid[15] + p->d->n_ifaces - 1);
	}
	for (size_t i = 0; i + 1 < p->d->n_ifaces; i++) {
		if (ifc->target[0] && strcmp(p->d->ifaces[i].target, ifc->target) == 0) {
			errmsg_set(p->e, "%s: target dev '%s' used twice", where, ifc->target);
			return -EINVAL;
		}
		if (memcmp(p->d->ifaces[i].mac, ifc->mac, 6) == 0) {
			errmsg_set(p->e, "%s: mac address used twice", where);
			return -EINVAL;
		}
	}
	return 0;
}

/* <serial> and <console> both describe COM1: the guest has one UART. */
static int parse_serial(struct px *p, const xmlNode *n, bool console)
{
	const char *kind = console ? "devices/console" : "devices/serial";
	const char *type = attr(n, "type");
	enum dom_serial_type t;
	const char *path = NULL;
	const xmlNode *c;

	if (type && strcmp(type, "pty") == 0) {
		t = DOM_SERIAL_PTY;
	} else if (type && strcmp(type, "unix") == 0) {
		t = DOM_SERIAL_UNIX;
	} else {
		errmsg_set(p->e, "%s: type '%s' is not supported (pty, unix)", kind,
			   type ? type : "(none)");
		return -EINVAL;
	}
	for (c = n->children; c; c = c->next) {
		if (c->type != XML_ELEMENT_NODE)
			continue;
		if (name_is(c, "source")) {
			const char *mode = attr(c, "mode");

			if (t != DOM_SERIAL_UNIX) {
				px_warn(p, "%s: <source> ignored for type pty", kind);
				continue;
			}
			if (mode && strcmp(mode, "bind") != 0) {
				errmsg_set(p->e, "%s: source mode '%s' is not supported (bind)",
					   kind, mode);
				return -EINVAL;
			}
			path = attr(c, "path");
		} else if (name_is(c, "target")) {
			const char *tt = attr(c, "type"), *port = attr(c, "port");

			if (tt && strcmp(tt, "serial") != 0 && strcmp(tt, "isa-serial") != 0) {
				errmsg_set(p->e, "%s: target type '%s' is not supported (serial)",
					   kind, tt);
				return -EINVAL;
			}
			if (port && strcmp(port, "0") != 0) {
				errmsg_set(p->e, "%s: target port '%s' is not supported (0)", kind,
					   port);
				return -EINVAL;
			}
		} else if (name_is(c, "alias") || name_is(c, "address") || name_is(c, "log")) {
			px_warn(p, "%s: <%s> ignored", kind, (const char *)c->name);
		} else {
			errmsg_set(p->e, "%s: <%s> is not supported", kind, (const char *)c->name);
			return -EINVAL;
		}
	}
	if (t == DOM_SERIAL_UNIX) {
		if (!path || !path[0]) {
			errmsg_set(p->e, "%s: source path missing for type unix", kind);
			return -EINVAL;
		}
		if (path_check(p, kind, path))
			return -EINVAL;
		if (strlen(path) >= 108) {
			errmsg_set(p->e, "%s: socket path longer than 107 bytes", kind);
			return -EINVAL;
		}
	}
	if (p->d->serial != DOM_SERIAL_NONE) {
		bool same = p->d->serial == t &&
			    (t != DOM_SERIAL_UNIX || strcmp(p->d->serial_path, path) == 0);
		if (!same) {
			errmsg_set(p->e, "%s: a second, different serial port is not supported",
				   kind);
			return -EINVAL;
		}
		return 0;
	}
	p->d->serial = t;
	if (t == DOM_SERIAL_UNIX) {
		p->d->serial_path = str_dup(path);
		if (!p->d->serial_path)
			return -ENOMEM;
	}
	return 0;
}

static int parse_rng(struct px *p, const xmlNode *n)
{
	const char *model = attr(n, "model");
	const xmlNode *c;
	int ret;

	if (p->d->rng) {
		errmsg_set(p->e, "devices/rng: only one is supported");
		return -EINVAL;
	}
	if (!model || strcmp(model, "virtio") != 0) {
		errmsg_set(p->e, "devices/rng: model '%s' is not supported (virtio)",
			   model ? model : "(none)");
		return -EINVAL;
	}
	p->d->rng = true;
	for (c = n->children; c; c = c->next) {
		if (c->type != XML_ELEMENT_NODE)
			continue;
		if (name_is(c, "backend")) {
			const char *bm = attr(c, "model");

			if (!bm || strcmp(bm, "random") != 0) {
				errmsg_set(
					p->e,
					"devices/rng: backend model '%s' is not supported (random)",
					bm ? bm : "(none)");
				return -EINVAL;
			}
			free(p->d->rng_backend);
			p->d->rng_backend = NULL;
			ret = text_dup(p, c, "devices/rng/backend", 4095, &p->d->rng_backend);
			if (ret)
				return ret;
			if (!p->d->rng_backend[0]) {
				free(p->d->rng_backend);
				p->d->rng_backend = NULL;
			} else if (path_check(p, "devices/rng/backend", p->d->rng_backend)) {
				return -EINVAL;
			}
		} else if (name_is(c, "rate")) {
			const char *per = attr(c, "period"), *bytes = attr(c, "bytes");

			ret = parse_u32_text(p, "devices/rng/rate bytes", bytes ? bytes : "", 1,
					     UINT32_MAX, &p->d->rng_bytes);
			if (ret)
				return ret;
			p->d->rng_period_ms = 1000;
			if (per) {
				ret = parse_u32_text(p, "devices/rng/rate period", per, 1,
						     UINT32_MAX, &p->d->rng_period_ms);
				if (ret)
					return ret;
			}
			/* StratoVirt's limit: 64 <= bytes/period*1000 <= 1e9. */
			uint64_t rate = (uint64_t)p->d->rng_bytes * 1000 / p->d->rng_period_ms;
			if (rate < 64 || rate > 1000000000ull) {
				errmsg_set(p->e,
					   "devices/rng/rate: %" PRIu64
					   " bytes/s outside 64..1000000000",
					   rate);
				return -EINVAL;
			}
		} else if (name_is(c, "alias") || name_is(c, "address")) {
			px_warn(p, "devices/rng: <%s> ignored", (const char *)c->name);
		} else {
			errmsg_set(p->e, "devices/rng: <%s> is not supported",
				   (const char *)c->name);
			return -EINVAL;
		}
	}
	return 0;
}

static int parse_onoff(struct px *p, const char *where, const char *v, bool *out)
{
	if (strcmp(v, "on") == 0) {
		*out = true;
	} else if (strcmp(v, "off") == 0) {
		*out = false;
	} else {
		errmsg_set(p->e, "%s: '%s' must be on or off", where, v);
		return -EINVAL;
	}
	return 0;
}

static int parse_balloon(struct px *p, const xmlNode *n)
{
	const char *model = attr(n, "model"), *v;
	const xmlNode *c;

	if (!model || (strcmp(model, "virtio") != 0 && strcmp(model, "none") != 0)) {
		errmsg_set(p->e, "devices/memballoon: model '%s' is not supported (virtio, none)",
			   model ? model : "(none)");
		return -EINVAL;
	}
	p->d->balloon = strcmp(model, "virtio") == 0;
	v = attr(n, "autodeflate");
	if (v && parse_onoff(p, "devices/memballoon autodeflate", v, &p->d->balloon_deflate_on_oom))
		return -EINVAL;
	v = attr(n, "freePageReporting");
	if (v && parse_onoff(p, "devices/memballoon freePageReporting", v,
			     &p->d->balloon_free_page_reporting))
		return -EINVAL;
	for (c = n->children; c; c = c->next) {
		if (c->type != XML_ELEMENT_NODE)
			continue;
		if (name_is(c, "alias") || name_is(c, "address") || name_is(c, "stats")) {
			px_warn(p, "devices/memballoon: <%s> ignored", (const char *)c->name);
		} else {
			errmsg_set(p->e, "devices/memballoon: <%s> is not supported",
				   (const char *)c->name);
			return -EINVAL;
		}
	}
	return 0;
}

static int parse_vsock(struct px *p, const xmlNode *n)
{
	const char *model = attr(n, "model");
	const xmlNode *c;
	bool have = false;

	if (p->d->vsock) {
		errmsg_set(p->e, "devices/vsock: only one is supported");
		return -EINVAL;
	}
	if (model && strcmp(model, "virtio") != 0) {
		errmsg_set(p->e, "devices/vsock: model '%s' is not supported (virtio)", model);
		return -EINVAL;
	}
	for (c = n->children; c; c = c->next) {
		if (c->type != XML_ELEMENT_NODE)
			continue;
		if (name_is(c, "cid")) {
			const char *aut = attr(c, "auto"), *addr = attr(c, "address");

			if (aut && strcmp(aut, "no") != 0) {
				errmsg_set(p->e,
					   "devices/vsock: cid auto='%s' is not supported; "
					   "give auto='no' address='N'",
					   aut);
				return -EINVAL;
			}
			/* 0-2 are reserved (hypervisor, local, host); 2^32-1 is "any". */
			if (parse_u32_text(p, "devices/vsock/cid address", addr ? addr : "", 3,
					   UINT32_MAX - 1, &p->d->vsock_cid))
				return -EINVAL;
			have = true;
		} else if (name_is(c, "alias") || name_is(c, "address")) {
			px_warn(p, "devices/vsock: <%s> ignored", (const char *)c->name);
		} else {
			errmsg_set(p->e, "devices/vsock: <%s> is not supported",
				   (const char *)c->name);
			return -EINVAL;
		}
	}
	if (!have) {
		errmsg_set(p->e, "devices/vsock: cid missing");
		return -EINVAL;
	}
	p->d->vsock = true;
	return 0;
}

static int parse_devices(struct px *p, const xmlNode *devs)
{
	const xmlNode *c;
	int ret = 0;

	for (c = devs->children; c && !ret; c = c->next) {
		if (c->type != XML_ELEMENT_NODE)
			continue;
		if (name_is(c, "emulator")) {
			char buf[4096];
			const char *base;

			ret = text_of(p, c, "devices/emulator", buf, sizeof(buf));
			if (ret)
				break;
			base = strrchr(buf, '/');
			base = base ? base + 1 : buf;
			if (strcmp(base, "splitvm") != 0) {
				errmsg_set(p->e,
					   "devices/emulator: '%s' is not supported (splitvm)",
					   buf);
				return -EINVAL;
			}
			ret = path_check(p, "devices/emulator", buf);
			if (ret)
				break;
			free(p->d->emulator);
			p->d->emulator = str_dup(buf);
			if (!p->d->emulator)
				return -ENOMEM;
		} else if (name_is(c, "disk")) {
			ret = parse_disk(p, c);
		} else if (name_is(c, "interface")) {
			ret = parse_iface(p, c);
		} else if (name_is(c, "serial")) {
			ret = parse_serial(p, c, false);
		} else if (name_is(c, "console")) {
			ret = parse_serial(p, c, true);
		} else if (name_is(c, "rng")) {
			ret = parse_rng(p, c);
		} else if (name_is(c, "memballoon")) {
			ret = parse_balloon(p, c);
		} else if (name_is(c, "vsock")) {
			ret = parse_vsock(p, c);
		} else if (name_is(c, "controller") || name_is(c, "input") ||
			   name_is(c, "channel") || name_is(c, "panic")) {
			px_warn(p, "devices/%s: ignored (microvm has none)", (const char *)c->name);
		} else {
			errmsg_set(p->e, "devices/%s: not supported", (const char *)c->name);
			return -EINVAL;
		}
	}
	return ret;
}

static const char *const harmless_top[] = {
	"title",    "description", "metadata", "clock",		 "features",  "cpu", "pm",
	"resource", "seclabel",	   "sysinfo",  "on_lockfailure", "iothreads", NULL,
};

static int parse_domain(struct px *p, const xmlNode *root)
{
	static const char *const dom_attrs[] = {"type", "id", NULL};
	struct domain_def *d = p->d;
	const xmlNode *c;
	const char *type;
	char buf[64];
	bool have_uuid = false, have_mem = false, have_cur = false, have_vcpu = false;
	bool seen_devices = false;
	int ret = 0;

	if (!name_is(root, "domain")) {
		errmsg_set(p->e, "<%s>: the root element must be <domain>",
			   (const char *)root->name);
		return -EINVAL;
	}
	check_attrs(p, root, "domain", dom_attrs);
	type = attr(root, "type");
	if (!type || strcmp(type, "kvm") != 0) {
		errmsg_set(p->e, "domain: type '%s' is not supported (kvm)",
			   type ? type : "(none)");
		return -EINVAL;
	}
	d->on_poweroff = DOM_ACT_DESTROY;
	d->on_reboot = DOM_ACT_RESTART;
	d->on_crash = DOM_ACT_DESTROY;
	d->vcpus = d->vcpus_cur = 1;
	/* The uuid is needed before <devices> (generated MACs derive from it). */
	for (c = root->children; c; c = c->next) {
		if (name_is(c, "uuid")) {
			ret = text_of(p, c, "uuid", buf, sizeof(buf));
			if (ret)
				return ret;
			if (domain_uuid_parse(buf, d->uuid)) {
				errmsg_set(p->e, "uuid: '%s' is not a UUID", buf);
				return -EINVAL;
			}
			have_uuid = true;
		}
	}
	if (!have_uuid) {
		if (getrandom(d->uuid, sizeof(d->uuid), 0) != sizeof(d->uuid))
			return -errno;
		d->uuid[6] = (d->uuid[6] & 0x0f) | 0x40; /* version 4 */
		d->uuid[8] = (d->uuid[8] & 0x3f) | 0x80; /* RFC 4122 variant */
	}
	for (c = root->children; c && !ret; c = c->next) {
		if (c->type != XML_ELEMENT_NODE)
			continue;
		if (name_is(c, "name")) {
			ret = text_of(p, c, "name", d->name, sizeof(d->name));
			if (!ret)
				ret = domain_name_check(d->name, p->e);
		} else if (name_is(c, "uuid")) {
			continue;
		} else if (name_is(c, "memory")) {
			ret = parse_memory(p, c, "memory", &d->memory_kib);
			have_mem = true;
		} else if (name_is(c, "currentMemory")) {
			ret = parse_memory(p, c, "currentMemory", &d->current_memory_kib);
			have_cur = true;
		} else if (name_is(c, "maxMemory")) {
			errmsg_set(p->e, "maxMemory: memory hotplug is not supported");
			return -EINVAL;
		} else if (name_is(c, "vcpu")) {
			ret = parse_vcpu(p, c);
			have_vcpu = true;
		} else if (name_is(c, "os")) {
			ret = parse_os(p, c);
		} else if (name_is(c, "on_poweroff")) {
			ret = parse_action(p, c, "on_poweroff", false, &d->on_poweroff);
		} else if (name_is(c, "on_reboot")) {
			ret = parse_action(p, c, "on_reboot", false, &d->on_reboot);
		} else if (name_is(c, "on_crash")) {
			ret = parse_action(p, c, "on_crash", true, &d->on_crash);
		} else if (name_is(c, "devices")) {
			if (seen_devices) {
				errmsg_set(p->e, "devices: given twice");
				return -EINVAL;
			}
			seen_devices = true;
			ret = parse_devices(p, c);
		} else {
			size_t i;

			for (i = 0; harmless_top[i]; i++)
				if (name_is(c, harmless_top[i]))
					break;
			if (!harmless_top[i]) {
				errmsg_set(p->e, "%s: not supported", (const char *)c->name);
				return -EINVAL;
			}
			px_warn(p, "%s: ignored", (const char *)c->name);
		}
	}
	if (ret)
		return ret;
	if (!d->name[0]) {
		errmsg_set(p->e, "name: missing");
		return -EINVAL;
	}
	if (!have_mem) {
		errmsg_set(p->e, "memory: missing");
		return -EINVAL;
	}
	if (!have_cur)
		d->current_memory_kib = d->memory_kib;
	if (d->current_memory_kib > d->memory_kib) {
		errmsg_set(p->e, "currentMemory: larger than memory");
		return -EINVAL;
	}
	if (!have_vcpu)
		px_warn(p, "vcpu: missing; using 1");
	if (!d->kernel) {
		errmsg_set(p->e, "os/kernel: missing (splitvm boots a kernel directly)");
		return -EINVAL;
	}
	return 0;
}

void domain_free(struct domain_def *d)
{
	size_t i;

	if (!d)
		return;
	free(d->emulator);
	free(d->kernel);
	free(d->initrd);
	free(d->cmdline);
	for (i = 0; i < d->n_disks; i++)
		free(d->disks[i].source);
	free(d->serial_path);
	free(d->rng_backend);
	free(d);
}

/* A document with a DTD may declare entities; none is needed for a domain. */
static bool has_doctype(const char *xml, size_t len)
{
	return memmem(xml, len, "<!DOCTYPE", 9) || memmem(xml, len, "<!ENTITY", 8);
}

int domain_parse(const char *xml, size_t len, struct domain_def **out, struct dom_warnings *w,
		 struct errmsg *e)
{
	struct px p = {.w = w, .e = e};
	xmlDocPtr doc;
	xmlNodePtr root;
	int ret;

	if (w) {
		w->n = 0;
		w->dropped = 0;
	}
	if (len == 0) {
		errmsg_set(e, "domain XML: empty document");
		return -EINVAL;
	}
	if (len > DOM_XML_MAX || len > INT32_MAX) {
		errmsg_set(e, "domain XML: document larger than %u bytes", DOM_XML_MAX);
		return -EINVAL;
	}
	if (has_doctype(xml, len)) {
		errmsg_set(e, "domain XML: DOCTYPE and entity declarations are not accepted");
		return -EINVAL;
	}
	doc = xmlReadMemory(xml, (int)len, "domain.xml", NULL,
			    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
				    XML_PARSE_NOCDATA);
	if (!doc) {
		const xmlError *xe = xmlGetLastError();

		if (xe && xe->message) {
			size_t ml = strlen(xe->message);
			errmsg_set(e, "domain XML: line %d: %.*s", xe->line,
				   (int)(ml && xe->message[ml - 1] == '\n' ? ml - 1 : ml),
				   xe->message);
		} else {
			errmsg_set(e, "domain XML: not well-formed");
		}
		return -EINVAL;
	}
	if (doc->intSubset || doc->extSubset) {
		errmsg_set(e, "domain XML: DOCTYPE and entity declarations are not accepted");
		ret = -EINVAL;
		goto out_doc;
	}
	root = xmlDocGetRootElement(doc);
	if (!root) {
		errmsg_set(e, "domain XML: no root element");
		ret = -EINVAL;
		goto out_doc;
	}
	p.d = calloc(1, sizeof(*p.d));
	if (!p.d) {
		ret = -ENOMEM;
		goto out_doc;
	}
	ret = parse_domain(&p, root);
	if (ret) {
		if (ret == -ENOMEM)
			errmsg_set(e, "domain XML: out of memory");
		domain_free(p.d);
		goto out_doc;
	}
	*out = p.d;
out_doc:
	xmlFreeDoc(doc);
	return ret;
}

struct domain_def *domain_dup(const struct domain_def *d)
{
	struct domain_def *n;
	char *xml;
	struct errmsg e;

	/* Through the XML form: one definition of what a domain's state is. */
	xml = domain_format(d);
	if (!xml)
		return NULL;
	if (domain_parse(xml, strlen(xml), &n, NULL, &e)) {
		free(xml);
		errno = EINVAL;
		return NULL;
	}
	free(xml);
	return n;
}

/* ---- formatting ------------------------------------------------------------ */

struct fx {
	xmlNodePtr node;
	int err;
};

static xmlNodePtr add(struct fx *f, xmlNodePtr parent, const char *name, const char *text)
{
	xmlNodePtr n;

	if (f->err)
		return NULL;
	n = xmlNewTextChild(parent, NULL, BAD_CAST name, text ? BAD_CAST text : NULL);
	if (!n)
		f->err = -ENOMEM;
	return n;
}

static void set(struct fx *f, xmlNodePtr n, const char *name, const char *value)
{
	if (f->err || !n)
		return;
	if (!xmlNewProp(n, BAD_CAST name, BAD_CAST value))
		f->err = -ENOMEM;
}

static xmlNodePtr addf(struct fx *f, xmlNodePtr parent, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static xmlNodePtr addf(struct fx *f, xmlNodePtr parent, const char *name, const char *fmt, ...)
{
	char buf[64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return add(f, parent, name, buf);
}

char *domain_format(const struct domain_def *d)
{
	static const char *const cache_names[] = {"default",   "none",	     "writethrough",
						  "writeback", "directsync", "unsafe"};
	static const char *const io_names[] = {"default", "native", "io_uring", "threads"};
	struct fx f = {0};
	xmlDocPtr doc;
	xmlNodePtr root, n, os, devs, x;
	xmlChar *mem = NULL;
	int size = 0;
	char uuid[37], buf[64];
	char *out = NULL;
	size_t i;

	doc = xmlNewDoc(BAD_CAST "1.0");
	if (!doc) {
		errno = ENOMEM;
		return NULL;
	}
	root = xmlNewNode(NULL, BAD_CAST "domain");
	if (!root) {
		xmlFreeDoc(doc);
		errno = ENOMEM;
		return NULL;
	}
	xmlDocSetRootElement(doc, root);
	set(&f, root, "type", "kvm");
	add(&f, root, "name", d->name);
	domain_uuid_format(d->uuid, uuid);
	add(&f, root, "uuid", uuid);
	n = addf(&f, root, "memory", "%" PRIu64, d->memory_kib);
	set(&f, n, "unit", "KiB");
	n = addf(&f, root, "currentMemory", "%" PRIu64, d->current_memory_kib);
	set(&f, n, "unit", "KiB");
	n = addf(&f, root, "vcpu", "%u", d->vcpus);
	set(&f, n, "placement", "static");
	if (d->vcpus_cur != d->vcpus) {
		snprintf(buf, sizeof(buf), "%u", d->vcpus_cur);
		set(&f, n, "current", buf);
	}
	os = add(&f, root, "os", NULL);
	n = add(&f, os, "type", "hvm");
	set(&f, n, "arch", "x86_64");
	set(&f, n, "machine", "microvm");
	add(&f, os, "kernel", d->kernel);
	if (d->initrd)
		add(&f, os, "initrd", d->initrd);
	if (d->cmdline)
		add(&f, os, "cmdline", d->cmdline);
	add(&f, root, "on_poweroff", domain_action_name(d->on_poweroff));
	add(&f, root, "on_reboot", domain_action_name(d->on_reboot));
	add(&f, root, "on_crash", domain_action_name(d->on_crash));
	devs = add(&f, root, "devices", NULL);
	if (d->emulator)
		add(&f, devs, "emulator", d->emulator);
	for (i = 0; i < d->n_disks; i++) {
		const struct dom_disk *k = &d->disks[i];

		x = add(&f, devs, "disk", NULL);
		set(&f, x, "type", "file");
		set(&f, x, "device", "disk");
		n = add(&f, x, "driver", NULL);
		set(&f, n, "name", "qemu");
		set(&f, n, "type", "raw");
		if (k->cache != DOM_CACHE_DEFAULT)
			set(&f, n, "cache", cache_names[k->cache]);
		if (k->io != DOM_IO_DEFAULT)
			set(&f, n, "io", io_names[k->io]);
		n = add(&f, x, "source", NULL);
		set(&f, n, "file", k->source);
		n = add(&f, x, "target", NULL);
		set(&f, n, "dev", k->target);
		set(&f, n, "bus", "virtio");
		if (k->readonly)
			add(&f, x, "readonly", NULL);
		if (k->serial[0])
			add(&f, x, "serial", k->serial);
	}
	for (i = 0; i < d->n_ifaces; i++) {
		const struct dom_iface *ifc = &d->ifaces[i];

		x = add(&f, devs, "interface", NULL);
		set(&f, x, "type", ifc->type == DOM_IF_BRIDGE ? "bridge" : "ethernet");
		n = add(&f, x, "mac", NULL);
		snprintf(buf, sizeof(buf), "%02x:%02x:%02x:%02x:%02x:%02x", ifc->mac[0],
			 ifc->mac[1], ifc->mac[2], ifc->mac[3], ifc->mac[4], ifc->mac[5]);
		set(&f, n, "address", buf);
		if (ifc->type == DOM_IF_BRIDGE) {
			n = add(&f, x, "source", NULL);
			set(&f, n, "bridge", ifc->bridge);
		}
		if (ifc->target[0]) {
			n = add(&f, x, "target", NULL);
			set(&f, n, "dev", ifc->target);
		}
		n = add(&f, x, "model", NULL);
		set(&f, n, "type", "virtio");
		if (ifc->queues > 1) {
			n = add(&f, x, "driver", NULL);
			snprintf(buf, sizeof(buf), "%u", ifc->queues);
			set(&f, n, "queues", buf);
		}
		if (ifc->mtu) {
			n = add(&f, x, "mtu", NULL);
			snprintf(buf, sizeof(buf), "%u", ifc->mtu);
			set(&f, n, "size", buf);
		}
	}
	if (d->serial != DOM_SERIAL_NONE) {
		x = add(&f, devs, "serial", NULL);
		set(&f, x, "type", d->serial == DOM_SERIAL_PTY ? "pty" : "unix");
		if (d->serial == DOM_SERIAL_UNIX) {
			n = add(&f, x, "source", NULL);
			set(&f, n, "mode", "bind");
			set(&f, n, "path", d->serial_path);
		}
		n = add(&f, x, "target", NULL);
		set(&f, n, "port", "0");
	}
	if (d->rng) {
		x = add(&f, devs, "rng", NULL);
		set(&f, x, "model", "virtio");
		if (d->rng_bytes) {
			n = add(&f, x, "rate", NULL);
			snprintf(buf, sizeof(buf), "%u", d->rng_period_ms);
			set(&f, n, "period", buf);
			snprintf(buf, sizeof(buf), "%u", d->rng_bytes);
			set(&f, n, "bytes", buf);
		}
		n = add(&f, x, "backend", d->rng_backend ? d->rng_backend : "/dev/urandom");
		set(&f, n, "model", "random");
	}
	x = add(&f, devs, "memballoon", NULL);
	set(&f, x, "model", d->balloon ? "virtio" : "none");
	if (d->balloon && d->balloon_deflate_on_oom)
		set(&f, x, "autodeflate", "on");
	if (d->balloon && d->balloon_free_page_reporting)
		set(&f, x, "freePageReporting", "on");
	if (d->vsock) {
		x = add(&f, devs, "vsock", NULL);
		set(&f, x, "model", "virtio");
		n = add(&f, x, "cid", NULL);
		set(&f, n, "auto", "no");
		snprintf(buf, sizeof(buf), "%u", d->vsock_cid);
		set(&f, n, "address", buf);
	}
	if (f.err) {
		xmlFreeDoc(doc);
		errno = ENOMEM;
		return NULL;
	}
	/* No XML declaration, like `virsh dumpxml`. */
	xmlBufferPtr xb = xmlBufferCreate();
	if (xb) {
		xmlSaveCtxtPtr sc = xmlSaveToBuffer(xb, "UTF-8",
						    XML_SAVE_FORMAT | XML_SAVE_NO_DECL);
		if (sc) {
			long r = xmlSaveTree(sc, root);

			if (xmlSaveClose(sc) >= 0 && r >= 0) {
				mem = xmlStrdup(xmlBufferContent(xb));
				size = mem ? xmlStrlen(mem) : 0;
			}
		}
		xmlBufferFree(xb);
	}
	xmlFreeDoc(doc);
	if (!mem) {
		errno = ENOMEM;
		return NULL;
	}
	out = malloc((size_t)size + 2);
	if (out) {
		memcpy(out, mem, (size_t)size);
		/* Ends in exactly one newline. */
		if (size == 0 || out[size - 1] != '\n')
			out[size++] = '\n';
		out[size] = '\0';
	} else {
		errno = ENOMEM;
	}
	xmlFree(mem);
	return out;
}
