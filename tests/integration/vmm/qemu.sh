#!/usr/bin/env bash
# The same test guest (PVH variant) boots under qemu-system-x86_64 -M microvm and passes its
# boot-contract checks there too, so the benchmark compares like with like.
source "$(dirname "$0")/../../lib/tap.sh"
source "$(dirname "$0")/vmm-lib.bash"
vmm_require
if ! command -v qemu-system-x86_64 >/dev/null; then
	tap_skip "qemu microvm" "qemu-system-x86_64 is not installed"
	tap_done
	exit 0
fi

head -c 65536 /dev/urandom >"$T/initrd"
read -r want_sum want_size _ < <(cksum <"$T/initrd")
cmdline="sv.mem=256 hello=world"
timeout -k 2 60 qemu-system-x86_64 -M microvm -enable-kvm -cpu host -m 256 -nodefaults \
	-no-user-config -nographic -display none -serial "file:$T/q.serial" \
	-device isa-debug-exit,iobase=0xf4,iosize=4 \
	-kernel "$GUEST_PVH" -initrd "$T/initrd" -append "$cmdline" </dev/null >"$T/q.out" 2>&1
st=$?
# isa-debug-exit: the guest writes 0 on success -> QEMU exits (0 << 1) | 1.
tap_expect_eq "QEMU microvm: guest exits through isa-debug-exit with success" 1 "$st"
tap_expect_eq "QEMU microvm: guest passes its checks" "SVTEST result pass" "$(grep -a 'SVTEST result' "$T/q.serial")"
tap_expect_eq "QEMU microvm: no failed check" "" "$(grep -a 'SVTEST FAIL' "$T/q.serial")"
tap_expect_eq "QEMU microvm: command line delivered" "SVTEST cmdline=$cmdline" "$(grep -a 'SVTEST cmdline=' "$T/q.serial")"
tap_expect_eq "QEMU microvm: initrd delivered" "SVTEST initrd cksum=$want_sum size=$want_size" \
	"$(grep -a 'SVTEST initrd cksum' "$T/q.serial")"
tap_expect_eq "QEMU microvm: e820 matches -m" "SVTEST ok e820 matches -m: 256" "$(grep -a 'matches -m' "$T/q.serial")"
tap_done
