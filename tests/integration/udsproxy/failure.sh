#!/usr/bin/env bash
# Link loss: killing either daemon mid-transfer closes the applications' sockets on the other
# side within 2 s; the daemons reconnect after a restart.
source "$(dirname "$0")/common.bash"

lab_up
on_host mkdir -p /run/echo
on_dpu mkdir -p /run/echo
echo_server /run/echo/echo.sock
lab_bg dpu $HELPER serve /run/echo/dpu-echo.sock
wait_for 5 on_dpu test -S /run/echo/dpu-echo.sock
udsp_up -- --allow "$T/allow" || { tap_fail "daemons link up"; show_logs; tap_done; exit 1; }

# ended_within FILE T0: the client's "ended ... TIME" line came within 2 s of T0.
ended_within() {
	local line t
	wait_for 5 grep -q ended "$1" || { echo "no end: $(cat "$1")"; return 1; }
	line=$(grep ended "$1")
	t=${line##* }
	python3 -c "import sys; sys.exit(0 if $t - $2 < 2.0 else 1)" || { echo "$line after $2"; return 1; }
}

preload $HELPER hold /run/echo/echo.sock >"$T/hold1" 2>&1 &
at_cleanup "kill $!"
wait_for 5 grep -q connected "$T/hold1"
sleep 0.5
t0=$(date +%s.%N)
kill -9 "$UDSP_PID_host"
tap_check "killing the host daemon mid-transfer ends the dpu application's socket within 2 s" \
	ended_within "$T/hold1" "$t0"
tap_expect_eq "with the link down a listed path fails at once with the local errno" \
	ENOENT "$(preload env UDSPROXY_PATHS=/run/echo timeout 5 $HELPER errno /run/echo/echo.sock)"

udsp_daemon host --listen tcp:$HOST_ADDR:$PORT --peer tcp:$DPU_ADDR:$PORT --test-mode \
	--allow "$T/allow"
if wait_for 10 link_up; then tap_ok "the daemons reconnect after the host daemon restarts"; else
	tap_fail "the daemons reconnect after the host daemon restarts"; show_logs; fi
tap_expect_eq "connects work again after the reconnect" OK \
	"$(preload $HELPER errno /run/echo/echo.sock)"

# The other way round: a host application through the host's shim to a dpu server.
on_host env ${PRELOAD_ASAN:-} LD_PRELOAD="$PRELOAD" UDSPROXY_CONF_DIR="$T/conf-host" $HELPER hold \
	/run/echo/dpu-echo.sock >"$T/hold2" 2>&1 &
at_cleanup "kill $!"
if wait_for 5 grep -q connected "$T/hold2"; then
	sleep 0.5
	t0=$(date +%s.%N)
	kill -9 "$UDSP_PID_dpu"
	tap_check "killing the dpu daemon mid-transfer ends the host application's socket within 2 s" \
		ended_within "$T/hold2" "$t0"
else
	tap_fail "host application connects to a dpu server" "$(cat "$T/hold2")"
fi
udsp_daemon dpu --listen tcp:$DPU_ADDR:$PORT --peer tcp:$HOST_ADDR:$PORT --test-mode \
	--allow "$T/allow"
if wait_for 10 link_up; then tap_ok "the daemons reconnect after the dpu daemon restarts"; else
	tap_fail "the daemons reconnect after the dpu daemon restarts"; show_logs; fi

# An orderly stop removes the control socket: no stale socket files.
kill -TERM "$UDSP_PID_dpu"
wait_for 5 sh -c "! kill -0 $UDSP_PID_dpu"
if wait_for 5 on_dpu sh -c '! test -e /run/udsproxy/udsproxy.sock'; then
	tap_ok "SIGTERM removes the control socket file"
else
	tap_fail "SIGTERM removes the control socket file" "$(on_dpu ls -l /run/udsproxy)"
fi
tap_done
