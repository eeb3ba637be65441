#!/usr/bin/env bash
# udsproxy benchmark, one run in the lab: a dpu client reaching a host unix socket.
#   direct UDS (client and server both on the host: the floor)
#   socat chain  (dpu: UNIX-LISTEN -> TCP, host: TCP-LISTEN -> UNIX-CONNECT)
#   udsproxy over tcp: (test mode) and over tls:
# Prints throughput (MiB/s, one stream of UDSP_BENCH_BYTES, default 1 GiB), 1-byte ping-pong
# latency and connect latency (connect + first round trip), median and p99 in µs, and the
# ratios against socat. Targets: throughput >= 1.5x socat, ping-pong <= socat.
# The setups run side by side and are measured in interleaved rounds (UDSP_BENCH_ROUNDS,
# default 3); the best round of each is reported, so load from other work on the machine
# hits all of them alike.
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

# run SETUP MODE ARG: one measurement through a setup; prints the bench client's figures.
run() {
	local setup=$1 mode=$2 arg=$3
	case $setup in
	direct) "$LAB" exec host "$BENCH" "$mode" /run/bench/b.sock "$arg" ;;
	socat) "$LAB" exec dpu "$BENCH" "$mode" /run/bench/socat.sock "$arg" ;;
	udsproxy_tcp | udsproxy_tls)
		"$LAB" exec dpu env LD_PRELOAD="$PRELOAD" UDSPROXY_PATHS=/run/bench \
			UDSPROXY_SOCK=/run/bench/ctl-${setup#udsproxy_}.sock "$BENCH" "$mode" \
			/run/bench/b.sock "$arg" ;;
	esac | awk '{print $2, $3}'
}

# Both transports run side by side, each pair with its own port and control socket.
daemons() { # KIND PORT: extra arguments in HARGS (host) and DARGS (dpu)
	local kind=$1 port=$2
	lab_bg host "$UDSPD" --listen $kind:$HOST_ADDR:$port --peer $kind:$DPU_ADDR:$port \
		--allow "$T/allow" --conf-dir "$T" --control /run/bench/ctl-$kind.sock "${HARGS[@]}" \
		-D "$T/host-$kind.log"
	lab_bg dpu "$UDSPD" --listen $kind:$DPU_ADDR:$port --peer $kind:$HOST_ADDR:$port \
		--conf-dir "$T" --control /run/bench/ctl-$kind.sock "${DARGS[@]}" -D "$T/dpu-$kind.log"
	if ! wait_for 30 sh -c "'$LAB' exec dpu '$UDSPD' --control /run/bench/ctl-$kind.sock --status | grep -q '^link: up'"; then
		echo "udsproxy bench: the $kind link did not come up:" >&2
		tail -n 5 "$T/host-$kind.log" "$T/dpu-$kind.log" >&2
	fi
}

lab_bg host socat TCP-LISTEN:13000,fork,reuseaddr,bind=$HOST_ADDR UNIX-CONNECT:/run/bench/b.sock
lab_bg dpu socat UNIX-LISTEN:/run/bench/socat.sock,fork TCP:$HOST_ADDR:13000
wait_for 5 on_dpu test -S /run/bench/socat.sock
HARGS=(--test-mode) DARGS=(--test-mode)
daemons tcp 12121
HARGS=(--tls-cert "$T/host.crt" --tls-key "$T/host.key" --tls-ca "$T/ca.crt")
DARGS=(--tls-cert "$T/dpu.crt" --tls-key "$T/dpu.key" --tls-ca "$T/ca.crt")
daemons tls 12122

SETUPS="direct socat udsproxy_tcp udsproxy_tls"
ROUNDS=${UDSP_BENCH_ROUNDS:-3}
echo "udsproxy bench: $((BYTES >> 20)) MiB stream, $PINGS ping-pongs, $CONNS connects;" \
	"$ROUNDS interleaved rounds, best round shown (the machine is shared: rounds differ)"
# best CURRENT NEW HIGHER_IS_BETTER: the better of two "a b" figure pairs (by the first).
best() {
	python3 -c "
import sys
cur, new, hib = sys.argv[1], sys.argv[2], sys.argv[3] == '1'
if not new.split(): print(cur); sys.exit()
if not cur.split(): print(new); sys.exit()
c, n = float(cur.split()[0]), float(new.split()[0])
print(new if (n > c if hib else n < c) else cur)" "$1" "$2" "$3"
}
for ((r = 1; r <= ROUNDS; r++)); do
	for s in $SETUPS; do
		t=$(run $s tput "$BYTES")
		p=$(run $s pingpong "$PINGS")
		c=$(run $s connect "$CONNS")
		eval "R_${s}_tput=\$(best \"\${R_${s}_tput:-}\" \"\$t\" 1)"
		eval "R_${s}_pp=\$(best \"\${R_${s}_pp:-}\" \"\$p\" 0)"
		eval "R_${s}_conn=\$(best \"\${R_${s}_conn:-}\" \"\$c\" 0)"
		echo "  round $r $s: $t MiB/s, ping-pong $p µs, connect $c µs" >&2
	done
done

echo "                throughput         ping-pong (median p99)   connect+first echo (median p99)"
for s in $SETUPS; do
	t=R_${s}_tput pp=R_${s}_pp c=R_${s}_conn
	printf '%-14s %10s MiB/s   ping-pong %-16s µs   connect %-16s µs\n' "$s" "${!t% *}" "${!pp}" "${!c}"
done

ratio() { python3 -c "
try: print('%.2f' % (float('$1') / float('$2')))
except (ValueError, ZeroDivisionError): print('n/a')"; }
echo "ratios against the socat chain (throughput: higher is better; latency: lower is better):"
for k in udsproxy_tcp udsproxy_tls; do
	t=R_${k}_tput pp=R_${k}_pp c=R_${k}_conn
	printf '  %-13s throughput %sx   ping-pong median %sx   connect median %sx\n' "$k" \
		"$(ratio "${!t% *}" "${R_socat_tput% *}")" "$(ratio "${!pp%% *}" "${R_socat_pp%% *}")" \
		"$(ratio "${!c%% *}" "${R_socat_conn%% *}")"
done
tt=$(ratio "${R_udsproxy_tcp_tput% *}" "${R_socat_tput% *}")
pp=$(ratio "${R_udsproxy_tcp_pp%% *}" "${R_socat_pp%% *}")
echo "targets (udsproxy over tcp vs socat): throughput >= 1.5x: $tt; ping-pong <= 1.0x: $pp"
