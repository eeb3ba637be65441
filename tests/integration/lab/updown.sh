#!/usr/bin/env bash
# The lab comes up and goes down cleanly many times, leaving nothing behind.
source "$(dirname "$0")/../../lib/tap.sh"
source "$SV_ROOT/tests/lib/lab.sh"

count_left() {
	echo "$(ip netns list | grep -c "^$SPLITVIRT_LAB-") $(grep -c "/run/splitvirt-lab/$SPLITVIRT_LAB/" /proc/mounts)"
}

ok=1
why=
for i in $(seq 1 20); do
	if ! out=$(lab_up 2>&1); then ok=0; why="up #$i failed: $out"; break; fi
	# Leave a process running on each side: down must kill it.
	lab_bg host sleep 1000
	lab_bg dpu sleep 1000
	if ! on_dpu sh -c "echo x > /run/marker" || [ -e /run/marker ]; then
		ok=0; why="/run is not private on round $i"; break
	fi
	"$LAB" down
	left=$(count_left)
	if [ "$left" != "0 0" ]; then ok=0; why="round $i left namespaces/mounts: $left"; break; fi
	for p in "${_lab_bg_pids[@]}"; do
		if kill -0 "$p" 2>/dev/null; then wait "$p" 2>/dev/null; fi
	done
	_lab_bg_pids=()
done
if [ $ok -eq 1 ]; then tap_ok "lab up/down 20 times leaves no namespace, mount or process"; else tap_fail "lab up/down 20 times" "$why"; fi

lab_up
tap_check "dpu reaches host over the veth pair" on_dpu ping -c1 -W2 "$HOST_ADDR"
tap_expect_eq "each side sees its own /run" "host dpu" "$(on_host cat /run/splitvirt-lab-side) $(on_dpu cat /run/splitvirt-lab-side)"
on_dpu touch /var/lib/splitvirt/only-dpu
if on_host test -e /var/lib/splitvirt/only-dpu || test -e /var/lib/splitvirt/only-dpu; then
	tap_fail "/var/lib/splitvirt written on dpu stays on dpu"
else
	tap_ok "/var/lib/splitvirt written on dpu stays on dpu"
fi
lab_bg host sleep 1000
pid=$LAB_BG_PID
"$LAB" down
if kill -0 $pid 2>/dev/null && [ "$(ps -o stat= -p $pid)" != "Z" ]; then
	tap_fail "down kills processes left in the lab"
else
	tap_ok "down kills processes left in the lab"
fi
tap_done
