# The two-machine lab for integration tests. Source after tap.sh:
#   lab_up            brings up a lab named after the test (so tests can run side by side)
#   on_host CMD...    runs CMD in the host namespace; on_dpu likewise
#   lab_bg host|dpu CMD...   starts CMD in the background there; killed at exit
#   wait_for SECONDS CMD...  polls CMD every 50 ms until it succeeds
#   lab_pgrep host|dpu PGREP-ARGS...   pgrep limited to this lab's processes there
# Everything is torn down on exit, whatever the outcome.
LAB=$SV_ROOT/deploy/lab/lab
: "${SPLITVIRT_LAB:=t$$}"
export SPLITVIRT_LAB
HOST_ADDR=10.77.0.1
DPU_ADDR=10.77.0.2
_lab_bg_pids=()
_lab_cleanups=()

lab_cleanup() {
	local i
	for ((i = ${#_lab_cleanups[@]} - 1; i >= 0; i--)); do
		eval "${_lab_cleanups[i]}" >/dev/null 2>&1 || true
	done
	# Waiting here, with stderr closed, keeps bash from reporting each "Killed" job.
	for p in "${_lab_bg_pids[@]}"; do
		{ kill -9 "$p" && wait "$p"; } 2>/dev/null || true
	done
	{ "$LAB" down; } >/dev/null 2>&1 || true
}
# Registers a shell command to run at cleanup (last registered runs first).
at_cleanup() { _lab_cleanups+=("$1"); }
trap lab_cleanup EXIT
trap 'exit 130' INT TERM

lab_up() { "$LAB" up; }
on_host() { "$LAB" exec host "$@"; }
on_dpu() { "$LAB" exec dpu "$@"; }
lab_bg() {
	local side=$1
	shift
	"$LAB" exec "$side" "$@" &
	_lab_bg_pids+=($!)
	LAB_BG_PID=$!
}
# PIDs (ascending) of this lab's processes on SIDE whose command line matches
# pgrep's ARGS. The PID namespace is shared by every lab on the machine, so a
# bare pgrep would also find other tests' daemons.
lab_pgrep() {
	local side=$1 ns
	shift
	ns=${SPLITVIRT_LAB:+$SPLITVIRT_LAB-}$side
	pgrep "$@" | grep -Fx -f <(ip netns pids "$ns" 2>/dev/null; echo none) | sort -n
}
wait_for() {
	local secs=$1 deadline
	shift
	deadline=$(($(date +%s%N) + secs * 1000000000))
	until "$@" >/dev/null 2>&1; do
		[ "$(date +%s%N)" -lt $deadline ] || return 1
		sleep 0.05
	done
}
