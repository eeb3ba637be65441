# rexec: remote execution with allowlists (rexec client, rexec_server daemon).
REXEC_CORE := rexec/proto.c rexec/rules.c rexec/env.c rexec/registry.c rexec/link.c
BINS += rexec
SBINS += rexec_server
rexec_SRCS := rexec/client.c rexec/pty.c $(REXEC_CORE)
rexec_PKGS := openssl
rexec_server_SRCS := rexec/server.c rexec/session.c rexec/spawn.c rexec/pty.c $(REXEC_CORE)
rexec_server_PKGS := openssl

# Unit tests and fuzz targets link the component code they exercise.
rexec_proto_test_SRCS := $(REXEC_CORE)
rexec_rules_test_SRCS := $(REXEC_CORE)
rexec_env_test_SRCS := $(REXEC_CORE)
rexec_registry_test_SRCS := $(REXEC_CORE)
rexec_proto_fuzz_SRCS := $(REXEC_CORE)
rexec_whitelist_fuzz_SRCS := $(REXEC_CORE)
rexec_registry_fuzz_SRCS := $(REXEC_CORE)
rexec_envpolicy_fuzz_SRCS := $(REXEC_CORE)
rexec_link_test_SRCS := $(REXEC_CORE)

REXEC_DEPLOY := deploy/rexec
INSTALL_HOOKS += rexec-install

.PHONY: rexec rexec-install
rexec: $(O)/bin/rexec $(O)/bin/rexec_server \
	$(patsubst tests/unit/%.c,$(O)/tests/unit/%,$(wildcard tests/unit/rexec_*_test.c))

rexec-install:
	install -d $(DESTDIR)$(SYSTEMD_UNITDIR) $(DESTDIR)/etc/rexec
	install -m 0644 $(REXEC_DEPLOY)/rexec.service $(DESTDIR)$(SYSTEMD_UNITDIR)/rexec.service
	test -e $(DESTDIR)/etc/rexec/rexec_server.conf || \
		install -m 0644 $(REXEC_DEPLOY)/rexec_server.conf $(DESTDIR)/etc/rexec/rexec_server.conf
	test -e $(DESTDIR)/etc/rexec/whitelist || \
		install -m 0400 $(REXEC_DEPLOY)/whitelist $(DESTDIR)/etc/rexec/whitelist
