#!/usr/bin/env bash
# The deployment the demo uses: every link between host and DPU over mutual
# TLS (rexec, udsproxy, qtfs, and `splitvirt -c tls:` to a remote dpud), and
# a client without the right certificate is refused.
source "$(dirname "$0")/../../lib/tap.sh"
source "$SV_ROOT/tests/lib/lab.sh"
source "$SV_ROOT/tests/integration/agents/lib.bash"

if ! why=$(agents_require); then
	tap_skip "agents tls" "$why"
	tap_done
	exit 0
fi
if ! agents_up tls >"$AG_TMP/up.log" 2>&1; then
	tap_fail "agents come up over tls" "$(cat "$AG_TMP/up.log")$(agents_logs)"
	tap_done
	exit 1
fi
tap_ok "hostd and dpud come up with every link over tls"
tap_check "no test-mode warning was logged" sh -c "! grep -q 'test mode' '$AG_TMP/hostd.log' '$AG_TMP/dpud.log'"
define_guest t1 tick
out=$(sv start t1 2>&1)
tap_expect_eq "start over tls" "Domain 't1' started" "$(echo "$out" | head -n1)"
tap_expect_eq "QMP on the host says running" "running" "$(host_qmp_status t1)"
out=$(timeout 3 "$SV_ROOT/deploy/lab/lab" exec dpu "$SV_BIN/splitvirt" console t1 </dev/null 2>/dev/null | head -c 3000 | tr -d '\r')
tap_check "console over tls shows the guest's output" sh -c "echo '$out' | grep -q 'SVTEST tick'"

# A remote CLI (here from the host namespace) with a client certificate.
remote() {
	on_host env SPLITVIRT_TLS_CERT="$AG_TMP/tls/client.crt" SPLITVIRT_TLS_KEY="$AG_TMP/tls/client.key" \
		SPLITVIRT_TLS_CA="$AG_TMP/tls/ca.crt" "$SV_BIN/splitvirt" -c "tls:$DPU_ADDR:7100" "$@"
}
tap_expect_eq "splitvirt -c tls: lists the domain remotely" " 1     t1                             running" "$(remote list | sed -n 3p)"
remote suspend t1 >/dev/null
tap_expect_eq "a remote verb acts on the VM" "paused" "$(host_qmp_status t1)"
remote resume t1 >/dev/null
# A certificate from another CA is refused.
mkdir -p "$AG_TMP/evil"
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=evil -keyout "$AG_TMP/evil/k" -out "$AG_TMP/evil/c" >/dev/null 2>&1
out=$(on_host env SPLITVIRT_TLS_CERT="$AG_TMP/evil/c" SPLITVIRT_TLS_KEY="$AG_TMP/evil/k" \
	SPLITVIRT_TLS_CA="$AG_TMP/tls/ca.crt" "$SV_BIN/splitvirt" -c "tls:$DPU_ADDR:7100" list 2>&1)
rc=$?
tap_check "a client with a foreign certificate is refused" sh -c "[ $rc -eq 1 ] && echo '$out' | grep -q '^error:'"
out=$(on_host "$SV_BIN/splitvirt" -c "tcp:$DPU_ADDR:7100" list 2>&1)
tap_check "tcp: without --test-mode is refused by the CLI" sh -c "echo '$out' | grep -qi 'test'"
sv destroy t1 >/dev/null
tap_expect_eq "destroy over tls" "shut off (destroyed)" "$(sv domstate t1 --reason | head -n1)"
tap_done
