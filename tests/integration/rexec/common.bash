# Shared setup for the rexec integration tests (sourced; not a test itself).
#   rexec_setup                 lab up, a private work dir $RX (root-owned, 0755)
#   rexec_whitelist LINE...     writes $RX/whitelist (mode 0400) from the lines
#   rexec_server_start NAME ARG...  starts rexec_server in the host namespace, logging to
#                               $RX/NAME.log; sets SRV_PID; waits until it listens
#   RC=... on_dpu ...           clients run with $R (tcp test mode to the host)
source "$(dirname "${BASH_SOURCE[0]}")/../../lib/tap.sh"
source "$SV_ROOT/tests/lib/lab.sh"

RX=
PORT=7701
R=

rexec_setup() {
	lab_up
	RX=$(mktemp -d /tmp/rexec-it.XXXXXX)
	chmod 0755 "$RX"
	at_cleanup "rm -rf '$RX'"
	R="$SV_BIN/rexec --server tcp:$HOST_ADDR:$PORT --test-mode"
}

rexec_whitelist() {
	local f=${WL:-$RX/whitelist}
	rm -f "$f"
	printf '%s\n' "$@" >"$f"
	chmod 0400 "$f"
}

# Waits for a server to accept: a connection attempt that gets past connect.
_rexec_listening() { # ADDR SIDE
	local side=$2
	"$LAB" exec "$side" "$SV_BIN/rexec" --server "$1" --test-mode /rexec-probe-nonexistent \
		>/dev/null 2>&1
	[ $? -ne 255 ]
}

rexec_server_start() { # NAME ADDR [ARG]...
	local name=$1 addr=$2
	shift 2
	lab_bg host "$SV_BIN/rexec_server" --listen "$addr" -D "$RX/$name.log" "$@"
	SRV_PID=$LAB_BG_PID
	local side=dpu
	case "$addr" in unix:*) side=host ;; esac
	if ! wait_for 10 _rexec_listening "$addr" "$side"; then
		echo "# server $name did not start:" >&2
		sed 's/^/#   /' "$RX/$name.log" >&2
		return 1
	fi
}

rexec_server_stop() {
	kill -TERM "$SRV_PID" 2>/dev/null
	wait "$SRV_PID" 2>/dev/null
	return 0
}

# Scale volume (never assertions) down under the sanitizer build.
rexec_mib() { # DEFAULT_MIB SAN_MIB
	if [ "${SV_SAN:-0}" = 1 ]; then echo "$2"; else echo "$1"; fi
}
