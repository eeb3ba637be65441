#!/usr/bin/env bash
# The agents' demo in the two-machine lab, every step printed: splitvirt-hostd in
# `host`, splitvirt-dpud in `dpu`, every link over mutual TLS with certificates
# made for the run; deploy/examples/demo.xml defined and started from the DPU,
# `splitvirt list`, console output and `dominfo` shown, then shutdown and teardown.
#   SV_BUILD=build (default)        where the binaries are
#   DEMO_KERNEL=/path/to/bzImage    boot a real kernel instead of the test guest
# (examples/demo.sh / `make demo` can run this.)
set -uo pipefail
SV_ROOT=$(cd "$(dirname "$0")/../.." && pwd)
: "${SV_BUILD:=$SV_ROOT/build}"
export SV_ROOT SV_BUILD
source "$SV_ROOT/tests/lib/tap.sh"
source "$SV_ROOT/tests/lib/lab.sh"
source "$SV_ROOT/tests/integration/agents/lib.bash"

if [ -t 1 ]; then bold=$'\033[1m' plain=$'\033[0m'; else bold= plain=; fi
step() { printf '\n%s==> %s%s\n' "$bold" "$*" "$plain"; }
run() { printf '$ %s\n' "$*"; "$@"; }
die() { echo "demo: $*" >&2; agents_logs >&2; exit 1; }

why=$(agents_require) || die "$why (build first: make)"
step "bringing up the lab: namespaces host (10.77.0.1) and dpu (10.77.0.2); TLS certificates"
agents_up tls >"$AG_TMP/up.log" 2>&1 || { cat "$AG_TMP/up.log"; die "agents did not come up"; }
echo "host: splitvirt-hostd supervising rexec_server, udsproxyd, qtfsd (tls:10.77.0.1:7201/7301/7401)"
echo "dpu:  splitvirt-dpud with udsproxyd and qtfs mounts of /var/lib/splitvirt/images and /run/splitvirt/vms"
run on_dpu sh -c "grep ' fuse' /proc/self/mounts | cut -d' ' -f1-3"

step "putting the kernel and a disk image in the host's image directory"
xml=$AG_TMP/demo.xml
cp "$SV_ROOT/deploy/examples/demo.xml" "$xml"
if [ -n "${DEMO_KERNEL:-}" ]; then
	on_host cp "$DEMO_KERNEL" "$AG_IMAGES/bzImage" || die "cannot copy $DEMO_KERNEL"
	sed -i "s|guest.bzImage|bzImage|; s|<cmdline>.*</cmdline>|<cmdline>console=ttyS0 reboot=k panic=1</cmdline>|; s|>128<|>512<|g" "$xml"
fi
run on_host truncate -s 16M "$AG_IMAGES/demo.img"
run on_dpu ls -l "$AG_IMAGES"

step "defining the domain from the DPU"
run sv define "$xml" || die "define failed"
run sv list --all

step "starting it: splitvm runs on the host, started through rexec"
run sv start demo || die "start failed"
run sv list
echo "on the host:"
run on_host sh -c "ps -o pid,args -p \$(cat $AG_RUN/demo/pid) | cut -c1-160"

step "console output (serial through udsproxy; ^] leaves when interactive)"
timeout 5 "$SV_ROOT/deploy/lab/lab" exec dpu "$SV_BIN/splitvirt" console demo </dev/null | head -n 20

step "dominfo"
run sv dominfo demo

step "shutting it down (ACPI power button), then teardown"
run sv shutdown demo
wait_state demo "shut off" 15 || die "did not shut off"
run sv domstate demo --reason
run sv list --all
echo
echo "demo done; the lab is torn down on exit"
