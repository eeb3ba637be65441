#!/usr/bin/env bash
# kill -9 qtfsd in the middle of a write loop on the DPU and start it again: the client
# reconnects by itself, reopens its files from their handles, resends the writes that
# were in flight, and the file on the host ends up byte for byte right.
source "$(dirname "$0")/common.bash"
qtfs_setup
qtfs_server
qtfs_mount || { tap_fail "mount"; tap_done; exit 1; }
MB=48
[ "$QTFS_SAN" = 1 ] && MB=16
head -c ${MB}M /dev/urandom >"$QT/src.bin"
echo before >"$EXP/keep.txt"
tap_expect_eq "a file reads before the restart" "before" "$(on_dpu cat "$MNT/keep.txt")"

# 256 KiB writes with short pauses so that the kill lands in the middle
on_dpu python3 -c "
import os, time
src = open('$QT/src.bin', 'rb').read()
fd = os.open('$MNT/out.bin', os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
chunk = 256 * 1024
for off in range(0, len(src), chunk):
    n = os.pwrite(fd, src[off:off + chunk], off)
    assert n == len(src[off:off + chunk]), n
    time.sleep(0.008)
os.fsync(fd)
os.close(fd)
" >"$QT/writer.out" 2>&1 &
writer=$!
wait_for 20 sh -c "[ \$(stat -c %s '$EXP/out.bin' 2>/dev/null || echo 0) -gt $((MB * 1024 * 1024 / 4)) ]"
old=$(qtfsd_pid)
kill -9 "$old"
tap_check "qtfsd was killed mid-write" sh -c "[ \$(stat -c %s '$EXP/out.bin') -lt $((MB * 1024 * 1024)) ]"
sleep 0.5
qtfs_server
if wait "$writer"; then
	tap_ok "the writer finished without an error"
else
	tap_fail "the writer finished without an error" "$(cat "$QT/writer.out")"
fi
tap_expect_eq "the host file's checksum is right" "$(sha256sum <"$QT/src.bin")" "$(sha256sum <"$EXP/out.bin")"
tap_expect_eq "reading through the mount after the restart" "$(sha256sum <"$QT/src.bin")" \
	"$(on_dpu sh -c "sha256sum < '$MNT/out.bin'")"
tap_expect_eq "old nodes still resolve (handles survive the restart)" "before" "$(on_dpu cat "$MNT/keep.txt")"
tap_check "the client logged the reconnect" grep -q "reconnected" "$QT/qtfs.log"

# a non-idempotent request in flight fails with EIO instead of being repeated: hold the
# server in SIGSTOP, start an unlink (its lookup is cached from the stat just before),
# kill the server, restart it, and see EIO
echo victim >"$EXP/victim"
on_dpu stat "$MNT" "$MNT/victim" >/dev/null 2>&1
pid=$(qtfsd_pid)
kill -STOP "$pid"
on_dpu sh -c "rm '$MNT/victim' 2>&1; echo rc=\$?" >"$QT/rm.out" &
rmpid=$!
sleep 0.5
kill -9 "$pid"
sleep 0.3
qtfs_server
wait "$rmpid"
tap_expect_eq "an unlink in flight when the server died fails with EIO ($(tr '\n' ' ' <"$QT/rm.out"))" \
	"1" "$(grep -c 'Input/output error' "$QT/rm.out")"
tap_check "the mount works after that" on_dpu sh -c "mkdir '$MNT/newdir2' && [ -d '$EXP/newdir2' ]"
tap_check "umount" qtfs_umount
tap_done
