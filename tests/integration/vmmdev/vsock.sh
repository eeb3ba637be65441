#!/usr/bin/env bash
# virtio-vsock with the device test guest. The userspace backend (uds-path=, Firecracker's
# model): the guest connects to host port 5000 and its bytes reach the unix socket
# <uds-path>_5000 and the answer comes back; a host program connects to <uds-path>, sends
# "CONNECT 1234", and exchanges bytes with the guest's listener. vhost-vsock (the kernel
# backend) needs /dev/vhost-vsock: skipped with a message where it is absent, and splitvm
# must then refuse the device with a one-line reason.
source "$(dirname "$0")/../../lib/tap.sh"
source "$(dirname "$0")/vmmdev-lib.bash"
vmmdev_require

uds=$T/v.sock
: >"$T/peer.out"
python3 "$(dirname "$0")/vsock_peer.py" "$uds" 1234 5000 30 >"$T/peer.out" 2>&1 &
peer=$!
_vm_pids+=("$peer")
for ((i = 0; i < 100; i++)); do grep -q listening "$T/peer.out" && break; sleep 0.05; done
vm_start vs -m 128 -kernel "$VGUEST_BZ" -append "sv.test=vsock sv.port=1234 sv.hport=5000" \
	-serial "file,path=$T/vs.serial" -device "vhost-vsock-device,id=vsock0,guest-cid=7,uds-path=$uds"
wait "$peer"
st=$?
tap_expect_eq "host peer: both directions worked" 0 "$st"
[ $st -ne 0 ] && cat "$T/peer.out" "$T/vs.err" | sed 's/^/# /'
tap_check "guest -> host: the unix socket <uds-path>_5000 got the guest's bytes" \
	grep -q "guest sent b'hello-from-guest'" "$T/peer.out"
tap_check "host -> guest: CONNECT 1234 answered OK" grep -q "handshake b'OK " "$T/peer.out"
vm_wait "$VM_PID" 20
tap_expect_eq "guest finished both connections and powered off" 0 "$VM_STATUS"
tap_check "guest saw the guest-cid from the config space" grep -q 'SVTEST vsock cid=7' "$T/vs.serial"
tap_check "guest received the host's reply" grep -q 'SVTEST vsock guest got reply-from-host' "$T/vs.serial"
tap_check "guest received the host's bytes" grep -q 'SVTEST vsock host->guest ping-from-host' "$T/vs.serial"

if [ -e /dev/vhost-vsock ]; then
	tap_skip "vhost-vsock refused without /dev/vhost-vsock" "this host has /dev/vhost-vsock"
	# (the kernel backend's set-up sequence is unit-tested: tests/unit/vmm_vhost_vsock_test.c)
else
	tap_skip "vhost-vsock (kernel backend)" "/dev/vhost-vsock is absent on this host"
	vm_run vhost -m 128 -kernel "$VGUEST_BZ" -device vhost-vsock-device,id=vsock1,guest-cid=9
	echo "# $(cat "$T/vhost.err")"
	tap_check "vhost-vsock without uds-path is refused in one line naming /dev/vhost-vsock" \
		test "$VM_STATUS" -ne 0 -a "$(wc -l <"$T/vhost.err")" -eq 1 -a \
		"$(grep -c '/dev/vhost-vsock: No such file or directory' "$T/vhost.err")" -eq 1
	tap_check "the message says uds-path= is the way here" grep -q 'uds-path= selects' "$T/vhost.err"
fi
tap_done
