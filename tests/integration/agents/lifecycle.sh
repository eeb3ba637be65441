#!/usr/bin/env bash
# Every verb of `splitvirt` run in the dpu namespace against VMs in the host
# namespace (tcp test mode), each checked against the VM's real state: QMP
# query-status on the host and the host's process table.
source "$(dirname "$0")/../../lib/tap.sh"
source "$SV_ROOT/tests/lib/lab.sh"
source "$SV_ROOT/tests/integration/agents/lib.bash"

if ! why=$(agents_require); then
	tap_skip "agents lifecycle" "$why"
	tap_done
	exit 0
fi
if ! agents_up tcp >"$AG_TMP/up.log" 2>&1; then
	tap_fail "agents come up in the lab" "$(cat "$AG_TMP/up.log")$(agents_logs)"
	tap_done
	exit 1
fi
tap_ok "hostd and dpud come up in the lab (tcp test mode)"

# define / list --all / dumpxml
define_guest web1 button
tap_expect_eq "list --all shows the defined domain shut off" \
	" -     web1                           shut off" "$(sv list --all | sed -n 3p)"
tap_check "dumpxml round-trips through define" sh -c \
	"'$SV_ROOT/deploy/lab/lab' exec dpu '$SV_BIN/splitvirt' dumpxml web1 | grep -q '<kernel>$AG_IMAGES/guest.bzImage</kernel>'"
tap_check "the definition is stored under /var/lib/splitvirt/domains" on_dpu test -s /var/lib/splitvirt/domains/web1.xml

# start
out=$(sv start web1 2>&1)
tap_expect_eq "start prints virsh's message" "Domain 'web1' started" "$(echo "$out" | head -n1)"
pid=$(host_vm_pid web1)
tap_check "splitvm runs in the host namespace" test -n "$pid"
tap_check "the splitvm process lives in the host's network namespace" in_host_netns "$pid"
tap_expect_eq "QMP on the host says running" "running" "$(host_qmp_status web1)"
tap_expect_eq "list shows it running with id 1" " 1     web1                           running" "$(sv list | sed -n 3p)"
tap_expect_eq "domstate --reason" "running (booted)" "$(sv domstate web1 --reason | head -n1)"
info=$(sv dominfo web1)
tap_check "dominfo names id, state, memory" sh -c "echo '$info' | grep -q '^Id:             1' && echo '$info' | grep -q '^State:          running' && echo '$info' | grep -q '^Max memory:     131072 KiB'"
tap_check "start of a running domain is refused" sh -c "! '$SV_ROOT/deploy/lab/lab' exec dpu '$SV_BIN/splitvirt' start web1 2>&1 | grep -q 'already active'; test \$? -ne 0 || exit 1"
sv start web1 >/dev/null 2>&1
tap_expect_eq "start of a running domain exits 1" "1" "$?"

# suspend / resume
sv suspend web1 >/dev/null
tap_expect_eq "suspend: QMP on the host says paused" "paused" "$(host_qmp_status web1)"
tap_expect_eq "suspend: domstate paused (user)" "paused (user)" "$(sv domstate web1 --reason | head -n1)"
sv resume web1 >/dev/null
tap_expect_eq "resume: QMP on the host says running" "running" "$(host_qmp_status web1)"
tap_expect_eq "resume: domstate running (unpaused)" "running (unpaused)" "$(sv domstate web1 --reason | head -n1)"
sv resume web1 >/dev/null 2>&1
tap_expect_eq "resume of a running domain exits 1" "1" "$?"

# reboot keeps the same process
sv reboot web1 >/dev/null
tap_expect_eq "reboot keeps the VM process" "$pid" "$(host_vm_pid web1)"
tap_expect_eq "reboot: still running" "running" "$(state_of web1)"

# shutdown: the guest (sv.test=button) powers off on the ACPI button
sv shutdown web1 >/dev/null
if wait_state web1 "shut off" 10; then tap_ok "shutdown ends in shut off"; else tap_fail "shutdown ends in shut off" "$(sv domstate web1 --reason) $(agents_logs)"; fi
tap_expect_eq "shutdown reason" "shut off (shutdown)" "$(sv domstate web1 --reason | head -n1)"
tap_check "no splitvm left on the host" wait_for 5 sh -c "$(declare -f alive); ! alive $pid"

