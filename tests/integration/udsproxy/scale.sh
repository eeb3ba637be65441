#!/usr/bin/env bash
# Many proxied connections at once, and one stalled reader does not hold up the others.
source "$(dirname "$0")/common.bash"

ulimit -n 16384
lab_up
on_host mkdir -p /run/echo
echo_server /run/echo/echo.sock
udsp_up || { tap_fail "daemons link up"; show_logs; tap_done; exit 1; }

n=1000
out=$(preload $HELPER many /run/echo/echo.sock $n 2>&1)
tap_expect_eq "$n concurrent proxied connections each echo correctly" \
	"$n of $n echoed correctly" "$out"
out=$(preload $HELPER threads /run/echo/echo.sock 16 25 2>&1)
tap_expect_eq "16 threads connecting at once through the shim all echo" \
	"400 of 400 threaded connects echoed" "$out"
out=$(preload $HELPER stall /run/echo/echo.sock 2>&1)
case "$out" in "stalled stream holds"*"other stream did 200 round trips") tap_ok "a stalled reader does not stop another stream ($out)" ;;
*) tap_fail "a stalled reader does not stop another stream" "$out" ;; esac
st=$(on_dpu "$UDSPD" --status)
case "$st" in *"streams: 0 open"*) tap_ok "every stream is released afterwards" ;;
*) tap_fail "every stream is released afterwards" "$(echo "$st" | head -5)" ;; esac
tap_done
