#!/usr/bin/env bash
# QMP drives the VM: stop/cont keep the guest's progress (its tick counter carries on, it does
# not restart), query-status follows, STOP/RESUME/RESET/POWERDOWN/SHUTDOWN events arrive with
# timestamps, system_reset reboots the guest, system_powerdown reaches the guest's power button
# and its power-off ends splitvm with SHUTDOWN; -S starts paused; a second client can connect.
source "$(dirname "$0")/../../lib/tap.sh"
source "$(dirname "$0")/vmm-lib.bash"
vmm_require

last_tick() { serial_grep "$1" 'SVTEST tick [0-9]+' | tail -n1 | awk '{print $3}'; }

sock=$T/a.sock
vm_start a -m 128 -smp 2 -kernel "$GUEST_BZ" -append "sv.test=tick" \
	-serial "file,path=$T/a.serial" -qmp "unix:$sock,server,nowait"
if ! qmp_open "$sock"; then
	tap_fail "QMP greeting and negotiation" "$(cat "$T/a.err")"
	tap_done
	exit 1
fi
tap_ok "QMP greeting and negotiation"
serial_wait a 'SVTEST tick 3' 20
tap_expect_eq "query-status: running" '{"return":{"status":"running","singlestep":false,"running":true}}' \
	"$(qmp '{"execute":"query-status"}')"
tap_expect_eq "stop answers {}" '{"return":{}}' "$(qmp '{"execute":"stop"}')"
ev=$(qmp_event STOP 5)
tap_check "STOP event with a timestamp" grep -q '"timestamp":{"seconds":[0-9]*,"microseconds":[0-9]*}' <<<"$ev"
tap_expect_eq "query-status: paused" '{"return":{"status":"paused","singlestep":false,"running":false}}' \
	"$(qmp '{"execute":"query-status"}')"
t1=$(last_tick a)
sleep 0.6
t2=$(last_tick a)
tap_expect_eq "a stopped guest makes no progress" "$t1" "$t2"
qmp '{"execute":"cont"}' >/dev/null
tap_check "RESUME event" qmp_event RESUME 5
serial_wait a "SVTEST tick $((t2 + 2))\$" 20
tap_expect_eq "after cont the guest carries on from tick $t2 (state kept)" \
	"SVTEST tick $((t2 + 1))" "$(serial_grep a "SVTEST tick $((t2 + 1))\$")"
tap_expect_eq "hello printed once before the reset" 1 "$(serial_grep a 'SVTEST hello' | wc -l)"
qmp '{"execute":"system_reset"}' >/dev/null
ev=$(qmp_event RESET 5)
tap_check "RESET event says host-qmp-system-reset" grep -q '"guest":false,"reason":"host-qmp-system-reset"' <<<"$ev"
for ((i = 0; i < 100; i++)); do
	[ "$(serial_grep a 'SVTEST cpus=2' | wc -l)" -ge 2 ] && break
	sleep 0.05
done
tap_expect_eq "system_reset reboots the guest (both CPUs again)" 2 "$(serial_grep a 'SVTEST cpus=2' | wc -l)"

# Disconnect, reconnect: a new client gets a fresh greeting.
qmp_close
if qmp_open "$sock"; then tap_ok "a second client connects after the first left"; else tap_fail "a second client connects after the first left"; fi
tap_check "query-name works" test -n "$(qmp '{"execute":"query-name"}')"
r=$(qmp '{"execute":"quit"}')
tap_expect_eq "quit answers {}" '{"return":{}}' "$r"
ev=$(qmp_event SHUTDOWN 5)
tap_check "SHUTDOWN event says host-qmp-quit" grep -q '"guest":false,"reason":"host-qmp-quit"' <<<"$ev"
vm_wait "$VM_PID" 10
tap_expect_eq "quit: exit status 0" 0 "$VM_STATUS"
tap_check "QMP socket removed at exit" test ! -e "$sock"
qmp_close

# system_powerdown -> guest sees the button and powers off -> SHUTDOWN guest-shutdown.
sock=$T/b.sock
vm_start b -m 128 -kernel "$GUEST_PVH" -append "sv.test=button" \
	-serial "file,path=$T/b.serial" -qmp "unix:$sock,server,nowait"
qmp_open "$sock"
serial_wait b 'waiting for the power button' 20
qmp '{"execute":"system_powerdown"}' >/dev/null
tap_check "POWERDOWN event" qmp_event POWERDOWN 5
ev=$(qmp_event SHUTDOWN 10)
tap_check "guest power-off sends SHUTDOWN guest-shutdown" grep -q '"guest":true,"reason":"guest-shutdown"' <<<"$ev"
vm_wait "$VM_PID" 10
tap_expect_eq "guest power-off: exit status 0" 0 "$VM_STATUS"
tap_expect_eq "guest saw the power button" "SVTEST power button" "$(serial_grep b 'SVTEST power button')"
qmp_close

