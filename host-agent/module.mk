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

INSTALL_HOOKS += agents-install
.PHONY: agents-install
agents-install:
	install -d $(DESTDIR)$(SYSTEMD_UNITDIR) $(DESTDIR)/etc/splitvirt \
		$(DESTDIR)/usr/share/doc/splitvirt/examples
	install -m 0644 deploy/agents/splitvirt-hostd.service deploy/agents/splitvirt-dpud.service \
		$(DESTDIR)$(SYSTEMD_UNITDIR)/
	for f in host.conf dpu.conf udsproxy.allow; do \
		test -e $(DESTDIR)/etc/splitvirt/$$f || \
			install -m 0644 deploy/agents/$$f $(DESTDIR)/etc/splitvirt/$$f; \
	done
	install -m 0644 deploy/examples/demo.xml $(DESTDIR)/usr/share/doc/splitvirt/examples/
	install -m 0644 docs/operator-guide.md $(DESTDIR)/usr/share/doc/splitvirt/
