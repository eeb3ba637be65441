#!/usr/bin/env bash
# rexec benchmark, one run in the lab: rexec_server in the host namespace, clients in the dpu
# namespace, against an OpenSSH sshd started here in the host namespace (generated keys, its
# own config and port, key auth only).
#   latency: `rexec /bin/true` vs `ssh -T host /bin/true`, median and p99 of REXEC_BENCH_RUNS
#            (default 200) runs each, over tcp test mode and mutual TLS
#   throughput: REXEC_BENCH_MB (default 1024) MiB of remote stdout (head -c N /dev/zero)
# Targets: rexec latency <= 1/5 of ssh's; rexec throughput >= ssh's.
source "$(dirname "$0")/../lib/tap.sh"
source "$SV_ROOT/tests/lib/lab.sh"

RUNS=${REXEC_BENCH_RUNS:-200}
MB=${REXEC_BENCH_MB:-1024}
T=$(mktemp -d /tmp/rexec-bench.XXXXXX)
chmod 755 "$T"
at_cleanup "rm -rf '$T'"
for b in "$SV_BIN/rexec" "$SV_BIN/rexec_server"; do
	[ -x "$b" ] || { echo "rexec bench: $b not built" >&2; exit 1; }
done
for t in ssh /usr/sbin/sshd openssl; do
	command -v "$t" >/dev/null || { echo "rexec bench: $t missing (make deps)" >&2; exit 1; }
done

lab_up >/dev/null
(
	cd "$T"
	ec="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
	openssl req -x509 $ec -days 2 -subj /CN=bench-ca -keyout ca.key -out ca.crt
	for s in host dpu; do
		openssl req $ec -subj "/CN=$s" -keyout $s.key -out $s.csr
		openssl x509 -req -in $s.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -out $s.crt
	done
) >/dev/null 2>&1
printf '/usr/bin/true\n/usr/bin/head\n' >"$T/whitelist"
chmod 0400 "$T/whitelist"
lab_bg host "$SV_BIN/rexec_server" --listen "tcp:$HOST_ADDR:7701" --test-mode \
	--listen "tls:$HOST_ADDR:7702" --tls-cert "$T/host.crt" --tls-key "$T/host.key" \
	--tls-ca "$T/ca.crt" --whitelist "$T/whitelist" --log-level warn -D "$T/server.log"
RT="$SV_BIN/rexec --server tcp:$HOST_ADDR:7701 --test-mode"
RS="$SV_BIN/rexec --server tls:$HOST_ADDR:7702 --tls-cert $T/dpu.crt --tls-key $T/dpu.key --tls-ca $T/ca.crt"
wait_for 10 on_dpu $RT /usr/bin/true || { cat "$T/server.log"; exit 1; }

ssh-keygen -q -t ed25519 -N '' -f "$T/hostkey"
ssh-keygen -q -t ed25519 -N '' -f "$T/userkey"
cat >"$T/sshd_config" <<CFG
ListenAddress $HOST_ADDR:2222
HostKey $T/hostkey
PermitRootLogin prohibit-password
AuthorizedKeysFile $T/userkey.pub
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PidFile $T/sshd.pid
CFG
on_host mkdir -p /run/sshd
lab_bg host /usr/sbin/sshd -D -E "$T/sshd.log" -f "$T/sshd_config"
SSH="ssh -T -p 2222 -i $T/userkey -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o BatchMode=yes root@$HOST_ADDR"
wait_for 10 on_dpu $SSH /usr/bin/true || { echo "rexec bench: sshd did not start" >&2; exit 1; }

# Times RUNS invocations (bash's $EPOCHREALTIME: no fork per sample); prints "median p99" in ms.
latency() { # CMD...
	on_dpu bash -c '
		for i in $(seq '"$RUNS"'); do
			t0=$EPOCHREALTIME; '"$*"' /usr/bin/true || exit 1; t1=$EPOCHREALTIME
			echo "$t0 $t1"
		done' | awk '{ printf "%.3f\n", ($2 - $1) * 1000 }' | sort -n |
		awk '{ v[NR] = $1 } END { if (NR == 0) { print "n/a n/a"; exit }
			m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
			p = int(NR * 0.99 + 0.999); if (p > NR) p = NR
			printf "%.2f %.2f\n", m, v[p] }'
}

# MiB/s of MB MiB of remote stdout written to /dev/null locally.
throughput() { # CMD...
	local t0 t1 bytes
	t0=$(date +%s%N)
	bytes=$(on_dpu bash -c "$* /usr/bin/head -c $((MB << 20)) /dev/zero | wc -c")
	t1=$(date +%s%N)
	[ "$bytes" = $((MB << 20)) ] || { echo "n/a"; return; }
	awk -v b="$bytes" -v d=$((t1 - t0)) 'BEGIN { printf "%.0f", b / 1048576 / (d / 1e9) }'
}

read -r lt_med lt_p99 <<<"$(latency "$RT")"
read -r ls_med ls_p99 <<<"$(latency "$RS")"
read -r lh_med lh_p99 <<<"$(latency "$SSH")"
tp_t=$(throughput "$RT")
tp_s=$(throughput "$RS")
tp_h=$(throughput "$SSH")

ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (a + 0 > 0 && b + 0 > 0) printf "%.2f", a / b; else print "n/a" }'; }
echo "rexec bench: $RUNS runs of /usr/bin/true, $MB MiB of stdout; dpu -> host over the lab veth; one run"
printf '%-30s %12s %12s %12s\n' metric rexec-tcp rexec-tls ssh-T
printf '%-30s %12s %12s %12s\n' "latency median (ms)" "$lt_med" "$ls_med" "$lh_med"
printf '%-30s %12s %12s %12s\n' "latency p99 (ms)" "$lt_p99" "$ls_p99" "$lh_p99"
printf '%-30s %12s %12s %12s\n' "stdout throughput (MiB/s)" "$tp_t" "$tp_s" "$tp_h"
echo "ratios (target: latency <= 0.20 of ssh, throughput >= 1.00 of ssh):"
printf '  latency median rexec/ssh: tcp %s, tls %s\n' "$(ratio "$lt_med" "$lh_med")" "$(ratio "$ls_med" "$lh_med")"
printf '  latency p99    rexec/ssh: tcp %s, tls %s\n' "$(ratio "$lt_p99" "$lh_p99")" "$(ratio "$ls_p99" "$lh_p99")"
printf '  throughput     rexec/ssh: tcp %s, tls %s\n' "$(ratio "$tp_t" "$tp_h")" "$(ratio "$tp_s" "$tp_h")"
