#!/usr/bin/env bash
# Mirroring without LD_PRELOAD: the dpu daemon keeps a local listener for every host listener
# under the mirrored directory, in sync, and removes them when the link drops or it exits.
source "$(dirname "$0")/common.bash"

lab_up
on_host mkdir -p /run/echo/mirror
on_dpu mkdir -p /run/echo/mirror
echo_server /run/echo/mirror/echo.sock
out=$(on_dpu "$UDSPD" --listen tcp:$DPU_ADDR:$PORT --peer tcp:$HOST_ADDR:$PORT --test-mode \
	--mirror /run/echo/nonexistent 2>&1); rc=$?
case "$rc:$out" in [1-9]*:*"/run/echo/nonexistent"*"not a directory"*) tap_ok "--mirror on a missing directory is refused naming it" ;;
*) tap_fail "--mirror on a missing directory is refused naming it" "rc=$rc $out" ;; esac

# A mirror directory that is a FUSE (qtfs) mount belongs to the other machine: refused.
on_dpu mkdir -p /run/fusedir
lab_bg dpu $HELPER fuse-mount /run/fusedir >"$T/fuse.log"
fuse_pid=$LAB_BG_PID
at_cleanup "'$LAB' exec dpu umount -l /run/fusedir"
if wait_for 5 on_dpu sh -c 'grep -q " /run/fusedir fuse" /proc/self/mounts'; then
	out=$(on_dpu "$UDSPD" --listen tcp:$DPU_ADDR:$PORT --peer tcp:$HOST_ADDR:$PORT --test-mode \
		--mirror /run/fusedir 2>&1); rc=$?
	case "$rc:$out" in [1-9]*:*"/run/fusedir"*FUSE*) tap_ok "--mirror on a FUSE mount is refused with a message" ;;
	*) tap_fail "--mirror on a FUSE mount is refused with a message" "rc=$rc $out" ;; esac
	on_dpu umount -l /run/fusedir
	kill $fuse_pid 2>/dev/null
else
	tap_skip "--mirror on a FUSE mount is refused" "could not mount a test FUSE file system"
fi

udsp_up -- --mirror /run/echo/mirror || { tap_fail "daemons link up"; show_logs; tap_done; exit 1; }
if wait_for 5 on_dpu test -S /run/echo/mirror/echo.sock; then
	tap_ok "the host listener appears as a socket on the dpu"
else
	tap_fail "the host listener appears as a socket on the dpu" "$(show_logs)"
fi
out=$(echo mirrored | on_dpu timeout 10 socat - UNIX-CONNECT:/run/echo/mirror/echo.sock 2>&1)
tap_expect_eq "socat without LD_PRELOAD reaches the host echo server through the mirror" \
	mirrored "$out"
mb=256
[ "${SV_SAN:-0}" = 1 ] && mb=64
gen() { openssl enc -aes-128-ctr -pass pass:mirror -nosalt -pbkdf2 </dev/zero 2>/dev/null | head -c $((mb << 20)); }
got=$(gen | tee >(sha256sum | cut -d' ' -f1 >"$T/want") |
	on_dpu socat -b 262144 -t 30 - UNIX-CONNECT:/run/echo/mirror/echo.sock | sha256sum | cut -d' ' -f1)
wait_for 10 test -s "$T/want"
want=$(cat "$T/want")
if [ "$want" = "$got" ]; then
	tap_ok "$mb MiB through the mirror keeps its SHA-256"
else
	tap_fail "$mb MiB through the mirror keeps its SHA-256" "expected [$want], got [$got]
$(show_logs)"
fi
tap_expect_eq "a python client without preload echoes through the mirror" "ping" \
	"$(on_dpu $HELPER echo /run/echo/mirror/echo.sock stream 2>&1)"

# A new listener appears, then goes away: the mirror follows.
lab_bg host $HELPER serve /run/echo/mirror/second.sock seqpacket
second=$LAB_BG_PID
if wait_for 5 on_dpu test -S /run/echo/mirror/second.sock; then
	tap_ok "a listener created later is mirrored too"
else
	tap_fail "a listener created later is mirrored too"
fi
tap_expect_eq "the mirrored SEQPACKET listener keeps message boundaries" "boundaries kept" \
	"$(on_dpu $HELPER echo /run/echo/mirror/second.sock seqpacket 2>&1)"
kill $second
on_host rm -f /run/echo/mirror/second.sock

# A bound datagram socket is mirrored too: one local socket, a stream per sender, replies
# addressed to each sender's own name.
lab_bg host $HELPER serve /run/echo/mirror/dg.sock dgram
if wait_for 5 on_dpu test -S /run/echo/mirror/dg.sock; then
	tap_ok "a bound DGRAM socket on the host is mirrored on the dpu"
else
	tap_fail "a bound DGRAM socket on the host is mirrored on the dpu" "$(show_logs)"
fi
tap_expect_eq "a datagram client without preload gets its replies through the mirror" \
	"dgram reply ok" "$(on_dpu timeout 20 $HELPER dgram /run/echo/mirror/dg.sock 2>&1)"
tap_expect_eq "two datagram clients at once each get their own replies" \
	"dgram reply ok
dgram reply ok" "$(on_dpu sh -c "$HELPER dgram /run/echo/mirror/dg.sock & $HELPER dgram /run/echo/mirror/dg.sock; wait" 2>&1)"
# The senders removed their sockets: their streams are released on both sides.
if wait_for 10 sh -c "'$LAB' exec dpu '$UDSPD' --status | grep -q 'streams: 0 open' &&
	'$LAB' exec host '$UDSPD' --status | grep -q 'streams: 0 open'"; then
	tap_ok "a mirrored datagram sender's stream ends once its socket is gone"
else
	tap_fail "a mirrored datagram sender's stream ends once its socket is gone" \
		"$(on_dpu "$UDSPD" --status | grep -i stream)"
fi
if wait_for 5 on_dpu sh -c '! test -e /run/echo/mirror/second.sock'; then
	tap_ok "a listener that goes away on the host disappears on the dpu"
else
	tap_fail "a listener that goes away on the host disappears on the dpu"
fi

# Link loss: mirror sockets are removed (a connect then fails instead of hanging).
kill -9 "$UDSP_PID_host"
if wait_for 3 on_dpu sh -c '! test -e /run/echo/mirror/echo.sock'; then
	tap_ok "killing the host daemon removes the dpu's mirror sockets (no stale files)"
else
	tap_fail "killing the host daemon removes the dpu's mirror sockets" "$(on_dpu ls -l /run/echo/mirror)"
fi
udsp_daemon host --listen tcp:$HOST_ADDR:$PORT --peer tcp:$DPU_ADDR:$PORT --test-mode --allow "$T/allow"
if wait_for 10 on_dpu test -S /run/echo/mirror/echo.sock; then
	tap_ok "after the host daemon restarts the mirror socket is back"
else
	tap_fail "after the host daemon restarts the mirror socket is back"
fi
kill -TERM "$UDSP_PID_dpu"
wait_for 5 sh -c "! kill -0 $UDSP_PID_dpu 2>/dev/null"
left=$(on_dpu sh -c 'ls /run/echo/mirror; ls /run/udsproxy 2>/dev/null')
tap_expect_eq "an orderly stop removes every mirror socket and the control socket" "" "$left"
tap_done
