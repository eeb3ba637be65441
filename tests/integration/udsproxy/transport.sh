#!/usr/bin/env bash
# Link transports: tcp: only in test mode (and the openEuler command form), tls: with mutual
# certificates (a wrong certificate is refused), vsock: where the machine can run it.
source "$(dirname "$0")/common.bash"

# A CA, one leaf per side, and a rogue self-signed leaf.
(
	cd "$T"
	ec="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
	openssl req -x509 $ec -days 2 -subj /CN=udsp-test-ca -keyout ca.key -out ca.crt
	for s in host dpu; do
		openssl req $ec -subj "/CN=$s" -keyout $s.key -out $s.csr
		openssl x509 -req -in $s.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -out $s.crt
	done
	openssl req -x509 $ec -days 2 -subj /CN=rogue -keyout rogue.key -out rogue.crt
) >/dev/null 2>&1 || { tap_fail "generate test certificates"; tap_done; exit 1; }

lab_up
on_host mkdir -p /run/echo
echo_server /run/echo/echo.sock

out=$(on_host "$UDSPD" --listen tcp:$HOST_ADDR:$PORT --peer tcp:$DPU_ADDR:$PORT 2>&1); rc=$?
case "$rc:$out" in [1-9]*:*"needs --test-mode"*) tap_ok "tcp: without --test-mode is refused with a message" ;;
*) tap_fail "tcp: without --test-mode is refused" "rc=$rc $out" ;; esac
out=$(on_host "$UDSPD" --listen vsock:2:$PORT --peer vsock:3:$PORT 2>&1); rc=$?
case "$rc:$out" in [1-9]*:*"--vsock-cid"*) tap_ok "vsock: without a CID allowlist is refused" ;;
*) tap_fail "vsock: without a CID allowlist is refused" "rc=$rc $out" ;; esac
out=$(on_host "$UDSPD" 1 $HOST_ADDR notaport $DPU_ADDR $PORT 2>&1); rc=$?
[ $rc -ne 0 ] && case "$out" in *notaport*) true ;; *) false ;; esac &&
	tap_ok "openEuler form with a bad port is refused naming it" ||
	tap_fail "openEuler form with a bad port is refused naming it" "rc=$rc $out"

# The openEuler form: udsproxyd THREADS ADDR PORT PEERADDR PEERPORT (test mode, warns).
lab_bg host env UDSPROXY_CONF_DIR="$T/conf-host" "$UDSPD" 1 $HOST_ADDR $PORT $DPU_ADDR $PORT 2>"$T/oe-host.log"
oe_host=$LAB_BG_PID
on_host sh -c "cp '$T/allow' '$T/conf-host/udsconnect.list'"
lab_bg dpu env UDSPROXY_CONF_DIR="$T/conf-dpu" "$UDSPD" 1 $DPU_ADDR $PORT $HOST_ADDR $PORT 2>"$T/oe-dpu.log"
oe_dpu=$LAB_BG_PID
if wait_for 10 link_up; then tap_ok "the openEuler command form links up (tcp test mode)"; else
	tap_fail "the openEuler command form links up"; fi
out=$(echo openeuler | preload timeout 10 socat - UNIX-CONNECT:/run/echo/echo.sock 2>&1)
tap_expect_eq "and proxies (the host allows through its qtcfg list)" openeuler "$out"
kill $oe_host $oe_dpu
wait_for 5 sh -c "! kill -0 $oe_host 2>/dev/null && ! kill -0 $oe_dpu 2>/dev/null"

tls() { # SIDE CERTNAME extra...
	local side=$1 cert=$2 me peer
	shift 2
	if [ "$side" = host ]; then me=$HOST_ADDR; peer=$DPU_ADDR; else me=$DPU_ADDR; peer=$HOST_ADDR; fi
	udsp_daemon "$side" --listen tls:$me:$PORT --peer tls:$peer:$PORT --tls-cert "$T/$cert.crt" \
		--tls-key "$T/$cert.key" --tls-ca "$T/ca.crt" "$@"
}
: >"$T/host.log"
tls host host --allow "$T/allow"
tls dpu dpu
if wait_for 10 link_up; then tap_ok "tls: daemons with CA-signed certificates link up"; else
	tap_fail "tls: daemons link up"; show_logs; fi
out=$(echo over-tls | preload timeout 10 socat - UNIX-CONNECT:/run/echo/echo.sock 2>&1)
tap_expect_eq "tls: socat reaches the host echo server" over-tls "$out"
kill "$UDSP_PID_dpu"
wait_for 5 sh -c "! kill -0 $UDSP_PID_dpu 2>/dev/null"
tls dpu rogue
sleep 3
if link_up; then
	tap_fail "tls: a peer with a certificate from another CA is refused" "link came up"
elif grep -qi "refused a peer\|certificate\|verify" "$T/host.log"; then
	tap_ok "tls: a peer with a certificate from another CA is refused (and logged)"
else
	tap_fail "tls: a peer with a certificate from another CA is refused (and logged)" \
		"$(tail -5 "$T/host.log")"
fi
tap_expect_eq "tls: with the link refused a proxied connect fails locally" ENOENT \
	"$(preload timeout 10 $HELPER errno /run/echo/echo.sock)"

if python3 -c 'import socket; s=socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM); s.bind((1, 12121)); s.listen()' 2>/dev/null; then
	tap_skip "vsock: CID allowlist in the lab" "vsock loopback binds but a lab has no second CID"
else
	tap_skip "vsock: CID allowlist in the lab" "no vsock transport on this machine (unit test udsproxy_stream_test covers the CID check)"
fi
tap_done
