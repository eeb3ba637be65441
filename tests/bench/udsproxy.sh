#!/usr/bin/env bash
# udsproxy benchmark, one run in the lab: a dpu client reaching a host unix socket.
#   direct UDS (client and server both on the host: the floor)
#   socat chain  (dpu: UNIX-LISTEN -> TCP, host: TCP-LISTEN -> UNIX-CONNECT)
#   udsproxy over tcp: (test mode) and over tls:
# Prints throughput (MiB/s, one stream of UDSP_BENCH_BYTES, default 1 GiB), 1-byte ping-pong
# latency and connect latency (connect + first round trip), median and p99 in µs, and the
# ratios against socat. Targets: throughput >= 1.5x socat, ping-pong <= socat.
source "$(dirname "$0")/../lib/tap.sh"
source "$SV_ROOT/tests/lib/lab.sh"

BENCH=$SV_BUILD/tests/bench/udsproxy_bench
UDSPD=$SV_BIN/udsproxyd
PRELOAD=$SV_BUILD/lib/libudsproxy.so
BYTES=${UDSP_BENCH_BYTES:-$((1 << 30))}
PINGS=${UDSP_BENCH_PINGS:-20000}
CONNS=${UDSP_BENCH_CONNS:-1000}
T=$(mktemp -d /tmp/udsp-bench.XXXXXX)
chmod 755 "$T"
at_cleanup "rm -rf '$T'"
[ -x "$BENCH" ] || { echo "udsproxy bench: $BENCH not built" >&2; exit 1; }

printf '/run/bench\n' >"$T/allow"
chmod 644 "$T/allow"
(
	cd "$T"
	ec="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
	openssl req -x509 $ec -days 2 -subj /CN=bench-ca -keyout ca.key -out ca.crt
	for s in host dpu; do
		openssl req $ec -subj "/CN=$s" -keyout $s.key -out $s.csr
		openssl x509 -req -in $s.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -out $s.crt
	done
) >/dev/null 2>&1

lab_up
on_host mkdir -p /run/bench
on_dpu mkdir -p /run/bench
lab_bg host "$BENCH" server /run/bench/b.sock
wait_for 5 on_host test -S /run/bench/b.sock

# measure LABEL SIDE [env...]: runs the three measurements, fills R_<LABEL>_*.
measure() {
	local label=$1 side=$2 t p c
	shift 2
	t=$("$LAB" exec "$side" env "$@" "$BENCH" tput "$SOCK" "$BYTES" | awk '{print $2}')
	p=$("$LAB" exec "$side" env "$@" "$BENCH" pingpong "$SOCK" "$PINGS" | awk '{print $2, $3}')
	c=$("$LAB" exec "$side" env "$@" "$BENCH" connect "$SOCK" "$CONNS" | awk '{print $2, $3}')
	eval "R_${label}_tput='$t' R_${label}_pp='$p' R_${label}_conn='$c'"
	printf '%-14s %10s MiB/s   ping-pong %-16s µs   connect %-16s µs\n' "$label" "$t" "$p" "$c"
}

echo "udsproxy bench: $((BYTES >> 20)) MiB stream, $PINGS ping-pongs, $CONNS connects"
echo "                throughput         ping-pong (median p99)   connect+first echo (median p99)"
SOCK=/run/bench/b.sock measure direct host

lab_bg host socat TCP-LISTEN:13000,fork,reuseaddr,bind=$HOST_ADDR UNIX-CONNECT:/run/bench/b.sock
lab_bg dpu socat UNIX-LISTEN:/run/bench/socat.sock,fork TCP:$HOST_ADDR:13000
wait_for 5 on_dpu test -S /run/bench/socat.sock
SOCK=/run/bench/socat.sock measure socat dpu

daemons() { # KIND ARGS...
	local kind=$1
	shift
	lab_bg host "$UDSPD" --listen $kind:$HOST_ADDR:12121 --peer $kind:$DPU_ADDR:12121 \
		--allow "$T/allow" --conf-dir "$T" "$@" ${TLS_HOST[@]+"${TLS_HOST[@]}"} -D "$T/host-$kind.log"
	H=$LAB_BG_PID
	lab_bg dpu "$UDSPD" --listen $kind:$DPU_ADDR:12121 --peer $kind:$HOST_ADDR:12121 \
		--conf-dir "$T" "$@" ${TLS_DPU[@]+"${TLS_DPU[@]}"} -D "$T/dpu-$kind.log"
	D=$LAB_BG_PID
	if ! wait_for 30 sh -c "'$LAB' exec dpu '$UDSPD' --status | grep -q '^link: up'"; then
		echo "udsproxy bench: the $kind link did not come up:" >&2
		tail -n 5 "$T/host-$kind.log" "$T/dpu-$kind.log" >&2
	fi
}
daemons tcp --test-mode
SOCK=/run/bench/b.sock measure udsproxy_tcp dpu LD_PRELOAD="$PRELOAD" UDSPROXY_PATHS=/run/bench
kill $H $D
wait_for 5 sh -c "! kill -0 $H 2>/dev/null && ! kill -0 $D 2>/dev/null"
TLS_HOST=(--tls-cert "$T/host.crt" --tls-key "$T/host.key" --tls-ca "$T/ca.crt")
TLS_DPU=(--tls-cert "$T/dpu.crt" --tls-key "$T/dpu.key" --tls-ca "$T/ca.crt")
daemons tls
SOCK=/run/bench/b.sock measure udsproxy_tls dpu LD_PRELOAD="$PRELOAD" UDSPROXY_PATHS=/run/bench

ratio() { python3 -c "
try: print('%.2f' % (float('$1') / float('$2')))
except (ValueError, ZeroDivisionError): print('n/a')"; }
echo "ratios against the socat chain (throughput: higher is better; latency: lower is better):"
for k in udsproxy_tcp udsproxy_tls; do
	t=R_${k}_tput pp=R_${k}_pp c=R_${k}_conn
	printf '  %-13s throughput %sx   ping-pong median %sx   connect median %sx\n' "$k" \
		"$(ratio "${!t}" "$R_socat_tput")" "$(ratio "${!pp%% *}" "${R_socat_pp%% *}")" \
		"$(ratio "${!c%% *}" "${R_socat_conn%% *}")"
done
tt=$(ratio "$R_udsproxy_tcp_tput" "$R_socat_tput")
pp=$(ratio "${R_udsproxy_tcp_pp%% *}" "${R_socat_pp%% *}")
echo "targets (udsproxy over tcp vs socat): throughput >= 1.5x: $tt; ping-pong <= 1.0x: $pp"
