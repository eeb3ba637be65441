#!/usr/bin/env bash
# splitvm boots the test guests under KVM and they find the boot contract kept: 64-bit entry,
# RSI -> boot_params (or PVH start_info), the command line byte for byte, the initrd's bytes
# and size, an e820 map matching -m (also across the 32-bit hole), and power-off -> exit 0.
source "$(dirname "$0")/../../lib/tap.sh"
source "$(dirname "$0")/vmm-lib.bash"
vmm_require

head -c 65536 /dev/urandom >"$T/initrd"
read -r want_sum want_size _ < <(cksum <"$T/initrd")

for kind in bz pvh; do
	[ $kind = bz ] && kernel=$GUEST_BZ || kernel=$GUEST_PVH
	cmdline="console=ttyS0 sv.mem=256 quiet x=\"a b\" end"
	vm_run $kind -m 256 -kernel "$kernel" -initrd "$T/initrd" -append "$cmdline"
	tap_expect_eq "$kind: guest powers off and splitvm exits 0" 0 "$VM_STATUS"
	tap_expect_eq "$kind: guest reports no failed check" "" "$(serial_grep $kind 'SVTEST FAIL')"
	tap_expect_eq "$kind: guest ran every check" "SVTEST result pass" "$(serial_grep $kind 'SVTEST result')"
	[ $kind = bz ] && entry=linux64 || entry=pvh
	tap_expect_eq "$kind: entered through the $entry entry" "SVTEST entry $entry" \
		"$(serial_grep $kind 'SVTEST entry')"
	tap_expect_eq "$kind: 64-bit mode at entry" "SVTEST ok 64-bit mode" "$(serial_grep $kind '64-bit mode')"
	tap_expect_eq "$kind: command line arrives byte for byte" "SVTEST cmdline=$cmdline" \
		"$(serial_grep $kind 'SVTEST cmdline=')"
	tap_expect_eq "$kind: initrd bytes and size arrive intact" \
		"SVTEST initrd cksum=$want_sum size=$want_size" "$(serial_grep $kind 'SVTEST initrd cksum')"
	tap_expect_eq "$kind: e820 RAM adds up to -m" "SVTEST ok e820 matches -m: 256" \
		"$(serial_grep $kind 'matches -m')"
	[ $kind = bz ] && field=boot_params.acpi_rsdp_addr || field=hvm_start_info.rsdp_paddr
	tap_expect_eq "$kind: $field is where the tables put the RSDP" \
		"SVTEST rsdp=0x00000000000e0000" "$(serial_grep $kind 'SVTEST rsdp=')"
	tap_expect_eq "$kind: guest finds \"RSD PTR \" there" "SVTEST ok rsdp pointer at RSD PTR" \
		"$(serial_grep $kind 'rsdp pointer at')"
	tap_expect_eq "$kind: RSDP checksums hold" "SVTEST ok rsdp checksums" \
		"$(serial_grep $kind 'rsdp checksums')"
	# acpi=off: no tables, so the pointer is 0 (the guest checks it, told by sv.acpi=off).
	vm_run $kind-noacpi -m 128 -machine microvm,acpi=off -kernel "$kernel" -append "sv.acpi=off"
	tap_expect_eq "$kind: acpi=off guest passes" "0 SVTEST result pass" \
		"$VM_STATUS $(serial_grep $kind-noacpi 'SVTEST result')"
	tap_expect_eq "$kind: acpi=off leaves $field 0" \
		"SVTEST rsdp=0x0000000000000000 SVTEST ok rsdp pointer 0 with acpi=off" \
		"$(serial_grep $kind-noacpi 'rsdp' | tr '\n' ' ' | sed 's/ $//')"
done
tap_expect_eq "bz: LAPIC LINT0 is ExtINT, LINT1 is NMI" "SVTEST lapic lint0_mode=7 lint1_mode=4" \
	"$(serial_grep bz 'SVTEST lapic')"
tap_expect_eq "bz: RSI points at boot_params" "SVTEST ok boot_params in RSI/ESI" \
	"$(serial_grep bz 'boot_params in RSI')"
tap_expect_eq "pvh: EBX points at hvm_start_info" "SVTEST ok PVH start_info magic" \
	"$(serial_grep pvh 'start_info magic')"

# RAM beyond 3 GiB continues at 4 GiB (the MMIO hole); G units as in the guidebook.
vm_run big -m 5G -kernel "$GUEST_BZ" -append "sv.mem=5120"
tap_expect_eq "-m 5G: e820 splits RAM around the 32-bit hole" \
	"SVTEST mem=5120M low_top=0x00000000c0000000 high=0x0000000080000000" \
	"$(serial_grep big 'SVTEST mem=')"
