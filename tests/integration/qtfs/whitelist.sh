#!/usr/bin/env bash
# The whitelist (/etc/qtfs/whitelist INI form, extended) is checked on the server for every
# operation on the resolved path: each listed operation returns EACCES outside its Path=
# entries and works inside them.
source "$(dirname "$0")/common.bash"
qtfs_setup
mkdir -p "$EXP/ok/d" "$EXP/no/d" "$EXP/ok/rmme" "$EXP/no/rmme"
for s in ok no; do
	echo data >"$EXP/$s/f"
	echo data >"$EXP/$s/victim"
	echo data >"$EXP/$s/src"
	setfattr -n user.k -v v "$EXP/$s/f"
done

# round 1: every operation that acts below the mount root
WL=$QT/whitelist
{
	for sec in Write Read Readdir Mkdir Rmdir Create Unlink Rename Setattr Setxattr Getxattr Symlink Link Open; do
		printf '[%s]\nPath=%s/ok\n' "$sec" "$EXP"
	done
} >"$WL"
chmod 600 "$WL"
qtfs_server -e "$EXP" --whitelist "$WL"
qtfs_mount || { tap_fail "mount"; tap_done; exit 1; }

# expect_op NAME CMD-with-DIR: works in ok/, EACCES in no/
expect_op() {
	local name=$1 cmd=$2 out
	if ! out=$(on_dpu sh -c "${cmd//DIR/$MNT/ok}" 2>&1); then
		tap_fail "[$name] allows its Path=" "$out"
		return
	fi
	out=$(on_dpu sh -c "${cmd//DIR/$MNT/no}" 2>&1)
	if [ $? -ne 0 ] && grep -qi "permission denied" <<<"$out"; then
		tap_ok "[$name] denies with EACCES outside its Path="
	else
		tap_fail "[$name] denies with EACCES outside its Path=" "$out"
	fi
}
expect_op Open "cat DIR/f >/dev/null"
expect_op Read "python3 -c \"import os; os.open('DIR/f', os.O_RDONLY)\""
expect_op Write "echo x >> DIR/f"
expect_op Readdir "ls DIR/d >/dev/null"
expect_op Mkdir "mkdir DIR/newdir"
expect_op Rmdir "rmdir DIR/rmme"
expect_op Create "touch DIR/newfile"
expect_op Unlink "rm DIR/victim"
expect_op Rename "mv DIR/src DIR/dst"
expect_op Setattr "chmod 600 DIR/f"
expect_op Setxattr "setfattr -n user.new -v 1 DIR/f"
expect_op Getxattr "getfattr -n user.k DIR/f >/dev/null"
expect_op Symlink "ln -s target DIR/sl"
expect_op Link "ln DIR/f DIR/hardlink"
tap_expect_eq "nothing denied happened on the host" "d f rmme src victim" "$(ls "$EXP/no" | tr '\n' ' ' | sed 's/ $//')"
tap_check "umount" qtfs_umount
kill -9 "$(qtfsd_pid)" 2>/dev/null
wait_for 5 sh -c "! pgrep -f -- '--handle-key $QT/handle[.]key' >/dev/null"

# round 2: lookup, getattr and mount restrict the mount itself
printf '[Mount]\nPath=%s/ok\nPath=%s/ok2\n[Lookup]\nPath=%s/ok/pub\nPath=%s/ok2\n[Getattr]\nPath=%s/ok\n' \
	"$EXP" "$EXP" "$EXP" "$EXP" "$EXP" >"$WL"
mkdir -p "$EXP/ok/pub" "$EXP/ok/hidden" "$EXP/ok2"
echo pub >"$EXP/ok/pub/x"
: >"$QT/qtfsd.log"
qtfs_server -e "$EXP" --whitelist "$WL"
if on_dpu "$SV_BIN/qtfs" -o "server=$QTFS_ADDR,test_mode" "$EXP/no" "$MNT" 2>"$QT/m.err"; then
	tap_fail "[Mount] denies mounting outside its Path=" "it mounted"
	on_dpu umount "$MNT"
else
	tap_expect_eq "[Mount] denies mounting outside its Path=" "1" "$(grep -c 'Permission denied' "$QT/m.err")"
fi
QTFS_SRC=$EXP/ok qtfs_mount "server=$QTFS_ADDR,test_mode,attr_timeout=0,entry_timeout=0" ||
	{ tap_fail "mount of an allowed path"; tap_done; exit 1; }
tap_expect_eq "[Lookup] allows its Path=" "pub" "$(on_dpu cat "$MNT/pub/x")"
out=$(on_dpu stat "$MNT/hidden" 2>&1)
tap_expect_eq "[Lookup] denies with EACCES outside its Path=" "1" "$(grep -c 'Permission denied' <<<"$out")"
tap_check "[Getattr] allows its Path=" on_dpu stat "$MNT/pub/x"
tap_check "umount" qtfs_umount
# the root of this mount is outside [Getattr]: nothing below it can be reached either
QTFS_SRC=$EXP/ok2 qtfs_mount "server=$QTFS_ADDR,test_mode" || { tap_fail "mount ok2"; tap_done; exit 1; }
out=$(on_dpu stat "$MNT" 2>&1)
tap_expect_eq "[Getattr] denies with EACCES outside its Path=" "1" "$(grep -c 'Permission denied' <<<"$out")"
tap_check "umount" qtfs_umount
tap_done
