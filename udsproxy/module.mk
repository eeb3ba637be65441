# udsproxy: cross-host unix sockets: udsproxyd, libudsproxy.so (LD_PRELOAD), qtcfg.
UDSP_PROTO_SRCS := udsproxy/proto.c udsproxy/flow.c udsproxy/addr.c udsproxy/ctlmsg.c
UDSP_CLIENT_SRCS := $(UDSP_PROTO_SRCS) udsproxy/client.c udsproxy/qtlist.c
# For other components that call udsproxy_connect() (udsproxy/udsproxy_client.h).
UDSPROXY_CLIENT_SRCS := udsproxy/client.c udsproxy/proto.c udsproxy/addr.c udsproxy/ctlmsg.c
UDSP_DAEMON_SRCS := $(UDSP_PROTO_SRCS) udsproxy/link.c udsproxy/stream.c udsproxy/target.c \
	udsproxy/policy.c udsproxy/ctl.c udsproxy/status.c udsproxy/mirror.c udsproxy/fdpass.c \
	udsproxy/dgram.c udsproxy/client.c

SBINS += udsproxyd
udsproxyd_SRCS := udsproxy/main.c $(UDSP_DAEMON_SRCS)

BINS += qtcfg
qtcfg_SRCS := udsproxy/qtcfg.c udsproxy/qtlist.c

SHLIBS += libudsproxy.so
libudsproxy.so_SRCS := udsproxy/shim.c $(UDSP_CLIENT_SRCS)
libudsproxy.so_LDLIBS := -Wl,--version-script=udsproxy/libudsproxy.map

# Unit tests: the daemon's pure parts and, with real socketpairs, its stream engine.
udsproxy_proto_test_SRCS := $(UDSP_PROTO_SRCS)
udsproxy_flow_test_SRCS := udsproxy/flow.c
udsproxy_qtlist_test_SRCS := udsproxy/qtlist.c

udsproxy_stream_test_SRCS := $(filter-out udsproxy/client.c,$(UDSP_DAEMON_SRCS)) udsproxy/client.c
udsproxy_proto_fuzz_SRCS := $(UDSP_PROTO_SRCS)
udsproxy_ctlmsg_fuzz_SRCS := $(UDSP_PROTO_SRCS)
udsproxy_qtlist_fuzz_SRCS := udsproxy/qtlist.c

# The bench client is a test tool, not installed.
UDSP_BENCH := $(O)/tests/bench/udsproxy_bench
EXTRA_ALL += $(UDSP_BENCH)
$(UDSP_BENCH): tests/bench/udsproxy_bench.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(CFLAGS) -o $@ $< $(LDFLAGS_BASE) $(LDFLAGS)

INSTALL_HOOKS += udsproxy-install
.PHONY: udsproxy udsproxy-install
udsproxy: $(O)/bin/udsproxyd $(O)/bin/qtcfg $(O)/lib/libudsproxy.so $(UDSP_BENCH)
udsproxy-install:
	install -d $(DESTDIR)$(SYSTEMD_UNITDIR) $(DESTDIR)/etc/udsproxy
	install -m 0644 deploy/udsproxy/udsproxyd.service $(DESTDIR)$(SYSTEMD_UNITDIR)/
	test -e $(DESTDIR)/etc/udsproxy/udsproxyd.conf || \
		install -m 0644 deploy/udsproxy/udsproxyd.conf $(DESTDIR)/etc/udsproxy/
	test -e $(DESTDIR)/etc/udsproxy/allow || \
		install -m 0644 deploy/udsproxy/allow.example $(DESTDIR)/etc/udsproxy/allow
