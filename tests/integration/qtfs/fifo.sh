#!/usr/bin/env bash
# FIFOs across machines (mount option fifo=remote): the opener blocks until the other end
# opens, reads block until data, other requests go on meanwhile, epoll on the remote FIFO
# wakes up, and SIGINT interrupts a blocked read (FUSE interrupt -> the server's read).
source "$(dirname "$0")/common.bash"
qtfs_setup
mkfifo "$EXP/h2d" "$EXP/d2h" "$EXP/ep" "$EXP/intr"
echo other >"$EXP/other.txt"
qtfs_server
qtfs_mount "server=$QTFS_ADDR,test_mode,fifo=remote" || { tap_fail "mount"; tap_done; exit 1; }

# host writer -> dpu reader; the reader's open blocks first
on_dpu sh -c "cat '$MNT/h2d' > '$QT/h2d.out'" &
reader=$!
sleep 0.5
tap_expect_eq "the dpu reader's open blocks until a writer comes" "running" "$(kill -0 $reader 2>/dev/null && echo running)"
tap_expect_eq "other requests go on meanwhile" "other" "$(on_dpu timeout 5 cat "$MNT/other.txt")"
on_host sh -c "printf 'from-host' > '$EXP/h2d'"
wait $reader
tap_expect_eq "host writer -> dpu reader" "from-host" "$(cat "$QT/h2d.out")"

# dpu writer -> host reader
on_host sh -c "cat '$EXP/d2h' > '$QT/d2h.out'" &
hreader=$!
sleep 0.3
on_dpu timeout 10 sh -c "printf 'from-dpu' > '$MNT/d2h'"
wait $hreader
tap_expect_eq "dpu writer -> host reader" "from-dpu" "$(cat "$QT/d2h.out")"

# epoll on the remote FIFO
on_dpu timeout 10 python3 -c "
import os, select
fd = os.open('$MNT/ep', os.O_RDONLY | os.O_NONBLOCK)
ep = select.epoll()
ep.register(fd, select.EPOLLIN)
print('ready', flush=True)
ev = ep.poll(8)
print('events', len(ev), os.read(fd, 100).decode(), flush=True)
" >"$QT/ep.out" 2>&1 &
ep=$!
wait_for 5 grep -q ready "$QT/ep.out"
sleep 0.3
on_host sh -c "printf 'wake' > '$EXP/ep'"
wait $ep
tap_expect_eq "epoll on the remote FIFO wakes up" "events 1 wake" "$(grep events "$QT/ep.out")"

# SIGINT interrupts a read blocked on the host
on_dpu timeout 20 python3 -c "
import os, sys
fd = os.open('$MNT/intr', os.O_RDWR)
print('blocking', os.getpid(), flush=True)
try:
    os.read(fd, 10)
    print('read returned', flush=True)
except KeyboardInterrupt:
    print('interrupted', flush=True)
" >"$QT/intr.out" 2>&1 &
wait_for 5 grep -q blocking "$QT/intr.out"
sleep 0.5
kill -INT "$(awk '/blocking/ {print $2}' "$QT/intr.out")"
for _ in $(seq 50); do grep -q interrupted "$QT/intr.out" && break; sleep 0.1; done
tap_expect_eq "SIGINT interrupts a blocked read" "interrupted" "$(grep -o interrupted "$QT/intr.out")"
tap_expect_eq "the mount still answers" "other" "$(on_dpu timeout 5 cat "$MNT/other.txt")"
tap_check "umount" qtfs_umount
tap_done
