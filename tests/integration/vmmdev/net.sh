#!/usr/bin/env bash
# virtio-net on a tap (IFF_VNET_HDR) in a network namespace of its own, with the device test
# guest: a frame the guest sends appears on the tap; frames written to the tap reach the
# guest in order; with the guest's receive ring nearly always full (4 buffers, a slow
# guest) a burst of frames still arrives complete (backpressure, no drops in the VMM).
source "$(dirname "$0")/../../lib/tap.sh"
source "$(dirname "$0")/vmmdev-lib.bash"
vmmdev_require
if [ ! -c /dev/net/tun ]; then
	tap_skip "virtio-net" "/dev/net/tun is missing"
	tap_done
	exit 0
fi
NS=svdnet$$
ip netns add "$NS" || { tap_fail "netns $NS" "ip netns add failed"; tap_done; exit 1; }
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
tap_done
