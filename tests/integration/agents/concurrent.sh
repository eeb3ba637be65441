#!/usr/bin/env bash
# 20 domains defined, started and shut down concurrently from the DPU end in
# the right states, checked against the host's QMP and process table.
source "$(dirname "$0")/../../lib/tap.sh"
source "$SV_ROOT/tests/lib/lab.sh"
source "$SV_ROOT/tests/integration/agents/lib.bash"

N=20
if ! why=$(agents_require); then
	tap_skip "agents concurrent" "$why"
	tap_done
	exit 0
fi
if ! agents_up tcp >"$AG_TMP/up.log" 2>&1; then
	tap_fail "agents come up in the lab" "$(cat "$AG_TMP/up.log")$(agents_logs)"
	tap_done
	exit 1
fi
LABX="$SV_ROOT/deploy/lab/lab exec dpu $SV_BIN/splitvirt"
# `wait` alone would also wait for the daemons: wait for these jobs only.
jobs_=()
waitjobs() { wait "${jobs_[@]}"; jobs_=(); }

for i in $(seq 1 $N); do guest_xml "c$i" button >"$AG_TMP/c$i.xml"; done
for i in $(seq 1 $N); do $LABX define "$AG_TMP/c$i.xml" >"$AG_TMP/def$i.out" 2>&1 & jobs_+=($!); done
waitjobs
tap_expect_eq "$N concurrent defines all succeed" "$N" "$(sv list --all --name | grep -c '^c')"

fails=0
for i in $(seq 1 $N); do ($LABX start "c$i" >"$AG_TMP/start$i.out" 2>&1 || echo fail >>"$AG_TMP/start.fails") & jobs_+=($!); done
waitjobs
tap_expect_eq "$N concurrent starts all succeed" "0" "$(cat "$AG_TMP/start.fails" 2>/dev/null | wc -l)"
tap_expect_eq "list shows $N running" "$N" "$(sv list | grep -c ' running$')"
alive_n=0
for i in $(seq 1 $N); do
	[ -n "$(host_vm_pid "c$i")" ] && alive_n=$((alive_n + 1))
done
tap_expect_eq "$N splitvm processes run on the host" "$N" "$alive_n"
tap_expect_eq "ids are distinct" "$N" "$(sv list | awk 'NR>2 && NF {print $1}' | sort -u | wc -l)"
running_qmp=0
for i in 1 7 13 20; do [ "$(host_qmp_status "c$i")" = running ] && running_qmp=$((running_qmp + 1)); done
tap_expect_eq "QMP on the host agrees for a sample" "4" "$running_qmp"

for i in $(seq 1 $N); do $LABX shutdown "c$i" >/dev/null 2>&1 & jobs_+=($!); done
waitjobs
if wait_for 30 sh -c "[ \"\$($LABX list --all | grep -c ' shut off$')\" = $N ]"; then
	tap_ok "$N concurrent shutdowns all end shut off"
else
	tap_fail "$N concurrent shutdowns all end shut off" "$(sv list --all) $(agents_logs)"
fi
tap_expect_eq "all with the reason shutdown" "$N" \
	"$(for i in $(seq 1 $N); do sv domstate "c$i" --reason | head -n1; done | grep -c '^shut off (shutdown)$')"
no_splitvm_left() { [ -z "$(lab_pgrep host -f 'splitvm -name c[0-9]')" ]; }
wait_for 10 no_splitvm_left
tap_check "no splitvm left on the host" no_splitvm_left
for i in $(seq 1 $N); do $LABX undefine "c$i" >/dev/null 2>&1 & jobs_+=($!); done
waitjobs
tap_expect_eq "$N concurrent undefines leave nothing" "0" "$(sv list --all --name | grep -c '^c')"
tap_done
