#!/usr/bin/env bash
# make bench: runs every tests/bench/<component>.sh (or those matching GLOB) in turn.
# Each script measures splitvirt and the peer tool side by side in one run and
# prints the ratios. Benchmarks never decide pass/fail of `make test`.
#   tests/bench/run.sh BUILD_DIR [GLOB]
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "$root" && cd "${1:-build}" && pwd)
glob=${2:-*}
export SV_ROOT=$root SV_BUILD=$build
status=0
for b in "$root"/tests/bench/*.sh; do
	name=$(basename "$b" .sh)
	[ "$name" = run ] && continue
	# shellcheck disable=SC2053
	[[ $name == $glob ]] || continue
	echo
	echo "=== bench: $name ($(date -u +%H:%M:%S), load $(cut -d' ' -f1-3 /proc/loadavg))"
	if ! bash "$b"; then
		echo "bench $name: failed to complete" >&2
		status=1
	fi
done
exit $status
