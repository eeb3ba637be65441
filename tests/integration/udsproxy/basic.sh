#!/usr/bin/env bash
# udsproxy basics in the lab: unmodified socat on the dpu reaches a host echo server through
# LD_PRELOAD; errors propagate; SEQPACKET and DGRAM; status; qtcfg; 1 GiB keeps its SHA-256.
source "$(dirname "$0")/common.bash"

lab_up
on_host mkdir -p /run/echo
echo_server /run/echo/echo.sock
echo_server /run/echo/seq.sock seqpacket
echo_server /run/echo/dgram.sock dgram
on_host mkdir -p /run/secret
lab_bg host $HELPER serve /run/secret/s.sock
udsp_up || { tap_fail "daemons link up"; show_logs; tap_done; exit 1; }
tap_ok "daemons link up over tcp test mode"

out=$(echo hello-through-proxy | preload timeout 10 socat - UNIX-CONNECT:/run/echo/echo.sock 2>&1)
tap_expect_eq "unmodified socat with LD_PRELOAD reaches the host echo server" \
	"hello-through-proxy" "$out"

tap_expect_eq "missing path gives ENOENT" ENOENT "$(preload $HELPER errno /run/echo/nothere.sock)"
on_host python3 -c 'import socket; s=socket.socket(socket.AF_UNIX); s.bind("/run/echo/dead.sock")'
tap_expect_eq "no listener gives ECONNREFUSED" ECONNREFUSED \
	"$(preload $HELPER errno /run/echo/dead.sock)"
tap_expect_eq "a path outside the allowlist gives EACCES" EACCES \
	"$(preload $HELPER errno /run/secret/s.sock)"
tap_expect_eq "an abstract address not listed gives EACCES" EACCES \
	"$(preload $HELPER errno @udsp-abstract-test)"
lab_bg host $HELPER serve @udsp-test-listed
wait_for 5 on_host sh -c 'grep -q "@udsp-test-listed" /proc/net/unix'
tap_expect_eq "an abstract address listed exactly is reached (another netns on the dpu)" OK \
	"$(preload $HELPER errno @udsp-test-listed)"

# O_NONBLOCK: EINPROGRESS, writable once the far side answered, SO_ERROR says how it went.
tap_expect_eq "a non-blocking connect gives EINPROGRESS, then SO_ERROR 0 and works" \
	"EINPROGRESS then OK echo nb" "$(preload $HELPER nbconnect /run/echo/echo.sock 2>&1)"
tap_expect_eq "a non-blocking connect to a missing path gives EINPROGRESS, then SO_ERROR ENOENT" \
	"EINPROGRESS then ENOENT" "$(preload $HELPER nbconnect /run/echo/nothere.sock 2>&1)"
tap_expect_eq "a non-blocking connect outside the allowlist: EINPROGRESS, then SO_ERROR EACCES" \
	"EINPROGRESS then EACCES" "$(preload env UDSPROXY_PATHS=/run/secret $HELPER nbconnect /run/secret/s.sock 2>&1)"

lab_bg host $HELPER serve-full /run/echo/full.sock
wait_for 5 on_host test -S /run/echo/full.sock
sleep 0.5
tap_expect_eq "while the far side cannot connect yet the socket is not writable; then ETIMEDOUT" \
	"EINPROGRESS, not writable after 1 s (SO_ERROR 0), then ETIMEDOUT" \
	"$(preload $HELPER nbpending /run/echo/full.sock 2>&1)"

# The far side connects as the requesting user: socket file permissions apply as locally.
on_host chmod 0666 /run/echo/echo.sock
lab_bg host $HELPER serve /run/echo/root-only.sock
wait_for 5 on_host test -S /run/echo/root-only.sock
on_host chmod 0600 /run/echo/root-only.sock
cp "$SV_ROOT/tests/integration/udsproxy/udsp_helper.py" "$T/helper.py"
chmod 644 "$T/helper.py"
nobody() { preload setpriv --reuid=65534 --regid=65534 --clear-groups /usr/bin/python3 "$T/helper.py" "$@"; }
tap_expect_eq "an unprivileged user reaches a world-writable socket" OK \
	"$(nobody errno /run/echo/echo.sock)"
