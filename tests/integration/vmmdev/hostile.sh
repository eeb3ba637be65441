#!/usr/bin/env bash
# Hostile guest against every virtio device (blk, rng, console, balloon, net, vsock):
# the device test guest offers unoffered features, kicks before DRIVER_OK, sets a queue
# size of 3, and hands each device descriptor loops, buffers outside RAM, zero-length and
# 4 GiB buffers, an avail index 1000 ahead, a head out of range, an indirect loop, a writable
# buffer before a readable one, and device-specific garbage (PFNs past RAM, vsock headers
# with absurd lengths and ops, runt and fake-GSO frames, block reads far past the end, unknown
# request types, GET_ID into 3 bytes, requests without a status byte). splitvm must keep running, keep
# answering QMP throughout, let the guest reset every device, and quit cleanly.
# Receive rings too: with host data flowing (tap frames, console bytes, vsock CONNECTs), net,
# console and vsock get a descriptor loop, a buffer outside RAM, a head out of range, a
# read-only buffer to write into and a zero-length buffer on their receive queue.
source "$(dirname "$0")/../../lib/tap.sh"
source "$(dirname "$0")/vmmdev-lib.bash"
vmmdev_require
NS=svdhost$$
ip netns add "$NS" || { tap_fail "a private network namespace" "ip netns add $NS failed"; tap_done; exit 1; }
h_cleanup() {
	vmm_cleanup
	ip netns del "$NS" 2>/dev/null
}
trap h_cleanup EXIT

qsock=$T/qmp.sock
truncate -s 1M "$T/disk.img"
ip netns exec "$NS" "$SPLITVM" -m 128 -kernel "$VGUEST_BZ" -append "sv.test=hostile" \
	-serial "file,path=$T/h.serial" -qmp "unix:$qsock,server,nowait" \
	-drive "id=d0,file=$T/disk.img,direct=off" -device virtio-blk-device,drive=d0,id=blk0 \
	-object rng-random,id=r0,filename=/dev/urandom -device virtio-rng-device,rng=r0,id=rng0 \
	-device virtio-serial-device,id=vser0 -chardev "file,id=c0,path=$T/con.out" \
	-device virtconsole,chardev=c0,id=con0 \
	-device virtio-balloon-device,id=bal0,free-page-reporting=true \
	-netdev tap,id=n0,ifname=svtap0 -device virtio-net-device,netdev=n0,id=net0 \
	-device "vhost-vsock-device,id=vs0,guest-cid=5,uds-path=$T/v.sock" \
	</dev/null >"$T/h.out" 2>"$T/h.err" &
VM_PID=$!
_vm_pids+=("$VM_PID")
qmp_open "$qsock" || tap_fail "QMP connects" "$(cat "$T/h.err")"
# Poll QMP while the guest attacks: every answer must come.
polls=0 bad=0
for ((i = 0; i < 600; i++)); do
	grep -q 'SVTEST hostile done' "$T/h.serial" 2>/dev/null && break
	kill -0 "$VM_PID" 2>/dev/null || break
	if qmp_alive >/dev/null; then polls=$((polls + 1)); else bad=$((bad + 1)); fi
	sleep 0.1
done
tap_check "guest went through every case" grep -q 'SVTEST hostile done devices=6' "$T/h.serial"
tap_check "splitvm is still running" kill -0 "$VM_PID"
echo "# $polls QMP polls answered during the attack"
tap_expect_eq "QMP answered every poll during the attack" 0 "$bad"
r=$(qmp '{"execute":"query-status"}')
tap_expect_eq "query-status: running" '{"return":{"status":"running","singlestep":false,"running":true}}' "$r"
for dev in blk rng console balloon net vsock; do
	n=$(grep -c "^SVTEST hostile $dev " "$T/h.serial")
	tap_expect_eq "$dev: all 11 cases ran and the device was reset after each" 11 "$n"
done
tap_check "no device refused a reset or accepted unoffered features" \
	bash -c "! grep -q 'SVTEST FAIL' '$T/h.serial'"
# Malformed rings on the queue each device consumes when kicked (transmit for net, console
# and vsock; queue 0 for rng and balloon) set DEVICE_NEEDS_RESET (0x40); well-formed
# requests with odd contents (zero-length, garbage payloads) are only dropped.
nr=$(grep -E 'queue-size-3|descriptor-loop|buffer-outside-ram|oversized-buffer|avail-idx-jump|head-out-of-range|indirect-loop|writable-before-readable' "$T/h.serial" |
	grep -c 'status=0x00000000000000[4-7c-f]')
