#!/usr/bin/env bash
# Agents benchmark, one run: the DPU-side `splitvirt` managing splitvm in the
# lab's host namespace over mutual TLS (rexec, udsproxy, qtfs), against `virsh`
# with libvirtd managing QEMU locally (Debian packages, same test guest, same
# memory, QEMU -M microvm), in the root namespace.
#   start-to-running: `start` returning with the domain running, median/p90 of
#                     AGENTS_BENCH_RUNS (default 10) runs
#   per-verb latency: list, dominfo, domstate, dumpxml, suspend, resume, destroy
# Target: splitvirt start-to-running below virsh+QEMU's despite crossing the machine boundary.
source "$(dirname "$0")/../lib/tap.sh"
source "$SV_ROOT/tests/lib/lab.sh"
source "$SV_ROOT/tests/integration/agents/lib.bash"

RUNS=${AGENTS_BENCH_RUNS:-10}
why=$(agents_require) || { echo "agents bench: $why" >&2; exit 1; }
for t in virsh libvirtd qemu-system-x86_64; do
	command -v $t >/dev/null || { echo "agents bench: $t missing (make deps)" >&2; exit 1; }
done
agents_up tls >"$AG_TMP/up.log" 2>&1 || { cat "$AG_TMP/up.log"; agents_logs; exit 1; }

now() { date +%s%N; }
# stats FILE: "median p90" in ms with one decimal, from ns values one per line.
stats() { sort -n "$1" | awk '{v[NR]=$1} END {m=v[int((NR+1)/2)]; p=v[int(NR*0.9+0.999)]; printf "%.1f %.1f", m/1e6, p/1e6}'; }
timeit() { # FILE CMD...: appends the wall time of CMD in ns; CMD must succeed
	local f=$1 t0 t1
	shift
	t0=$(now)
	"$@" >"$AG_TMP/last.out" 2>&1 || { echo "agents bench: failed: $*: $(cat "$AG_TMP/last.out")" >&2; return 1; }
	t1=$(now)
	echo $((t1 - t0)) >>"$f"
}

# The PVH (ELF) build of the test guest on both sides: QEMU microvm boots it too.
PVH=$SV_BUILD/vmm/guests/guest-pvh.elf
[ -f "$PVH" ] || { echo "agents bench: $PVH not built" >&2; exit 1; }
on_host cp "$PVH" "$AG_IMAGES/guest-pvh.elf"

# ---- splitvirt (DPU) -> splitvm (host), everything over TLS ----------------
guest_xml bench idle | sed "s|guest.bzImage|guest-pvh.elf|" >"$AG_TMP/bench.xml"
sv define "$AG_TMP/bench.xml" >/dev/null
# The loop runs inside the dpu namespace so that entering it is not timed.
cat >"$AG_TMP/svloop.sh" <<LOOP
now() { date +%s%N; }
timeit() { local f=\$1 t0 t1; shift; t0=\$(now); "\$@" >"$AG_TMP/last.out" 2>&1 || { echo "failed: \$*: \$(cat $AG_TMP/last.out)" >&2; exit 1; }; t1=\$(now); echo \$((t1 - t0)) >>"\$f"; }
S=$SV_BIN/splitvirt
for i in \$(seq 1 $RUNS); do
	timeit $AG_TMP/sv.start \$S start bench
	[ "\$(\$S domstate bench | head -n1)" = running ] || { echo "not running after start" >&2; exit 1; }
	timeit $AG_TMP/sv.list \$S list --all
	for v in dominfo domstate dumpxml suspend resume destroy; do timeit $AG_TMP/sv.\$v \$S \$v bench; done
done
LOOP
on_dpu bash "$AG_TMP/svloop.sh" || { echo "agents bench: splitvirt loop failed" >&2; agents_logs; exit 1; }

# ---- virsh -> libvirtd -> QEMU, all local (host namespace) ------------------
LV=$AG_TMP/libvirt
mkdir -p "$LV"
cp "$PVH" "$LV/guest-pvh.elf"
chmod 755 "$AG_TMP" "$LV"
chmod 644 "$LV/guest-pvh.elf"
cat >"$LV/lv.xml" <<XML
<domain type='kvm'><name>svbench</name><memory unit='MiB'>128</memory><vcpu>1</vcpu>
<cpu mode='host-passthrough'/>
<os><type arch='x86_64' machine='microvm'>hvm</type><kernel>$LV/guest-pvh.elf</kernel>
<cmdline>console=ttyS0 sv.test=idle</cmdline></os>
<devices><controller type='usb' model='none'/><serial type='pty'/><memballoon model='none'/></devices>
<seclabel type='static' model='dac' relabel='no'><label>+0:+0</label></seclabel></domain>
XML
# libvirtd runs in this (root) namespace: the lab's host side has no cgroup
# hierarchy for it to place QEMU in. Local either way, which is the comparison.
[ -S /run/libvirt/libvirt-sock ] && { echo "agents bench: a libvirtd already runs here" >&2; exit 1; }
virtlogd >"$LV/virtlogd.log" 2>&1 &
at_cleanup "kill $!"
libvirtd >"$LV/libvirtd.log" 2>&1 &
at_cleanup "kill $!"
# The first start probes QEMU's capabilities (tens of seconds; cached afterwards).
wait_for 120 test -S /run/libvirt/libvirt-sock || { echo "agents bench: libvirtd did not start" >&2; exit 1; }
V=(virsh -q -c qemu:///system)
"${V[@]}" define "$LV/lv.xml" >/dev/null || { echo "agents bench: virsh define failed" >&2; exit 1; }
at_cleanup "virsh -c qemu:///system destroy svbench; virsh -c qemu:///system undefine svbench"
for i in $(seq 1 "$RUNS"); do
	timeit "$AG_TMP/lv.start" "${V[@]}" start svbench || { "${V[@]}" start svbench; exit 1; }
	for v in list dominfo domstate dumpxml; do
		a=svbench
		[ $v = list ] && a=--all
		timeit "$AG_TMP/lv.$v" "${V[@]}" $v $a
	done
	timeit "$AG_TMP/lv.suspend" "${V[@]}" suspend svbench
	timeit "$AG_TMP/lv.resume" "${V[@]}" resume svbench
	timeit "$AG_TMP/lv.destroy" "${V[@]}" destroy svbench
done

echo "agents bench: $RUNS runs each; splitvirt over tls: DPU -> host, virsh+libvirtd+QEMU local"
printf '%-18s %22s %22s %8s\n' "verb" "splitvirt med/p90 ms" "virsh med/p90 ms" "ratio"
for v in start list dominfo domstate dumpxml suspend resume destroy; do
	read -r sm sp <<<"$(stats "$AG_TMP/sv.$v")"
	read -r lm lp <<<"$(stats "$AG_TMP/lv.$v")"
	label=$v
	[ $v = start ] && label="start-to-running"
	printf '%-18s %13s / %-6s %13s / %-6s %7.2fx\n' "$label" "$sm" "$sp" "$lm" "$lp" \
		"$(awk -v a="$lm" -v b="$sm" 'BEGIN {print (b > 0 ? a / b : 0)}')"
done
echo "(ratio = virsh time / splitvirt time; > 1 means splitvirt is faster)"
