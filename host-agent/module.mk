# host-agent: splitvirt-hostd (supervises qtfsd, udsproxyd, rexec_server) and splitvirt-netctl.
SBINS += splitvirt-netctl
splitvirt-netctl_SRCS := host-agent/netctl_main.c host-agent/netctl.c
splitvirt-netctl_PKGS := libnl-3.0 libnl-route-3.0

SBINS += splitvirt-hostd
HOSTD_SRCS := host-agent/hostd_conf.c host-agent/supervise.c host-agent/whitelist.c
splitvirt-hostd_SRCS := host-agent/hostd.c $(HOSTD_SRCS)

netctl_args_test_SRCS := host-agent/netctl.c
netctl_args_test_PKGS := libnl-3.0 libnl-route-3.0
hostd_conf_test_SRCS := $(HOSTD_SRCS)
hostd_supervise_test_SRCS := $(HOSTD_SRCS)

.PHONY: host-agent
host-agent: $(O)/bin/splitvirt-netctl $(O)/bin/splitvirt-hostd
