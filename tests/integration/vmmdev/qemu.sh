#!/usr/bin/env bash
# The device test guest's virtio-mmio driver against a reference implementation: the same
# PVH guest under qemu-system-x86_64 -M microvm (acpi=off so QEMU appends the
# virtio_mmio.device= entries, force-legacy=false for virtio-mmio v2) reads the rng file's
# bytes in order and runs a short virtio-blk read/write/GET_ID workload, as it does under
# splitvm (which the benchmark relies on).
source "$(dirname "$0")/../../lib/tap.sh"
source "$(dirname "$0")/vmmdev-lib.bash"
vmmdev_require
if ! command -v qemu-system-x86_64 >/dev/null; then
	tap_skip "qemu microvm" "qemu-system-x86_64 is not installed"
	tap_done
	exit 0
fi

qemu_run() { # NAME APPEND ARGS...
	local name=$1 append=$2
	shift 2
	timeout -k 2 60 qemu-system-x86_64 -M microvm,acpi=off -enable-kvm -cpu host -m 256 \
		-nodefaults -no-user-config -nographic -display none -serial "file:$T/$name.serial" \
		-device isa-debug-exit,iobase=0xf4,iosize=4 -global virtio-mmio.force-legacy=false \
		-kernel "$VGUEST_PVH" -append "$append" "$@" </dev/null >"$T/$name.out" 2>&1
	QEMU_STATUS=$?
}

head -c 8192 /dev/urandom >"$T/entropy"
qemu_run rng "sv.test=rng sv.bytes=2048 sv.chunk=128" \
	-object "rng-random,id=r0,filename=$T/entropy" -device virtio-rng-device,rng=r0
tap_expect_eq "qemu rng: guest exits through isa-debug-exit with success" 1 "$QEMU_STATUS"
want=$(head -c 2048 "$T/entropy" | cksum | awk '{print $1}')
tap_expect_eq "qemu rng: the guest got the file's first 2048 bytes" "$want" \
	"$(sed -n 's/^SVTEST rng bytes=2048 cksum=\([0-9]*\)$/\1/p' "$T/rng.serial")"

truncate -s 16M "$T/disk.img"
for op in randread seqwrite seqread notify; do
	qemu_run "blk-$op" "sv.test=blkbench sv.op=$op sv.n=40" \
		-drive "id=d0,file=$T/disk.img,format=raw,if=none" -device virtio-blk-device,drive=d0
	tap_check "qemu blk $op: 40 requests completed without error" \
		grep -q 'SVTEST bench done n=40 errors=0' "$T/blk-$op.serial"
	vm_run "s-blk-$op" -m 256 -kernel "$VGUEST_PVH" -append "sv.test=blkbench sv.op=$op sv.n=40" \
		-drive "id=d0,file=$T/disk.img,direct=off" -device virtio-blk-device,drive=d0,id=b0
	tap_check "splitvm blk $op: 40 requests completed without error" \
		grep -q 'SVTEST bench done n=40 errors=0' "$T/s-blk-$op.serial"
done
tap_done
