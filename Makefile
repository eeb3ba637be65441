# splitvirt: one non-recursive GNU make build.
#
# Every component directory holds a module.mk that appends to the lists below
# (BINS, SBINS, SHLIBS, UNIT_TESTS, FUZZ_TARGETS, INSTALL_HOOKS) and names its
# sources as <binary>_SRCS and its pkg-config packages as <binary>_PKGS.
#
#   make [O=dir]         build everything into O (default build/)
#   make SAN=1 ...       ASan+UBSan build (default O=build/san)
#   make test            install deps, then every tier, default and sanitizer builds
#   make check-unit | check-integration | fuzz-smoke | bench | demo | install | clean
#   T=pattern            with check-*: run only tests whose name matches the shell glob

SHELL := /bin/bash
.DEFAULT_GOAL := all

ifeq ($(FUZZ),1)
O ?= build/fuzz
CC := clang
else ifeq ($(SAN),1)
O ?= build/san
else
O ?= build
endif

PREFIX ?= /usr
DESTDIR ?=
# Where module.mk install hooks put systemd units (Debian's path).
SYSTEMD_UNITDIR ?= /lib/systemd/system
T ?= *

CC ?= gcc
PKG_CONFIG ?= pkg-config

# pkg-config flags for a list of packages; libaio and libfdt ship no .pc file in
# Debian, so fall back to the plain -l name for those.
pkg_cflags = $(foreach p,$(1),$(shell $(PKG_CONFIG) --cflags $(p) 2>/dev/null))
pkg_libs = $(foreach p,$(1),$(shell $(PKG_CONFIG) --libs $(p) 2>/dev/null || echo -l$(patsubst lib%,%,$(p))))

WARN := -Wall -Wextra -Werror -Wno-unused-parameter -Wshadow -Wformat=2 -Wvla
CFLAGS_BASE := -std=gnu11 -g -O2 -fPIC -D_GNU_SOURCE -I. -Ilib $(WARN) -MMD -MP
LDFLAGS_BASE := -pthread

ifeq ($(SAN),1)
CFLAGS_BASE += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined -O1
LDFLAGS_BASE += -fsanitize=address,undefined
endif
ifeq ($(FUZZ),1)
CFLAGS_BASE += -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer -DSV_FUZZING
LDFLAGS_BASE += -fsanitize=address,undefined
endif

BINS :=
SBINS :=
SHLIBS :=
UNIT_TESTS :=
FUZZ_TARGETS :=
INSTALL_HOOKS :=
EXTRA_ALL :=

# ---- lib/: the shared static library --------------------------------------
LIB_PKGS := openssl inih
LIB_SRCS := $(wildcard lib/*.c)
LIB_OBJS := $(LIB_SRCS:%.c=$(O)/obj/%.o)
LIBSV := $(O)/libsplitvirt.a

$(O)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(PKG_CFLAGS) $(CFLAGS) -c $< -o $@

$(LIBSV): $(LIB_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

-include $(sort $(wildcard */module.mk))

PKGS_ALL = $(sort $(LIB_PKGS) cmocka $(foreach b,$(BINS) $(SBINS) $(SHLIBS) $(UNIT_TESTS) $(FUZZ_TARGETS),$($(b)_PKGS)))

# ---- link templates ---------------------------------------------------------
define bin_template
$(O)/bin/$(1): $$(patsubst %.c,$(O)/obj/%.o,$$($(1)_SRCS)) $(LIBSV)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(LDFLAGS_BASE) -o $$@ $$(filter %.o,$$^) $(LIBSV) $$(call pkg_libs,$$($(1)_PKGS) $(LIB_PKGS)) $$($(1)_LDLIBS) $$(LDFLAGS)
endef
define shlib_template
$(O)/lib/$(1): $$(patsubst %.c,$(O)/obj/%.o,$$($(1)_SRCS)) $(LIBSV)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(LDFLAGS_BASE) -shared -Wl,-z,defs -o $$@ $$(filter %.o,$$^) $(LIBSV) $$(call pkg_libs,$$($(1)_PKGS) $(LIB_PKGS)) $$($(1)_LDLIBS) -ldl $$(LDFLAGS)
endef
define unit_template
$(O)/tests/unit/$(1): $(O)/obj/tests/unit/$(1).o $$(patsubst %.c,$(O)/obj/%.o,$$($(1)_SRCS)) $(LIBSV)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(LDFLAGS_BASE) -o $$@ $$(filter %.o,$$^) $(LIBSV) $$(call pkg_libs,cmocka $$($(1)_PKGS) $(LIB_PKGS)) $$($(1)_LDLIBS) $$(LDFLAGS)
endef
define fuzz_template
$(O)/tests/fuzz/$(1): $(O)/obj/tests/fuzz/$(1).o $$(patsubst %.c,$(O)/obj/%.o,$$($(1)_SRCS)) $(LIBSV)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(LDFLAGS_BASE) -fsanitize=fuzzer -o $$@ $$(filter %.o,$$^) $(LIBSV) $$(call pkg_libs,$$($(1)_PKGS) $(LIB_PKGS)) $$($(1)_LDLIBS) $$(LDFLAGS)
endef

