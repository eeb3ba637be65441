#!/usr/bin/env bash
# 200 concurrent sessions each get their own process, output and exit status; the session
# limit turns the excess away with a message.
source "$(dirname "$0")/common.bash"

rexec_setup
rexec_whitelist /usr/bin/sh /usr/bin/sleep
rexec_server_start srv "tcp:$HOST_ADDR:$PORT" --test-mode --whitelist "$RX/whitelist" \
	--max-sessions 400 || { tap_fail "server starts"; tap_done; exit 1; }

mkdir -p "$RX/out"
on_dpu bash -c "for i in \$(seq 1 200); do
		( $R /usr/bin/sh -c 'sleep 1; echo out-\$0; echo err-\$0 >&2; exit \$((\$0 % 50))' \$i \
			>'$RX/out/'\$i.o 2>'$RX/out/'\$i.e; echo \$? >'$RX/out/'\$i.rc ) &
	done; wait"
bad=
for i in $(seq 1 200); do
	if [ "$(cat "$RX/out/$i.o" 2>/dev/null)" != "out-$i" ] ||
		[ "$(cat "$RX/out/$i.e" 2>/dev/null)" != "err-$i" ] ||
		[ "$(cat "$RX/out/$i.rc" 2>/dev/null)" != "$((i % 50))" ]; then
		bad="$bad $i($(cat "$RX/out/$i.rc" "$RX/out/$i.e" 2>/dev/null | tr '\n' ' '))"
	fi
done
if [ -z "$bad" ]; then tap_ok "200 concurrent sessions complete with their own output and status"
else tap_fail "200 concurrent sessions complete with their own output and status" "failed:$bad"; fi
n=$(grep -c "/usr/bin/sh.*: done exit=" "$RX/srv.log")
tap_expect_eq "the server logged one line per finished session" 200 "$n"

rexec_server_stop
rexec_server_start srv2 "tcp:$HOST_ADDR:$PORT" --test-mode --whitelist "$RX/whitelist" \
	--max-sessions 2 || tap_fail "second server starts"
on_dpu bash -c "$R /usr/bin/sleep 3 & $R /usr/bin/sleep 3 & sleep 0.5; $R /usr/bin/sh -c true 2>'$RX/busy.err'; echo \$? >'$RX/busy.rc'; wait"
if [ "$(cat "$RX/busy.rc")" = 255 ] && grep -q "too many sessions" "$RX/busy.err"; then
	tap_ok "beyond --max-sessions a client is turned away with a message (255)"
else
	tap_fail "beyond --max-sessions a client is turned away with a message (255)" "$(cat "$RX/busy.rc" "$RX/busy.err")"
fi
on_dpu $R /usr/bin/sh -c 'exit 3'
tap_expect_eq "after those sessions end, new ones are accepted again" 3 $?
tap_done
