# vmm: splitvm, the KVM microVM monitor.

# ---- control surface (vmmctl): command line, QMP, chardev, seccomp; unit tests and fuzz targets
vmm_cmdline_test_SRCS := vmm/cmdline.c
cmdline_fuzz_SRCS := vmm/cmdline.c
vmm_qmp_test_SRCS := vmm/qmp.c
vmm_qmp_test_PKGS := json-c
qmp_fuzz_SRCS := vmm/qmp.c
qmp_fuzz_PKGS := json-c
vmm_chardev_test_SRCS := vmm/chardev.c vmm/cmdline.c
