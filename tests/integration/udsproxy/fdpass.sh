#!/usr/bin/env bash
# SCM_RIGHTS across the proxy: pipe ends both ways, regular files only under a shared tree.
source "$(dirname "$0")/common.bash"

mkdir -p "$T/shared"
echo "shared-file-content" >"$T/shared/f.txt"
lab_up
on_host mkdir -p /run/echo
echo_server /run/echo/echo.sock
udsp_up --shared "$T/shared" -- --shared "$T/shared" ||
	{ tap_fail "daemons link up"; show_logs; tap_done; exit 1; }

tap_expect_eq "a pipe passed from the dpu is written on the host and read on the dpu" \
	"dpu read: written-on-host done" "$(preload $HELPER pipe-to-host /run/echo/echo.sock 2>&1)"
tap_expect_eq "a pipe passed from the host is written on the dpu and read on the host" \
	"host-read:written-on-dpu" "$(preload $HELPER pipe-from-host /run/echo/echo.sock 2>&1)"
tap_expect_eq "a connected unix stream socket passed from the dpu is written on the host" \
	"dpu read: sock-on-host done" "$(preload $HELPER sock-to-host /run/echo/echo.sock 2>&1)"
tap_expect_eq "a regular file outside the shared tree is refused with EXDEV" EXDEV \
	"$(preload $HELPER pass-file /run/echo/echo.sock /etc/hostname 2>&1)"
tap_expect_eq "a regular file under the shared tree is reopened on the far side" \
	"file:shared-file-content" \
	"$(preload $HELPER pass-file /run/echo/echo.sock "$T/shared/f.txt" 2>&1 | tr -d '\n')"
st=$(on_dpu "$UDSPD" --status)
case "$st" in *"streams: 0 open"*) tap_ok "bridged pipe streams are gone once both ends closed" ;;
*) tap_fail "bridged pipe streams are gone once both ends closed" "$st" ;; esac
tap_done
