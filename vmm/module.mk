# vmm: splitvm, the KVM microVM monitor.

# ---- control surface (vmmctl): command line, QMP, chardev, seccomp; unit tests and fuzz targets
vmm_cmdline_test_SRCS := vmm/cmdline.c
cmdline_fuzz_SRCS := vmm/cmdline.c
vmm_qmp_test_SRCS := vmm/qmp.c
vmm_qmp_test_PKGS := json-c
qmp_fuzz_SRCS := vmm/qmp.c
qmp_fuzz_PKGS := json-c
vmm_chardev_test_SRCS := vmm/chardev.c vmm/cmdline.c
vmm_seccomp_test_SRCS := vmm/seccomp.c vmm/chardev.c
vmm_seccomp_test_PKGS := libseccomp

# ---- virtio (vmmctl): vmm/virtio/ is linked into splitvm; queue tests use mock guest memory
vmm_virtqueue_test_SRCS := vmm/virtio/queue.c vmm/memory.c
virtqueue_fuzz_SRCS := vmm/virtio/queue.c vmm/memory.c
vmm_virtio_blk_test_SRCS := vmm/virtio/blk.c vmm/virtio/mmio.c vmm/virtio/queue.c vmm/memory.c \
	vmm/bus.c vmm/seccomp.c vmm/chardev.c vmm/cmdline.c
vmm_virtio_blk_test_PKGS := liburing libaio libseccomp
vmm_virtio_rng_test_SRCS := vmm/virtio/rng.c vmm/virtio/mmio.c vmm/virtio/queue.c vmm/memory.c \
	vmm/bus.c
vmm_virtio_console_test_SRCS := vmm/virtio/console.c vmm/virtio/mmio.c vmm/virtio/queue.c \
	vmm/memory.c vmm/bus.c vmm/chardev.c vmm/cmdline.c
vmm_virtio_balloon_test_SRCS := vmm/virtio/balloon.c vmm/virtio/mmio.c vmm/virtio/queue.c \
	vmm/memory.c vmm/bus.c vmm/qmp.c
vmm_virtio_balloon_test_PKGS := json-c
vmm_virtio_net_test_SRCS := vmm/virtio/net.c vmm/virtio/mmio.c vmm/virtio/queue.c vmm/memory.c \
	vmm/bus.c vmm/seccomp.c vmm/chardev.c vmm/cmdline.c
vmm_virtio_net_test_PKGS := libseccomp
vmm_vhost_vsock_test_SRCS := vmm/virtio/vhost_vsock.c vmm/memory.c
vmm_virtio_vsock_test_SRCS := vmm/virtio/vsock.c vmm/virtio/vhost_vsock.c vmm/virtio/mmio.c vmm/virtio/queue.c \
	vmm/memory.c vmm/bus.c vmm/seccomp.c vmm/chardev.c vmm/cmdline.c
vmm_virtio_vsock_test_PKGS := libseccomp
virtio_devices_fuzz_SRCS := vmm/virtio/rng.c vmm/virtio/balloon.c vmm/virtio/console.c \
	vmm/virtio/vsock.c vmm/virtio/vhost_vsock.c vmm/virtio/mmio.c vmm/virtio/queue.c \
	vmm/memory.c vmm/bus.c vmm/seccomp.c vmm/chardev.c vmm/cmdline.c vmm/qmp.c
virtio_devices_fuzz_PKGS := libseccomp json-c
virtio_blk_fuzz_SRCS := $(vmm_virtio_blk_test_SRCS)
virtio_blk_fuzz_PKGS := $(vmm_virtio_blk_test_PKGS)

# ---- the machine (vmmcore): splitvm itself, the x86_64 arch, legacy devices, test guests
# (Until the control-surface sources exist, splitvm is left out so `make all` stays green.)
ifeq ($(words $(wildcard vmm/chardev.c vmm/seccomp.c vmm/qmp.c vmm/cmdline.c)),4)
BINS += splitvm
endif
# Wildcards so every vmm/ source (control surface, devices) is linked in.
splitvm_SRCS := $(sort $(wildcard vmm/*.c vmm/arch/x86_64/*.c vmm/devices/*.c vmm/devices/*/*.c))
splitvm_PKGS := json-c libseccomp liburing libaio

# Unit tests and fuzz targets of the machine code.
vmm_kernel_test_SRCS := vmm/arch/x86_64/kernel.c vmm/arch/x86_64/mptable.c vmm/memory.c
vmm_bus_test_SRCS := vmm/bus.c vmm/memory.c
vmm_serial_test_SRCS := vmm/arch/x86_64/serial.c vmm/bus.c vmm/chardev.c vmm/cmdline.c
vmm_rtc_test_SRCS := vmm/arch/x86_64/rtc.c vmm/bus.c vmm/memory.c
kernel_image_fuzz_SRCS := vmm/arch/x86_64/kernel.c vmm/memory.c


