#!/usr/bin/env bash
# ACPI tables as the guest finds them (RSDP scan of 0xe0000-0xfffff): the test guest dumps
# every table over the serial port; each must disassemble with iasl -d without errors or
# warnings, and the DSDT must declare every configured virtio-mmio device (LNRO0005 with the
# address and interrupt of its virtio_mmio.device= entry). -machine acpi=off: no tables.
source "$(dirname "$0")/../../lib/tap.sh"
source "$(dirname "$0")/vmmdev-lib.bash"
vmmdev_require
if ! command -v iasl >/dev/null; then
	tap_skip "acpi tables disassemble" "iasl (acpica-tools) is not installed"
	tap_done
	exit 0
fi

truncate -s 1M "$T/disk.img"
devs=(-drive "id=d0,file=$T/disk.img,direct=off" -device virtio-blk-device,drive=d0,id=blk0
	-object rng-random,id=r0,filename=/dev/urandom -device virtio-rng-device,rng=r0,id=rng0
	-device virtio-balloon-device,id=bal0
	-device virtio-serial-device,id=ser0 -chardev "file,id=c0,path=$T/con.out"
	-device virtconsole,chardev=c0,id=con0)
vm_run acpi -m 128 -smp 2 -kernel "$VGUEST_BZ" -append "sv.test=acpi" "${devs[@]}"
tap_expect_eq "guest dumped the tables and powered off" 0 "$VM_STATUS"
tap_check "guest found an RSDP" grep -q '^SVACPI RSDP' "$T/acpi.serial"

# Reassemble each table from the hex lines.
mkdir -p "$T/t"
for sig in $(awk '/^SVACPI/ {print $2}' "$T/acpi.serial" | sort -u); do
	awk -v s="$sig" '$1 == "SVACPI" && $2 == s {printf "%s", $4}' "$T/acpi.serial" |
		xxd -r -p >"$T/t/$sig.dat"
done
tap_check "tables: RSDP XSDT FACP APIC DSDT" test -s "$T/t/RSDP.dat" -a -s "$T/t/XSDT.dat" \
	-a -s "$T/t/FACP.dat" -a -s "$T/t/APIC.dat" -a -s "$T/t/DSDT.dat"
rsdp_sum() { od -An -tu1 -v "$1" | tr -s ' ' '\n' | awk 'NF {s += $1} END {print s % 256}'; }
tap_expect_eq "RSDP checksum (36 bytes)" 0 "$(rsdp_sum "$T/t/RSDP.dat")"
for sig in XSDT FACP APIC DSDT; do
	(cd "$T/t" && iasl -d "$sig.dat" >"$sig.log" 2>&1)
	st=$?
	if [ $st -eq 0 ] && [ -s "$T/t/$sig.dsl" ] && ! grep -qiE 'error|warning' "$T/t/$sig.log"; then
		tap_ok "iasl -d $sig: no errors or warnings"
	else
		tap_fail "iasl -d $sig: no errors or warnings" "$(cat "$T/t/$sig.log")"
	fi
done
tap_check "FADT is hardware-reduced" grep -qE 'Hardware Reduced \(V5\) : 1' "$T/t/FACP.dsl"
tap_expect_eq "MADT lists both vCPUs" 2 "$(grep -c 'Processor Local APIC\]' "$T/t/APIC.dsl")"

# Every virtio_mmio.device=SIZE@BASE:IRQ on the guest command line is a LNRO0005 device
# with that address and interrupt.
mapfile -t entries < <(sed -n 's/^SVTEST cmdline=//p' "$T/acpi.serial" | tr ' ' '\n' |
	sed -n 's/^virtio_mmio\.device=//p')
