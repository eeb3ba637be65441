# Helpers for the splitvm integration tests (sourced after tests/lib/tap.sh).
#   vm_run NAME ARGS...        runs splitvm to completion (serial in $T/NAME.serial,
#                              stderr in $T/NAME.err), sets VM_STATUS; bounded by VM_TIMEOUT
#   vm_start NAME ARGS...      starts splitvm in the background (killed at exit), sets VM_PID
#   vm_wait PID SECS           waits for a background VM to exit, sets VM_STATUS (124: timeout)
#   serial_wait NAME PATTERN SECS   waits until the serial log holds PATTERN (grep -E)
#   qmp_open SOCK / qmp CMD-JSON / qmp_event NAME SECS / qmp_close
# The test guests are $GUEST_BZ (Linux boot protocol) and $GUEST_PVH (ELF with a PVH note).
SPLITVM=$SV_BIN/splitvm
GUEST_BZ=$SV_BUILD/vmm/guests/guest.bzImage
GUEST_PVH=$SV_BUILD/vmm/guests/guest-pvh.elf
: "${VM_TIMEOUT:=30}"
T=$(mktemp -d /tmp/sv-vmm.XXXXXX)
_vm_pids=()

vmm_cleanup() {
	local p
	for p in "${_vm_pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	qmp_close
	rm -rf "$T"
}
trap vmm_cleanup EXIT
trap 'exit 130' INT TERM

vmm_require() {
	if [ ! -x "$SPLITVM" ] || [ ! -f "$GUEST_BZ" ] || [ ! -f "$GUEST_PVH" ]; then
		tap_fail "splitvm and test guests are built" "missing $SPLITVM or guests in $SV_BUILD/vmm/guests"
		tap_done
		exit 1
	fi
	if [ ! -w /dev/kvm ]; then
		tap_skip "kvm" "/dev/kvm is not usable here"
		tap_done
		exit 0
	fi
}

vm_run() {
	local name=$1
	shift
	timeout -k 2 "$VM_TIMEOUT" "$SPLITVM" "$@" -serial "file,path=$T/$name.serial" \
		</dev/null >"$T/$name.out" 2>"$T/$name.err"
	VM_STATUS=$?
	touch "$T/$name.serial"
}

vm_start() {
	local name=$1
	shift
	"$SPLITVM" "$@" </dev/null >"$T/$name.out" 2>"$T/$name.err" &
	VM_PID=$!
	_vm_pids+=("$VM_PID")
}

vm_wait() {
	local pid=$1 secs=$2 i
	for ((i = 0; i < secs * 20; i++)); do
		if ! kill -0 "$pid" 2>/dev/null; then
			wait "$pid"
			VM_STATUS=$?
			return 0
		fi
		sleep 0.05
	done
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	VM_STATUS=124
	return 1
}

serial_wait() {
	local name=$1 pat=$2 secs=$3 i
	for ((i = 0; i < secs * 20; i++)); do
		grep -qE -- "$pat" "$T/$name.serial" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

# Lines of the guest's serial log matching PATTERN.
serial_grep() { grep -E -- "$2" "$T/$1.serial" 2>/dev/null; }

sock_wait() {
	local sock=$1 secs=$2 i
	for ((i = 0; i < secs * 20; i++)); do
		[ -S "$sock" ] && return 0
		sleep 0.05
	done
	return 1
}

# QMP over a socat coprocess; events seen while waiting for replies go to $T/events.
qmp_open() {
	local line
	: >"$T/events"
	sock_wait "$1" 10 || return 1
	coproc QMPC { exec socat - "UNIX-CONNECT:$1"; }
	# Private copies of the pipe ends: bash drops QMPC when socat exits, but what socat
	# wrote before (the SHUTDOWN event) must stay readable.
	exec {QIN}<&"${QMPC[0]}" {QOUT}>&"${QMPC[1]}"
	read -t 5 -r line <&"$QIN" || return 1
	QMP_GREETING=${line%$'\r'}
	[ "$(qmp '{"execute":"qmp_capabilities"}')" = '{"return":{}}' ]
}

qmp() {
	local line
	echo "$1" >&"$QOUT" || return 1
	while read -t 10 -r line <&"$QIN"; do
		line=${line%$'\r'}
		case "$line" in
		*'"event"'*) echo "$line" >>"$T/events" ;;
		*) echo "$line"; return 0 ;;
		esac
	done
	return 1
}

# Waits for an event named NAME (already seen or arriving within SECS); prints its line.
qmp_event() {
	local name=$1 secs=$2 line end=$((SECONDS + $2))
	if grep -m1 "\"event\":\"$name\"" "$T/events"; then return 0; fi
	while [ $SECONDS -le $end ]; do
		if ! read -t 1 -r line <&"$QIN"; then
			kill -0 "$QMPC_PID" 2>/dev/null && continue
			break
		fi
		line=${line%$'\r'}
		echo "$line" >>"$T/events"
		case "$line" in *"\"event\":\"$name\""*) echo "$line"; return 0 ;; esac
	done
	return 1
}

qmp_close() {
	if [ -n "${QIN:-}" ]; then
		exec {QIN}<&- {QOUT}>&-
		QIN=
	fi
	if [ -n "${QMPC_PID:-}" ]; then
		kill "$QMPC_PID" 2>/dev/null
		wait "$QMPC_PID" 2>/dev/null
	fi
	QMPC_PID=
}
