/*
 * netctl: tap devices for VMs. Taps are made persistent with /dev/net/tun
 * (rtnetlink cannot create them); everything else (MTU, bridge, state, delete)
 * goes through libnl-route-3. Every verb is idempotent and refuses devices
 * outside the configured name prefix or that are not taps.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <netlink/route/link/bridge.h>

#include "config.h"
#include "netctl.h"
#include "util.h"

static bool ifname_ok(const char *s)
{
	size_t len = strlen(s);

	if (len == 0 || len >= IFNAMSIZ)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c == '.'))
			return false;
	}
	return true;
}

bool netctl_name_allowed(const char *prefix, const char *name)
{
	return ifname_ok(name) && prefix[0] && str_has_prefix(name, prefix) &&
	       strlen(name) > strlen(prefix);
}

int netctl_load_prefix(const char *conf, char *prefix, size_t len, struct errmsg *e)
{
	struct config *cfg;
	const char *v;
	int r;

	if (access(conf, F_OK) < 0)
		return str_copy(prefix, len, NETCTL_PREFIX_DEFAULT);
	cfg = config_load(conf, e);
	if (!cfg)
		return -EINVAL;
	r = config_get_str(cfg, "netctl", "prefix", NETCTL_PREFIX_DEFAULT, &v, e);
	if (!r && (!v[0] || strlen(v) > 8 || !ifname_ok(v))) {
		errmsg_set(e, "%s: [netctl] prefix: '%s' must be 1-8 interface-name characters",
			   conf, v);
		r = -EINVAL;
	}
	if (!r)
		r = str_copy(prefix, len, v);
	config_free(cfg);
	return r;
}

static int parse_num(const char *opt, const char *s, uint32_t min, uint32_t max, uint32_t *out,
		     struct errmsg *e)
{
	if (!s || parse_u32(s, 10, out) || *out < min || *out > max) {
		errmsg_set(e, "%s: '%s' must be a number from %u to %u", opt, s ? s : "", min, max);
		return -EINVAL;
	}
	return 0;
}

int netctl_parse_args(int argc, char **argv, struct netctl_req *req, struct errmsg *e)
{
	static const char *const verbs[] = {"add", "del", "up", "down", "set", "show"};
	int i;
	size_t v;

	memset(req, 0, sizeof(*req));
	req->up = -1;
	req->owner = -1;
	req->queues = 1;
	if (argc < 2) {
		errmsg_set(e, "usage: splitvirt-netctl add|del|up|down|set|show TAP [OPTIONS]");
		return -EINVAL;
	}
	for (v = 0; v < ARRAY_SIZE(verbs); v++)
		if (strcmp(argv[0], verbs[v]) == 0)
			break;
	if (v == ARRAY_SIZE(verbs)) {
		errmsg_set(e, "unknown verb '%s' (add, del, up, down, set, show)", argv[0]);
		return -EINVAL;
	}
	req->verb = (enum netctl_verb)v;
	if (!ifname_ok(argv[1]) || str_copy(req->name, sizeof(req->name), argv[1])) {
		errmsg_set(e, "'%s' is not an interface name", argv[1]);
		return -EINVAL;
	}
	for (i = 2; i < argc; i++) {
		const char *o = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
		bool opts_ok = req->verb == NETCTL_ADD || req->verb == NETCTL_SET;
		uint32_t n;

		if (!opts_ok) {
			errmsg_set(e, "%s: takes no options ('%s')", verbs[v], o);
			return -EINVAL;
		}
		if (strcmp(o, "--bridge") == 0) {
			if (!val || !ifname_ok(val) ||
			    str_copy(req->bridge, sizeof(req->bridge), val)) {
				errmsg_set(e, "--bridge: '%s' is not an interface name",
					   val ? val : "");
				return -EINVAL;
			}
			i++;
		} else if (strcmp(o, "--nobridge") == 0 && req->verb == NETCTL_SET) {
			req->nobridge = true;
		} else if (strcmp(o, "--mtu") == 0) {
			if (parse_num("--mtu", val, 68, 65535, &req->mtu, e))
				return -EINVAL;
			i++;
		} else if (strcmp(o, "--queues") == 0 && req->verb == NETCTL_ADD) {
			if (parse_num("--queues", val, 1, NETCTL_MAX_QUEUES, &req->queues, e))
				return -EINVAL;
			i++;
		} else if (strcmp(o, "--owner") == 0) {
			if (parse_num("--owner", val, 0, 65534, &n, e))
				return -EINVAL;
			req->owner = n;
			i++;
		} else if (strcmp(o, "--up") == 0) {
			req->up = 1;
		} else if (strcmp(o, "--down") == 0) {
			req->up = 0;
		} else {
			errmsg_set(e, "%s: unknown option '%s'", verbs[v], o);
			return -EINVAL;
		}
	}
	if (req->verb == NETCTL_UP)
		req->up = 1;
	if (req->verb == NETCTL_DOWN)
		req->up = 0;
	if (req->nobridge && req->bridge[0]) {
		errmsg_set(e, "--bridge and --nobridge exclude each other");
		return -EINVAL;
	}
	return 0;
}

/* tun_flags of an existing tun device from sysfs; -ENOENT if it is not a tun/tap. */
static int tun_flags(const char *name, uint32_t *flags)
{
	char path[96], *buf = NULL;
	size_t len;
	int r;

	snprintf(path, sizeof(path), "/sys/class/net/%s/tun_flags", name);
	r = read_file(path, 64, &buf, &len);
	if (r)
		return r == -ENOENT ? -ENOENT : r;
	buf[strcspn(buf, "\n")] = '\0';
	r = parse_u32(buf, 16, flags) ? -EINVAL : 0;
	free(buf);
	return r;
}

