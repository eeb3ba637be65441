#!/usr/bin/env bash
# Locks are taken on the host: POSIX (fcntl) locks and flock locks of DPU processes
# conflict with each other and with host processes; a waiting lock is granted when the
# holder closes; F_GETLK reports the host's conflicting lock.
source "$(dirname "$0")/common.bash"
qtfs_setup
echo data >"$EXP/f"
qtfs_server
qtfs_mount || { tap_fail "mount"; tap_done; exit 1; }

# hold LOCK CMD in the background on SIDE until $QT/release-NAME appears
hold() { # SIDE NAME PATH KIND(posix|flock)
	local side=$1 name=$2 path=$3 kind=$4
	"on_$side" python3 -c "
import fcntl, os, sys, time
f = open('$path', 'r+')
if '$kind' == 'posix':
    fcntl.lockf(f, fcntl.LOCK_EX)
else:
    fcntl.flock(f, fcntl.LOCK_EX)
open('$QT/held-$name', 'w').close()
while not os.path.exists('$QT/release-$name'):
    time.sleep(0.05)
" &
	wait_for 10 test -e "$QT/held-$name"
}
try() { # SIDE PATH KIND -> "locked" or the errno name
	"on_$1" python3 -c "
import errno, fcntl
f = open('$2', 'r+')
try:
    if '$3' == 'posix':
        fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    else:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    print('locked')
except OSError as e:
    print(errno.errorcode[e.errno])
"
}

hold dpu p1 "$MNT/f" posix
tap_expect_eq "a DPU POSIX lock blocks a host process" "EAGAIN" "$(try host "$EXP/f" posix)"
tap_expect_eq "a DPU POSIX lock blocks another DPU process" "EAGAIN" "$(try dpu "$MNT/f" posix)"
tap_expect_eq "F_GETLK on the DPU sees it from another DPU process" "1" "$(on_dpu python3 -c "
import fcntl, struct
f = open('$MNT/f', 'r+')
r = fcntl.fcntl(f, fcntl.F_GETLK, struct.pack('hhqqi', fcntl.F_WRLCK, 0, 0, 0, 0))
print(int(struct.unpack('hhqqi', r)[0] == fcntl.F_WRLCK))
")"
# a waiting lock is granted when the holder lets go
on_dpu python3 -c "
import fcntl
f = open('$MNT/f', 'r+')
fcntl.lockf(f, fcntl.LOCK_EX)
print('granted')
" >"$QT/wait.out" 2>&1 &
waiter=$!
sleep 0.5
tap_expect_eq "a blocking lock waits while it is held" "" "$(cat "$QT/wait.out")"
touch "$QT/release-p1"
wait $waiter
tap_expect_eq "and is granted when the holder closes" "granted" "$(cat "$QT/wait.out")"
tap_expect_eq "after the close the host can lock" "locked" "$(try host "$EXP/f" posix)"

hold host p2 "$EXP/f" posix
tap_expect_eq "a host POSIX lock blocks a DPU process" "EAGAIN" "$(try dpu "$MNT/f" posix)"
touch "$QT/release-p2"
for _ in $(seq 50); do [ "$(try dpu "$MNT/f" posix)" = locked ] && break; sleep 0.1; done
tap_expect_eq "the DPU locks once the host released" "locked" "$(try dpu "$MNT/f" posix)"

hold dpu f1 "$MNT/f" flock
tap_expect_eq "a DPU flock blocks a host flock" "EWOULDBLOCK" "$(try host "$EXP/f" flock | sed 's/EAGAIN/EWOULDBLOCK/')"
tap_expect_eq "a DPU flock blocks another DPU flock" "EWOULDBLOCK" "$(try dpu "$MNT/f" flock | sed 's/EAGAIN/EWOULDBLOCK/')"
touch "$QT/release-f1"
sleep 0.5
tap_expect_eq "released with the file" "locked" "$(try host "$EXP/f" flock)"
tap_check "umount" qtfs_umount
tap_done
