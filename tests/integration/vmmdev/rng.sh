#!/usr/bin/env bash
# virtio-rng under KVM with the device test guest: the bytes the guest receives are the
# rng-random file's bytes in order (POSIX cksum compared), and with max-bytes/period the
# device does not hand out more than the budget allows (a lower bound on the time taken:
# the limiter must hold bytes back; no upper bound, the machine may be slow).
source "$(dirname "$0")/../../lib/tap.sh"
source "$(dirname "$0")/vmmdev-lib.bash"
vmmdev_require

head -c 65536 /dev/urandom >"$T/entropy"

# Unlimited: 4096 bytes in 64-byte requests.
vm_run free -m 128 -kernel "$VGUEST_BZ" -append "sv.test=rng sv.bytes=4096 sv.chunk=64" \
	-object "rng-random,id=r0,filename=$T/entropy" -device virtio-rng-device,rng=r0,id=rng0
tap_expect_eq "unlimited: guest read its bytes and powered off" 0 "$VM_STATUS"
want=$(head -c 4096 "$T/entropy" | cksum | awk '{print $1}')
got=$(sed -n 's/^SVTEST rng bytes=4096 cksum=\([0-9]*\)$/\1/p' "$T/free.serial")
tap_expect_eq "unlimited: the guest got the file's first 4096 bytes (cksum)" "$want" "$got"

# Rate limited: 256 bytes per 1000 ms (256 B/s, inside the guidebook's [64, 1e9] B/s).
# 1024 bytes need the first budget plus three more periods: at least 3 s.
start=$(date +%s%N)
vm_run limited -m 128 -kernel "$VGUEST_PVH" -append "sv.test=rng sv.bytes=1024 sv.chunk=128" \
	-object "rng-random,id=r1,filename=$T/entropy" \
	-device virtio-rng-device,rng=r1,id=rng1,max-bytes=256,period=1000
end=$(date +%s%N)
ms=$(((end - start) / 1000000))
tap_expect_eq "limited: guest read 1024 bytes and powered off" 0 "$VM_STATUS"
want=$(head -c 1024 "$T/entropy" | cksum | awk '{print $1}')
got=$(sed -n 's/^SVTEST rng bytes=1024 cksum=\([0-9]*\)$/\1/p' "$T/limited.serial")
tap_expect_eq "limited: bytes are the file's, in order" "$want" "$got"
echo "# limited: 1024 bytes at 256 B/s took $ms ms"
if [ "$ms" -ge 2900 ]; then
	tap_ok "limited: 1024 bytes at 256 B/s take at least 3 periods"
else
	tap_fail "limited: 1024 bytes at 256 B/s take at least 3 periods" "took $ms ms: the limit was not enforced"
fi

# The guidebook's bounds are refused with a one-line message.
"$SPLITVM" -m 128 -kernel "$VGUEST_BZ" -object "rng-random,id=r2,filename=$T/entropy" \
	-device virtio-rng-device,rng=r2,max-bytes=63,period=1000 </dev/null >/dev/null 2>"$T/low.err"
st=$?
echo "# $(cat "$T/low.err")"
tap_check "max-bytes/period below 64 B/s is refused in one line" \
	test "$st" -ne 0 -a "$(wc -l <"$T/low.err")" -eq 1
vm_run missing -m 128 -kernel "$VGUEST_BZ" -object "rng-random,id=r3,filename=$T/nope" \
	-device virtio-rng-device,rng=r3
echo "# $(cat "$T/missing.err")"
tap_check "a missing rng file is refused in one line" \
	test "$VM_STATUS" -ne 0 -a "$(wc -l <"$T/missing.err")" -eq 1
tap_done
