# qtfs-user: qtfsd (host), qtfs + mount.qtfs (DPU), their tests.
QTFS_COMMON := qtfs-user/proto.c qtfs-user/link.c
QTFS_SERVER := qtfs-user/resolve.c qtfs-user/whitelist.c qtfs-user/handle.c qtfs-user/ident.c \
	qtfs-user/server_conf.c qtfs-user/server_ops.c qtfs-user/server.c
QTFS_CLIENT := qtfs-user/client_nodes.c qtfs-user/client_link.c qtfs-user/client_ops.c \
	qtfs-user/client_opts.c

SBINS += qtfsd qtfs mount.qtfs
qtfsd_SRCS := $(QTFS_COMMON) $(QTFS_SERVER) qtfs-user/qtfsd_main.c
qtfs_SRCS := $(QTFS_COMMON) $(QTFS_CLIENT) qtfs-user/client_main.c
qtfs_PKGS := fuse3
mount.qtfs_SRCS := qtfs-user/client_opts.c qtfs-user/mount_qtfs.c

# test helpers built with the component (tests/integration/qtfs/*.c)
QTFS_TOOLS := $(notdir $(basename $(wildcard tests/integration/qtfs/*.c)))
EXTRA_ALL += $(addprefix $(O)/tests/qtfs/,$(QTFS_TOOLS))
$(O)/tests/qtfs/%: tests/integration/qtfs/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(CFLAGS) $(LDFLAGS_BASE) -o $@ $< $(LDFLAGS)

qtfs_proto_test_SRCS := qtfs-user/proto.c
qtfs_resolve_test_SRCS := qtfs-user/resolve.c
qtfs_whitelist_test_SRCS := qtfs-user/whitelist.c
qtfs_handle_test_SRCS := qtfs-user/handle.c qtfs-user/resolve.c qtfs-user/proto.c
qtfs_server_test_SRCS := $(QTFS_COMMON) $(QTFS_SERVER)
qtfs_opts_test_SRCS := qtfs-user/client_opts.c
qtfs_req_fuzz_SRCS := qtfs-user/proto.c
qtfs_rep_fuzz_SRCS := qtfs-user/proto.c
qtfs_whitelist_fuzz_SRCS := qtfs-user/whitelist.c
qtfs_opts_fuzz_SRCS := qtfs-user/client_opts.c

.PHONY: qtfs-user
qtfs-user: $(O)/bin/qtfsd $(O)/bin/qtfs $(O)/bin/mount.qtfs $(addprefix $(O)/tests/qtfs/,$(QTFS_TOOLS))

# deploy/qtfs: the unit and example configuration (never overwriting an existing one)
INSTALL_HOOKS += qtfs-install
.PHONY: qtfs-install
qtfs-install:
	install -d $(DESTDIR)$(SYSTEMD_UNITDIR) $(DESTDIR)/etc/qtfs $(DESTDIR)/sbin
	install -m 0644 deploy/qtfs/qtfsd.service $(DESTDIR)$(SYSTEMD_UNITDIR)/qtfsd.service
	[ -e $(DESTDIR)/etc/qtfs/qtfsd.conf ] || install -m 0644 deploy/qtfs/qtfsd.conf $(DESTDIR)/etc/qtfs/qtfsd.conf
	[ -e $(DESTDIR)/etc/qtfs/whitelist ] || install -m 0600 deploy/qtfs/whitelist $(DESTDIR)/etc/qtfs/whitelist
	[ -e $(DESTDIR)/etc/qtfs/client.conf ] || install -m 0644 deploy/qtfs/client.conf $(DESTDIR)/etc/qtfs/client.conf
	ln -sf $(PREFIX)/sbin/mount.qtfs $(DESTDIR)/sbin/mount.qtfs