static int tap_create(const struct netctl_req *req, struct errmsg *e)
{
	struct ifreq ifr;
	int fd, r = 0;

	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		errmsg_set(e, "%s: /dev/net/tun: %s", req->name, strerror(errno));
		return r;
	}
	memset(&ifr, 0, sizeof(ifr));
	str_copy(ifr.ifr_name, sizeof(ifr.ifr_name), req->name);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	if (req->queues > 1)
		ifr.ifr_flags |= IFF_MULTI_QUEUE;
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		r = -errno;
		errmsg_set(e, "%s: TUNSETIFF: %s", req->name, strerror(errno));
		goto out;
	}
	if (req->owner >= 0 && ioctl(fd, TUNSETOWNER, (unsigned long)req->owner) < 0) {
		r = -errno;
		errmsg_set(e, "%s: TUNSETOWNER: %s", req->name, strerror(errno));
		goto out;
	}
	/* Persistent: the tap outlives this process until splitvm opens it. */
	if (ioctl(fd, TUNSETPERSIST, 1UL) < 0) {
		r = -errno;
		errmsg_set(e, "%s: TUNSETPERSIST: %s", req->name, strerror(errno));
	}
out:
	close(fd);
	return r;
}

static int nl_err(struct errmsg *e, const char *name, const char *what, int err)
{
	errmsg_set(e, "%s: %s: %s", name, what, nl_geterror(err));
	return err == -NLE_NODEV || err == -NLE_OBJ_NOTFOUND ? -ENODEV : -EIO;
}

int netctl_apply(const struct netctl_req *req, const char *prefix, char *out, size_t outlen,
		 struct errmsg *e)
{
	struct nl_sock *sk = NULL;
	struct rtnl_link *link = NULL, *change = NULL, *br = NULL;
	uint32_t flags = 0;
	bool exists;
	int r, err;