# shutdown of a guest that ignores the button: destroyed after the timeout
define_guest deaf tick
sv start deaf >/dev/null
dpid=$(host_vm_pid deaf)
sv shutdown deaf >/dev/null
tap_expect_eq "a guest ignoring the button is still running right after shutdown" "running" "$(state_of deaf)"
if wait_state deaf "shut off" 12; then tap_ok "it is destroyed after shutdown_timeout"; else tap_fail "it is destroyed after shutdown_timeout" "$(agents_logs)"; fi
tap_check "its splitvm is gone" wait_for 5 sh -c "$(declare -f alive); ! alive $dpid"

# console: the serial port through udsproxy
sv start deaf >/dev/null
out=$(timeout 3 "$SV_ROOT/deploy/lab/lab" exec dpu "$SV_BIN/splitvirt" console deaf </dev/null 2>/dev/null | head -c 4000 | tr -d '\r')
tap_check "console shows the guest's serial output" sh -c "echo '$out' | grep -q 'SVTEST tick'"

# console input reaches the guest (sv.test=echo echoes, and powers off on 'q'); boot
# output from before anyone attached is kept; a second console is refused.
define_guest echoer echo
sv start echoer >/dev/null
sleep 0.3
printf 'ping-from-dpu' >"$AG_TMP/ping"
out=$( (sleep 0.5; cat "$AG_TMP/ping"; sleep 1) | timeout 3 "$SV_ROOT/deploy/lab/lab" exec dpu "$SV_BIN/splitvirt" console echoer 2>/dev/null | tr -d '\r')
tap_check "console keeps the boot output from before it attached" sh -c 'echo "$1" | grep -q "SVTEST hello"' _ "$out"
tap_check "console input reaches the guest and is echoed back" sh -c 'echo "$1" | grep -q "ping-from-dpu"' _ "$out"
sleep 2 | timeout 3 "$SV_ROOT/deploy/lab/lab" exec dpu "$SV_BIN/splitvirt" console echoer >/dev/null 2>&1 &
sleep 0.5
out=$(sv console echoer </dev/null 2>&1)
tap_check "a second console session is refused" sh -c 'echo "$1" | grep -q "Active console session exists"' _ "$out"
sleep 3
printf 'q' | timeout 3 "$SV_ROOT/deploy/lab/lab" exec dpu "$SV_BIN/splitvirt" console echoer >/dev/null 2>&1
if wait_state echoer "shut off" 10; then tap_ok "the guest powers off on console input 'q'"; else tap_fail "the guest powers off on console input 'q'" "$(sv domstate echoer --reason)"; fi

# destroy
dpid=$(host_vm_pid deaf)
out=$(sv destroy deaf)
tap_expect_eq "destroy prints virsh's message" "Domain 'deaf' destroyed" "$(echo "$out" | head -n1)"
tap_check "destroy: splitvm is gone from the host" wait_for 5 sh -c "$(declare -f alive); ! alive $dpid"
tap_expect_eq "destroy reason" "shut off (destroyed)" "$(sv domstate deaf --reason | head -n1)"

# autostart mark
sv autostart web1 >/dev/null
tap_check "autostart marks the domain" sh -c "'$SV_ROOT/deploy/lab/lab' exec dpu '$SV_BIN/splitvirt' dominfo web1 | grep -q 'Autostart:      enable'"
sv autostart web1 --disable >/dev/null
tap_check "autostart --disable unmarks it" sh -c "'$SV_ROOT/deploy/lab/lab' exec dpu '$SV_BIN/splitvirt' dominfo web1 | grep -q 'Autostart:      disable'"

# --json
tap_check "--json list is JSON with the domains" sh -c "'$SV_ROOT/deploy/lab/lab' exec dpu '$SV_BIN/splitvirt' --json list --all | grep -q '\"name\": *\"web1\"'"

