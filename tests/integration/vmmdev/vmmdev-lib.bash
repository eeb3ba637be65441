# Helpers for the device tests (sourced after tests/lib/tap.sh): the vmm helpers plus the
# device test guest ($VGUEST_BZ, $VGUEST_PVH; see vmm/tests/guests/virtio_guest.c).
source "$(dirname "${BASH_SOURCE[0]}")/../vmm/vmm-lib.bash"
VGUEST_BZ=$SV_BUILD/vmm/guests/virtio-guest.bzImage
VGUEST_PVH=$SV_BUILD/vmm/guests/virtio-guest-pvh.elf

vmmdev_require() {
	vmm_require
	if [ ! -f "$VGUEST_BZ" ]; then
		tap_fail "device test guest is built" "missing $VGUEST_BZ (make vmmdev)"
		tap_done
		exit 1
	fi
}

# The QMP reply to CMD-JSON must be a return (not an error): the VMM is alive and answering.
qmp_alive() {
	local r
	r=$(qmp '{"execute":"query-status"}') || return 1
	case "$r" in *'"return"'*) return 0 ;; *) echo "$r"; return 1 ;; esac
}