	if (out && outlen)
		out[0] = '\0';
	if (!netctl_name_allowed(prefix, req->name)) {
		errmsg_set(e, "%s: refused: not a name under the prefix '%s'", req->name, prefix);
		return -EPERM;
	}
	sk = nl_socket_alloc();
	if (!sk)
		return -ENOMEM;
	err = nl_connect(sk, NETLINK_ROUTE);
	if (err < 0) {
		r = nl_err(e, req->name, "netlink", err);
		goto out;
	}
	err = rtnl_link_get_kernel(sk, 0, req->name, &link);
	exists = err >= 0;
	if (exists && tun_flags(req->name, &flags)) {
		errmsg_set(e, "%s: refused: exists and is not a tap device", req->name);
		r = -EPERM;
		goto out;
	}
	if (exists && !(flags & IFF_TAP)) {
		errmsg_set(e, "%s: refused: a tun device, not a tap", req->name);
		r = -EPERM;
		goto out;
	}
	switch (req->verb) {
	case NETCTL_DEL:
		r = 0;
		if (exists) {
			err = rtnl_link_delete(sk, link);
			if (err < 0)
				r = nl_err(e, req->name, "delete", err);
		}
		goto out;
	case NETCTL_SHOW:
		if (!exists) {
			errmsg_set(e, "%s: no such device", req->name);
			r = -ENODEV;
			goto out;
		}
		if (out) {
			int master = rtnl_link_get_master(link);
			char mname[IFNAMSIZ] = "-";

			if (master > 0) {
				struct rtnl_link *m = NULL;

				if (rtnl_link_get_kernel(sk, master, NULL, &m) >= 0) {
					str_copy(mname, sizeof(mname), rtnl_link_get_name(m));
					rtnl_link_put(m);
				}
			}
			snprintf(out, outlen, "name=%s mtu=%u state=%s bridge=%s multi_queue=%s\n",
				 req->name, rtnl_link_get_mtu(link),
				 (rtnl_link_get_flags(link) & IFF_UP) ? "up" : "down", mname,
				 (flags & IFF_MULTI_QUEUE) ? "yes" : "no");
		}
		r = 0;
		goto out;
	case NETCTL_ADD:
		if (exists && !!(flags & IFF_MULTI_QUEUE) != (req->queues > 1)) {
			errmsg_set(e, "%s: exists with %s; delete it first", req->name,
				   (flags & IFF_MULTI_QUEUE) ? "multiple queues"
							     : "a single queue");
			r = -EEXIST;
			goto out;
		}
		if (!exists) {
			r = tap_create(req, e);
			if (r)
				goto out;
			err = rtnl_link_get_kernel(sk, 0, req->name, &link);
			if (err < 0) {
				r = nl_err(e, req->name, "lookup after create", err);
				goto out;
			}
		}
		break;
	default:
		if (!exists) {
			errmsg_set(e, "%s: no such device", req->name);
			r = -ENODEV;
			goto out;
		}
		break;
	}
	if (req->bridge[0]) {
		err = rtnl_link_get_kernel(sk, 0, req->bridge, &br);
		if (err < 0) {
			r = nl_err(e, req->bridge, "bridge", err);
			goto out_undo;
		}
		if (!rtnl_link_is_bridge(br)) {
			errmsg_set(e, "%s: not a bridge", req->bridge);
			r = -EINVAL;
			goto out_undo;
		}
	}
	change = rtnl_link_alloc();
	if (!change) {
		r = -ENOMEM;
		goto out_undo;
	}
	if (req->mtu && rtnl_link_get_mtu(link) != req->mtu)
		rtnl_link_set_mtu(change, req->mtu);
	if (br && rtnl_link_get_master(link) != rtnl_link_get_ifindex(br))
		rtnl_link_set_master(change, rtnl_link_get_ifindex(br));
	if (req->nobridge && rtnl_link_get_master(link) > 0)
		rtnl_link_set_master(change, 0);
	if (req->up == 1 && !(rtnl_link_get_flags(link) & IFF_UP))
		rtnl_link_set_flags(change, IFF_UP);
	if (req->up == 0 && (rtnl_link_get_flags(link) & IFF_UP))
		rtnl_link_unset_flags(change, IFF_UP);
	err = rtnl_link_change(sk, link, change, 0);
	if (err < 0) {
		r = nl_err(e, req->name, "change", err);
		goto out_undo;
	}
	r = 0;
	goto out;
out_undo:
	/* A tap this call created is removed again: nothing half-made is left. */
	if (req->verb == NETCTL_ADD && !exists && link)
		rtnl_link_delete(sk, link);
out:
	if (change)
		rtnl_link_put(change);
	if (br)
		rtnl_link_put(br);
	if (link)
		rtnl_link_put(link);
	nl_socket_free(sk);
	return r;
}
