#!/usr/bin/env bash
# virtio-console (virtio-serial-device + virtconsole on a unix-socket chardev) with the device
# test guest: the guest's hello reaches the socket client, and bytes the client sends reach
# the guest, which echoes them back on the console (a burst larger than the guest's eight
# 64-byte receive buffers, so input waits for buffers instead of being dropped).
source "$(dirname "$0")/../../lib/tap.sh"
source "$(dirname "$0")/vmmdev-lib.bash"
vmmdev_require

wait_file() { # FILE STRING SECS (a fixed string: base64 has regex characters)
	local i
	for ((i = 0; i < $3 * 20; i++)); do
		grep -qF -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

run_console() { # NAME PORT-KIND GUEST
	local name=$1 kind=$2 guest=$3 sock=$T/$1.sock qsock=$T/$1-qmp.sock feed burst got
	vm_start "$name" -S -m 128 -kernel "$guest" -append "sv.test=console" \
		-serial "file,path=$T/$name.serial" -qmp "unix:$qsock,server,nowait" \
		-device virtio-serial-device,id=vser0 \
		-chardev "socket,id=con0,path=$sock,server,nowait" -device "$kind,chardev=con0,id=port0"
	if ! sock_wait "$sock" 10; then
		tap_fail "$kind: console socket appears" "$(cat "$T/$name.err")"
		return
	fi
	mkfifo "$T/$name.in"
	exec {feed}<>"$T/$name.in"
	socat - "UNIX-CONNECT:$sock" <"$T/$name.in" >"$T/$name.out" 2>/dev/null &
	_vm_pids+=($!)
	sleep 0.2
	qmp_open "$qsock" && qmp '{"execute":"cont"}' >/dev/null
	tap_check "$kind: guest output reaches the chardev" wait_file "$T/$name.out" 'SVCON hello' 20
	printf 'ping-123' >&$feed
	wait_file "$T/$name.out" 'ping-123' 10
	tap_expect_eq "$kind: bytes sent to the chardev come back from the guest" "SVCON hello|ping-123" \
		"$(tr '\n' '|' <"$T/$name.out")"
	burst=$(head -c 1500 /dev/urandom | base64 -w0 | tr -d "q" | head -c 1000)
	printf '%s' "$burst" >&$feed
	wait_file "$T/$name.out" "${burst: -32}" 20
	got=$(sed '1d' "$T/$name.out")
	tap_expect_eq "$kind: a 1000-byte burst comes back intact" "ping-123$burst" "$got"
	tap_check "$kind: QMP answers while the console is busy" qmp_alive
	printf 'q' >&$feed
	vm_wait "$VM_PID" 20
	tap_expect_eq "$kind: guest powers off after 'q'" 0 "$VM_STATUS"
	tap_check "$kind: guest counted every byte" grep -q "SVTEST console echoed=1008" "$T/$name.serial"
	qmp_close
	exec {feed}>&-
}

run_console virtconsole virtconsole "$VGUEST_BZ"
run_console virtserialport virtserialport "$VGUEST_PVH"
tap_done
