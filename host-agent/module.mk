# host-agent: splitvirt-hostd (supervises qtfsd, udsproxyd, rexec_server) and splitvirt-netctl.
SBINS += splitvirt-netctl
splitvirt-netctl_SRCS := host-agent/netctl_main.c host-agent/netctl.c
splitvirt-netctl_PKGS := libnl-3.0 libnl-route-3.0

netctl_args_test_SRCS := host-agent/netctl.c
netctl_args_test_PKGS := libnl-3.0 libnl-route-3.0

.PHONY: host-agent
host-agent: $(O)/bin/splitvirt-netctl