# -S: nothing runs until cont.
sock=$T/c.sock
vm_start c -S -m 128 -kernel "$GUEST_BZ" -append "sv.test=idle" \
	-serial "file,path=$T/c.serial" -qmp "unix:$sock,server,nowait"
qmp_open "$sock"
tap_expect_eq "-S: query-status says prelaunch" '{"return":{"status":"prelaunch","singlestep":false,"running":false}}' \
	"$(qmp '{"execute":"query-status"}')"
sleep 0.3
tap_expect_eq "-S: the guest has not run" "" "$(serial_grep c 'SVTEST hello')"
qmp '{"execute":"cont"}' >/dev/null
tap_check "-S then cont: the guest runs" serial_wait c 'SVTEST idle' 20
qmp '{"execute":"quit"}' >/dev/null
vm_wait "$VM_PID" 10
qmp_close

# Errors are answered, never fatal.
sock=$T/d.sock
vm_start d -machine type=microvm,accel=kvm -cpu host -name vm-d -m 128 -kernel "$GUEST_BZ" \
	-append "sv.test=idle" -serial "file,path=$T/d.serial" -qmp "unix:$sock,server,nowait"
qmp_open "$sock"
tap_expect_eq "-name shows in query-name" '{"return":{"name":"vm-d"}}' "$(qmp '{"execute":"query-name"}')"
tap_check "query-kvm: present and enabled" grep -q '"enabled":true,"present":true\|"present":true,"enabled":true' \
	<<<"$(qmp '{"execute":"query-kvm"}')"
tap_check "unknown command: CommandNotFound" grep -q '"CommandNotFound"' <<<"$(qmp '{"execute":"no-such-command"}')"
tap_check "malformed JSON: an error reply" grep -q '"error"' <<<"$(qmp '{"execute":}')"
tap_check "still answering after bad input" grep -q '"running"' <<<"$(qmp '{"execute":"query-status"}')"
qmp '{"execute":"quit"}' >/dev/null
vm_wait "$VM_PID" 10
qmp_close

# A guest instruction this KVM cannot emulate (the probe's int3 on a nested, emulating KVM)
# stops the VM in internal-error state; splitvm stays up and answers QMP.
sock=$T/p.sock
vm_start p -m 128 -kernel "$GUEST_BZ" -append "sv.test=probe" -D "$T/p.log" \
	-serial "file,path=$T/p.serial" -qmp "unix:$sock,server,nowait"
qmp_open "$sock"
for ((i = 0; i < 100; i++)); do
	grep -q 'SVTEST result\|internal error' "$T/p.serial" "$T/p.log" 2>/dev/null && break
	sleep 0.05
done
if grep -q 'internal error' "$T/p.log"; then
	tap_check "KVM internal error: query-status says internal-error" \
		grep -q '"internal-error"' <<<"$(qmp '{"execute":"query-status"}')"
	tap_check "KVM internal error: logged with the guest RIP" grep -q 'at guest RIP 0x' "$T/p.log"
	tap_check "KVM internal error: cont is refused until a reset" \
		grep -q '"error"' <<<"$(qmp '{"execute":"cont"}')"
	qmp '{"execute":"system_reset"}' >/dev/null
	tap_expect_eq "KVM internal error: system_reset leaves it paused" \
		'{"return":{"status":"paused","singlestep":false,"running":false}}' "$(qmp '{"execute":"query-status"}')"
	qmp '{"execute":"cont"}' >/dev/null
	for ((i = 0; i < 100; i++)); do
		[ "$(serial_grep p 'SVTEST hello' | wc -l)" -ge 2 ] && break
		sleep 0.05
	done
	tap_expect_eq "KVM internal error: after system_reset and cont the guest boots again" 2 \
		"$(serial_grep p 'SVTEST hello' | wc -l)"
	qmp '{"execute":"quit"}' >/dev/null
else
	tap_skip "KVM internal error leaves QMP answering" "this KVM runs the probe instructions"
	qmp '{"execute":"quit"}' >/dev/null
fi
vm_wait "$VM_PID" 10
tap_expect_eq "quit after the probe exits 0" 0 "$VM_STATUS"
qmp_close

# -machine none: QMP capability queries without a VM.
sock=$T/e.sock
vm_start e -machine none -qmp "unix:$sock,server,nowait"
qmp_open "$sock"
tap_check "-machine none: query-version" grep -q '"qemu"' <<<"$(qmp '{"execute":"query-version"}')"
tap_check "-machine none: query-commands" grep -q '"query-status"' <<<"$(qmp '{"execute":"query-commands"}')"
tap_check "-machine none: stop is refused" grep -q '"error"' <<<"$(qmp '{"execute":"stop"}')"
qmp '{"execute":"quit"}' >/dev/null
vm_wait "$VM_PID" 10
tap_expect_eq "-machine none: quit exits 0" 0 "$VM_STATUS"
tap_done