tap_expect_eq "an unprivileged user gets EACCES for a root-only socket" EACCES \
	"$(nobody errno /run/echo/root-only.sock)"
tap_expect_eq "root reaches the root-only socket" OK "$(preload $HELPER errno /run/echo/root-only.sock)"
lab_bg host $HELPER serve /run/echo/group.sock
wait_for 5 on_host test -S /run/echo/group.sock
on_host chgrp 4242 /run/echo/group.sock
on_host chmod 0660 /run/echo/group.sock
tap_expect_eq "an unprivileged user without the socket's group gets EACCES" EACCES \
	"$(nobody errno /run/echo/group.sock)"
member() { preload setpriv --reuid=65534 --regid=65534 --groups=4242 /usr/bin/python3 "$T/helper.py" "$@"; }
tap_expect_eq "a supplementary group of the caller applies on the far side" OK \
	"$(member errno /run/echo/group.sock)"

tap_expect_eq "SEQPACKET message boundaries survive" "boundaries kept" \
	"$(preload $HELPER echo /run/echo/seq.sock seqpacket 2>&1)"
tap_expect_eq "DGRAM request/reply to the client's own name" "dgram reply ok" \
	"$(preload $HELPER dgram /run/echo/dgram.sock 2>&1)"
tap_expect_eq "connected DGRAM keeps datagram boundaries" "boundaries kept" \
	"$(preload $HELPER echo /run/echo/dgram.sock dgram 2>&1)"
big="204800 echoed, 262144 echoed, longer EMSGSIZE, then after"
tap_expect_eq "SEQPACKET: 256 KiB messages pass whole; a longer send fails with EMSGSIZE" "$big" \
	"$(preload $HELPER bigmsg /run/echo/seq.sock seqpacket 2>&1)"
tap_expect_eq "DGRAM: 256 KiB datagrams pass whole; a longer send fails with EMSGSIZE" "$big" \
	"$(preload $HELPER bigmsg /run/echo/dgram.sock dgram 2>&1)"

# The shim is silent unless UDSPROXY_LOG is set.
err=$(echo x | preload socat - UNIX-CONNECT:/run/echo/echo.sock 2>&1 >/dev/null)
tap_expect_eq "the shim prints nothing without UDSPROXY_LOG" "" "$err"
err=$(echo x | preload env UDSPROXY_LOG=1 socat - UNIX-CONNECT:/run/echo/echo.sock 2>&1 >/dev/null)
case "$err" in *"udsproxy: connect /run/echo/echo.sock: proxied"*) tap_ok "UDSPROXY_LOG=1 logs the proxied connect" ;;
*) tap_fail "UDSPROXY_LOG=1 logs the proxied connect" "$err" ;; esac

# qtcfg: a listed path is proxied without trying locally; a host-side entry allows.
on_dpu mkdir -p /run/secret
on_dpu python3 -c 'import socket,time; s=socket.socket(socket.AF_UNIX); s.bind("/run/secret/s.sock"); s.listen(); time.sleep(60)' &
dpu_local=$!
at_cleanup "kill $dpu_local"
wait_for 5 on_dpu test -S /run/secret/s.sock
tap_expect_eq "an unlisted path that exists locally stays local" OK \
	"$(preload $HELPER errno /run/secret/s.sock)"
on_dpu env UDSPROXY_CONF_DIR="$T/conf-dpu" "$SV_BIN/qtcfg" -x /run/secret/ >/dev/null
tap_expect_eq "qtcfg -x makes the shim proxy the path (host refuses: EACCES)" EACCES \
	"$(preload $HELPER errno /run/secret/s.sock)"
on_host env UDSPROXY_CONF_DIR="$T/conf-host" "$SV_BIN/qtcfg" -x /run/secret >/dev/null
tap_expect_eq "qtcfg -x on the host allows it without a daemon restart" OK \
	"$(preload $HELPER errno /run/secret/s.sock)"
