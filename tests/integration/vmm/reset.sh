#!/usr/bin/env bash
# Guest-initiated reset: the guest pulses the i8042 reset line; splitvm resets the VM (vCPUs,
# irqchip, kernel reloaded) and reports RESET guest-reset; the guest boots again, finds its
# CMOS NVRAM counter kept across the reset, and powers off.
source "$(dirname "$0")/../../lib/tap.sh"
source "$(dirname "$0")/vmm-lib.bash"
vmm_require

for kind in bz pvh; do
	[ $kind = bz ] && kernel=$GUEST_BZ || kernel=$GUEST_PVH
	sock=$T/$kind.sock
	# -S: the QMP client is negotiated before the guest runs, so no event is missed.
	vm_start $kind -S -m 128 -smp 2 -kernel "$kernel" -append "sv.test=reset" \
		-serial "file,path=$T/$kind.serial" -qmp "unix:$sock,server,nowait"
	if ! qmp_open "$sock"; then
		tap_fail "$kind: QMP" "$(cat "$T/$kind.err")"
		continue
	fi
	qmp '{"execute":"cont"}' >/dev/null
	ev=$(qmp_event RESET 20)
	tap_check "$kind: RESET event says guest-reset" grep -q '"guest":true,"reason":"guest-reset"' <<<"$ev"
	ev=$(qmp_event SHUTDOWN 20)
	tap_check "$kind: then SHUTDOWN guest-shutdown" grep -q '"guest":true,"reason":"guest-shutdown"' <<<"$ev"
	vm_wait "$VM_PID" 10
	tap_expect_eq "$kind: exit status 0" 0 "$VM_STATUS"
	tap_expect_eq "$kind: the guest booted twice, CMOS counting" \
		"$(printf 'SVTEST reset boot 1\nSVTEST reset boot 2')" "$(serial_grep $kind 'SVTEST reset boot')"
	tap_expect_eq "$kind: both CPUs up after the reset too" 2 "$(serial_grep $kind 'SVTEST cpus=2' | wc -l)"
	tap_expect_eq "$kind: second boot passes its checks" "SVTEST result pass" "$(serial_grep $kind 'SVTEST result')"
	qmp_close
done

# -no-reboot (libvirt's on_reboot=destroy): the guest's reset ends splitvm instead.
sock=$T/nr.sock
vm_start nr -S -m 128 -kernel "$GUEST_BZ" -append "sv.test=reset" -no-reboot \
	-serial "file,path=$T/nr.serial" -qmp "unix:$sock,server,nowait"
if qmp_open "$sock"; then
	qmp '{"execute":"cont"}' >/dev/null
	ev=$(qmp_event SHUTDOWN 20)
	tap_check "-no-reboot: a guest reboot is a SHUTDOWN guest-reset" \
		grep -q '"guest":true,"reason":"guest-reset"' <<<"$ev"
	vm_wait "$VM_PID" 10
	tap_expect_eq "-no-reboot: splitvm exits 0" 0 "$VM_STATUS"
	tap_expect_eq "-no-reboot: the guest booted once" "SVTEST reset boot 1" \
		"$(serial_grep nr 'SVTEST reset boot')"
	qmp_close
else
	tap_fail "-no-reboot: QMP" "$(cat "$T/nr.err")"
fi
tap_done
