#!/usr/bin/env bash
# make test-linux: boots the Debian cloud kernel (linux-image-cloud-amd64, fetched with
# apt-get download and extracted here) under splitvm to a userspace init that prints a marker.
# First a probe guest runs the instructions a distro kernel needs early (int3, cmpxchg16b,
# xsave); where this host's KVM cannot emulate one of them (nested, emulating KVM) the test
# skips and says which.
source "$(dirname "$0")/../../tests/lib/tap.sh"
SPLITVM=$SV_BIN/splitvm
GUEST=$SV_BUILD/vmm/guests/guest.bzImage
T=$(mktemp -d /tmp/sv-linux.XXXXXX)
pids=()
trap 'for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done; rm -rf "$T"' EXIT
: "${LINUX_BOOT_TIMEOUT:=180}"

finish_skip() { tap_skip "linux boots to userspace" "$1"; tap_done; exit 0; }

[ -x "$SPLITVM" ] && [ -f "$GUEST" ] || { tap_fail "splitvm built" "run make vmm first"; tap_done; exit 1; }
[ -w /dev/kvm ] || finish_skip "/dev/kvm is not usable here"

# 1. The kernel package.
pkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null | awk '/Depends: linux-image-/ {print $2; exit}')
[ -n "$pkg" ] || finish_skip "apt-cache knows no linux-image-cloud-amd64 (no Debian archive configured)"
(cd "$T" && timeout 300 apt-get download "$pkg" >/dev/null 2>&1) || finish_skip "apt-get download $pkg failed (offline?)"
dpkg-deb --fsys-tarfile "$T"/"$pkg"_*.deb | tar -x -C "$T" ./boot || { tap_fail "extract $pkg"; tap_done; exit 1; }
kernel=$(ls "$T"/boot/vmlinuz-* | head -n1)

# 2. An initramfs whose /init prints a marker and powers off.
cat >"$T/init.c" <<'C'
#include <stdio.h>
#include <sys/reboot.h>
#include <unistd.h>
int main(void)
{
	printf("SPLITVM-LINUX-USERSPACE-OK\n");
	fflush(stdout);
	reboot(RB_POWER_OFF);
	for (;;)
		pause();
}
C
gcc -static -O2 -o "$T/init" "$T/init.c" || { tap_fail "build a static init"; tap_done; exit 1; }
python3 - "$T/init" "$T/initrd.cpio" <<'PY'
import sys
def ent(name, mode, data=b'', ino=1):
    namez = name.encode() + b'\0'
    hdr = '070701' + ''.join('%08x' % v for v in
                             [ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(namez), 0])
    out = hdr.encode() + namez
    out += b'\0' * ((4 - len(out) % 4) % 4) + data
    return out + b'\0' * ((4 - len(out) % 4) % 4)
data = open(sys.argv[1], 'rb').read()
open(sys.argv[2], 'wb').write(ent('init', 0o100755, data, 1) + ent('dev', 0o40755, b'', 2) +
                              ent('TRAILER!!!', 0, b'', 0))
PY

# 3. splitvm accepts the image (setup header validated, kernel, initrd and boot_params loaded)
# and runs it; then: can this KVM run what a stock kernel runs?
# Boots KERNEL with the initrd for half a second (output in $T/NAME.serial, errors in
# $T/NAME.err) and sets st to its QMP status ('"status":"running"' while its vCPU runs).
boot_status() {
	local kernel=$1 name=$2 load i
	"$SPLITVM" -m 512 -kernel "$kernel" -initrd "$T/initrd.cpio" -append "console=ttyS0" \
		-serial "file,path=$T/$name.serial" -qmp "unix:$T/$name.sock,server,nowait" \
		2>"$T/$name.err" &
	load=$!
	pids+=($load)
	for ((i = 0; i < 100; i++)); do
		[ -S "$T/$name.sock" ] && break
		kill -0 $load 2>/dev/null || break
		sleep 0.05
	done
	st=$( (printf '{"execute":"qmp_capabilities"}\n{"execute":"query-status"}\n'; sleep 0.5) |
		socat - "UNIX-CONNECT:$T/$name.sock" 2>/dev/null | grep -o '"status":"[a-z-]*"')
	kill $load 2>/dev/null
	wait $load 2>/dev/null
}
boot_status "$kernel" load
tap_expect_eq "splitvm loads $(basename "$kernel") and its vCPU runs" '"status":"running"' "$st"

