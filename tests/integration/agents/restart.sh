#!/usr/bin/env bash
# Surviving restarts and crashes: kill -9 of dpud while two VMs run (they keep
# running and are found again), kill -9 of hostd's children (restarted, service
# resumes), a VM killed on the host (crashed with a reason; on_crash=restart
# brings it back).
source "$(dirname "$0")/../../lib/tap.sh"
source "$SV_ROOT/tests/lib/lab.sh"
source "$SV_ROOT/tests/integration/agents/lib.bash"

if ! why=$(agents_require); then
	tap_skip "agents restart" "$why"
	tap_done
	exit 0
fi
if ! agents_up tcp >"$AG_TMP/up.log" 2>&1; then
	tap_fail "agents come up in the lab" "$(cat "$AG_TMP/up.log")$(agents_logs)"
	tap_done
	exit 1
fi

define_guest a button
define_guest b button
sv start a >/dev/null && sv start b >/dev/null
pa=$(host_vm_pid a)
pb=$(host_vm_pid b)
tap_check "two VMs run on the host" sh -c "test -n '$pa' && test -n '$pb'"

define_guest auto button
sv autostart auto >/dev/null

# kill -9 dpud: the VMs keep running; a new dpud finds them again.
kill -9 "$DPUD_PID"
wait_for 5 sh -c "! kill -0 $DPUD_PID 2>/dev/null"
tap_check "after kill -9 of dpud both VMs still run on the host" sh -c "$(declare -f alive); alive $pa && alive $pb"
agents_start_dpud tcp >>"$AG_TMP/up.log" 2>&1
# The new dpud reconciles in the background; under load that can take a moment.
listed_running() { sv list 2>/dev/null | awk 'NR>2 && NF && $2 != "auto" {print $2, $3}' | paste -sd'|'; }
both_listed() { [ "$(listed_running)" = 'a running|b running' ]; }
wait_for 15 both_listed
tap_expect_eq "restarted dpud lists both running" "a running|b running" "$(listed_running)"
tap_expect_eq "the VMs are the same processes" "$pa $pb" "$(host_vm_pid a) $(host_vm_pid b)"
if wait_state auto running 10; then tap_ok "a domain marked autostart is started by the new dpud"; else tap_fail "a domain marked autostart is started by the new dpud" "$(sv list --all) $(agents_logs)"; fi
tap_expect_eq "and it runs on the host" "running" "$(host_qmp_status auto)"
sv destroy auto >/dev/null
sv suspend a >/dev/null
tap_expect_eq "the found VM obeys verbs (suspend -> QMP paused)" "paused" "$(host_qmp_status a)"
sv resume a >/dev/null
sv shutdown a >/dev/null
sv shutdown b >/dev/null
if wait_state a "shut off" 10 && wait_state b "shut off" 10; then
	tap_ok "both shut down normally after the restart"
else
	tap_fail "both shut down normally after the restart" "$(sv list --all) $(agents_logs)"
fi
tap_expect_eq "with the reason shutdown" "shut off (shutdown)" "$(sv domstate a --reason | head -n1)"

# kill -9 of hostd's children: each is restarted and service resumes.
sv start a >/dev/null
pa=$(host_vm_pid a)
child_pid() { lab_pgrep host -f "$SV_BIN/$1 " | head -n1; }
child_replaced() { # CHILD OLD-PID
	local n
	n=$(child_pid "$1")
	[ -n "$n" ] && [ "$n" != "$2" ]
}
for child in udsproxyd rexec_server qtfsd; do
	old=$(child_pid "$child")
	[ -n "$old" ] && kill -9 "$old"
	if wait_for 10 child_replaced "$child" "$old"; then
		tap_ok "hostd restarts $child after kill -9"
	else
		tap_fail "hostd restarts $child after kill -9" "$(agents_logs)"
	fi
done
tap_check "hostd logged why" grep -q "killed by signal 9" "$AG_TMP/hostd.log"
# Service resumes: QMP (udsproxy), rexec (start) and qtfs (the run dir) all work again.
if wait_for 15 sh -c "'$SV_ROOT/deploy/lab/lab' exec dpu '$SV_BIN/splitvirt' suspend a >/dev/null 2>&1"; then
	tap_expect_eq "QMP through the restarted udsproxyd works (suspend)" "paused" "$(host_qmp_status a)"
else
	tap_fail "QMP through the restarted udsproxyd works (suspend)" "$(agents_logs)"
fi
sv resume a >/dev/null 2>&1
define_guest c button
if wait_for 15 sh -c "'$SV_ROOT/deploy/lab/lab' exec dpu '$SV_BIN/splitvirt' start c >/dev/null 2>&1"; then
	tap_ok "a new VM starts through the restarted rexec_server and qtfsd"
else
	tap_fail "a new VM starts through the restarted rexec_server and qtfsd" "$(sv start c 2>&1) $(agents_logs)"
fi
tap_expect_eq "the first VM survived all of it" "$pa" "$(host_vm_pid a)"
sv destroy c >/dev/null 2>&1

# A VM killed on the host: crashed, with a reason; on_crash=restart brings it back.
kill -9 "$pa"
if wait_state a "crashed" 10; then tap_ok "a VM killed on the host shows as crashed"; else tap_fail "a VM killed on the host shows as crashed" "$(sv domstate a --reason) $(agents_logs)"; fi
tap_expect_eq "with the reason" "crashed (emulator exited)" "$(sv domstate a --reason | head -n1)"
define_guest r button "<on_crash>restart</on_crash>"
sv start r >/dev/null
pr=$(host_vm_pid r)
kill -9 "$pr"
if wait_for 15 sh -c "p=\$('$SV_ROOT/deploy/lab/lab' exec host cat $AG_RUN/r/pid 2>/dev/null); [ -n \"\$p\" ] && [ \"\$p\" != '$pr' ] && kill -0 \$p"; then
	tap_ok "on_crash=restart starts a new VM"
else
	tap_fail "on_crash=restart starts a new VM" "$(agents_logs)"
fi
if wait_state r running 10; then tap_ok "and it is running again"; else tap_fail "and it is running again" "$(sv domstate r --reason)"; fi
tap_expect_eq "QMP on the host agrees" "running" "$(host_qmp_status r)"
sv destroy r >/dev/null 2>&1

# on_reboot=destroy: a guest reboot (sv.test=reset) ends the VM.
define_guest rb reset "<on_reboot>destroy</on_reboot>"
sv start rb >/dev/null
if wait_state rb "shut off" 10; then tap_ok "on_reboot=destroy: a guest reboot ends the VM"; else tap_fail "on_reboot=destroy: a guest reboot ends the VM" "$(sv domstate rb --reason) $(agents_logs)"; fi
# on_poweroff=restart: a guest that powers off (sv.test=boot) is started again.
define_guest po boot "<on_poweroff>restart</on_poweroff>"
sv start po >/dev/null
id1=$(sv dominfo po | awk '/^Id:/ {print $2}')
if wait_for 10 sh -c "i=\$('$SV_ROOT/deploy/lab/lab' exec dpu '$SV_BIN/splitvirt' dominfo po | awk '/^Id:/ {print \$2}'); [ \"\$i\" != '-' ] && [ \"\$i\" != '$id1' ]"; then
	tap_ok "on_poweroff=restart: a guest power-off starts the VM again (new id)"
else
	tap_fail "on_poweroff=restart: a guest power-off starts the VM again (new id)" "$(sv dominfo po) $(agents_logs)"
fi
sv autostart po --disable >/dev/null
sv undefine po >/dev/null 2>&1 || true
tap_done