tap_expect_eq "qtcfg -z lists with indices" "0: /run/secret" \
	"$(on_host env UDSPROXY_CONF_DIR="$T/conf-host" "$SV_BIN/qtcfg" -z)"
on_host env UDSPROXY_CONF_DIR="$T/conf-host" "$SV_BIN/qtcfg" -y 0
tap_expect_eq "qtcfg -y 0 deletes it and the host refuses again" EACCES \
	"$(preload $HELPER errno /run/secret/s.sock)"
out=$(on_host env UDSPROXY_CONF_DIR="$T/conf-host" "$SV_BIN/qtcfg" -x relative/path 2>&1); rc=$?
[ $rc -ne 0 ] && [ -n "$out" ] && tap_ok "qtcfg -x refuses a relative path with a message" ||
	tap_fail "qtcfg -x refuses a relative path" "rc=$rc out=$out"

st=$(on_dpu "$UDSPD" --status)
case "$st" in *"link: up"*"streams:"*"link bytes:"*) tap_ok "--status shows link, streams and bytes" ;;
*) tap_fail "--status shows link, streams and bytes" "$st" ;; esac

# The control socket is 0666 (any user may ask for a connect, made as that user on the far
# side); what is privileged is not on it: the status (every user's addresses) is root-only
# and the qtcfg lists are root-owned files.
NOBODY="setpriv --reuid=65534 --regid=65534 --clear-groups"
out=$(on_dpu $NOBODY "$UDSPD" --status 2>&1); rc=$?
case "$rc:$out" in [1-9]*:*"root only"*) tap_ok "--status as a non-root user is refused" ;;
*) tap_fail "--status as a non-root user is refused" "rc=$rc $out" ;; esac
out=$(on_host $NOBODY env UDSPROXY_CONF_DIR="$T/conf-host" "$SV_BIN/qtcfg" -x /run/secret 2>&1)
rc=$?
tap_expect_eq "qtcfg -x as a non-root user fails and changes nothing" "1: " \
	"$([ $rc -ne 0 ] && [ -n "$out" ] && echo 1): $(on_host env UDSPROXY_CONF_DIR="$T/conf-host" "$SV_BIN/qtcfg" -z)"
# Control clients that connect and stall are closed; meanwhile the daemon serves others.
on_dpu $HELPER stall-ctl /run/udsproxy/udsproxy.sock >"$T/stallctl" 2>&1 &
stall_pid=$!
wait_for 5 grep -q stalling "$T/stallctl"
if on_dpu "$UDSPD" --status | grep -q '^link: up'; then
	tap_ok "the daemon answers while control clients stall"
else
	tap_fail "the daemon answers while control clients stall"
fi
wait $stall_pid
tap_expect_eq "control clients that send no complete request are closed" \
	"stalling
both closed by the daemon" "$(cat "$T/stallctl")"

# A large stream, both ways through the echo server, keeps its SHA-256.
mb=1024
[ "${SV_SAN:-0}" = 1 ] && mb=128
gen() { openssl enc -aes-128-ctr -pass pass:udsproxy -nosalt -pbkdf2 </dev/zero 2>/dev/null | head -c $((mb << 20)); }
got=$(gen | tee >(sha256sum | cut -d' ' -f1 >"$T/want") |
	preload socat -b 262144 -t 30 - UNIX-CONNECT:/run/echo/echo.sock | sha256sum | cut -d' ' -f1)
wait_for 10 test -s "$T/want"
want=$(cat "$T/want")
tap_expect_eq "$mb MiB echoed through the proxy keeps its SHA-256" "$want" "$got"

# Datagram streams end when the client's socket closes (it raises no event: sock_diag).
if wait_for 15 sh -c "'$LAB' exec dpu '$UDSPD' --status | grep -q 'streams: 0 open'"; then
	tap_ok "every stream is released once its clients closed (datagram ones too)"
else
	tap_fail "every stream is released once its clients closed" "$(on_dpu "$UDSPD" --status | head -8)"
fi
grep -q "error" "$T/host.log" "$T/dpu.log" && show_logs
tap_done
