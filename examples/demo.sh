#!/usr/bin/env bash
# make demo: the offload end to end in the two-machine lab (namespaces demo-host
# and demo-dpu). splitvirt-hostd runs in the host namespace, splitvirt-dpud in the
# dpu namespace, every link over mutual TLS; a domain from deploy/examples/demo.xml
# is defined and started from the DPU and runs as a splitvm VM on the host. Every
# step is printed; the lab is torn down at the end, whatever happens.
#   examples/demo.sh [BUILD_DIR]      DEMO_KERNEL=/path/to/bzImage boots a real kernel
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "$root" && cd "${1:-build}" && pwd)
export SPLITVIRT_LAB=demo SV_BUILD=$build
if bash "$root/deploy/agents/lab-demo.sh"; then
	echo
	echo "demo finished"
else
	echo "demo: failed (see the messages above)" >&2
	exit 1
fi
