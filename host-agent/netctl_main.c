/* splitvirt-netctl: the host's tap helper, run by the DPU agent through rexec. */
#include <stdio.h>

#include "netctl.h"

#define HOST_CONF "/etc/splitvirt/host.conf"

int main(int argc, char **argv)
{
	struct netctl_req req;
	struct errmsg e = {{0}};
	char prefix[16], out[256];

	if (argc == 2 &&
	    (!__builtin_strcmp(argv[1], "-h") || !__builtin_strcmp(argv[1], "--help"))) {
		printf("usage: splitvirt-netctl add TAP [--bridge BR] [--mtu N] [--queues N] "
		       "[--owner UID] [--up|--down]\n"
		       "       splitvirt-netctl set TAP [--bridge BR|--nobridge] [--mtu N] "
		       "[--up|--down]\n"
		       "       splitvirt-netctl del|up|down|show TAP\n"
		       "Only taps whose names start with [netctl] prefix of " HOST_CONF
		       " (default \"" NETCTL_PREFIX_DEFAULT "\") are touched.\n");
		return 0;
	}
	if (netctl_parse_args(argc - 1, argv + 1, &req, &e)) {
		fprintf(stderr, "splitvirt-netctl: %s\n", errmsg_str(&e));
		return 2;
	}
	if (netctl_load_prefix(HOST_CONF, prefix, sizeof(prefix), &e)) {
		fprintf(stderr, "splitvirt-netctl: %s\n", errmsg_str(&e));
		return 1;
	}
	if (netctl_apply(&req, prefix, out, sizeof(out), &e)) {
		fprintf(stderr, "splitvirt-netctl: %s\n", errmsg_str(&e));
		return 1;
	}
	fputs(out, stdout);
	return 0;
}