# Unit tests and fuzz targets are discovered by file name; a module.mk may add
# <name>_SRCS/<name>_PKGS for the component code a test needs.
UNIT_TESTS += $(notdir $(basename $(wildcard tests/unit/*_test.c)))
FUZZ_TARGETS += $(notdir $(basename $(wildcard tests/fuzz/*_fuzz.c)))
UNIT_TESTS := $(sort $(UNIT_TESTS))
FUZZ_TARGETS := $(sort $(FUZZ_TARGETS))

PKG_CFLAGS := $(sort $(call pkg_cflags,$(PKGS_ALL)))

$(foreach b,$(BINS) $(SBINS),$(eval $(call bin_template,$(b))))
$(foreach s,$(SHLIBS),$(eval $(call shlib_template,$(s))))
$(foreach t,$(UNIT_TESTS),$(eval $(call unit_template,$(t))))
$(foreach f,$(FUZZ_TARGETS),$(eval $(call fuzz_template,$(f))))

ALL_BINS := $(addprefix $(O)/bin/,$(BINS) $(SBINS)) $(addprefix $(O)/lib/,$(SHLIBS))
ALL_UNIT := $(addprefix $(O)/tests/unit/,$(UNIT_TESTS))
ALL_FUZZ := $(addprefix $(O)/tests/fuzz/,$(FUZZ_TARGETS))

# ---- targets ----------------------------------------------------------------
.PHONY: all deps unit-bins fuzz-bins test check-unit check-integration fuzz-smoke bench \
	demo install clean format format-check

all: $(LIBSV) $(ALL_BINS) $(EXTRA_ALL)

deps:
	@bash deploy/install-deps.sh

unit-bins: $(ALL_UNIT)

fuzz-bins:
ifeq ($(FUZZ),1)
fuzz-bins: $(ALL_FUZZ)
else
	@$(MAKE) --no-print-directory FUZZ=1 fuzz-bins
endif

# Every tier, default build then sanitizer build, then fuzz smoke; one summary line.
test: deps
	@bash tests/run-all.sh

check-unit: all unit-bins
	@bash tests/run-tier.sh unit "$(O)" "$(T)"

# SV_SAN=1 tells the tests they run sanitizer binaries (preload tests put the ASan runtime
# first; volume tests scale down), as tests/run-all.sh does for `make test`
check-integration: all
	@$(if $(filter 1,$(SAN)),SV_SAN=1 )bash tests/run-tier.sh integration "$(O)" "$(T)"

fuzz-smoke:
	@$(MAKE) --no-print-directory FUZZ=1 fuzz-bins
	@bash tests/run-tier.sh fuzz build/fuzz "$(T)"

bench: deps
	@$(MAKE) --no-print-directory all
	@bash tests/bench/run.sh "$(O)" "$(T)"

demo: deps
	@$(MAKE) --no-print-directory all
	@bash examples/demo.sh "$(O)"

install: all $(INSTALL_HOOKS)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/lib64
	$(if $(BINS),install -m 0755 $(addprefix $(O)/bin/,$(BINS)) $(DESTDIR)$(PREFIX)/bin/)
	$(if $(SBINS),install -m 0755 $(addprefix $(O)/bin/,$(SBINS)) $(DESTDIR)$(PREFIX)/sbin/)
	$(if $(SHLIBS),install -m 0755 $(addprefix $(O)/lib/,$(SHLIBS)) $(DESTDIR)$(PREFIX)/lib64/)

FORMAT_FILES = $(shell git ls-files '*.c' '*.h' 2>/dev/null | grep -v '^vmm/tests/guests/')
format:
	clang-format -i $(FORMAT_FILES)
format-check:
	@clang-format --dry-run --Werror $(FORMAT_FILES) && echo "format-check: ok"

clean:
	rm -rf build

-include $(shell find $(O)/obj -name '*.d' 2>/dev/null)
