#!/usr/bin/env bash
# An fsx-style random workload (writes, reads, truncates, shared-mmap writes and reads,
# fallocate, fsync, reopen; fixed seed) through qtfs, every read checked against a model;
# the host's copy must equal the model at the end.
source "$(dirname "$0")/common.bash"
qtfs_setup
qtfs_server
# the full 100k run on the default cache mode, a shorter one with the writeback cache
# (the tier's time budget); fewer under the sanitizers
for run in "cache=auto 100000 20000" "cache=auto,writeback 5000 2000"; do
	read -r mode OPS SAN_OPS <<<"$run"
	[ "$QTFS_SAN" = 1 ] && OPS=$SAN_OPS
	qtfs_mount "server=$QTFS_ADDR,test_mode,$mode" || { tap_fail "mount ($mode)"; continue; }
	out=$(on_dpu timeout 300 "$QTFS_TOOLS/qtfs_fsx" "$MNT/fsx.bin" "$OPS" 0x5eed "$QT/model.bin" 2>&1)
	rc=$?
	if [ $rc -eq 0 ]; then
		tap_ok "fsx $OPS ops ($mode): $(sed 's/qtfs_fsx: //' <<<"$out")"
	else
		tap_fail "fsx $OPS ops ($mode)" "$out"
	fi
	tap_check "the host file equals the model ($mode)" cmp "$EXP/fsx.bin" "$QT/model.bin"
	tap_check "umount ($mode)" qtfs_umount
	rm -f "$EXP/fsx.bin" "$QT/model.bin"
done
tap_done
