#!/usr/bin/env bash
# `make demo` (examples/demo.sh) runs the offload to its end and leaves no lab behind:
# the domain is started from the DPU, its console shows the guest, it shuts down.
source "$(dirname "$0")/../../lib/tap.sh"
out=$(bash "$SV_ROOT/examples/demo.sh" "$SV_BUILD" 2>&1)
rc=$?
if [ $rc -eq 0 ] && grep -q '^demo finished$' <<<"$out"; then
	tap_ok "the demo runs to its end"
else
	tap_fail "the demo runs to its end" "exit $rc: $(tail -n 15 <<<"$out")"
fi
for want in "Domain 'demo' started" "State:          running" "SVTEST" "shut off (shutdown)"; do
	if grep -qF -- "$want" <<<"$out"; then
		tap_ok "the demo shows: $want"
	else
		tap_fail "the demo shows: $want" "$(tail -n 40 <<<"$out")"
	fi
done
if ip netns list | grep -qE "^demo-(host|dpu)"; then
	tap_fail "the demo leaves no namespace behind" "$(ip netns list)"
else
	tap_ok "the demo leaves no namespace behind"
fi
tap_done
