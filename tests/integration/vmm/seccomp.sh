#!/usr/bin/env bash
# The seccomp allowlist is on by default on every splitvm thread, the guest runs under it, a
# syscall outside it kills splitvm with a log line naming the call, and -disable-seccomp
# turns it off.
source "$(dirname "$0")/../../lib/tap.sh"
source "$(dirname "$0")/vmm-lib.bash"
vmm_require
PRELOAD=$SV_BUILD/vmm/tests/forbidden_syscall.so
[ -f "$PRELOAD" ] || { tap_fail "forbidden_syscall.so is built" "$PRELOAD missing"; tap_done; exit 1; }
# Under the sanitizer build the ASan runtime must come first in the preload list.
[ "${SV_SAN:-0}" = 1 ] && PRELOAD="$(gcc -print-file-name=libasan.so):$PRELOAD"

start_idle() { # NAME EXTRA-ARGS...
	local name=$1
	shift
	sock=$T/$name.sock
	LD_PRELOAD=$PRELOAD vm_start "$name" -m 128 -smp 2 -kernel "$GUEST_BZ" -append "sv.test=idle" \
		-serial "file,path=$T/$name.serial" -qmp "unix:$sock,server,nowait" "$@"
	serial_wait "$name" 'SVTEST idle' 20
}

# Per-thread seccomp mode: "2" (filter) for every thread.
# (KVM's kvm-nx-lpage-recovery kernel thread shows up in the thread group; it is skipped.)
modes() {
	local t
	for t in /proc/"$1"/task/*; do
		grep -q '^kvm' "$t/comm" 2>/dev/null && continue
		awk '/^Seccomp:/ {print $2}' "$t/status"
	done | sort -u | tr '\n' ' '
}

start_idle on
tap_check "guest runs with seccomp on" serial_grep on 'SVTEST idle'
tap_expect_eq "every thread (main, vCPUs) is filtered" "2 " "$(modes "$VM_PID")"
tap_expect_eq "one thread per vCPU" "vcpu0 vcpu1 " "$(cat /proc/"$VM_PID"/task/*/comm | grep '^vcpu' | sort | tr '\n' ' ')"
kill -USR2 "$VM_PID"
vm_wait "$VM_PID" 10
tap_expect_eq "a forbidden syscall kills splitvm (status 159 = 128 + SIGSYS)" 159 "$VM_STATUS"
tap_check "the log line names the syscall: $(tail -n1 "$T/on.err")" \
	grep -q 'seccomp: forbidden syscall sysinfo (99)' "$T/on.err"

start_idle off -disable-seccomp
tap_expect_eq "-disable-seccomp: no thread is filtered" "0 " "$(modes "$VM_PID")"
kill -USR2 "$VM_PID"
sleep 0.3
tap_check "-disable-seccomp: the same syscall is harmless" kill -0 "$VM_PID"
qmp_open "$sock" && qmp '{"execute":"quit"}' >/dev/null
vm_wait "$VM_PID" 10
tap_expect_eq "-disable-seccomp: quit exits 0" 0 "$VM_STATUS"
qmp_close

# A reset and QMP stop/cont work under the filter (they use more ioctls than running does).
start_idle rs
qmp_open "$sock"
qmp '{"execute":"stop"}' >/dev/null
qmp '{"execute":"cont"}' >/dev/null
qmp '{"execute":"system_reset"}' >/dev/null
for ((i = 0; i < 100; i++)); do
	[ "$(serial_grep rs 'SVTEST idle' | wc -l)" -ge 2 ] && break
	sleep 0.05
done
tap_expect_eq "stop, cont and system_reset under seccomp: guest boots again" 2 "$(serial_grep rs 'SVTEST idle' | wc -l)"
qmp '{"execute":"quit"}' >/dev/null
vm_wait "$VM_PID" 10
tap_expect_eq "quit under seccomp exits 0" 0 "$VM_STATUS"
tap_done
