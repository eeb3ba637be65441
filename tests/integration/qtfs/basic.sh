#!/usr/bin/env bash
# qtfs in the lab: qtfsd in the host namespace, the FUSE client in the dpu namespace;
# core operations over tcp test mode and TLS, mount -t qtfs, umount leaves nothing.
source "$(dirname "$0")/common.bash"
qtfs_setup

echo "hello from the host" >"$EXP/hello.txt"
mkdir -p "$EXP/dir/sub"
qtfs_server

# mount -t qtfs through the helper, as the offload guide does it: mount(8) finds helpers in
# /sbin only, so in the dpu namespace alone /usr/sbin gets mount.qtfs overlaid onto it
helperdir=$QT/sbin
mkdir -p "$helperdir"
cp "$SV_BIN/mount.qtfs" "$SV_BIN/qtfs" "$helperdir/"
if on_dpu mount -t overlay qtfs-sbin -o "lowerdir=$helperdir:/usr/sbin" /usr/sbin 2>"$QT/ovl.err"; then
	at_cleanup "on_dpu umount -l /usr/sbin"
	if on_dpu mount -t qtfs "$EXP" "$MNT" -o "server=$QTFS_ADDR,test_mode" 2>"$QT/mount.err"; then
		tap_ok "mount -t qtfs SRC DST -o server=ADDR (via /sbin/mount.qtfs)"
	else
		tap_fail "mount -t qtfs SRC DST -o server=ADDR (via /sbin/mount.qtfs)" "$(cat "$QT/mount.err")"
		tap_done
		exit 1
	fi
else
	# no overlayfs here: the helper itself, as mount(8) would call it
	if on_dpu "$SV_BIN/mount.qtfs" "$EXP" "$MNT" -o "server=$QTFS_ADDR,test_mode" 2>"$QT/mount.err"; then
		tap_ok "mount.qtfs SRC DST -o server=ADDR (overlayfs unavailable: $(head -c 80 "$QT/ovl.err"))"
	else
		tap_fail "mount.qtfs SRC DST -o server=ADDR" "$(cat "$QT/mount.err")"
		tap_done
		exit 1
	fi
fi
tap_expect_eq "the mount is a qtfs FUSE mount" "fuse.qtfs" "$(on_dpu findmnt -n -o FSTYPE "$MNT")"
tap_expect_eq "not mounted in the host namespace" "" "$(on_host findmnt -n -o FSTYPE "$MNT" || true)"
tap_expect_eq "read a host file" "hello from the host" "$(on_dpu cat "$MNT/hello.txt")"

on_dpu sh -c "echo written-on-dpu > '$MNT/new.txt'"
tap_expect_eq "create+write reaches the host" "written-on-dpu" "$(cat "$EXP/new.txt")"

on_dpu sh -c "printf abc >> '$MNT/new.txt'"
tap_expect_eq "append" "written-on-dpu abc" "$(tr '\n' ' ' <"$EXP/new.txt")"

tap_check "mkdir/rmdir" on_dpu sh -c "mkdir '$MNT/d2' && [ -d '$EXP/d2' ] && rmdir '$MNT/d2' && [ ! -e '$EXP/d2' ]"
tap_check "rename" on_dpu sh -c "mv '$MNT/new.txt' '$MNT/dir/moved.txt' && [ -f '$EXP/dir/moved.txt' ]"
tap_check "symlink/readlink" on_dpu sh -c "ln -s ../hello.txt '$MNT/dir/link' && [ \"\$(readlink '$MNT/dir/link')\" = ../hello.txt ] && [ \"\$(cat '$MNT/dir/link')\" = 'hello from the host' ]"
tap_check "hard link" on_dpu sh -c "ln '$MNT/hello.txt' '$MNT/hl' && [ \"\$(stat -c %h '$MNT/hello.txt')\" = 2 ] && [ \"\$(stat -c %i '$MNT/hl')\" = \"\$(stat -c %i '$EXP/hello.txt')\" ]"
tap_check "unlink" on_dpu sh -c "rm '$MNT/hl' && [ ! -e '$EXP/hl' ]"
tap_check "chmod/truncate/utimes" on_dpu sh -c "chmod 640 '$MNT/hello.txt' && truncate -s 5 '$MNT/hello.txt' && touch -d '2001-02-03 04:05:06' '$MNT/hello.txt' && [ \"\$(stat -c '%a %s %Y' '$EXP/hello.txt')\" = \"640 5 \$(date -d '2001-02-03 04:05:06' +%s)\" ]"
tap_check "xattrs" on_dpu sh -c "setfattr -n user.k -v v1 '$MNT/hello.txt' && [ \"\$(getfattr --only-values -n user.k '$EXP/hello.txt')\" = v1 ] && getfattr -d '$MNT/hello.txt' | grep -q user.k && setfattr -x user.k '$MNT/hello.txt' && ! getfattr -n user.k '$EXP/hello.txt' 2>/dev/null"
tap_check "statfs" on_dpu sh -c "[ \"\$(stat -f -c %b '$MNT')\" = \"\$(stat -f -c %b '$EXP')\" ]"
tap_check "fallocate" on_dpu sh -c "fallocate -l 1M '$MNT/falloc' && [ \"\$(stat -c %s '$EXP/falloc')\" = 1048576 ]"
tap_check "readdir lists 300 entries" on_dpu sh -c "mkdir '$MNT/many' && for i in \$(seq 1 300); do : > '$MNT/many/f'\$i; done && [ \"\$(ls '$MNT/many' | wc -l)\" = 300 ] && [ \"\$(ls '$EXP/many' | wc -l)\" = 300 ]"