# Test guests: freestanding x86-64 programs (never sanitized, always gcc).
VMM_GUEST_DIR := $(O)/vmm/guests
VMM_GUESTS := $(VMM_GUEST_DIR)/guest.bzImage $(VMM_GUEST_DIR)/guest-pvh.elf
VMM_GUEST_CFLAGS := -std=gnu11 -O2 -g0 -ffreestanding -nostdlib -nostdinc -fno-pic -fno-pie \
	-mno-red-zone -mgeneral-regs-only -fno-stack-protector -fcf-protection=none \
	-fno-asynchronous-unwind-tables -mcmodel=small -Wall -Wextra -Werror \
	-isystem $(shell gcc -print-file-name=include)
VMM_GUEST_LDFLAGS := -nostdlib -static -no-pie -Wl,--build-id=none -Wl,-z,noexecstack \
	-Wl,--no-warn-rwx-segments
EXTRA_ALL += $(VMM_GUESTS) $(O)/vmm/tests/forbidden_syscall.so

# LD_PRELOAD helper for the seccomp integration test (not part of splitvm).
$(O)/vmm/tests/forbidden_syscall.so: vmm/tests/forbidden_syscall.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) -shared -o $@ $<

$(VMM_GUEST_DIR)/%.o: vmm/tests/guests/%.c
	@mkdir -p $(dir $@)
	gcc $(VMM_GUEST_CFLAGS) -c $< -o $@
$(VMM_GUEST_DIR)/%.o: vmm/tests/guests/%.S
	@mkdir -p $(dir $@)
	gcc $(VMM_GUEST_CFLAGS) -c $< -o $@
$(VMM_GUEST_DIR)/guest-bz.elf: $(addprefix $(VMM_GUEST_DIR)/,entry.o guest.o setup.o) vmm/tests/guests/guest-bz.ld
	gcc $(VMM_GUEST_LDFLAGS) -T vmm/tests/guests/guest-bz.ld -o $@ $(filter %.o,$^)
$(VMM_GUEST_DIR)/guest.bzImage: $(VMM_GUEST_DIR)/guest-bz.elf
	objcopy -O binary -j .setup -j .text -j .rodata -j .data $< $@
$(VMM_GUEST_DIR)/guest-pvh.elf: $(addprefix $(VMM_GUEST_DIR)/,entry.o guest.o) vmm/tests/guests/guest-pvh.ld
	gcc $(VMM_GUEST_LDFLAGS) -T vmm/tests/guests/guest-pvh.ld -o $@ $(filter %.o,$^)

.PHONY: vmm test-linux
vmm: $(O)/bin/splitvm $(VMM_GUESTS) $(O)/vmm/tests/forbidden_syscall.so

# virtio (vmmctl): the transport, queue and devices in vmm/virtio/ go into splitvm too.
splitvm_SRCS += $(wildcard vmm/virtio/*.c)
splitvm_PKGS += liburing libaio

# ---- devices (vmmdev): ACPI tables, the virtio test guest
vmm_acpi_test_SRCS := vmm/arch/x86_64/acpi.c vmm/memory.c vmm/bus.c
# The device test guest: guest.c's entry code with virtio_guest.c's main and the polled
# virtio-mmio driver (virtio_drv.c); also boots under qemu -M microvm (PVH).
VMM_VGUESTS := $(VMM_GUEST_DIR)/virtio-guest.bzImage $(VMM_GUEST_DIR)/virtio-guest-pvh.elf
VMM_VGUEST_OBJS := $(addprefix $(VMM_GUEST_DIR)/,entry.o virtio_guest.o virtio_drv.o)
EXTRA_ALL += $(VMM_VGUESTS)
$(VMM_GUEST_DIR)/virtio_guest.o $(VMM_GUEST_DIR)/virtio_drv.o: vmm/tests/guests/virtio_drv.h
$(VMM_GUEST_DIR)/virtio-guest-bz.elf: $(VMM_VGUEST_OBJS) $(VMM_GUEST_DIR)/setup.o vmm/tests/guests/guest-bz.ld
	gcc $(VMM_GUEST_LDFLAGS) -T vmm/tests/guests/guest-bz.ld -o $@ $(filter %.o,$^)
$(VMM_GUEST_DIR)/virtio-guest.bzImage: $(VMM_GUEST_DIR)/virtio-guest-bz.elf
	objcopy -O binary -j .setup -j .text -j .rodata -j .data $< $@
$(VMM_GUEST_DIR)/virtio-guest-pvh.elf: $(VMM_VGUEST_OBJS) vmm/tests/guests/guest-pvh.ld
	gcc $(VMM_GUEST_LDFLAGS) -T vmm/tests/guests/guest-pvh.ld -o $@ $(filter %.o,$^)
.PHONY: vmmdev
vmmdev: $(O)/bin/splitvm $(VMM_VGUESTS)

# Boots the Debian cloud kernel where the host KVM can (skips with the reason otherwise).
test-linux: vmm
	@SV_ROOT=$(CURDIR) SV_BUILD=$(abspath $(O)) bash vmm/tests/test-linux.sh
