#!/usr/bin/env bash
# splitvm vs QEMU microvm, same device test guest (PVH ELF for both; QEMU with acpi=off so it
# appends virtio_mmio.device= entries, and force-legacy=false for virtio-mmio v2), on a raw
# image in /dev/shm (tmpfs, O_DIRECT): virtio-blk 4 KiB random-read IOPS (16 in flight),
# 1 MiB sequential read and write MiB/s (4 in flight), with aio=io_uring and aio=native; and
# MMIO notify round trips per second (GET_ID requests at queue depth 1).
# The guest times its own workload (TSC, calibrated against the PIT both VMMs get from KVM),
# so VMM start-up and guest boot are not counted; each figure is the best of $REPS runs.
# Usage: tests/bench/vmmdev.sh [BUILD_DIR]   (env: REPS=3 N_RAND=20000 N_SEQ=2000 N_NOTIFY=20000)
set -u
: "${SV_ROOT:=$(cd "$(dirname "$0")/../.." && pwd)}"
BUILD=${1:-${SV_BUILD:-$SV_ROOT/build}}
SPLITVM=$BUILD/bin/splitvm
GUEST=$BUILD/vmm/guests/virtio-guest-pvh.elf
: "${REPS:=3}" "${N_RAND:=20000}" "${N_SEQ:=2000}" "${N_NOTIFY:=20000}"
if [ ! -x "$SPLITVM" ] || [ ! -f "$GUEST" ]; then
	echo "vmmdev bench: build first (make vmm vmmdev): missing $SPLITVM or $GUEST" >&2
	exit 1
fi
HAVE_QEMU=1
command -v qemu-system-x86_64 >/dev/null || HAVE_QEMU=0
IMG=$(mktemp /dev/shm/sv-vmmdev-bench.XXXXXX)
OUT=$(mktemp -d /tmp/sv-vmmdev-bench.XXXXXX)
trap 'rm -rf "$IMG" "$OUT"' EXIT
# 256 MiB, written so reads hit real pages.
dd if=/dev/urandom of="$IMG" bs=1M count=256 status=none

run_splitvm() { # AIO OP N -> prints the guest's microseconds for the workload
	rm -f "$OUT/s.serial" # splitvm appends to a serial file
	timeout 300 "$SPLITVM" -m 256 -kernel "$GUEST" -append "sv.test=blkbench sv.op=$2 sv.n=$3" \
		-serial "file,path=$OUT/s.serial" -drive "id=d0,file=$IMG,aio=$1,direct=on" \
		-device virtio-blk-device,drive=d0,id=b0 </dev/null >/dev/null 2>"$OUT/s.err"
	sed -n "s/^SVTEST bench done n=$3 errors=0 us=\([0-9]*\) .*/\1/p" "$OUT/s.serial"
}

run_qemu() { # AIO OP N -> prints the guest's microseconds for the workload
	rm -f "$OUT/q.serial"
	timeout 300 qemu-system-x86_64 -M microvm,acpi=off -enable-kvm -cpu host -m 256 -nodefaults \
		-no-user-config -nographic -display none -serial "file:$OUT/q.serial" \
		-device isa-debug-exit,iobase=0xf4,iosize=4 -global virtio-mmio.force-legacy=false \
		-kernel "$GUEST" -append "sv.test=blkbench sv.op=$2 sv.n=$3" \
		-drive "id=d0,file=$IMG,format=raw,if=none,aio=$1,cache=none" \
		-device virtio-blk-device,drive=d0 </dev/null >/dev/null 2>"$OUT/q.err"
	sed -n "s/^SVTEST bench done n=$3 errors=0 us=\([0-9]*\) .*/\1/p" "$OUT/q.serial"
}

# Requests per second: N over the shortest of REPS guest-timed runs; n/a if a run failed.
rate() { # RUNNER AIO OP N
	local best= i us
	for ((i = 0; i < REPS; i++)); do
		us=$("$1" "$2" "$3" "$4")
		if [ -z "$us" ] || [ "$us" -le 0 ]; then echo "n/a"; return; fi
		if [ -z "$best" ] || [ "$us" -lt "$best" ]; then best=$us; fi
	done
	awk -v n="$4" -v us="$best" 'BEGIN {printf "%.0f", n / (us / 1e6)}'
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (a == "n/a" || b == "n/a" || b == 0) print "n/a"; else printf "%.2fx", a / b}'; }

printf '%-34s %14s %14s %9s\n' "vmmdev bench (best of $REPS)" splitvm qemu-microvm ratio
line() { # LABEL SPLITVM QEMU
	printf '%-34s %14s %14s %9s\n' "$1" "$2" "$3" "$(ratio "$2" "$3")"
}
for aio in io_uring native; do
	s=$(rate run_splitvm "$aio" randread "$N_RAND")
	q=n/a
	[ $HAVE_QEMU = 1 ] && q=$(rate run_qemu "$aio" randread "$N_RAND")
	line "blk 4k randread IOPS aio=$aio" "$s" "$q"
	for op in seqread seqwrite; do
		s=$(rate run_splitvm "$aio" "$op" "$N_SEQ")
		q=n/a
		[ $HAVE_QEMU = 1 ] && q=$(rate run_qemu "$aio" "$op" "$N_SEQ")
		line "blk 1M $op MiB/s aio=$aio" "$s" "$q" # 1 MiB requests: requests/s = MiB/s
	done
done
s=$(rate run_splitvm io_uring notify "$N_NOTIFY")
q=n/a
[ $HAVE_QEMU = 1 ] && q=$(rate run_qemu io_uring notify "$N_NOTIFY")
line "MMIO notify round trips/s" "$s" "$q"
