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

# The host daemon starts first, so its dialer is backing off when the dpu daemon's dial brings
# the link up. The host's next retry must not replace that link: it used to, cutting every
# stream opened in between (socat got EPIPE 256 MiB into mirror.sh, once in a few runs).
udsp_daemon host --listen tcp:$HOST_ADDR:$PORT --peer tcp:$DPU_ADDR:$PORT --test-mode \
	--allow "$T/allow"
wait_for 5 grep -q "Connection refused (retrying)" "$T/host.log"
# By 1 s the host's backoff is 0.4-1.6 s long: its next dial comes well after the link is up.
sleep 1
udsp_daemon dpu --listen tcp:$DPU_ADDR:$PORT --peer tcp:$HOST_ADDR:$PORT --test-mode \
	--allow "$T/allow"
wait_for 10 link_up || { tap_fail "daemons link up"; show_logs; tap_done; exit 1; }
links_count() { on_host "$UDSPD" --status | grep '^links up'; on_dpu "$UDSPD" --status | grep '^links up'; }
# (Both dialling at the very same moment is resolved at once, before link_up saw the link.)
links0=$(links_count)

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
# The host dialer's retry would have come by now.
sleep 2
tap_expect_eq "a dial still backing off when the peer's dial links up does not replace the link" \
	"$links0" "$(links_count)"
if grep -q ended "$T/hold1"; then
	tap_fail "a stream opened right after the link came up keeps streaming" "$(cat "$T/hold1")
$(show_logs)"
else
	tap_ok "a stream opened right after the link came up keeps streaming"
fi

# A peer that is stopped (or starved) for less than the dead time (6 s) is not given up on,
# by either side, and the stream carries on afterwards.
kill -STOP "$UDSP_PID_host"
sleep 3
kill -CONT "$UDSP_PID_host"
sleep 1.5
if grep -q ended "$T/hold1"; then
	tap_fail "a daemon stopped for 3 s keeps its link and streams" "$(cat "$T/hold1")
$(show_logs)"
else
	tap_expect_eq "a daemon stopped for 3 s keeps its link and streams" "$links0" "$(links_count)"
fi
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