tap_expect_eq "guest command line has 4 virtio_mmio.device entries" 4 "${#entries[@]}"
tap_expect_eq "DSDT declares the 4 configured devices" 4 "$(grep -c '_HID, "LNRO0005"' "$T/t/DSDT.dsl")"
for ent in "${entries[@]}"; do
	b=${ent#*@}
	b=${b%:*}
	irq=${ent##*:}
	want_base=$(printf '0x%08X' $((b)))
	want_irq=$(printf '0x%08X' $((irq)))
	tap_check "DSDT device for $ent: Memory32Fixed $want_base, Interrupt $want_irq" \
		awk -v b="$want_base" -v i="$want_irq" '
			/Device \(VR/ {inb = 0; ini = 0}
			index($0, b) {inb = 1}
			inb && index($0, i) {found = 1}
			END {exit !found}' "$T/t/DSDT.dsl"
done
# The AML runs: acpiexec (the ACPICA interpreter) evaluates each device's _HID and _CRS and
# \_S5 without errors, as a kernel's interpreter would.
if command -v acpiexec >/dev/null; then
	cmds="evaluate \\_S5"
	for i in 0 1 2 3; do cmds="$cmds; evaluate \\_SB.VR0$i._HID; evaluate \\_SB.VR0$i._CRS"; done
	(cd "$T/t" && acpiexec -b "$cmds" DSDT.dat >exec.log 2>&1)
	tap_expect_eq "acpiexec: _HID and _CRS of 4 devices and \\_S5 evaluate" 9 \
		"$(grep -c '^Evaluation of .* returned object' "$T/t/exec.log")"
	tap_check "acpiexec: every _HID is LNRO0005, no AML errors" bash -c \
		"[ \$(grep -c '\"LNRO0005\"' '$T/t/exec.log') -eq 4 ] && ! grep -qiE 'AE_|error' '$T/t/exec.log'"
else
	tap_skip "acpiexec evaluation" "acpiexec is not installed"
fi
tap_check "DSDT: interrupts are level, active-high" \
	grep -q 'Interrupt (ResourceConsumer, Level, ActiveHigh, Exclusive' "$T/t/DSDT.dsl"
tap_check "DSDT declares COM1 (PNP0501) and \\_S5" grep -q PNP0501 "$T/t/DSDT.dsl"

# The hardware-reduced power button: a Generic Event Device (ACPI0013) on the first line after
# the 4 devices' (5, 6, 7, 9 -> 10) whose _EVT
# reads the event register at 0xd1000000 and notifies the PNP0C0C power button.
tap_check "DSDT: GED (ACPI0013) with interrupt 10, EREG at 0xD1000000 and _EVT" awk '
	/Device \(GED\)/ {g = 1}
	g && /"ACPI0013"/ {h = 1}
	g && /0x0000000A,/ {i = 1}
	g && /OperationRegion \(EREG, SystemMemory, 0xD1000000, 0x04\)/ {r = 1}
	g && /Method \(_EVT, 1, Serialized\)/ {m = 1}
	g && /Notify \(\\_SB.PWRB, 0x80\)/ {n = 1}
	END {exit !(h && i && r && m && n)}' "$T/t/DSDT.dsl"
tap_check "DSDT: power button device PNP0C0C" grep -q 'EisaId ("PNP0C0C")' "$T/t/DSDT.dsl"
if command -v acpiexec >/dev/null; then
	# _EVT runs: with the power-button bit in ESEL it notifies PWRB with 0x80, with 0 it does not.
	printf '\\_SB.GED_.ESEL 1\n' >"$T/t/esel1"
	(cd "$T/t" && acpiexec -fi esel1 -b 'evaluate \_SB.GED_._EVT 10' DSDT.dat >evt1.log 2>&1)
	tap_check "acpiexec: _EVT with the button bit set notifies PWRB 0x80" \
		grep -q 'Received a Device Notify on \[PWRB\] .* Value 0x80' "$T/t/evt1.log"
	(cd "$T/t" && acpiexec -b 'evaluate \_SB.GED_._EVT 10' DSDT.dat >evt0.log 2>&1)
	tap_check "acpiexec: _EVT with no event pending notifies nothing, no AML errors" bash -c \
		"! grep -q 'Notify' '$T/t/evt0.log' && ! grep -qiE 'AE_|error' '$T/t/evt0.log' '$T/t/evt1.log'"
else
	tap_skip "acpiexec _EVT evaluation" "acpiexec is not installed"
fi

# QMP system_powerdown reaches a guest that follows ACPI: it finds the GED in the DSDT, takes
# its interrupt, reads the power-button bit from the event register (which clears it). No
# devices here, so the GED has the first device line, 5.
for kind in bz pvh; do
	[ $kind = bz ] && kernel=$VGUEST_BZ || kernel=$VGUEST_PVH
	sock=$T/ged-$kind.sock
	vm_start ged-$kind -m 128 -kernel "$kernel" -append "sv.test=ged" \
		-serial "file,path=$T/ged-$kind.serial" -qmp "unix:$sock,server,nowait"
	qmp_open "$sock"
	serial_wait ged-$kind 'ged waiting for the power button' 20
	tap_expect_eq "$kind: guest finds the GED on line 5, register 0xd1000000" \
		"SVTEST ged line=5 SVTEST ged reg=0x00000000d1000000" \
		"$(serial_grep ged-$kind 'SVTEST ged (line|reg)=' | tr '\n' ' ' | sed 's/ $//')"
	qmp '{"execute":"system_powerdown"}' >/dev/null
	vm_wait "$VM_PID" 20
	qmp_close
	tap_expect_eq "$kind: guest powers off after its checks" "0 SVTEST result pass" \
		"$VM_STATUS $(serial_grep ged-$kind 'SVTEST result')"
	tap_expect_eq "$kind: GED interrupt after system_powerdown" \
		"SVTEST ok GED interrupt after system_powerdown" "$(serial_grep ged-$kind 'GED interrupt after')"
	tap_expect_eq "$kind: event register reads the power-button bit" "SVTEST ged events=1" \
		"$(serial_grep ged-$kind 'SVTEST ged events=')"
	tap_check "$kind: the read clears the register and lowers the line" bash -c \
		"grep -q 'SVTEST ok event register cleared by the read' '$T/ged-$kind.serial' &&
		 grep -q 'SVTEST ok no interrupt storm after the read' '$T/ged-$kind.serial' &&
		 grep -q 'SVTEST ok the press is read exactly once' '$T/ged-$kind.serial'"
done

# The tables survive a guest that scribbles over them and resets: the VMM writes them again.
vm_run reset -m 128 -kernel "$VGUEST_BZ" -append "sv.test=acpireset" "${devs[@]}"
tap_expect_eq "reset: guest powers off after its second boot" 0 "$VM_STATUS"
tap_check "reset: the first boot scribbled over the RSDP and reset" \
	serial_grep reset 'SVTEST acpi scribbled, resetting'
tap_check "reset: after the reset the guest finds the tables again" bash -c \
	"grep -q '^SVACPI RSDP 0 5253442050545220' '$T/reset.serial' && grep -q 'SVTEST acpi done' '$T/reset.serial'"

# The PVH entry (no boot_params) finds the same tables by the same scan.
vm_run pvh -m 128 -smp 2 -kernel "$VGUEST_PVH" -append "sv.test=acpi" "${devs[@]}"
tap_expect_eq "pvh: guest powers off" 0 "$VM_STATUS"
tap_expect_eq "pvh: the guest sees the same tables as the bzImage guest" \
	"$(grep '^SVACPI' "$T/acpi.serial" | md5sum)" "$(grep '^SVACPI' "$T/pvh.serial" | md5sum)"

# acpi=off: the guest finds no RSDP.
vm_run off -machine microvm,acpi=off -m 128 -kernel "$VGUEST_BZ" -append "sv.test=acpi" "${devs[@]}"
tap_expect_eq "acpi=off: guest powers off" 0 "$VM_STATUS"
tap_check "acpi=off: no RSDP" grep -q 'SVTEST acpi none' "$T/off.serial"
tap_done
