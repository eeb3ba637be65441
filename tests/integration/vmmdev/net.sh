#!/usr/bin/env bash
# virtio-net on a tap (IFF_VNET_HDR) in a network namespace of its own, with the device test
# guest: a frame the guest sends appears on the tap; frames written to the tap reach the
# guest in order; with the guest's receive ring nearly always full (4 buffers, a slow
# guest) a burst of frames still arrives complete (backpressure, no drops in the VMM).
# Multiqueue (queues=2, mq=on) with checksum offload: the guest enables two pairs through
# the control queue, sends a UDP datagram with NEEDS_CSUM on the second pair (the host
# stack sees it checksum-pending and delivers it), and receives 16 flows spread over both
# receive queues with NEEDS_CSUM set by the host. TSO both ways: a 3000-byte guest TCP
# segment reaches the host as one GSO packet; a 4000-byte GSO frame from the host reaches the
# guest whole, merged over several receive buffers (MRG_RXBUF).
source "$(dirname "$0")/../../lib/tap.sh"
source "$(dirname "$0")/vmmdev-lib.bash"
vmmdev_require
if [ ! -c /dev/net/tun ]; then
	tap_skip "virtio-net" "/dev/net/tun is missing"
	tap_done
	exit 0
fi
NS=svdnet$$
ip netns add "$NS" || { tap_fail "a private network namespace" "ip netns add $NS failed"; tap_done; exit 1; }
net_cleanup() {
	vmm_cleanup
	ip netns del "$NS" 2>/dev/null
}
trap net_cleanup EXIT
ip netns exec "$NS" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
MAC=52:54:00:12:34:56
: "${NET_BURST:=300}"
[ "${SV_SAN:-0}" = 1 ] && NET_BURST=150

run_net() { # NAME GUEST FRAMES GUEST-EXTRA
	local name=$1 guest=$2 frames=$3 extra=$4 qsock=$T/$1-qmp.sock peer
	VM_PID=
	ip netns exec "$NS" "$SPLITVM" -S -m 128 -kernel "$guest" \
		-append "sv.test=net sv.frames=$frames $extra" -serial "file,path=$T/$name.serial" \
		-qmp "unix:$qsock,server,nowait" -netdev "tap,id=n0,ifname=svtap0" \
		-device "virtio-net-device,netdev=n0,id=net0,mac=$MAC" </dev/null >"$T/$name.out" 2>"$T/$name.err" &
	VM_PID=$!
	_vm_pids+=("$VM_PID")
	if ! sock_wait "$qsock" 10; then
		tap_fail "$name: splitvm starts with the tap" "$(cat "$T/$name.err")"
		return
	fi
	ip netns exec "$NS" ip link set svtap0 up
	ip netns exec "$NS" python3 "$(dirname "$0")/net_peer.py" svtap0 "$MAC" "$frames" 60 >"$T/$name.peer" 2>&1 &
	peer=$!
	_vm_pids+=("$peer")
	sleep 0.3
	qmp_open "$qsock" && qmp '{"execute":"cont"}' >/dev/null
	wait "$peer"
	tap_expect_eq "$name: the peer saw the guest's frame and its echo" 0 "$?"
	tap_check "$name: the guest's frame on the tap carries the guest's MAC" \
		grep -q "src=$MAC" "$T/$name.peer"
	vm_wait "$VM_PID" 60
	tap_expect_eq "$name: guest received its frames and powered off" 0 "$VM_STATUS"
	tap_check "$name: all $frames frames reached the guest, in order" \
		grep -q "SVTEST net frames=$frames gaps=0" "$T/$name.serial"
	qmp_close
}

run_net basic "$VGUEST_BZ" 8 ""
run_net burst "$VGUEST_PVH" "$NET_BURST" "sv.slow=20000"

# Multiqueue and offloads.
qsock=$T/mq-qmp.sock
ip netns exec "$NS" "$SPLITVM" -S -m 128 -kernel "$VGUEST_BZ" -append "sv.test=netx sv.flows=16" \
	-serial "file,path=$T/mq.serial" -qmp "unix:$qsock,server,nowait" \
	-netdev "tap,id=n1,ifname=svtap1,queues=2" \
	-device "virtio-net-device,netdev=n1,id=net1,mac=$MAC,mq=on" </dev/null >"$T/mq.out" 2>"$T/mq.err" &
