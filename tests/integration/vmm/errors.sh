#!/usr/bin/env bash
# Bad kernels and initrds are refused with one line naming the file and the reason and a
# non-zero exit: missing, a directory, empty, truncated (bzImage and ELF), not a kernel, an
# ELF without a PVH note, an initrd too large for memory, a command line too long. A guest
# poking junk at ports and unbacked MMIO does not bring splitvm down.
source "$(dirname "$0")/../../lib/tap.sh"
source "$(dirname "$0")/vmm-lib.bash"
vmm_require

refused() { # NAME PATTERN ARGS...
	local name=$1 pat=$2
	shift 2
	vm_run "$name" "$@"
	local err
	err=$(cat "$T/$name.err")
	if [ "$VM_STATUS" -ne 0 ] && [ "$VM_STATUS" -lt 128 ] && [ "$(wc -l <"$T/$name.err")" -eq 1 ] &&
		grep -qE -- "$pat" <<<"$err"; then
		tap_ok "$name: refused with '$err'"
	else
		tap_fail "$name: refused with one line matching $pat" "status $VM_STATUS: $err"
	fi
}

refused missing "^splitvm: -kernel $T/nope: No such file or directory\$" -kernel "$T/nope"
mkdir "$T/dir"
refused directory "^splitvm: -kernel $T/dir: is a directory\$" -kernel "$T/dir"
: >"$T/empty"
refused empty "^splitvm: -kernel $T/empty: .*empty" -kernel "$T/empty"
head -c 2000 "$GUEST_BZ" >"$T/trunc.bz"
refused truncated-bzimage "^splitvm: -kernel $T/trunc.bz: truncated: header says [0-9]+ bytes of kernel, file has [0-9]+\$" \
	-kernel "$T/trunc.bz"
head -c 700 "$GUEST_BZ" >"$T/trunc-setup.bz"
refused truncated-setup "^splitvm: -kernel $T/trunc-setup.bz: .*(truncated|not a Linux kernel)" -kernel "$T/trunc-setup.bz"
head -c 3000 "$GUEST_PVH" >"$T/trunc.elf"
refused truncated-elf "^splitvm: -kernel $T/trunc.elf: truncated" -kernel "$T/trunc.elf"
head -c 8192 /dev/urandom >"$T/random"
refused not-a-kernel "^splitvm: -kernel $T/random: not a Linux kernel" -kernel "$T/random"
cp /bin/true "$T/true.elf"
refused elf-without-pvh "^splitvm: -kernel $T/true.elf: ELF kernel has no PVH entry note" -kernel "$T/true.elf"
truncate -s 200M "$T/huge.initrd"
refused initrd-too-large "^splitvm: -initrd $T/huge.initrd: too large for guest memory" \
	-m 128 -kernel "$GUEST_BZ" -initrd "$T/huge.initrd"
refused initrd-missing "^splitvm: -initrd $T/nope: No such file or directory\$" \
	-kernel "$GUEST_BZ" -initrd "$T/nope"
refused cmdline-too-long "^splitvm: -append: kernel command line is 3000 bytes, the kernel takes at most 2047\$" \
	-kernel "$GUEST_BZ" -append "$(head -c 3000 /dev/zero | tr '\0' x)"
refused no-kernel "^splitvm: -kernel: " -m 128
refused apic-id-range "^splitvm: -smp: vCPU 160 \(socket 2, core 0\) would get an APIC ID above 254" \
	-m 128 -smp 240,sockets=3,cores=80,threads=1 -kernel "$GUEST_BZ"

# A guest writing junk to every legacy port and reading/writing addresses with neither RAM nor
# a device: splitvm answers all-ones, keeps running, and the guest powers off normally.
vm_run hostile -m 256 -smp 2 -kernel "$GUEST_BZ" -append "sv.test=hostile"
tap_expect_eq "hostile port/MMIO junk: splitvm survives, guest powers off (exit 0)" 0 "$VM_STATUS"
tap_check "hostile port/MMIO junk: the guest got through it" serial_grep hostile 'SVTEST hostile done'
tap_done
