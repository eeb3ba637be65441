#!/usr/bin/env bash
# splitvirt-netctl for real in the lab's host namespace (tun + netlink), and the
# same helper reached from the DPU through rexec with its allowlist entry.
source "$(dirname "$0")/../../lib/tap.sh"
source "$SV_ROOT/tests/lib/lab.sh"

N=$SV_BIN/splitvirt-netctl
[ -x "$N" ] || { tap_skip netctl "not built"; tap_done; exit 0; }
[ -c /dev/net/tun ] || { tap_skip netctl "no /dev/net/tun"; tap_done; exit 0; }
lab_up >/dev/null 2>&1 || { tap_fail "lab up"; tap_done; exit 1; }
on_host ip link add svbr0 type bridge
on_host ip link set svbr0 up

tap_check "add creates a tap on a bridge with an MTU, up" on_host "$N" add svt0 --bridge svbr0 --mtu 1400 --up
tap_expect_eq "show reports it" "name=svt0 mtu=1400 state=up bridge=svbr0 multi_queue=no" "$(on_host "$N" show svt0)"
tap_check "ip agrees: a persistent tap with vnet_hdr" sh -c "'$SV_ROOT/deploy/lab/lab' exec host ip -d link show svt0 | grep -q 'tun type tap pi off vnet_hdr on persist on'"
tap_check "ip agrees: master svbr0, mtu 1400, UP" sh -c "'$SV_ROOT/deploy/lab/lab' exec host ip link show svt0 | grep -q 'mtu 1400.*master svbr0'"
tap_check "add again is idempotent" on_host "$N" add svt0 --bridge svbr0 --mtu 1400 --up
tap_check "set changes MTU and detaches" on_host "$N" set svt0 --mtu 9000 --nobridge --down
tap_expect_eq "show after set" "name=svt0 mtu=9000 state=down bridge=- multi_queue=no" "$(on_host "$N" show svt0)"
tap_check "multi-queue tap" on_host "$N" add svmq0 --queues 4 --up
tap_check "ip agrees: multi_queue" sh -c "'$SV_ROOT/deploy/lab/lab' exec host ip -d link show svmq0 | grep -q multi_queue"
out=$(on_host "$N" add svmq0 2>&1)
tap_check "a queue mismatch is refused naming it" sh -c "echo '$out' | grep -q 'exists with multiple queues'"
out=$(on_host "$N" del veth-host 2>&1)
rc=$?
if [ $rc -eq 1 ] && [[ $out == *"refused: not a name under the prefix 'sv'"* ]] && on_host ip link show veth-host >/dev/null; then
	tap_ok "a name outside the prefix is refused and untouched"
else
	tap_fail "a name outside the prefix is refused and untouched" "$rc $out"
fi
out=$(on_host "$N" del svbr0 2>&1)
tap_check "a non-tap under the prefix is refused" sh -c "echo '$out' | grep -q 'not a tap device' && '$SV_ROOT/deploy/lab/lab' exec host ip link show svbr0 >/dev/null"
out=$(on_host "$N" add svt1 --bridge nosuchbr 2>&1)
tap_check "a missing bridge is an error, and no tap is left" sh -c "echo '$out' | grep -q 'nosuchbr' && ! '$SV_ROOT/deploy/lab/lab' exec host ip link show svt1 2>/dev/null"
tap_check "del removes" on_host "$N" del svt0
tap_check "del again is idempotent" on_host "$N" del svt0
tap_check "it is gone" sh -c "! '$SV_ROOT/deploy/lab/lab' exec host ip link show svt0 2>/dev/null"
out=$(on_host "$N" add svt0 --mtu 5 2>&1)
tap_expect_eq "bad option values exit 2 naming them" "splitvirt-netctl: --mtu: '5' must be a number from 68 to 65535" "$out"
on_host "$N" del svmq0

# Through rexec from the DPU, with the allowlist hostd writes (verbs only).
if [ -x "$SV_BIN/rexec_server" ] && [ -x "$SV_BIN/splitvirt-hostd" ]; then
	tmp=$(mktemp -d /tmp/sv-netctl.XXXXXX)
	at_cleanup "rm -rf '$tmp'"
	cat >"$tmp/host.conf" <<-CONF
	[rexec]
	whitelist = /run/splitvirt/rexec.whitelist
	splitvm = /bin/true
	netctl = $N
	[child.rexec_server]
	exec = $SV_BIN/rexec_server --listen tcp:$HOST_ADDR:7201 --test-mode
	args = --whitelist /run/splitvirt/rexec.whitelist
	CONF
	lab_bg host "$SV_BIN/splitvirt-hostd" -f "$tmp/host.conf" -D "$tmp/hostd.log"
	wait_for 10 on_host sh -c "ss -ltn | grep -q ':7201 '"
	rx() { on_dpu env REXEC_TEST_MODE=1 "$SV_BIN/rexec" --server "tcp:$HOST_ADDR:7201" "$@"; }
	tap_check "through rexec: netctl add on the host" rx "$N" add svr0 --up
	tap_check "the tap exists in the host namespace, not the DPU's" sh -c "'$SV_ROOT/deploy/lab/lab' exec host ip link show svr0 >/dev/null && ! '$SV_ROOT/deploy/lab/lab' exec dpu ip link show svr0 2>/dev/null"
	rx "$N" frobnicate svr0 >/dev/null 2>&1
	tap_expect_eq "through rexec: a verb outside the allowlist's args= is refused (126)" "126" "$?"
	tap_check "through rexec: del" rx "$N" del svr0
else
	tap_skip "netctl through rexec" "rexec_server not built"
fi
tap_done
