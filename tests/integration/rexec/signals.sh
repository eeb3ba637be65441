#!/usr/bin/env bash
# Signals and lifetimes: SIGINT forwarding, the remote dying with a SIGKILLed client,
# detached programs surviving client and server restarts, --signal/--wait by pid+start time.
source "$(dirname "$0")/common.bash"

rexec_setup
rexec_whitelist /usr/bin/sh /usr/bin/sleep
printf '[exec]\ndetach_log_dir = %s/detached\n' "$RX" >"$RX/conf"
rexec_server_start srv "tcp:$HOST_ADDR:$PORT" --test-mode --whitelist "$RX/whitelist" \
	--config "$RX/conf" || { tap_fail "server starts"; tap_done; exit 1; }

# Ctrl-C: SIGINT to the client reaches the remote program (which traps it and exits 42).
out=$(on_dpu bash -c "set -m; $R /usr/bin/sh -c 'trap \"echo got-INT; exit 42\" INT; echo ready; while :; do sleep 0.05; done' >'$RX/int.out' & p=\$!
	for i in \$(seq 100); do grep -q ready '$RX/int.out' 2>/dev/null && break; sleep 0.05; done
	kill -INT \$p; wait \$p; echo rc=\$?")
if [ "$out" = "rc=42" ] && grep -q got-INT "$RX/int.out"; then
	tap_ok "SIGINT to the client reaches the remote program"
else
	tap_fail "SIGINT to the client reaches the remote program" "$out $(cat "$RX/int.out")"
fi

for sig in TERM HUP USR1 QUIT; do
	# A file per signal: a stale "ready" must never be mistaken for this run's.
	out=$(on_dpu bash -c "set -m; $R /usr/bin/sh -c 'trap \"exit 40\" $sig; echo ready; while :; do sleep 0.05; done' >'$RX/sig.$sig' & p=\$!
		for i in \$(seq 200); do grep -q ready '$RX/sig.$sig' 2>/dev/null && break; sleep 0.05; done
		kill -$sig \$p; wait \$p; echo rc=\$?")
	tap_expect_eq "SIG$sig to the client is forwarded" "rc=40" "$out"
done

# SIGKILL the client: the non-detached remote program dies within 2 s.
on_dpu bash -c "$R /usr/bin/sleep 100 & p=\$!
	for i in \$(seq 100); do [ -s /var/run/rexec/pids/\$p ] && break; sleep 0.05; done
	cat /var/run/rexec/pids/\$p; kill -9 \$p" >"$RX/kill.out"
rpid=$(head -1 "$RX/kill.out")
gone=no
if [ -n "$rpid" ]; then
	for i in $(seq 40); do
		if ! [ -e /proc/$rpid ] || [ "$(cat /proc/$rpid/comm 2>/dev/null)" != sleep ]; then
			gone=yes
			break
		fi
		sleep 0.05
	done
fi
tap_expect_eq "SIGKILL on the client kills the remote program within 2 s (pid $rpid)" yes $gone

# Detached: survives the client (which returns at once) and a server restart.
dpid=$(on_dpu $R -d /usr/bin/sleep 30)
alive() { [ -e /proc/$1 ] && [ "$(cat /proc/$1/comm 2>/dev/null)" = sleep ]; }
if [[ $dpid =~ ^[0-9]+$ ]] && alive "$dpid"; then
	tap_ok "-d prints the remote pid and returns while the program runs"
else
	tap_fail "-d prints the remote pid and returns while the program runs" "got '$dpid'"
fi
rexec_server_stop
sleep 0.2
rexec_server_start srv2 "tcp:$HOST_ADDR:$PORT" --test-mode --whitelist "$RX/whitelist" \
	--config "$RX/conf" ||
	tap_fail "server restarts"
if alive "$dpid"; then tap_ok "a detached program survives a server restart"; else
	tap_fail "a detached program survives a server restart"; fi
on_dpu $R --signal TERM "$dpid"
tap_expect_eq "--signal TERM on a detached pid after the restart succeeds" 0 $?
on_dpu $R --wait "$dpid"
tap_expect_eq "--wait reports its death by SIGTERM as 143" 143 $?

dpid2=$(on_dpu $R -d /usr/bin/sh -c 'sleep 0.3; exit 7')
on_dpu $R --wait "$dpid2"
tap_expect_eq "--wait returns a detached program's exit code" 7 $?
on_dpu $R --wait "$dpid2" 2>"$RX/err"
rc=$?
if [ $rc -eq 126 ] && grep -q "not a process this server started" "$RX/err"; then
	tap_ok "--wait on an already collected pid is refused"
else
	tap_fail "--wait on an already collected pid is refused" "rc=$rc $(cat "$RX/err")"
fi

dpid4=$(on_dpu $R -d /usr/bin/sh -c 'echo detached-out; echo detached-err >&2')
on_dpu $R --wait "$dpid4" >/dev/null
shlog=$RX/detached/$(basename "$(realpath /usr/bin/sh)").log # named after the resolved file
if grep -q detached-out "$shlog" && grep -q detached-err "$shlog"; then
	tap_ok "a detached program's output goes to [exec] detach_log_dir"
else
	tap_fail "a detached program's output goes to [exec] detach_log_dir" "$(ls -la "$RX/detached" 2>&1)"
fi

# --wait from another client on a program started without -d gets its status too.
out=$(on_dpu bash -c "$R /usr/bin/sh -c 'sleep 0.5; exit 9' & p=\$!
	for i in \$(seq 100); do [ -s /var/run/rexec/pids/\$p ] && break; sleep 0.05; done
	$R --wait \$(cat /var/run/rexec/pids/\$p); echo waited=\$?; wait \$p; echo own=\$?")
tap_expect_eq "--wait from another client on a non-detached program gets its exit code" \
	"waited=9 own=9" "$(echo $out)"

# Not started by this server: refused however the process is named.
sleep 60 &
foreign=$!
at_cleanup "kill $foreign"
on_dpu $R --signal KILL "$foreign" 2>"$RX/err"
rc=$?
if [ $rc -eq 126 ] && kill -0 $foreign 2>/dev/null && grep -q "not a process this server started" "$RX/err"; then
	tap_ok "--signal on a process the server did not start is refused (126)"
else
	tap_fail "--signal on a process the server did not start is refused (126)" "rc=$rc $(cat "$RX/err")"
fi
on_dpu $R --signal 1 1 2>/dev/null
tap_expect_eq "--signal to init is refused" 126 $?
on_dpu $R --signal NOSUCH 5 2>/dev/null
tap_expect_eq "--signal with an unknown signal name is a usage error" 2 $?

# A registry entry whose pid now belongs to another process (start time differs) is stale.
dpid3=$(on_dpu $R -d /usr/bin/sleep 0.1)
sleep 0.5
on_dpu $R --signal TERM "$dpid3" 2>"$RX/err"
rc=$?
if [ $rc -eq 1 ] && grep -q "has exited" "$RX/err"; then
	tap_ok "--signal on a detached program that has exited says so (1)"
else
	tap_fail "--signal on a detached program that has exited says so (1)" "rc=$rc $(cat "$RX/err")"
fi
tap_done
