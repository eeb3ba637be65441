#!/usr/bin/env bash
# rexec over mutual TLS between the namespaces: the same guarantees as over tcp, and
# clients without a certificate from the CA are turned away.
source "$(dirname "$0")/common.bash"

rexec_setup
P=$RX/pki
mkdir -p "$P"
gen_cert() { # NAME CA-NAME
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$1" \
		-keyout "$P/$1.key" -out "$P/$1.csr" 2>/dev/null &&
		openssl x509 -req -in "$P/$1.csr" -CA "$P/$2.crt" -CAkey "$P/$2.key" \
			-CAcreateserial -days 2 -out "$P/$1.crt" 2>/dev/null
}
for ca in ca rogue-ca; do
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
		-subj "/CN=$ca" -keyout "$P/$ca.key" -out "$P/$ca.crt" 2>/dev/null
done
gen_cert host ca && gen_cert dpu ca && gen_cert rogue rogue-ca ||
	{ tap_fail "certificates are generated"; tap_done; exit 1; }

rexec_whitelist /usr/bin/sh /usr/bin/cat /usr/bin/printf
lab_bg host "$SV_BIN/rexec_server" --listen "tls:$HOST_ADDR:$PORT" --whitelist "$RX/whitelist" \
	--tls-cert "$P/host.crt" --tls-key "$P/host.key" --tls-ca "$P/ca.crt" -D "$RX/srv.log"
T="$SV_BIN/rexec --server tls:$HOST_ADDR:$PORT --tls-cert $P/dpu.crt --tls-key $P/dpu.key --tls-ca $P/ca.crt"
wait_for 10 on_dpu $T /usr/bin/sh -c true || { tap_fail "tls server starts" "$(cat "$RX/srv.log")"; tap_done; exit 1; }

got=$(on_dpu bash -c "for i in 0 1 2 126 127 128 200 255; do $T /usr/bin/sh -c \"exit \$i\"; echo -n \"\$? \"; done")
tap_expect_eq "tls: exit codes come back exactly" "0 1 2 126 127 128 200 255 " "$got"
on_dpu $T /usr/bin/sh -c 'kill -9 $$'
tap_expect_eq "tls: a SIGKILL death exits 137" 137 $?
out=$(on_dpu $T /usr/bin/sh -c 'echo o; echo e >&2' 2>"$RX/err")
tap_expect_eq "tls: stdout and stderr stay separate" "o|e" "$out|$(cat "$RX/err")"
expect=$(printf '%s\0' "a b" "x
y" "" $'\xff' | od -An -tx1)
got=$(on_dpu $T /usr/bin/printf '%s\0' "a b" "x
y" "" $'\xff' | od -An -tx1)
tap_expect_eq "tls: argv arrives byte for byte" "$expect" "$got"

mib=$(rexec_mib 256 32)
head -c $((mib << 20)) /dev/urandom >"$RX/data"
want=$(sha256sum <"$RX/data" | cut -d' ' -f1)
got=$(on_dpu bash -c "cat '$RX/data' | $T /usr/bin/cat | sha256sum" | cut -d' ' -f1)
tap_expect_eq "tls: $mib MiB through stdin -> cat -> stdout keeps its SHA-256" "$want" "$got"

out=$(on_dpu bash -c "set -m; $T /usr/bin/sh -c 'trap \"exit 42\" INT; echo ready; while :; do sleep 0.05; done' >'$RX/int.out' & p=\$!
	for i in \$(seq 100); do grep -q ready '$RX/int.out' 2>/dev/null && break; sleep 0.05; done
	kill -INT \$p; wait \$p; echo rc=\$?")
tap_expect_eq "tls: SIGINT is forwarded" "rc=42" "$out"

# A silent peer on the TLS port (no ClientHello) must not hold up other clients: the
# handshake happens in a per-connection process. The silent connection is still open (its
# handshake has not timed out, nothing logged for it) when the real client has finished.
on_dpu bash -c "exec 3<>/dev/tcp/$HOST_ADDR/$PORT; sleep 20" &
silent=$!
at_cleanup "kill $silent"
sleep 0.3
on_dpu $T /usr/bin/sh -c 'exit 6'
rc=$?
if [ $rc -eq 6 ] && kill -0 $silent 2>/dev/null && ! grep -q "accept:" "$RX/srv.log"; then
	tap_ok "tls: a silent peer does not hold up other clients"
else
	tap_fail "tls: a silent peer does not hold up other clients" "rc=$rc $(tail -2 "$RX/srv.log")"
fi
kill $silent 2>/dev/null

# Concurrent TLS sessions: handshakes run in parallel acceptor processes.
n=$(rexec_mib 50 25)
out=$(on_dpu bash -c "for i in \$(seq $n); do $T /usr/bin/sh -c 'sleep 1; echo \$0' \$i >'$RX/c.'\$i 2>&1 & done; wait
	bad=0; for i in \$(seq $n); do [ \"\$(cat '$RX/c.'\$i)\" = \$i ] || { bad=\$((bad+1)); cat '$RX/c.'\$i >&2; }; done; echo bad=\$bad" 2>"$RX/c.err")
if [ "$out" = bad=0 ]; then tap_ok "tls: $n concurrent sessions each get their own output"
else tap_fail "tls: $n concurrent sessions each get their own output" "$out: $(sort "$RX/c.err" | uniq -c | head -5)"; fi

if grep -q "CN=dpu" "$RX/srv.log"; then tap_ok "tls: the session log names the client certificate"
else tap_fail "tls: the session log names the client certificate" "$(tail -2 "$RX/srv.log")"; fi

on_dpu $SV_BIN/rexec --server "tls:$HOST_ADDR:$PORT" --tls-cert "$P/rogue.crt" \
	--tls-key "$P/rogue.key" --tls-ca "$P/ca.crt" /usr/bin/sh -c 'echo RAN' >"$RX/out" 2>"$RX/err"
rc=$?
if [ $rc -eq 255 ] && ! grep -q RAN "$RX/out" && [ "$(wc -l <"$RX/err")" -eq 1 ]; then
	tap_ok "tls: a client certificate from another CA is refused (255, one line)"
else
	tap_fail "tls: a client certificate from another CA is refused (255, one line)" "rc=$rc $(cat "$RX/err")"
fi
on_dpu $SV_BIN/rexec --server "tls:$HOST_ADDR:$PORT" --tls-ca "$P/ca.crt" /usr/bin/sh -c 'echo RAN' \
	>"$RX/out" 2>"$RX/err"
rc=$?
if [ $rc -eq 255 ] && ! grep -q RAN "$RX/out"; then
	tap_ok "tls: a client without a certificate is refused"
else
	tap_fail "tls: a client without a certificate is refused" "rc=$rc $(cat "$RX/err")"
fi
tap_done
