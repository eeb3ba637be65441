#!/usr/bin/env bash
# rexec over the default unix socket /var/run/rexec/rexec_uds.sock (the openEuler path, as
# reached through udsproxy), client and server in the host namespace.
source "$(dirname "$0")/common.bash"

rexec_setup
rexec_whitelist /usr/bin/sh /usr/bin/cat
lab_bg host "$SV_BIN/rexec_server" --whitelist "$RX/whitelist" -D "$RX/srv.log"
wait_for 10 on_host test -S /var/run/rexec/rexec_uds.sock ||
	{ tap_fail "server listens on the default socket" "$(cat "$RX/srv.log")"; tap_done; exit 1; }
tap_expect_eq "the default socket is private to root (0600)" 600 \
	"$(on_host stat -c %a /var/run/rexec/rexec_uds.sock)"

got=$(on_host bash -c "for i in 0 1 2 126 127 128 255; do $SV_BIN/rexec /usr/bin/sh -c \"exit \$i\"; echo -n \"\$? \"; done")
tap_expect_eq "unix: exit codes come back exactly" "0 1 2 126 127 128 255 " "$got"
out=$(on_host "$SV_BIN/rexec" /usr/bin/sh -c 'echo o; echo e >&2' 2>"$RX/err")
tap_expect_eq "unix: stdout and stderr stay separate" "o|e" "$out|$(cat "$RX/err")"
mib=$(rexec_mib 256 32)
head -c $((mib << 20)) /dev/urandom >"$RX/data"
want=$(sha256sum <"$RX/data" | cut -d' ' -f1)
got=$(on_host bash -c "$SV_BIN/rexec /usr/bin/cat <'$RX/data' | sha256sum" | cut -d' ' -f1)
tap_expect_eq "unix: $mib MiB through cat keeps its SHA-256" "$want" "$got"
if grep -q "unix:.*uid=0" "$RX/srv.log"; then tap_ok "unix: the session log names the peer's pid and uid"
else tap_fail "unix: the session log names the peer's pid and uid" "$(tail -2 "$RX/srv.log")"; fi
on_dpu "$SV_BIN/rexec" /usr/bin/sh -c true 2>"$RX/err"
rc=$?
if [ $rc -eq 255 ] && grep -q "rexec_uds.sock" "$RX/err"; then
	tap_ok "no server at the socket: 255 with a one-line message naming it"
else
	tap_fail "no server at the socket: 255 with a one-line message naming it" "rc=$rc $(cat "$RX/err")"
fi
tap_done
