#!/usr/bin/env bash
# Differential POSIX suite: the same operations (tests/integration/qtfs/qtfs_posix.c) on a
# local directory and through a qtfs mount (identity=caller) must give the same results.
source "$(dirname "$0")/common.bash"
qtfs_setup
qtfs_server -e "$EXP:caller"
qtfs_mount || { tap_fail "mount"; tap_done; exit 1; }

LOCAL=$QT/local
mkdir -p "$LOCAL" "$EXP/t"
on_dpu "$QTFS_TOOLS/qtfs_posix" "$LOCAL" >"$QT/local.out" 2>&1
tap_expect_eq "the suite runs on a local directory" "0" "$?"
on_dpu "$QTFS_TOOLS/qtfs_posix" "$MNT/t" >"$QT/qtfs.out" 2>&1
tap_expect_eq "the suite runs through qtfs" "0" "$?"
n=$(wc -l <"$QT/local.out")
if [ "$n" -gt 140 ] && diff -u "$QT/local.out" "$QT/qtfs.out" >"$QT/diff.out"; then
	tap_ok "same results for $n operations (chmod chown link mkdir mkfifo open rename rmdir symlink truncate unlink utimensat xattrs, errno cases)"
else
	tap_fail "same results locally and through qtfs" "$(head -n 30 "$QT/diff.out")"
fi
# what the suite did through the mount happened on the host
tap_expect_eq "the nobody-created file is owned by nobody on the host" "65534:65534" \
	"$(stat -c %u:%g "$EXP/t/pub/mine")"
tap_expect_eq "the fifo is a fifo on the host" "fifo" "$(stat -c %F "$EXP/t/p")"
tap_check "umount" qtfs_umount
tap_done