tap_expect_eq "-m 5G: guest passes" 0 "$VM_STATUS"

# The boot-time marker port: the guest signals kernel start (1) and init start (123), splitvm
# logs both with the time since it started (-D log, info level).
vm_run marker -m 128 -kernel "$GUEST_BZ" -D "$T/marker.log"
tap_check "boot-time marker: kernel start logged" grep -qE 'info: boot time: guest kernel started [0-9]+ ms after splitvm started' "$T/marker.log"
tap_check "boot-time marker: init start logged" grep -qE 'info: boot time: guest init started [0-9]+ ms after splitvm started' "$T/marker.log"
tap_check "guest power-off logged" grep -q 'info: guest powered off' "$T/marker.log"

# Default memory (256M) with the default unit (M) and a bare number.
vm_run dflt -kernel "$GUEST_PVH" -append "sv.mem=256"
tap_expect_eq "no -m: 256 MiB by default" "SVTEST ok e820 matches -m: 256" "$(serial_grep dflt 'matches -m')"
vm_run plain -m 384 -kernel "$GUEST_PVH" -append "sv.mem=384"
tap_expect_eq "-m 384: megabytes by default" "SVTEST ok e820 matches -m: 384" "$(serial_grep plain 'matches -m')"

# Memory backends: shared memfd, a -mem-path file, prealloc.
vm_run share -m 256 -machine microvm,mem-share=on,dump-guest-core=off -kernel "$GUEST_BZ" -append "sv.mem=256"
tap_expect_eq "mem-share=on, dump-guest-core=off: guest passes" 0 "$VM_STATUS"
vm_run mpath -m 128 -mem-path "$T/ramfile" -mem-prealloc -kernel "$GUEST_BZ" -append "sv.mem=128"
tap_expect_eq "-mem-path FILE -mem-prealloc: guest passes" 0 "$VM_STATUS"
tap_expect_eq "-mem-path FILE is sized to -m" 134217728 "$(stat -c %s "$T/ramfile" 2>/dev/null)"
mkdir "$T/ramdir"
vm_run mdir -m 128 -mem-path "$T/ramdir" -kernel "$GUEST_PVH" -append "sv.mem=128"
tap_expect_eq "-mem-path DIR (hugetlbfs style): guest passes" 0 "$VM_STATUS"
tap_expect_eq "-mem-path DIR: the backing file is unlinked, nothing left behind" "" "$(ls "$T/ramdir")"

# The guest RAM mapping carries the requested properties (smaps VmFlags: dd = not in core
# dumps, sh = shared). It is the -m sized mapping splitvm asked transparent huge pages for
# (hg), which tells it from same-sized sanitizer mappings.
ram_flags() { # PID SIZE_KB
	awk -v want="$2" '/^Size:/ {size = $2}
		/^VmFlags:/ {if (size == want && / hg/) {$1 = ""; print; exit}}' "/proc/$1/smaps"
}
for variant in "dump-guest-core=off,mem-share=on" "dump-guest-core=on,mem-share=off"; do
	rm -f "$T/flags.serial" # (a leftover from the previous variant must not count as booted)
	vm_start flags -m 256 -machine "microvm,$variant" -kernel "$GUEST_BZ" -append "sv.test=idle" \
		-serial "file,path=$T/flags.serial"
	serial_wait flags 'SVTEST idle' 20
	f=$(ram_flags "$VM_PID" 262144)
	case $variant in
	dump-guest-core=off*)
		tap_check "dump-guest-core=off: guest RAM excluded from core dumps ($f)" grep -qw dd <<<"$f"
		tap_check "mem-share=on: guest RAM is a shared mapping ($f)" grep -qw sh <<<"$f"
		;;
	*)
		tap_check "dump-guest-core=on: guest RAM in core dumps ($f)" bash -c "! grep -qw dd <<<'$f'"
		tap_check "mem-share=off: guest RAM is private ($f)" bash -c "! grep -qw sh <<<'$f'"
		;;
	esac
	kill "$VM_PID"
	vm_wait "$VM_PID" 10
	tap_expect_eq "SIGTERM ends splitvm with status 0" 0 "$VM_STATUS"
done

# A guest failure reaches the exit status (test exit port: status 2*1+1).
vm_run fail -m 128 -kernel "$GUEST_BZ" -append "sv.test=fail"
tap_expect_eq "guest failure through the test exit port gives status 3" 3 "$VM_STATUS"
tap_done
