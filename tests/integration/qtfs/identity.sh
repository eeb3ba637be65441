#!/usr/bin/env bash
# Identity: identity=caller performs each operation with the caller's uid, gid and groups
# (per-thread setfsuid/setfsgid/setgroups on the server), root_squash maps DPU root to
# nobody, and the default fixed mode acts as the export's configured user.
source "$(dirname "$0")/common.bash"
qtfs_setup
mkdir -p "$EXP/caller" "$EXP/squash" "$EXP/fixed"
chmod 777 "$EXP/caller" "$EXP/squash" "$EXP/fixed"
echo secret >"$EXP/squash/own1000"
chown 1000:1000 "$EXP/squash/own1000"
chmod 600 "$EXP/squash/own1000"
cat >"$QT/qtfsd.conf" <<CONF
[server]
Listen=$QTFS_ADDR
TestMode=yes

[export caller]
Path=$EXP/caller
Identity=caller

[export squash]
Path=$EXP/squash
Identity=caller
RootSquash=yes

[export fixed]
Path=$EXP/fixed
Identity=fixed
User=1234
Group=1235
CONF
qtfs_server -c "$QT/qtfsd.conf"
as_user() { on_dpu setpriv --reuid="$1" --regid="$2" --groups="$3" -- "${@:4}"; }

QTFS_SRC=$EXP/caller qtfs_mount || { tap_fail "mount caller"; tap_done; exit 1; }
as_user 1000 1000 1000,2000 sh -c "echo a > '$MNT/by1000' && mkdir '$MNT/dir1000'"
tap_expect_eq "identity=caller: a file is created as the caller" "1000:1000" "$(stat -c %u:%g "$EXP/caller/by1000")"
tap_expect_eq "identity=caller: a directory is created as the caller" "1000:1000" "$(stat -c %u:%g "$EXP/caller/dir1000")"
tap_check "identity=caller: chgrp to a supplementary group works" as_user 1000 1000 1000,2000 chgrp 2000 "$MNT/by1000"
tap_expect_eq "identity=caller: the host sees the group" "1000:2000" "$(stat -c %u:%g "$EXP/caller/by1000")"
out=$(as_user 1000 1000 1000 chgrp 3000 "$MNT/by1000" 2>&1)
tap_expect_eq "identity=caller: chgrp to a group the caller lacks fails" "1" "$(grep -c 'Operation not permitted' <<<"$out")"
on_dpu sh -c "echo r > '$MNT/byroot'"
tap_expect_eq "identity=caller: root stays root without root_squash" "0:0" "$(stat -c %u:%g "$EXP/caller/byroot")"
tap_check "umount caller" qtfs_umount

QTFS_SRC=$EXP/squash qtfs_mount || { tap_fail "mount squash"; tap_done; exit 1; }
on_dpu sh -c "echo r > '$MNT/byroot'"
tap_expect_eq "root_squash: DPU root creates as nobody" "65534:65534" "$(stat -c %u:%g "$EXP/squash/byroot")"
# the DPU kernel lets root through (CAP_DAC_OVERRIDE); the server, acting as nobody, refuses
out=$(on_dpu cat "$MNT/own1000" 2>&1)
tap_expect_eq "root_squash: the server refuses what nobody may not read" "1" "$(grep -c 'Permission denied' <<<"$out")"
tap_expect_eq "the owner reads it" "secret" "$(as_user 1000 1000 1000 cat "$MNT/own1000")"
tap_check "umount squash" qtfs_umount

QTFS_SRC=$EXP/fixed qtfs_mount || { tap_fail "mount fixed"; tap_done; exit 1; }
on_dpu sh -c "echo r > '$MNT/byroot'"
as_user 1000 1000 1000 sh -c "echo u > '$MNT/by1000'"
tap_expect_eq "fixed identity: everything is created as the export's user" "1234:1235 1234:1235" \
	"$(stat -c %u:%g "$EXP/fixed/byroot") $(stat -c %u:%g "$EXP/fixed/by1000")"
tap_check "umount fixed" qtfs_umount
tap_done