VM_PID=$!
_vm_pids+=("$VM_PID")
if sock_wait "$qsock" 10; then
	ip netns exec "$NS" ip link set svtap1 up
	ip netns exec "$NS" ip addr add 10.99.0.1/24 dev svtap1
	ip netns exec "$NS" ip neigh replace 10.99.0.2 lladdr "$MAC" dev svtap1 nud permanent
	: >"$T/mq.peer"
	ip netns exec "$NS" python3 "$(dirname "$0")/netx_peer.py" svtap1 16 60 >"$T/mq.peer" 2>&1 &
	peer=$!
	_vm_pids+=("$peer")
	for ((i = 0; i < 100; i++)); do grep -q ready "$T/mq.peer" && break; sleep 0.05; done
	qmp_open "$qsock" && qmp '{"execute":"cont"}' >/dev/null
	wait "$peer"
	st=$?
	tap_expect_eq "mq: the host got the guest's datagram with its checksum left to the host" 0 "$st"
	[ $st -ne 0 ] && sed 's/^/# /' "$T/mq.peer"
	vm_wait "$VM_PID" 60
	tap_expect_eq "mq: guest powered off" 0 "$VM_STATUS"
	tap_check "mq: MQ, CTRL_VQ, CSUM and GUEST_CSUM negotiated; 2 pairs accepted" \
		bash -c "[ \$(grep -cE 'SVTEST ok net: (MQ and CTRL_VQ|CSUM and GUEST_CSUM) negotiated|SVTEST ok net: control queue accepts 2' '$T/mq.serial') -eq 3 ]"
	line=$(grep 'SVTEST netx rxq0=' "$T/mq.serial")
	q0=$(sed -n 's/.*rxq0=\([0-9]*\).*/\1/p' <<<"$line")
	q1=$(sed -n 's/.*rxq1=\([0-9]*\).*/\1/p' <<<"$line")
	nc=$(sed -n 's/.*needs_csum=\([0-9]*\).*/\1/p' <<<"$line")
	tap_expect_eq "mq: all 16 flows reached the guest" 16 "$((${q0:-0} + ${q1:-0}))"
	echo "# $line"
	tap_check "mq: both receive queues carried flows" test "${q0:-0}" -gt 0 -a "${q1:-0}" -gt 0
	tap_expect_eq "mq: the host left the checksum to the guest (NEEDS_CSUM) on every flow" 16 "${nc:-0}"
	qmp_close
else
	tap_fail "mq: splitvm starts with a 2-queue tap" "$(cat "$T/mq.err")"
fi

# TSO and mergeable receive buffers.
qsock=$T/tso-qmp.sock
ip netns exec "$NS" "$SPLITVM" -S -m 128 -kernel "$VGUEST_PVH" -append "sv.test=nettso" \
	-serial "file,path=$T/tso.serial" -qmp "unix:$qsock,server,nowait" \
	-netdev "tap,id=n2,ifname=svtap2" -device "virtio-net-device,netdev=n2,id=net2,mac=$MAC" \
	</dev/null >"$T/tso.out" 2>"$T/tso.err" &
VM_PID=$!
_vm_pids+=("$VM_PID")
if sock_wait "$qsock" 10; then
	ip netns exec "$NS" ip link set svtap2 up
	: >"$T/tso.peer"
	ip netns exec "$NS" python3 "$(dirname "$0")/tso_peer.py" svtap2 "$MAC" 60 >"$T/tso.peer" 2>&1 &
	peer=$!
	_vm_pids+=("$peer")
	for ((i = 0; i < 100; i++)); do grep -q ready "$T/tso.peer" && break; sleep 0.05; done
	qmp_open "$qsock" && qmp '{"execute":"cont"}' >/dev/null
	wait "$peer"
	st=$?
	sed 's/^/# /' "$T/tso.peer"
	tap_expect_eq "tso: the guest's 3000-byte segment reached the host as one GSO TCPv4 packet" 0 "$st"
	vm_wait "$VM_PID" 60
	tap_expect_eq "tso: guest powered off" 0 "$VM_STATUS"
	tap_check "tso: HOST_TSO4, GUEST_TSO4 and MRG_RXBUF negotiated" \
		serial_grep tso 'SVTEST ok net: HOST_TSO4, GUEST_TSO4 and MRG_RXBUF negotiated'
	line=$(grep 'SVTEST nettso rx' "$T/tso.serial")
	echo "# $line"
	tap_check "tso: the host's 4000-byte GSO frame reached the guest whole, as GSO TCPv4" \
		grep -qE 'gso_type=1 gso_size=1400 len=4054 bufs=[2-9] payload_ok=1' <<<"$line"
	qmp_close
else
	tap_fail "tso: splitvm starts with the tap" "$(cat "$T/tso.err")"
fi
tap_done
