# dpu-agent: splitvirt-dpud (the DPU-side domain manager) and the splitvirt CLI.
DPUD_CORE_SRCS := dpu-agent/domain_xml.c dpu-agent/render.c dpu-agent/store.c
DPUD_CORE_PKGS := libxml-2.0

dpud_domain_test_SRCS := $(DPUD_CORE_SRCS)
dpud_domain_test_PKGS := $(DPUD_CORE_PKGS)
dpud_store_test_SRCS := $(DPUD_CORE_SRCS)
dpud_store_test_PKGS := $(DPUD_CORE_PKGS)
dpud_render_test_SRCS := $(DPUD_CORE_SRCS)
dpud_render_test_PKGS := $(DPUD_CORE_PKGS)
domain_xml_fuzz_SRCS := $(DPUD_CORE_SRCS)
domain_xml_fuzz_PKGS := $(DPUD_CORE_PKGS)

.PHONY: dpu-agent
dpu-agent: $(patsubst %.c,$(O)/obj/%.o,$(DPUD_CORE_SRCS))
