#!/usr/bin/env bash
# Escapes are refused: the export lives in the host's private /run, next to a secret the
# DPU cannot see any other way. Symlinks (absolute, to ..), hard links, renames and
# mount sources that point outside the export never reach it.
source "$(dirname "$0")/common.bash"
qtfs_setup
HRUN=/run/qtfs-escape-$$
on_host sh -c "mkdir -p $HRUN/export/inside && echo TOPSECRET > $HRUN/secret && mkdir $HRUN/secretdir && echo TOPSECRET > $HRUN/secretdir/s && echo ok > $HRUN/export/inside/f"
on_host sh -c "ln -s $HRUN/secret $HRUN/export/abs && ln -s .. $HRUN/export/up && ln -s ../secret $HRUN/export/upsecret && ln -s ../../secret $HRUN/export/inside/up2 && ln -s $HRUN $HRUN/export/absdir"
EXP=$HRUN/export
qtfs_server -e "$EXP"
QTFS_SRC=$EXP qtfs_mount || { tap_fail "mount"; tap_done; exit 1; }

tap_expect_eq "a file inside reads" "ok" "$(on_dpu cat "$MNT/inside/f")"
tap_expect_eq "the secret is not visible to the dpu by itself" "no" "$(on_dpu sh -c "[ -e $HRUN/secret ] && echo yes || echo no")"

grep_secret() { on_dpu sh -c "cat $1 2>/dev/null" | grep -c TOPSECRET; }
tap_expect_eq "absolute symlink is not followed on the host" "0" "$(grep_secret "$MNT/abs")"
tap_expect_eq "symlink to ../secret does not reach it" "0" "$(grep_secret "$MNT/upsecret")"
tap_expect_eq "symlink ../../secret from a subdir does not reach it" "0" "$(grep_secret "$MNT/inside/up2")"
tap_expect_eq "symlink to .. then secret does not reach it" "0" "$(grep_secret "$MNT/up/secret")"
tap_expect_eq "absolute symlink to a host dir does not reach it" "0" "$(grep_secret "$MNT/absdir/secret")"
tap_expect_eq "../ past the mount root does not reach it" "0" "$(grep_secret "$MNT/../secret")"
tap_expect_eq "the symlinks read back as stored" "$HRUN/secret" "$(on_dpu readlink "$MNT/abs")"

# hard links and renames across the export boundary
echo outside >"$QT/outside"
tap_check "hard link from outside into the export fails" on_dpu sh -c "! ln '$QT/outside' '$MNT/in-link' 2>/dev/null"
tap_check "hard link from the export to outside fails" on_dpu sh -c "! ln '$MNT/inside/f' '$QT/out-link' 2>/dev/null"
tap_check "rename to outside is a copy, never a move of the host inode" on_dpu sh -c "! python3 -c \"import os; os.rename('$MNT/inside/f', '$QT/moved')\" 2>/dev/null"
tap_expect_eq "the host file is still in the export" "ok" "$(on_host cat "$EXP/inside/f")"
# the dpu kernel resolves "up" to its own parent: whatever it makes is not on the host
on_dpu sh -c "mkdir '$MNT/up/newdir'; : > '$MNT/up/newfile'" 2>/dev/null
tap_expect_eq "nothing was created next to the export on the host" "export secret secretdir" \
	"$(on_host ls "$HRUN" | sort | tr '\n' ' ' | sed 's/ $//')"
rm -rf "$QT/newdir" "$QT/newfile"
tap_check "umount" qtfs_umount

# mount sources that leave the export
MNT2=$QT/mnt2
mkdir -p "$MNT2"
try_mount() { on_dpu "$SV_BIN/qtfs" -o "server=$QTFS_ADDR,test_mode" "$1" "$MNT2" 2>"$QT/m.err"; }
for src in "$EXP/../secretdir" "$EXP/inside/../../secretdir" "$HRUN/secretdir" "$EXP/absdir" "$EXP/up"; do
	if try_mount "$src"; then
		tap_fail "mount of $src is refused" "it mounted: $(on_dpu ls "$MNT2" 2>&1)"
		on_dpu umount "$MNT2"
	else
		tap_ok "mount of $src is refused ($(tr -d '\n' <"$QT/m.err" | sed 's/.*: //'))"
	fi
done
tap_done
