#!/usr/bin/env bash
# make demo: the two-machine lab, and a mutual-TLS round trip between its two
# sides through lib/xport (examples/xport-echo). Every step is printed; the lab
# is torn down at the end, whatever happens.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "$root" && cd "${1:-build}" && pwd)
bin=$build/bin
lab="$root/deploy/lab/lab -n demo"
work=$(mktemp -d /tmp/splitvirt-demo.XXXXXX)

cleanup() {
	$lab down >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

if [ -t 1 ]; then bold=$'\033[1m' plain=$'\033[0m'; else bold= plain=; fi
step() { printf '\n%s== %s%s\n' "$bold" "$*" "$plain"; }
run() { printf '$ %s\n' "$*"; "$@"; }

step "1. bring up the two-machine lab (namespaces demo-host 10.77.0.1 and demo-dpu 10.77.0.2)"
run $lab up
run $lab exec host ip -br addr show veth-host
run $lab exec dpu ip -br addr show veth-dpu

step "2. make a CA and a certificate for each side (mutual TLS)"
cd "$work"
openssl_q() { openssl "$@" >/dev/null 2>&1; }
run openssl_q req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
	-subj /CN=splitvirt-demo-ca -keyout ca.key -out ca.crt
for side in host dpu; do
	openssl_q req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-subj "/CN=$side" -keyout $side.key -out $side.csr
	run openssl_q x509 -req -in $side.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 1 -out $side.crt
done

step "3. host side: a TLS echo server on tls:10.77.0.1:7001"
$lab exec host "$bin/xport-echo" server tls:10.77.0.1:7001 \
	--cert host.crt --key host.key --ca ca.crt &
server=$!
for _ in $(seq 100); do
	$lab exec host ss -Hltn 'sport = :7001' | grep -q 7001 && break
	sleep 0.05
done
echo "server pid $server listening"

step "4. dpu side: connect with its own certificate, handshake, send a frame, read the echo"
run $lab exec dpu "$bin/xport-echo" client tls:10.77.0.1:7001 \
	--cert dpu.crt --key dpu.key --ca ca.crt "hello from the DPU"

step "5. a client whose certificate the host's CA did not sign is refused"
openssl_q req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
	-subj /CN=intruder -keyout bad.key -out bad.crt
if $lab exec dpu "$bin/xport-echo" client tls:10.77.0.1:7001 \
	--cert bad.crt --key bad.key --ca ca.crt "let me in" 2>&1; then
	echo "demo: ERROR: the untrusted client was accepted" >&2
	exit 1
fi
echo "refused, as it should be"

step "6. tear the lab down"
kill "$server" 2>/dev/null || true
wait "$server" 2>/dev/null || true
run $lab down
echo
echo "demo finished"