# The uncompressed ELF vmlinux inside the bzImage (payload_offset/length in the setup
# header) goes in through its PVH entry note.
python3 - "$kernel" "$T/payload" <<'PY'
import struct, sys
d = open(sys.argv[1], 'rb').read()
setup = ((d[0x1f1] or 4) + 1) * 512
off, ln = struct.unpack_from('<II', d, 0x248)
open(sys.argv[2], 'wb').write(d[setup + off:setup + off + ln])
PY
case $(head -c 4 "$T/payload" | od -An -tx1 | tr -d ' ') in
28b52ffd) unpack="zstd -dc" ;;
fd377a58) unpack="xz -dc" ;;
1f8b08*) unpack="gzip -dc" ;;
02214c18) unpack="lz4 -dc" ;;
*) unpack= ;;
esac
# (The kernel's lz4 payload carries trailing bytes the tool complains about: judge the output.)
[ -n "$unpack" ] && $unpack <"$T/payload" >"$T/vmlinux" 2>/dev/null
if [ -n "$unpack" ] && [ "$(head -c 4 "$T/vmlinux" | od -An -tx1 | tr -d ' ')" = 7f454c46 ]; then
	boot_status "$T/vmlinux" pvh
	tap_expect_eq "splitvm loads the package's ELF vmlinux through its PVH note and runs it" \
		'"status":"running"' "$st"
else
	tap_skip "PVH vmlinux from the package" "no decompressor for its payload (${unpack:-unknown format})"
fi

# 4. Can this KVM run what a stock kernel runs?
timeout -k 2 30 "$SPLITVM" -m 128 -kernel "$GUEST" -append "sv.test=probe" \
	-serial "file,path=$T/probe.serial" -D "$T/probe.log" -qmp "unix:$T/probe.sock,server,nowait" &
probe=$!
pids+=($probe)
for ((i = 0; i < 200; i++)); do
	grep -q 'SVTEST result' "$T/probe.serial" 2>/dev/null && break
	grep -q 'internal error' "$T/probe.log" 2>/dev/null && break
	kill -0 $probe 2>/dev/null || break
	sleep 0.1
done
kill $probe 2>/dev/null
wait $probe 2>/dev/null
if ! grep -q 'SVTEST result pass' "$T/probe.serial" 2>/dev/null; then
	where=$(grep 'SVTEST probe .* start' "$T/probe.serial" | tail -n1 | awk '{print $3}')
	why=$(grep -m1 'internal error' "$T/probe.log" | sed 's/.*error: //')
	finish_skip "this host's KVM cannot run a stock distro kernel: the probe guest stopped at '${where:-?}' (${why:-no result}); nested, emulating KVM"
fi
tap_ok "probe guest: int3, cmpxchg16b and xsave work under this KVM"


# 5. Boot.
"$SPLITVM" -m 512 -kernel "$kernel" -initrd "$T/initrd.cpio" \
	-append "console=ttyS0 earlyprintk=serial,ttyS0,115200 panic=-1 rdinit=/init" \
	-serial "file,path=$T/linux.serial" -D "$T/linux.log" &
vm=$!
pids+=($vm)
ok=0
for ((i = 0; i < LINUX_BOOT_TIMEOUT * 10; i++)); do
	grep -q 'SPLITVM-LINUX-USERSPACE-OK' "$T/linux.serial" 2>/dev/null && { ok=1; break; }
	kill -0 $vm 2>/dev/null || break
	sleep 0.1
done
kill $vm 2>/dev/null
if [ $ok = 1 ]; then
	tap_ok "linux boots to userspace ($(basename "$kernel"))"
else
	tap_fail "linux boots to userspace ($(basename "$kernel"))" \
		"$(tail -n 5 "$T/linux.serial" 2>/dev/null; tail -n 3 "$T/linux.log")"
fi
tap_done
