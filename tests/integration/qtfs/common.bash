# Shared setup for the qtfs integration tests (sourced; not a test itself).
#   qtfs_setup                 lab up, a scratch dir $QT with export $EXP and mount point $MNT
#   qtfs_server [ARGS...]      qtfsd in the host namespace on tcp test mode ($QTFS_ADDR)
#   qtfs_mount [OPTS]          the qtfs client in the dpu namespace on $MNT
#   qtfs_umount                unmounts and checks the client process is gone
#   qtfs_certs                 a CA and host/dpu certificates in $QT/pki
# shellcheck shell=bash
source "$(dirname "$0")/../../lib/tap.sh"
source "$SV_ROOT/tests/lib/lab.sh"

QTFS_PORT=${QTFS_PORT:-7640}
QTFS_ADDR=tcp:$HOST_ADDR:$QTFS_PORT
QTFS_SAN=${SV_SAN:-0}
QTFS_TOOLS=$SV_BUILD/tests/qtfs

qtfs_setup() {
	lab_up >/dev/null || { tap_fail "lab up"; tap_done; exit 1; }
	QT=$(mktemp -d /tmp/qtfs-test.XXXXXX)
	chmod 755 "$QT"
	EXP=$QT/export
	MNT=$QT/mnt
	mkdir -p "$EXP" "$MNT"
	at_cleanup "rm -rf '$QT'"
	at_cleanup "on_dpu umount -l '$MNT'"
}

# Starts qtfsd in the host namespace; extra args are passed on (-e EXPORT is added
# unless -c is given). Sets QTFSD_PID (the lab exec wrapper's pid).
qtfs_server() {
	local args=("$@")
	if [[ " ${args[*]} " != *" -c "* ]] && [[ " ${args[*]} " != *" -e "* ]]; then
		args+=(-e "$EXP")
	fi
	if [[ " ${args[*]} " != *" -l "* ]] && [[ " ${args[*]} " != *" -c "* ]]; then
		args+=(-l "$QTFS_ADDR" --test-mode)
	fi
	lab_bg host "$SV_BIN/qtfsd" --handle-key "$QT/handle.key" -D "$QT/qtfsd.log" "${args[@]}"
	QTFSD_PID=$LAB_BG_PID
	wait_for 10 grep -q "listening on" "$QT/qtfsd.log" || {
		tap_fail "qtfsd starts" "$(cat "$QT/qtfsd.log" 2>/dev/null)"
		tap_done
		exit 1
	}
}

qtfsd_pid() { pgrep -f -- "--handle-key $QT/handle.key" | head -n1; }

qtfs_mount() {
	local opts=${1:-server=$QTFS_ADDR,test_mode}
	on_dpu "$SV_BIN/qtfs" -o "$opts" -D "$QT/qtfs.log" "${QTFS_SRC:-$EXP}" "$MNT"
}

# The client processes serving $MNT (the bracket keeps pgrep from matching itself).
qtfs_client_pids() { pgrep -f -- "bin/[q]tfs .*$MNT\$" || true; }

qtfs_umount() {
	[ -n "$(qtfs_client_pids)" ] || { echo "no qtfs client for $MNT before umount"; return 1; }
	on_dpu umount "$MNT" || return 1
	wait_for 10 sh -c "! pgrep -f -- 'bin/[q]tfs .*$MNT\$' >/dev/null" ||
		{ echo "still running: $(qtfs_client_pids)"; return 1; }
}

qtfs_certs() {
	local d=$QT/pki side
	mkdir -p "$d"
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=qtfs-test-ca \
		-keyout "$d/ca.key" -out "$d/ca.crt" >/dev/null 2>&1 || return 1
	for side in host dpu; do
		openssl req -newkey rsa:2048 -nodes -subj "/CN=$side" -keyout "$d/$side.key" \
			-out "$d/$side.csr" >/dev/null 2>&1 || return 1
		openssl x509 -req -in "$d/$side.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" \
			-CAcreateserial -days 2 -out "$d/$side.crt" >/dev/null 2>&1 || return 1
	done
	chmod 600 "$d"/*.key
}
