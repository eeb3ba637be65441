# dpu-agent: splitvirt-dpud (the DPU-side domain manager) and the splitvirt CLI.
DPUD_CORE_SRCS := dpu-agent/domain_xml.c dpu-agent/render.c dpu-agent/store.c
DPUD_CORE_PKGS := libxml-2.0
DPUD_RPC_SRCS := dpu-agent/rpc.c
DPUD_MGR_SRCS = $(DPUD_CORE_SRCS) $(DPUD_RPC_SRCS) dpu-agent/mgr.c dpu-agent/api.c dpu-agent/console.c \
	dpu-agent/qmp_client.c dpu-agent/hostexec.c dpu-agent/hostsock.c
DPUD_PKGS := libxml-2.0 json-c

# The DPU reaches host sockets through udsproxy's client library when it is in the tree
# (recursive '=' because udsproxy/module.mk is read after this file).
ifneq ($(wildcard udsproxy/udsproxy_client.h),)
DPUD_MGR_SRCS += $(UDSP_CLIENT_SRCS)
$(O)/obj/dpu-agent/hostsock.o: CFLAGS += -DHAVE_UDSPROXY_CLIENT
endif

SBINS += splitvirt-dpud
splitvirt-dpud_SRCS = dpu-agent/dpud.c host-agent/supervise.c $(DPUD_MGR_SRCS)
splitvirt-dpud_PKGS := $(DPUD_PKGS)

BINS += splitvirt
splitvirt_SRCS := dpu-agent/cli.c dpu-agent/cli_fmt.c dpu-agent/rpc.c dpu-agent/domain_xml.c
splitvirt_PKGS := $(DPUD_PKGS)

dpud_domain_test_SRCS := $(DPUD_CORE_SRCS)
dpud_domain_test_PKGS := $(DPUD_CORE_PKGS)
dpud_render_test_SRCS := $(DPUD_CORE_SRCS)
dpud_render_test_PKGS := $(DPUD_CORE_PKGS)
dpud_store_test_SRCS := $(DPUD_CORE_SRCS)
dpud_store_test_PKGS := $(DPUD_CORE_PKGS)
dpud_rpc_test_SRCS := $(DPUD_RPC_SRCS)
dpud_rpc_test_PKGS := json-c
dpud_cli_test_SRCS := dpu-agent/cli_fmt.c
dpud_cli_test_PKGS := json-c
dpud_api_test_SRCS = $(DPUD_MGR_SRCS) host-agent/supervise.c
dpud_api_test_PKGS := $(DPUD_PKGS)
domain_xml_fuzz_SRCS := $(DPUD_CORE_SRCS)
domain_xml_fuzz_PKGS := $(DPUD_CORE_PKGS)
dpud_rpc_fuzz_SRCS := $(DPUD_RPC_SRCS)
dpud_rpc_fuzz_PKGS := json-c

.PHONY: dpu-agent
dpu-agent: $(O)/bin/splitvirt-dpud $(O)/bin/splitvirt