# files the server holds open for the client beneath the export (its O_PATH node cache
# does not count: octal 010000000 in fdinfo's flags)
open_files() {
	local pid fd n=0 flags
	pid=$(qtfsd_pid)
	for fd in /proc/"$pid"/fd/*; do
		[[ $(readlink "$fd" 2>/dev/null) == "$EXP"/* ]] || continue
		read -r _ flags < <(grep '^flags:' /proc/"$pid"/fdinfo/"${fd##*/}" 2>/dev/null) || continue
		(( 8#$flags & 8#10000000 )) || n=$((n + 1))
	done
	echo "$n"
}
on_dpu python3 -c "
import os, time
fds = [os.open('$MNT/many/f%d' % i, os.O_RDWR) for i in range(1, 101)]
open('$QT/held', 'w').write('%d' % len(fds))
while not os.path.exists('$QT/counted'):
    time.sleep(0.05)
" &
holder=$!
wait_for 10 test -s "$QT/held"
tap_expect_eq "100 files open on the DPU are 100 open files on the host" 100 "$(open_files)"
touch "$QT/counted"
wait "$holder"
for _ in $(seq 50); do [ "$(open_files)" = 0 ] && break; sleep 0.1; done
tap_expect_eq "closing them releases them on the host" 0 "$(open_files)"

# the kernel fetches attributes again after a setattr (a chown always does); the client may
# answer with those of the setattr just before, but not after a write or another name's unlink
tap_check "attributes after utimens then a write or an unlink of another name are current" on_dpu python3 -c "
import os
fd = os.open('$MNT/attrs', os.O_CREAT | os.O_RDWR, 0o644)
os.utime(fd, ns=(1, 2))
os.fchown(fd, 0, 0)
os.write(fd, b'x' * 100)
st = os.fstat(fd)
assert st.st_size == 100 and st.st_mtime > 2, st
os.link('$MNT/attrs', '$MNT/attrs2')
os.utime(fd, ns=(3, 4))
os.unlink('$MNT/attrs2')
st = os.fstat(fd)
assert st.st_nlink == 1, st
os.close(fd)
"

# 8 MiB across the link both ways, large requests
head -c 8M /dev/urandom >"$EXP/big.bin"
tap_expect_eq "large read checksum" "$(sha256sum <"$EXP/big.bin")" "$(on_dpu sh -c "sha256sum < '$MNT/big.bin'")"
on_dpu dd if="$MNT/big.bin" of="$MNT/big2.bin" bs=1M status=none
tap_expect_eq "large write checksum" "$(sha256sum <"$EXP/big.bin")" "$(sha256sum <"$EXP/big2.bin")"
tap_check "copy_file_range" on_dpu sh -c "cp --reflink=never '$MNT/big.bin' '$MNT/big3.bin' && cmp '$EXP/big.bin' '$EXP/big3.bin'"
tap_check "SEEK_DATA/SEEK_HOLE" on_dpu python3 -c "
import os
f = os.open('$MNT/sparse', os.O_RDWR | os.O_CREAT, 0o644)
os.pwrite(f, b'x' * 4096, 1 << 20)
os.fsync(f)
assert os.lseek(f, 0, os.SEEK_DATA) == 1 << 20, os.lseek(f, 0, os.SEEK_DATA)
assert os.lseek(f, 0, os.SEEK_HOLE) == 0
os.close(f)"
tap_check "O_EXCL on an existing file fails" on_dpu python3 -c "
import os, errno
try:
    os.open('$MNT/hello.txt', os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    raise SystemExit('created')
except OSError as e:
    assert e.errno == errno.EEXIST"

tap_check "umount leaves no qtfs process" qtfs_umount

# TLS: mutual certificates; the same tree
if qtfs_certs; then
	P=$QT/pki
	lab_bg host "$SV_BIN/qtfsd" --handle-key "$QT/handle.key" -D "$QT/qtfsd-tls.log" \
		-e "$EXP" -l "tls:$HOST_ADDR:$((QTFS_PORT + 1))" \
		--tls-cert "$P/host.crt" --tls-key "$P/host.key" --tls-ca "$P/ca.crt"
	wait_for 10 grep -q "listening on" "$QT/qtfsd-tls.log"
	if qtfs_mount "server=tls:$HOST_ADDR:$((QTFS_PORT + 1)),tls_cert=$P/dpu.crt,tls_key=$P/dpu.key,tls_ca=$P/ca.crt" 2>"$QT/tls.err"; then
		tap_expect_eq "read over TLS" "$(sha256sum <"$EXP/big.bin")" "$(on_dpu sh -c "sha256sum < '$MNT/big.bin'")"
		on_dpu dd if=/dev/urandom of="$MNT/tls.bin" bs=1M count=4 status=none
		tap_expect_eq "write over TLS" "$(on_dpu sh -c "sha256sum < '$MNT/tls.bin'")" "$(sha256sum <"$EXP/tls.bin")"
		# concurrent writers and readers: several threads on each side send on the one
		# TLS connection at once
		for i in 1 2 3 4; do head -c $((3 << 20)) /dev/urandom >"$QT/par$i.src"; done
		on_dpu sh -c "for i in 1 2 3 4; do cp '$QT/par'\$i.src '$MNT/par'\$i.bin & sha256sum < '$MNT/big.bin' > '$QT/par'\$i.rsum & done; wait"
		par_ok=1
		for i in 1 2 3 4; do
			cmp -s "$QT/par$i.src" "$EXP/par$i.bin" || par_ok=0
			[ "$(cat "$QT/par$i.rsum")" = "$(sha256sum <"$EXP/big.bin")" ] || par_ok=0
		done
		tap_expect_eq "parallel reads and writes over TLS are intact" 1 "$par_ok"
		tap_check "umount (TLS) leaves no qtfs process" qtfs_umount
		# A client that connects and never starts its TLS handshake must not stall
		# qtfsd's accept loop: a new mount has to complete while it still waits
		# (the handshake timeout is 10 s; the bound below is shorter).
		lab_bg dpu python3 -c "
import socket, time
s = socket.create_connection(('$HOST_ADDR', $((QTFS_PORT + 1))))
open('$QT/silent.up', 'w').close()
time.sleep(30)"
		SILENT=$LAB_BG_PID
		wait_for 10 test -e "$QT/silent.up"
		# qtfs may return before its first connection is up, so the bound covers the mount
		# and a read through it.
		if timeout 6 "$LAB" exec dpu sh -c "'$SV_BIN/qtfs' -o 'server=tls:$HOST_ADDR:$((QTFS_PORT + 1)),tls_cert=$P/dpu.crt,tls_key=$P/dpu.key,tls_ca=$P/ca.crt' \
			-D '$QT/qtfs.log' '$EXP' '$MNT' && sha256sum < '$MNT/tls.bin' > '$QT/tls2.sum'" 2>"$QT/tls2.err"; then
			tap_expect_eq "TLS mount works while a silent client holds a connection" \
				"$(sha256sum <"$EXP/tls.bin")" "$(cat "$QT/tls2.sum")"
			tap_check "silent client was still connected during the mount" kill -0 "$SILENT"
		else
			tap_fail "TLS mount works while a silent client holds a connection" "timed out or failed: $(cat "$QT/tls2.err")"
			tap_skip "silent client was still connected during the mount" "no mount"
		fi
		wait_for 15 sh -c "'$LAB' exec dpu grep -q ' $MNT ' /proc/mounts" 2>/dev/null || true
		tap_check "umount (TLS, second mount) leaves no qtfs process" qtfs_umount
		kill "$SILENT" 2>/dev/null || true
		wait "$SILENT" 2>/dev/null || true
	else
		tap_fail "mount over TLS" "$(cat "$QT/tls.err")"
	fi
	# a client without a certificate signed by the CA is refused
	openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=rogue -keyout "$P/rogue.key" \
		-out "$P/rogue.crt" >/dev/null 2>&1
	if qtfs_mount "server=tls:$HOST_ADDR:$((QTFS_PORT + 1)),tls_cert=$P/rogue.crt,tls_key=$P/rogue.key,tls_ca=$P/ca.crt" 2>"$QT/rogue.err"; then
		tap_fail "TLS client with a foreign certificate is refused" "it mounted"
		qtfs_umount
	else
		tap_ok "TLS client with a foreign certificate is refused"
	fi
else
	tap_skip "TLS" "openssl could not make certificates"
fi

# tcp: needs test mode on both sides
if qtfs_mount "server=$QTFS_ADDR" 2>"$QT/notest.err"; then
	tap_fail "tcp: without test_mode is refused by the client" "it mounted"
	qtfs_umount
else
	tap_expect_eq "tcp: without test_mode is refused by the client" "1" "$(grep -ci 'test' "$QT/notest.err" | head -c1)"
fi
tap_done
