# Shared setup for the udsproxy integration tests (sourced, not run: not a *.sh file).
#   udsp_up [HOST_ARGS] [-- DPU_ARGS]   starts udsproxyd on both sides (tcp test mode) and
#                                        waits for the link
#   udsp_daemon SIDE ARGS...             starts one daemon; its pid in UDSP_PID_<side>
#   preload CMD...                       runs CMD on the dpu with libudsproxy.so preloaded
source "$(dirname "$0")/../../lib/tap.sh"
source "$SV_ROOT/tests/lib/lab.sh"

HELPER="python3 $SV_ROOT/tests/integration/udsproxy/udsp_helper.py"
PRELOAD=$SV_BUILD/lib/libudsproxy.so
UDSPD=$SV_BIN/udsproxyd
PORT=12121
T=$(mktemp -d /tmp/udsp-test.XXXXXX)
chmod 755 "$T"
at_cleanup "rm -rf '$T'"
mkdir -p "$T/conf-host" "$T/conf-dpu"
# The host side exposes /run/echo (and what a test adds); root-owned, 0644 as required.
printf '# test allowlist\n/run/echo\n@udsp-test-listed\n' >"$T/allow"
chmod 644 "$T/allow"

if [ "${SV_SAN:-0}" = 1 ]; then
	# An ASan-built preload library needs the runtime loaded first in uninstrumented programs.
	# (Leaks of the uninstrumented programs we preload into are not ours to report.)
	PRELOAD="$(gcc -print-file-name=libasan.so):$(gcc -print-file-name=libubsan.so):$PRELOAD"
	PRELOAD_ASAN=ASAN_OPTIONS=detect_leaks=0:verify_asan_link_order=0
fi

# udsp_daemon SIDE ARGS...: a daemon on SIDE with its log in $T/SIDE.log.
udsp_daemon() {
	local side=$1
	shift
	lab_bg "$side" env UDSPROXY_CONF_DIR="$T/conf-$side" "$UDSPD" --conf-dir "$T/conf-$side" \
		"$@" -D "$T/$side.log"
	eval "UDSP_PID_$side=$LAB_BG_PID"
}

link_up() { on_dpu "$UDSPD" --status 2>/dev/null | grep -q '^link: up' &&
	on_host "$UDSPD" --status 2>/dev/null | grep -q '^link: up'; }

udsp_up() {
	local hargs=() dargs=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do hargs+=("$1"); shift; done
	[ "${1:-}" = -- ] && shift
	dargs=("$@")
	udsp_daemon host --listen tcp:$HOST_ADDR:$PORT --peer tcp:$DPU_ADDR:$PORT --test-mode \
		--allow "$T/allow" "${hargs[@]}"
	udsp_daemon dpu --listen tcp:$DPU_ADDR:$PORT --peer tcp:$HOST_ADDR:$PORT --test-mode \
		"${dargs[@]}"
	wait_for 10 link_up
}

# Runs CMD on the dpu with the shim preloaded.
preload() {
	on_dpu env ${PRELOAD_ASAN:-} LD_PRELOAD="$PRELOAD" UDSPROXY_CONF_DIR="$T/conf-dpu" "$@"
}

# An echo server on the host: echo_server PATH [TYPE]
echo_server() {
	lab_bg host $HELPER serve "$@"
	wait_for 5 on_host test -S "$1"
}

show_logs() {
	echo "# host log:"; tail -n 15 "$T/host.log" 2>/dev/null | sed 's/^/#   /'
	echo "# dpu log:"; tail -n 15 "$T/dpu.log" 2>/dev/null | sed 's/^/#   /'
}
