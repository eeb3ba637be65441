#!/usr/bin/env bash
# kind=proc and kind=sys exports: direct I/O, no caching; size-0 files read to their real
# end; /proc/<pid>/status of a host-namespace process read on the DPU; sysfs of the host's
# network namespace; a cgroup file written through the mount takes effect on the host.
source "$(dirname "$0")/common.bash"
qtfs_setup
mkdir -p "$QT/cg"
cg_ok=0
if on_host mount -t cgroup2 none "$QT/cg" 2>/dev/null; then
	cg_ok=1
	at_cleanup "on_host umount -l '$QT/cg'"
fi
qtfs_server -e /proc:proc -e /sys:sys -e "$QT/cg:sys"

# writes VALUE to FILE on the dpu and prints the errno name (or OK): dash's echo
# reports every write error as "I/O error"
write_errno() {
	on_dpu python3 -c "
import errno, os, sys
fd = os.open(sys.argv[1], os.O_WRONLY)
try:
    os.write(fd, sys.argv[2].encode())
    print('OK')
except OSError as e:
    print(errno.errorcode[e.errno])
" "$1" "$2"
}

# a process living in the host namespaces
lab_bg host sleep 300
wait_for 5 pgrep -f "^sleep 300$"
sleeper=$(pgrep -f -n "^sleep 300$")
[ -n "$sleeper" ] || { tap_fail "a host process to look at"; tap_done; exit 1; }
MP=$QT/mp MS=$QT/ms MC=$QT/mc
mkdir -p "$MP" "$MS" "$MC"
at_cleanup "on_dpu umount -l '$MP'"
at_cleanup "on_dpu umount -l '$MS'"
at_cleanup "on_dpu umount -l '$MC'"
on_dpu "$SV_BIN/qtfs" -o "server=$QTFS_ADDR,test_mode,kind=proc" /proc "$MP" ||
	{ tap_fail "mount /proc"; tap_done; exit 1; }
tap_ok "mount the host's /proc with kind=proc"

# the field names, not the byte count: values such as the context switch counts change
# length between two reads
tap_expect_eq "/proc/<pid>/status is size 0 yet reads to its end" \
	"0 $(cut -d: -f1 </proc/$sleeper/status | tr '\n' ' ')" \
	"$(on_dpu stat -c %s "$MP/$sleeper/status") $(on_dpu cat "$MP/$sleeper/status" | cut -d: -f1 | tr '\n' ' ')"
tap_expect_eq "/proc/<pid>/status of a host process" "$(grep -E '^(Name|Pid|PPid|Uid)' /proc/$sleeper/status)" \
	"$(on_dpu grep -E '^(Name|Pid|PPid|Uid)' "$MP/$sleeper/status")"
# its network namespace is the host's: the mount shows veth-host, the dpu's own /proc does not
tap_expect_eq "/proc/<pid>/net/dev shows the host's interfaces" "1 0" \
	"$(on_dpu grep -c veth-host "$MP/$sleeper/net/dev") $(on_dpu grep -c veth-host /proc/self/net/dev)"
tap_expect_eq "content changes are seen at once (no cache)" "$(on_host cat /proc/$sleeper/stat | cut -d' ' -f1-5)" \
	"$(on_dpu cat "$MP/$sleeper/stat" | cut -d' ' -f1-5)"
tap_check "a read-only proc file refuses writes with the host's errno" on_dpu sh -c "! echo x > '$MP/$sleeper/status' 2>/dev/null"

on_dpu "$SV_BIN/qtfs" -o "server=$QTFS_ADDR,test_mode,kind=sys" /sys "$MS" ||
	{ tap_fail "mount /sys"; tap_done; exit 1; }
tap_expect_eq "sysfs of the host namespace (veth-host's address)" \
	"$(on_host cat /sys/class/net/veth-host/address)" "$(on_dpu cat "$MS/class/net/veth-host/address" 2>&1)"
tap_expect_eq "the dpu's own sysfs has no veth-host" "no" \
	"$(on_dpu sh -c '[ -e /sys/class/net/veth-host ] && echo yes || echo no')"
tap_expect_eq "a sysfs write passes through with the host's errno" "EINVAL" \
	"$(write_errno "$MS/class/net/veth-host/mtu" notanumber)"
tap_check "a sysfs write takes effect on the host" on_dpu sh -c "echo 1400 > '$MS/class/net/veth-host/mtu'"
tap_expect_eq "the host sees the new mtu" "1400" "$(on_host cat /sys/class/net/veth-host/mtu)"

if [ $cg_ok = 1 ] && on_dpu "$SV_BIN/qtfs" -o "server=$QTFS_ADDR,test_mode,kind=sys" "$QT/cg" "$MC"; then
	CG=qtfs-test-$$
	if on_dpu mkdir "$MC/$CG" 2>/dev/null && on_host test -e "$QT/cg/$CG/cgroup.max.descendants"; then
		tap_ok "mkdir of a cgroup through the mount creates it on the host"
		tap_check "write cgroup.max.descendants through the mount" \
			on_dpu sh -c "echo 42 > '$MC/$CG/cgroup.max.descendants'"
		tap_expect_eq "the host cgroup has cgroup.max.descendants 42" "42" \
			"$(on_host cat "$QT/cg/$CG/cgroup.max.descendants")"
		tap_expect_eq "a bad cgroup value fails with the host's errno" "EINVAL" \
			"$(write_errno "$MC/$CG/cgroup.max.descendants" bogus)"
		tap_check "rmdir of the cgroup through the mount" on_dpu rmdir "$MC/$CG"
	else
		on_host rmdir "$QT/cg/$CG" 2>/dev/null
		tap_skip "cgroup write" "cannot create a cgroup in this cgroup2 hierarchy"
	fi
	on_dpu umount "$MC"
else
	tap_skip "cgroup write" "cgroup2 cannot be mounted in the lab's host namespace here"
fi
tap_done
