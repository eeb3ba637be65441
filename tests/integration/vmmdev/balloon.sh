#!/usr/bin/env bash
# virtio-balloon with the device test guest: the guest touches 64 MiB, QMP "balloon" asks for
# 48 MiB back, the guest inflates and splitvm's RSS falls by about that much (the pages are
# discarded with MADV_DONTNEED); query-balloon reports the new size; raising the target
# again deflates and the guest's re-touched pages bring the RSS back. Bad QMP arguments are
# answered with errors while the VM keeps running. Free page reporting: the guest reports
# 24 MiB of touched memory free and splitvm's RSS falls; deflate-on-oom is offered only
# when configured. With -machine mem-share=on (a shared memfd) inflating punches holes
# (MADV_REMOVE) and the RSS falls too.
source "$(dirname "$0")/../../lib/tap.sh"
source "$(dirname "$0")/vmmdev-lib.bash"
vmmdev_require

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
# NAME MIN_MIB WHAT: passes when splitvm's RSS fell from $rss1 to $rss2 by at least MIN_MIB.
expect_rss_drop() {
	local drop=$(((rss1 - rss2) / 1024))
	echo "# $3: RSS $rss1 -> $rss2 KiB ($drop MiB less)"
	if [ "$drop" -ge "$2" ]; then
		tap_ok "$1"
	else
		tap_fail "$1" "$rss1 -> $rss2 KiB"
	fi
}
MIB=$((1 << 20))
RAM=$((256 * MIB))

qsock=$T/qmp.sock
vm_start bal -m 256 -kernel "$VGUEST_BZ" -append "sv.test=balloon sv.touch=64" \
	-serial "file,path=$T/bal.serial" -qmp "unix:$qsock,server,nowait" \
	-device virtio-balloon-device,id=bal0,deflate-on-oom=true
if ! serial_wait bal 'SVTEST balloon actual=0' 60; then
	tap_fail "guest touched its memory and started the balloon driver" "$(cat "$T/bal.err" "$T/bal.serial")"
	tap_done
	exit 1
fi
tap_ok "guest touched 64 MiB and started the balloon driver"
qmp_open "$qsock" || tap_fail "QMP connects"
rss1=$(rss_kib "$VM_PID")

r=$(qmp "{\"execute\":\"balloon\",\"arguments\":{\"value\":$((RAM - 48 * MIB))}}")
tap_expect_eq "balloon to 208 MiB is accepted" '{"return":{}}' "$r"
serial_wait bal 'SVTEST balloon actual=12288' 60
tap_check "guest inflated 12288 pages" serial_grep bal 'SVTEST balloon actual=12288'
sleep 0.2
rss2=$(rss_kib "$VM_PID")
expect_rss_drop "inflate: splitvm RSS falls by at least 40 of the 48 MiB" 40 "inflate"
r=$(qmp '{"execute":"query-balloon"}')
tap_expect_eq "query-balloon reports the guest at 208 MiB" "{\"return\":{\"actual\":$((RAM - 48 * MIB))}}" "$r"

r=$(qmp "{\"execute\":\"balloon\",\"arguments\":{\"value\":$RAM}}")
tap_expect_eq "balloon back to 256 MiB is accepted" '{"return":{}}' "$r"
# The second "actual=0" line: the first was printed before the inflate.
for ((i = 0; i < 1200; i++)); do
	[ "$(serial_grep bal 'SVTEST balloon actual=0' | wc -l)" -ge 2 ] && break
	sleep 0.05
done
n=$(serial_grep bal 'SVTEST balloon actual=0' | wc -l)
tap_expect_eq "guest deflated to 0 pages" 2 "$n"
sleep 0.2
rss3=$(rss_kib "$VM_PID")
rise=$(((rss3 - rss2) / 1024))
echo "# deflate: RSS $rss2 -> $rss3 KiB ($rise MiB more)"
if [ "$rise" -ge 40 ]; then
	tap_ok "deflate: re-touched pages raise the RSS by at least 40 MiB"
else
	tap_fail "deflate: re-touched pages raise the RSS by at least 40 MiB" "$rss2 -> $rss3 KiB"
fi
r=$(qmp '{"execute":"query-balloon"}')
tap_expect_eq "query-balloon reports the full 256 MiB" "{\"return\":{\"actual\":$RAM}}" "$r"

