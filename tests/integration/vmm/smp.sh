#!/usr/bin/env bash
# SMP: with -smp 1, 2, 4 and 16 the guest finds every processor in the MP table, starts each AP
# with INIT-SIPI-SIPI and every AP reports on the serial port; query-cpus-fast shows the
# -smp topology.
source "$(dirname "$0")/../../lib/tap.sh"
source "$(dirname "$0")/vmm-lib.bash"
vmm_require

for n in 1 2 4 16; do
	vm_run smp$n -m 128 -smp $n -kernel "$GUEST_BZ" -append "sv.mem=128"
	tap_expect_eq "-smp $n: guest passes" 0 "$VM_STATUS"
	tap_expect_eq "-smp $n: MP table checksum is valid" "SVTEST ok MP table checksum" \
		"$(serial_grep smp$n 'MP table checksum')"
	tap_expect_eq "-smp $n: $n processors up" "SVTEST cpus=$n" "$(serial_grep smp$n 'SVTEST cpus=')"
	want=$(for ((i = 1; i < n; i++)); do echo "SVTEST ap $i up"; done)
	tap_expect_eq "-smp $n: every AP reports" "$want" "$(serial_grep smp$n 'SVTEST ap ' | sort -n -k3)"
done

# Topology: CPUID leaf 0xb and the APIC IDs follow -smp. APIC IDs pack thread, core and
# socket fields of power-of-two widths, so 3 cores per socket leave a hole (3 is unused).
vm_run topo -m 128 -smp 6,sockets=2,cores=3,threads=1 -kernel "$GUEST_PVH" -append "sv.mem=128"
tap_expect_eq "-smp 6,sockets=2,cores=3: CPUID leaf 0xb says 1 thread/core, 3 threads/package" \
	"SVTEST topology apic=0 smt_shift=0 smt_count=1 pkg_shift=2 pkg_count=3" "$(serial_grep topo 'SVTEST topology')"
tap_expect_eq "-smp 6,sockets=2,cores=3: APs have APIC IDs 1 2 4 5 6" \
	"$(printf 'SVTEST ap %s up\n' 1 2 4 5 6)" "$(serial_grep topo 'SVTEST ap ' | sort -n -k3)"
tap_expect_eq "-smp 6,sockets=2,cores=3: all six up" "SVTEST cpus=6" "$(serial_grep topo 'SVTEST cpus=')"
vm_run smt -m 128 -smp 4,sockets=1,cores=2,threads=2 -kernel "$GUEST_BZ" -append "sv.mem=128"
tap_expect_eq "-smp 4,cores=2,threads=2: CPUID leaf 0xb says 2 threads/core, 4 threads/package" \
	"SVTEST topology apic=0 smt_shift=1 smt_count=2 pkg_shift=2 pkg_count=4" "$(serial_grep smt 'SVTEST topology')"
tap_expect_eq "-smp 4,cores=2,threads=2: four processors up" "SVTEST cpus=4" "$(serial_grep smt 'SVTEST cpus=')"
# cpus < maxcpus: only cpus vCPUs exist and are listed.
vm_run hot -m 128 -smp 2,maxcpus=4,sockets=1,cores=2,threads=2 -kernel "$GUEST_PVH" -append "sv.mem=128"
tap_expect_eq "-smp 2,maxcpus=4: two processors up" "SVTEST cpus=2" "$(serial_grep hot 'SVTEST cpus=')"

sock=$T/qmp.sock
vm_start q -m 128 -smp 4,sockets=2,cores=2,threads=1 -kernel "$GUEST_BZ" -append "sv.test=idle" \
	-serial "file,path=$T/q.serial" -qmp "unix:$sock,server,nowait"
if qmp_open "$sock"; then
	serial_wait q 'SVTEST idle' 20
	r=$(qmp '{"execute":"query-cpus-fast"}')
	tap_expect_eq "query-cpus-fast lists 4 vCPUs" 4 "$(grep -o '"cpu-index"' <<<"$r" | wc -l)"
	tap_expect_eq "query-cpus-fast: cpu 3 is socket 1 core 1" 1 \
		"$(grep -c '"cpu-index":3,.*"socket-id":1,"die-id":0,"cluster-id":0,"core-id":1' <<<"$r")"
	qmp '{"execute":"quit"}' >/dev/null
else
	tap_fail "QMP socket for query-cpus-fast" "$(cat "$T/q.err")"
fi
vm_wait "$VM_PID" 10
tap_expect_eq "quit ends splitvm with status 0" 0 "$VM_STATUS"
tap_done
