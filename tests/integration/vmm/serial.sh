#!/usr/bin/env bash
# The 16550A on COM1: guest output reaches -serial stdio/file/socket/pty, and bytes written to
# the backend reach the guest through receive interrupts (IRQ 4 via the IOAPIC) and are
# echoed back; -daemonize with -pidfile detaches after start-up.
source "$(dirname "$0")/../../lib/tap.sh"
source "$(dirname "$0")/vmm-lib.bash"
vmm_require

wait_file() { # FILE PATTERN SECS
	local i
	for ((i = 0; i < $3 * 20; i++)); do
		grep -qE -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

# stdio: stdin from a fifo, stdout to a file.
mkfifo "$T/in"
"$SPLITVM" -m 128 -kernel "$GUEST_BZ" -append "sv.test=echo" -serial stdio <"$T/in" >"$T/stdio.out" 2>"$T/stdio.err" &
pid=$!
_vm_pids+=("$pid")
exec {feed}>"$T/in"
if wait_file "$T/stdio.out" 'SVTEST echo ready' 20; then
	printf 'hello, serial' >&$feed
	wait_file "$T/stdio.out" 'hello, serial' 10
	tap_check "stdio: input echoed by the guest (receive interrupts work)" \
		grep -q 'hello, serial' "$T/stdio.out"
	printf 'q' >&$feed
else
	tap_fail "stdio: guest reached the echo loop" "$(cat "$T/stdio.err")"
fi
vm_wait "$pid" 10
tap_expect_eq "stdio: guest powers off after 'q', exit 0" 0 "$VM_STATUS"
tap_expect_eq "stdio: every byte came back once, in order" "hello, serial" "$(sed -n '/SVTEST echo ready/,$p' "$T/stdio.out" | sed '1d' | sed 's/SVTEST result pass//' | tr -d '\n')"
exec {feed}>&-

# A larger burst than the 16-byte FIFO: backpressure, nothing lost.
mkfifo "$T/in2"
"$SPLITVM" -m 128 -kernel "$GUEST_PVH" -append "sv.test=echo" -serial stdio <"$T/in2" >"$T/burst.out" 2>"$T/burst.err" &
pid=$!
_vm_pids+=("$pid")
exec {feed}>"$T/in2"
# ('q' ends the guest's echo loop, so the burst has none.)
burst=$(head -c 1500 /dev/urandom | base64 -w0 | tr -d 'q' | head -c 600)
if wait_file "$T/burst.out" 'SVTEST echo ready' 20; then
	printf '%s' "$burst" >&$feed
	wait_file "$T/burst.out" "${burst: -40}" 20
	printf 'q' >&$feed
fi
vm_wait "$pid" 20
got=$(sed -n '/SVTEST echo ready/,$p' "$T/burst.out" | sed '1d' | sed 's/SVTEST result pass//' | tr -d '\n')
tap_expect_eq "stdio: a 600-byte burst comes back intact" "$burst" "$got"
exec {feed}>&-

# FD OUT: sends '%' (a byte the guest never prints) to FD until the guest's echo of it shows
# in OUT, at most 20 s: the chardev drops output until it has accepted its client.
probe_echo() {
	local i
	for ((i = 0; i < 200; i++)); do
		printf '%%' >&"$1"
		grep -q '%' "$2" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# unix socket chardev (-chardev + -serial chardev:ID), started paused (-S) so the client
# connects before the guest runs.
sock=$T/serial.sock
qsock=$T/serial-qmp.sock
vm_start sock -S -m 128 -kernel "$GUEST_BZ" -append "sv.test=echo" \
	-chardev "socket,id=con0,path=$sock,server,nowait" -serial chardev:con0 \
	-qmp "unix:$qsock,server,nowait"
sock_wait "$sock" 10
mkfifo "$T/sock.in"
exec {sout}<>"$T/sock.in"
socat - "UNIX-CONNECT:$sock" <"$T/sock.in" >"$T/sock.out" 2>/dev/null &
_vm_pids+=($!)
qmp_open "$qsock" && qmp '{"execute":"cont"}' >/dev/null
# The chardev accepts the client on its loop; output before that is dropped (nobody
# listening). Probe with a byte the guest never prints until its echo comes back.
probe_echo $sout "$T/sock.out"
tap_check "socket: a byte sent to the serial socket comes back (echo)" grep -q '%' "$T/sock.out"
printf 'xyz' >&$sout
wait_file "$T/sock.out" 'xyz' 10
tap_check "socket: bytes sent to the serial socket are echoed in order" grep -q '%*xyz' "$T/sock.out"
printf 'q' >&$sout
wait_file "$T/sock.out" 'SVTEST result pass' 10
tap_check "socket: guest output reaches the socket client" grep -q 'SVTEST result pass' "$T/sock.out"
vm_wait "$VM_PID" 10
tap_expect_eq "socket: guest powers off, exit 0" 0 "$VM_STATUS"
qmp_close
exec {sout}>&-

# pty: splitvm names the pty on stderr; a client in raw mode talks to the guest through it.
qsock=$T/pty-qmp.sock
vm_start pty -S -m 128 -kernel "$GUEST_PVH" -append "sv.test=echo" -serial pty \
	-qmp "unix:$qsock,server,nowait"
wait_file "$T/pty.err" 'char device redirected to /dev/pts/' 10
pts=$(grep -o '/dev/pts/[0-9]*' "$T/pty.err" | head -n1)
tap_check "pty: splitvm names its pty (${pts:-none})" test -c "${pts:-/nonexistent}"
mkfifo "$T/pty.in"
exec {pout}<>"$T/pty.in"
socat - "${pts:-/dev/null},raw,echo=0" <"$T/pty.in" >"$T/pty.out" 2>/dev/null &
_vm_pids+=($!)
qmp_open "$qsock" && qmp '{"execute":"cont"}' >/dev/null
probe_echo $pout "$T/pty.out"
printf 'pty!' >&$pout
wait_file "$T/pty.out" 'pty!' 10
tap_check "pty: bytes typed on the pty are echoed by the guest" grep -q 'pty!' "$T/pty.out"
printf 'q' >&$pout
vm_wait "$VM_PID" 10
tap_expect_eq "pty: guest powers off, exit 0" 0 "$VM_STATUS"
qmp_close
exec {pout}>&-

# -daemonize -pidfile: the parent returns once the VM runs; the daemon serves QMP.
sock=$T/d.sock
"$SPLITVM" -daemonize -pidfile "$T/pid" -m 128 -kernel "$GUEST_BZ" -append "sv.test=idle" \
	-serial "file,path=$T/d.serial" -qmp "unix:$sock,server,nowait" </dev/null >"$T/d.out" 2>"$T/d.err"
tap_expect_eq "-daemonize: the parent exits 0" 0 "$?"
dpid=$(cat "$T/pid" 2>/dev/null)
[ -n "$dpid" ] && _vm_pids+=("$dpid")
tap_check "-pidfile names a live splitvm" grep -q splitvm "/proc/${dpid:-0}/cmdline"
tap_check "-daemonize: QMP socket exists when the parent returns" test -S "$sock"
if qmp_open "$sock"; then
	qmp '{"execute":"quit"}' >/dev/null
	qmp_close
fi
for ((i = 0; i < 100; i++)); do kill -0 "${dpid:-0}" 2>/dev/null || break; sleep 0.05; done
tap_check "-daemonize: quit ends the daemon" test ! -d "/proc/${dpid:-0}"
tap_check "-pidfile removed at exit" test ! -e "$T/pid"
"$SPLITVM" -daemonize -m 128 -kernel "$GUEST_BZ" -serial stdio </dev/null >/dev/null 2>"$T/ds.err"
st=$?
tap_check "-daemonize with -serial stdio is refused: $(cat "$T/ds.err")" test "$st" -ne 0 -a "$(wc -l <"$T/ds.err")" -eq 1
"$SPLITVM" -daemonize -m 128 -kernel "$T/nope" -serial "file,path=$T/dn.serial" </dev/null >/dev/null 2>"$T/dn.err"
st=$?
tap_check "-daemonize: a start-up failure reaches the caller's stderr and exit status" \
	test "$st" -ne 0 -a "$(cat "$T/dn.err")" = "splitvm: -kernel $T/nope: No such file or directory"
tap_done