for bad in '{"execute":"balloon"}' '{"execute":"balloon","arguments":{"value":"x"}}' \
	'{"execute":"balloon","arguments":{"value":0}}' \
	"{\"execute\":\"balloon\",\"arguments\":{\"value\":$((RAM + 1))}}" \
	'{"execute":"balloon","arguments":{"value":1000,"extra":1}}'; do
	r=$(qmp "$bad")
	case "$r" in
	*'"error"'*) tap_ok "refused with an error: $bad" ;;
	*) tap_fail "refused with an error: $bad" "$r" ;;
	esac
done
tap_check "QMP still answers" qmp_alive
qmp '{"execute":"quit"}' >/dev/null
vm_wait "$VM_PID" 10
tap_expect_eq "quit ends splitvm" 0 "$VM_STATUS"
qmp_close

# Free page reporting.
qsock=$T/fpr.sock
vm_start fpr -m 256 -kernel "$VGUEST_PVH" -append "sv.test=fpr sv.touch=32 sv.report=24" \
	-serial "file,path=$T/fpr.serial" -qmp "unix:$qsock,server,nowait" \
	-device virtio-balloon-device,id=bal1,free-page-reporting=true
if serial_wait fpr 'SVTEST fpr touched' 60 && qmp_open "$qsock"; then
	tap_check "free-page-reporting=true, deflate-on-oom unset: features as configured" \
		serial_grep fpr 'SVTEST balloon deflate_on_oom=0 reporting=1'
	sleep 0.2
	rss1=$(rss_kib "$VM_PID")
	# Go signal for the guest (it reports once it sees a non-zero target).
	qmp "{\"execute\":\"balloon\",\"arguments\":{\"value\":$((RAM - 4096))}}" >/dev/null
	serial_wait fpr 'SVTEST idle' 30
	tap_check "guest reported 24 MiB and got it back" serial_grep fpr "SVTEST fpr reported bytes=$((24 * MIB))"
	tap_check "reported pages read back as zeroes" serial_grep fpr 'SVTEST ok reported pages read as zero'
	sleep 0.2
	rss2=$(rss_kib "$VM_PID")
	expect_rss_drop "free page reporting: RSS falls by at least 20 of the 24 MiB" 20 "free page reporting"
	qmp '{"execute":"quit"}' >/dev/null
	vm_wait "$VM_PID" 10
	qmp_close
else
	tap_fail "fpr guest touched its memory" "$(cat "$T/fpr.err" "$T/fpr.serial")"
fi
# Shared guest memory: the pages go back through MADV_REMOVE.
qsock=$T/shm.sock
vm_start shm -machine microvm,mem-share=on -m 256 -kernel "$VGUEST_BZ" \
	-append "sv.test=balloon sv.touch=64" -serial "file,path=$T/shm.serial" \
	-qmp "unix:$qsock,server,nowait" -device virtio-balloon-device,id=bal3
if serial_wait shm 'SVTEST balloon actual=0' 60 && qmp_open "$qsock"; then
	sleep 0.2
	rss1=$(rss_kib "$VM_PID")
	qmp "{\"execute\":\"balloon\",\"arguments\":{\"value\":$((RAM - 48 * MIB))}}" >/dev/null
	serial_wait shm 'SVTEST balloon actual=12288' 60
	sleep 0.2
	rss2=$(rss_kib "$VM_PID")
	tap_check "mem-share=on: guest inflated 12288 pages" serial_grep shm 'SVTEST balloon actual=12288'
	expect_rss_drop "mem-share=on: inflate gives at least 40 of the 48 MiB back" 40 "mem-share=on inflate"
	qmp '{"execute":"quit"}' >/dev/null
	vm_wait "$VM_PID" 10
	qmp_close
else
	tap_fail "mem-share=on: guest touched its memory" "$(cat "$T/shm.err")"
fi
vm_run oom -m 128 -kernel "$VGUEST_BZ" -append "sv.test=fpr" \
	-device virtio-balloon-device,id=bal2,deflate-on-oom=true
tap_check "deflate-on-oom=true, no reporting: features as configured" \
	serial_grep oom 'SVTEST balloon deflate_on_oom=1 reporting=0'
tap_done
