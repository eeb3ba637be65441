#!/usr/bin/env bash
# Device interrupts as a guest kernel sees them: the device test guest routes the rng's line
# (from its virtio_mmio.device= entry; the rng is the second device, so not the first line)
# through the IOAPIC as level-triggered, active-high (what the DSDT declares), sleeps in hlt
# and must be woken by one interrupt per used buffer; after the last acknowledgement the line
# stays quiet (no interrupt storm from a level line left high).
source "$(dirname "$0")/../../lib/tap.sh"
source "$(dirname "$0")/vmmdev-lib.bash"
vmmdev_require

for g in bz pvh; do
	guest=$VGUEST_BZ
	[ $g = pvh ] && guest=$VGUEST_PVH
	vm_run "irq-$g" -m 128 -kernel "$guest" -append "sv.test=irq sv.n=20" \
		-device virtio-balloon-device,id=bal0 \
		-object rng-random,id=r0,filename=/dev/urandom -device virtio-rng-device,rng=r0,id=rng0
	tap_expect_eq "$g: guest finished and powered off" 0 "$VM_STATUS"
	line=$(sed -n 's/^SVTEST irq line=//p' "$T/irq-$g.serial")
	want=$(sed -n 's/^SVTEST cmdline=.*virtio_mmio.device=0x200@0xd0001000:\([0-9]*\).*/\1/p' "$T/irq-$g.serial")
	tap_check "$g: the guest used the rng's announced line" test -n "$line" -a "$line" = "$want"
	tap_check "$g: 20 used buffers, 20 interrupts" serial_grep "irq-$g" '^SVTEST irq count=20 '
	tap_check "$g: no interrupt after the last ack" serial_grep "irq-$g" 'SVTEST ok no interrupt after the last ack'
done
tap_done