# bad XML: refused naming the problem, nothing half-defined left behind
bad() { # NAME XML NEEDLE
	local out
	printf '%s' "$2" >"$AG_TMP/bad.xml"
	out=$(sv define "$AG_TMP/bad.xml" 2>&1)
	if [ $? -eq 1 ] && echo "$out" | grep -qF -- "$3"; then tap_ok "$1"; else tap_fail "$1" "$out"; fi
}
bad "unknown device is refused naming it" "$(guest_xml x1 boot | sed 's|<devices>|<devices><graphics type="vnc"/>|')" "devices/graphics: not supported"
bad "missing kernel is refused" "$(guest_xml x2 boot | sed 's|<kernel>[^<]*</kernel>||')" "os/kernel: missing"
bad "memory out of range is refused" "$(guest_xml x3 boot | sed "s|<memory unit='MiB'>128|<memory unit='MiB'>64|")" "memory: 64 MiB is out of range"
bad "a duplicate name with another uuid is refused" "$(guest_xml web1 boot | sed 's|<name>web1</name>|<name>web1</name><uuid>00000000-0000-4000-8000-000000000001</uuid>|')" "already exists with uuid"
bad "malformed XML is refused" "<domain type='kvm'><name>x4" "domain XML: line"
tap_expect_eq "nothing half-defined is left behind" "deaf echoer web1" "$(sv list --all --name | xargs)"
tap_check "no stray files in the store" sh -c "test \"\$('$SV_ROOT/deploy/lab/lab' exec dpu ls /var/lib/splitvirt/domains | grep -c xml)\" = 3"

# devices: a raw disk on the shared image directory, a bridged multi-queue NIC
# (its tap made on the host through rexec + netctl), rng and balloon.
on_host truncate -s 16M "$AG_IMAGES/dev0.img"
on_host ip link add svbr0 type bridge
guest_xml dev tick >"$AG_TMP/dev.xml"
sed -i "s|<serial type='pty'/>|<serial type='pty'/><disk type='file' device='disk'><driver name='qemu' type='raw' cache='none'/><source file='$AG_IMAGES/dev0.img'/><target dev='vda' bus='virtio'/><serial>d0</serial></disk><interface type='bridge'><source bridge='svbr0'/><target dev='svdev0'/><model type='virtio'/><driver queues='2'/><mtu size='1400'/></interface><rng model='virtio'><backend model='random'>/dev/urandom</backend></rng><memballoon model='virtio'/>|" "$AG_TMP/dev.xml"
sv define "$AG_TMP/dev.xml" >/dev/null
out=$(sv start dev 2>&1)
tap_expect_eq "devices: a domain with disk, NIC, rng and balloon starts" "Domain 'dev' started" "$(echo "$out" | head -n1)"
tap_expect_eq "devices: QMP on the host says running" "running" "$(host_qmp_status dev)"
tap_check "devices: splitvm has the disk from the shared image directory" sh -c \
	"tr '\\0' ' ' </proc/$(host_vm_pid dev)/cmdline | grep -q 'file=$AG_IMAGES/dev0.img'"
tap_check "devices: the tap is on the bridge, multi-queue, MTU 1400" sh -c \
	"'$SV_ROOT/deploy/lab/lab' exec host ip -d link show svdev0 | grep -q 'mtu 1400.*master svbr0' && '$SV_ROOT/deploy/lab/lab' exec host ip -d link show svdev0 | grep -q multi_queue"
sv destroy dev >/dev/null
tap_check "devices: the tap is removed after destroy" sh -c "! '$SV_ROOT/deploy/lab/lab' exec host ip link show svdev0 2>/dev/null"
# A start that fails after the tap was made leaves no tap behind.
# (redefined from dumpxml: same uuid, so the definition is updated)
sv dumpxml dev | sed "s|svbr0|svnobr|" >"$AG_TMP/dev2.xml"
sv define "$AG_TMP/dev2.xml" >/dev/null
out=$(sv start dev 2>&1)
tap_check "devices: a missing bridge fails the start, naming it" sh -c "echo \"\$1\" | grep -q 'svnobr'" _ "$out"
tap_check "devices: and leaves no tap" sh -c "! '$SV_ROOT/deploy/lab/lab' exec host ip link show svdev0 2>/dev/null"
tap_expect_eq "devices: the domain stays shut off" "shut off" "$(state_of dev)"
sv undefine dev >/dev/null

# undefine
sv undefine web1 >/dev/null
tap_expect_eq "undefine removes the domain" "deaf echoer" "$(sv list --all --name | xargs)"
tap_check "undefine removes its file" sh -c "! '$SV_ROOT/deploy/lab/lab' exec dpu test -e /var/lib/splitvirt/domains/web1.xml"
out=$(sv dominfo web1 2>&1)
tap_expect_eq "an unknown domain is an error naming it" "error: Domain not found: no domain with matching name 'web1'" "$out"
tap_done