if [ "$nr" -eq 48 ]; then
	tap_ok "malformed rings set DEVICE_NEEDS_RESET (8 cases x 6 devices)"
else
	tap_fail "malformed rings set DEVICE_NEEDS_RESET (8 cases x 6 devices)" \
		"$nr of 48: $(grep -E 'SVTEST hostile' "$T/h.serial" | grep -v 'status=0x00000000000000[4-7c-f]' | grep -vE 'notify-before|zero-length|garbage')"
fi
ok=$(grep -E 'notify-before-driver-ok|zero-length-buffer|garbage-payload' "$T/h.serial" |
	grep -c 'status=0x000000000000000f')
tap_expect_eq "odd but well-formed requests leave the device running (3 cases x 6 devices)" 18 "$ok"
qmp '{"execute":"quit"}' >/dev/null
vm_wait "$VM_PID" 10
tap_expect_eq "quit: splitvm exits 0" 0 "$VM_STATUS"
tap_check "no crash or sanitizer report in splitvm's stderr" \
	bash -c "! grep -qE 'AddressSanitizer|runtime error|Segmentation|Aborted' '$T/h.err'"
qmp_close

# Malformed receive rings, fed by the host.
qsock=$T/rx-qmp.sock
ip netns exec "$NS" "$SPLITVM" -m 128 -kernel "$VGUEST_PVH" -append "sv.test=hostile_rx" \
	-serial "file,path=$T/rx.serial" -qmp "unix:$qsock,server,nowait" \
	-device virtio-serial-device,id=vser1 -chardev "socket,id=c1,path=$T/con.sock,server,nowait" \
	-device virtconsole,chardev=c1,id=con1 \
	-netdev tap,id=n1,ifname=svtap1 -device virtio-net-device,netdev=n1,id=net1 \
	-device "vhost-vsock-device,id=vs1,guest-cid=6,uds-path=$T/v1.sock" \
	</dev/null >"$T/rx.out" 2>"$T/rx.err" &
VM_PID=$!
_vm_pids+=("$VM_PID")
if qmp_open "$qsock"; then
	ip netns exec "$NS" ip link set svtap1 up
	feeder=$(dirname "$0")/rx_feeder.py
	ip netns exec "$NS" python3 "$feeder" tap svtap1 60 &
	_vm_pids+=($!)
	python3 "$feeder" unix "$T/con.sock" 60 &
	_vm_pids+=($!)
	python3 "$feeder" vsock "$T/v1.sock" 60 &
	_vm_pids+=($!)
	feeders=("${_vm_pids[@]: -3}")
	bad=0
	for ((i = 0; i < 600; i++)); do
		grep -q 'SVTEST hostile_rx done' "$T/rx.serial" 2>/dev/null && break
		kill -0 "$VM_PID" 2>/dev/null || break
		qmp_alive >/dev/null || bad=$((bad + 1))
		sleep 0.1
	done
	tap_check "rx: guest went through every case" grep -q 'SVTEST hostile_rx done' "$T/rx.serial"
	tap_check "rx: splitvm is still running" kill -0 "$VM_PID"
	tap_expect_eq "rx: QMP answered every poll" 0 "$bad"
	for dev in console net vsock; do
		tap_expect_eq "rx: $dev: all 5 cases ran" 5 "$(grep -c "^SVTEST hostile_rx $dev " "$T/rx.serial")"
	done
	# Loops, buffers outside RAM and bad heads break the ring: NEEDS_RESET. A read-only or
	# empty receive buffer is the guest's loss: the device may drop into it or give up.
	nr=$(grep -E 'hostile_rx .* (descriptor-loop|buffer-outside-ram|head-out-of-range)' "$T/rx.serial" |
		grep -c 'status=0x00000000000000[4-7c-f]')
	grep '^SVTEST hostile_rx ' "$T/rx.serial" | sed 's/^/# /'
	tap_expect_eq "rx: malformed receive rings set DEVICE_NEEDS_RESET once host data arrives (3 cases x 3 devices)" 9 "$nr"
	kill "${feeders[@]}" 2>/dev/null
	wait "${feeders[@]}" 2>/dev/null
	qmp '{"execute":"quit"}' >/dev/null
	vm_wait "$VM_PID" 10
	tap_expect_eq "rx: quit: splitvm exits 0" 0 "$VM_STATUS"
	tap_check "rx: no crash or sanitizer report" \
		bash -c "! grep -qE 'AddressSanitizer|runtime error|Segmentation|Aborted' '$T/rx.err'"
else
	tap_fail "rx: splitvm starts" "$(cat "$T/rx.err")"
fi
tap_done
