#!/usr/bin/env bash
# virtio-blk under KVM with the device test guest, for each aio mode (io_uring, native with
# O_DIRECT, off): a pattern written at request sizes 512 B, 1.5 KiB, 4 KiB, 64 KiB and 1 MiB
# reads back in the guest and is in the image file at the right offsets (checked on the host);
# flush succeeds; GET_ID returns serial=; a read past the end is an I/O error; discard
# (discard=unmap) punches a hole in the image file and reads back as zeroes; write-zeroes
# zeroes. A read-only drive advertises RO, answers writes with IOERR and leaves the image as
# it was.
source "$(dirname "$0")/../../lib/tap.sh"
source "$(dirname "$0")/vmmdev-lib.bash"
vmmdev_require

# Host-side check of the guest's pattern, byte for byte (blk_fill in virtio_guest.c): each
# 512-byte sector is the request's fill byte, its first 8 bytes name the sector.
check_image() { # IMAGE
	python3 - "$1" <<'PY'
import struct, sys
img = sys.argv[1]
sizes = [512, 1536, 4096, 65536, 1 << 20]
with open(img, "rb") as f:
    for k, size in enumerate(sizes):
        sector = 2048 * (k + 1)
        f.seek(sector * 512)
        data = f.read(size)
        fill = bytes([((size >> 9) * 31 + sector) & 0xFF]) * 512
        want = b"".join(struct.pack("<Q", 0x5356000000000000 | (sector + i)) + fill[8:]
                        for i in range(size // 512))
        if data != want:
            print("mismatch at size %d" % size)
            sys.exit(1)
sys.exit(0)
PY
}

# True when [8 MiB, 9 MiB) of the image is a hole (no data extent).
is_hole() { # IMAGE
	python3 - "$1" <<'PY'
import errno, os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
try:
    nxt = os.lseek(fd, 8 << 20, os.SEEK_DATA)
except OSError as e:
    sys.exit(0 if e.errno == errno.ENXIO else 1)
sys.exit(0 if nxt >= 9 << 20 else 1)
PY
}

for aio in io_uring native off; do
	img=$T/disk-$aio.img
	truncate -s 16M "$img"
	direct=on
	[ $aio = off ] && direct=off
	vm_run "blk-$aio" -m 256 -kernel "$VGUEST_BZ" -append "sv.test=blk" \
		-drive "id=d0,file=$img,aio=$aio,direct=$direct,discard=unmap" \
		-device virtio-blk-device,drive=d0,id=b0,serial=SV-SERIAL-42
	tap_expect_eq "aio=$aio: guest finished its checks and powered off" 0 "$VM_STATUS"
	tap_expect_eq "aio=$aio: every size read back what was written" 5 \
		"$(serial_grep "blk-$aio" '^SVTEST blk rw ok size=' | wc -l)"
	tap_check "aio=$aio: the image holds the pattern at each offset" check_image "$img"
	tap_check "aio=$aio: GET_ID returns the serial" serial_grep "blk-$aio" '^SVTEST blk id=SV-SERIAL-42$'
	tap_check "aio=$aio: flush succeeds" serial_grep "blk-$aio" '^SVTEST blk flush status=0$'
	tap_check "aio=$aio: a read past the end is IOERR" serial_grep "blk-$aio" '^SVTEST blk read past end status=1$'
	tap_check "aio=$aio: discard succeeds and reads back zeroes" \
		serial_grep "blk-$aio" '^SVTEST blk discard status=0 nonzero=0$'
	tap_check "aio=$aio: discard punched a hole in the image file" is_hole "$img"
	tap_check "aio=$aio: write-zeroes zeroes" serial_grep "blk-$aio" '^SVTEST blk write-zeroes status=0 nonzero=0$'
done

# Read-only.
img=$T/ro.img
truncate -s 16M "$img"
before=$(cksum <"$img")
vm_run blk-ro -m 256 -kernel "$VGUEST_PVH" -append "sv.test=blk sv.ro=1" \
	-drive "id=d1,file=$img,readonly=on,direct=off" -device virtio-blk-device,drive=d1,id=b1
tap_expect_eq "read-only: guest finished its checks" 0 "$VM_STATUS"
tap_check "read-only: the device advertises RO" serial_grep blk-ro 'ro=1$'
tap_expect_eq "read-only: every write is answered IOERR" 5 \
	"$(serial_grep blk-ro '^SVTEST blk ro write size=[0-9]* status=1$' | wc -l)"
tap_expect_eq "read-only: reads still work (and see the untouched zeroes)" 5 \
	"$(serial_grep blk-ro '^SVTEST blk rw ok size=' | wc -l)"
tap_expect_eq "read-only: the image is unchanged" "$before" "$(cksum <"$img")"
tap_done
