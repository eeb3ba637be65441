#!/usr/bin/env bash
# splitvm vs QEMU microvm start-up, one run, the same PVH test guest (sv.test=idle) on both:
#   ready    exec -> QMP socket accepting: wall ms and CPU ms (all threads, /proc schedstat)
#   serial   exec -> the guest's first serial byte, and -> "SVTEST idle" (guest finished booting)
#   rss      VMM resident memory beyond guest RAM actually touched (smaps: all mappings but
#            the guest-RAM one), after boot
#   seccomp  syscalls in splitvm's allowlist (QEMU's -sandbox is a denylist: not comparable)
# Medians of VMM_BENCH_RUNS (default 15) alternating runs. Targets: splitvm start-up CPU time and
# RSS overhead far below QEMU's, and at or below Firecracker's published 8 CPU ms and 5 MiB.
source "$(dirname "$0")/../lib/tap.sh"

RUNS=${VMM_BENCH_RUNS:-15}
T=$(mktemp -d /tmp/vmm-bench.XXXXXX)
trap 'rm -rf "$T"' EXIT
GUEST=$SV_BUILD/vmm/guests/guest-pvh.elf
SPLITVM=$SV_BIN/splitvm
for f in "$SPLITVM" "$GUEST"; do
	[ -e "$f" ] || { echo "vmm bench: $f not built" >&2; exit 1; }
done
[ -w /dev/kvm ] || { echo "vmm bench: /dev/kvm not usable" >&2; exit 1; }
have_qemu=1
command -v qemu-system-x86_64 >/dev/null || have_qemu=0
gcc -O2 -o "$T/vmm_bench" "$SV_ROOT/tests/bench/vmm_bench.c" || exit 1

MEM=256
run_splitvm() {
	"$T/vmm_bench" "$T/s.sock" $MEM "SVTEST idle" -- "$SPLITVM" -m $MEM -kernel "$GUEST" \
		-append "sv.test=idle" -serial stdio -qmp "unix:$T/s.sock,server,nowait"
}
run_qemu() {
	"$T/vmm_bench" "$T/q.sock" $MEM "SVTEST idle" -- qemu-system-x86_64 -M microvm -enable-kvm \
		-cpu host -m $MEM -smp 1 -nodefaults -no-user-config -nographic -display none \
		-serial stdio -qmp "unix:$T/q.sock,server,nowait" -kernel "$GUEST" -append "sv.test=idle"
}

: >"$T/splitvm" >"$T/qemu"
for ((i = 0; i < RUNS; i++)); do
	run_splitvm >>"$T/splitvm" || echo "vmm bench: a splitvm run failed" >&2
	[ $have_qemu = 1 ] && { run_qemu >>"$T/qemu" || echo "vmm bench: a QEMU run failed" >&2; }
done

# Median of column N of a results file.
med() { awk -v c="$2" '{print $c}' "$1" | sort -n | awk '{a[NR]=$1} END {if (NR) print a[int((NR+1)/2)]; else print "nan"}'; }
report() { # NAME FILE
	printf '  %-9s ready %7.1f ms wall %6.2f ms CPU | first serial byte %7.1f ms | booted %7.1f ms | RSS overhead %6.2f MiB (%d runs)\n' \
		"$1" "$(med "$2" 1)" "$(med "$2" 2)" "$(med "$2" 3)" "$(med "$2" 4)" \
		"$(awk "BEGIN {print $(med "$2" 7) / 1024}")" "$(wc -l <"$2")"
}
ratio() { awk "BEGIN { if ($2 > 0) printf \"%.2f\", $1 / $2; else print \"n/a\" }"; }

echo "vmm start-up (median of $RUNS runs, -m $MEM, PVH test guest, same command line):"
report splitvm "$T/splitvm"
[ $have_qemu = 1 ] && report qemu "$T/qemu"

# The allowlist size splitvm reports when it installs the filter.
STRATOVIRT_LOG_LEVEL=info "$SPLITVM" -m $MEM -kernel "$GUEST" -append "sv.test=boot" \
	-serial "file,path=$T/sc.serial" -D "$T/sc.log" >/dev/null 2>&1
n=$(grep -o 'allowlist on, [0-9]* syscalls ([0-9]* base' "$T/sc.log" | grep -o '[0-9][0-9]*' | head -n1)
echo "  seccomp: splitvm allowlist ${n:-?} syscalls with this guest's devices (QEMU -sandbox on: a denylist, not counted)"

if [ $have_qemu = 1 ]; then
	echo "ratios splitvm/QEMU (lower is better):"
	printf '  ready CPU %sx  ready wall %sx  first serial byte %sx  RSS overhead %sx\n' \
		"$(ratio "$(med "$T/splitvm" 2)" "$(med "$T/qemu" 2)")" \
		"$(ratio "$(med "$T/splitvm" 1)" "$(med "$T/qemu" 1)")" \
		"$(ratio "$(med "$T/splitvm" 3)" "$(med "$T/qemu" 3)")" \
		"$(ratio "$(med "$T/splitvm" 7)" "$(med "$T/qemu" 7)")"
else
	echo "  (qemu-system-x86_64 not installed: no comparison)"
fi
cpu=$(med "$T/splitvm" 2)
rss=$(awk "BEGIN {print $(med "$T/splitvm" 7) / 1024}")
echo "targets: ready CPU <= 8 ms (Firecracker): $cpu ms; RSS overhead <= 5 MiB: $rss MiB"
