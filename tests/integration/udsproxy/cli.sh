#!/usr/bin/env bash
# Bad command lines and files: one line naming the thing and the reason, non-zero exit.
source "$(dirname "$0")/../../lib/tap.sh"

UDSPD=$SV_BIN/udsproxyd
QTCFG=$SV_BIN/qtcfg
T=$(mktemp -d /tmp/udsp-cli.XXXXXX)
trap 'rm -rf "$T"' EXIT
printf '/x\n' >"$T/allow"
chmod 666 "$T/allow"
printf '[udsproxyd]\nbogus = 1\n' >"$T/bad.conf"
export UDSPROXY_SOCK=$T/none.sock UDSPROXY_CONF_DIR=$T

# refused NAME EXPECTED_SUBSTRING CMD...: non-zero exit and the substring in the output.
refused() {
	local name=$1 want=$2 out rc
	shift 2
	out=$("$@" 2>&1)
	rc=$?
	if [ $rc -ne 0 ] && [[ $out == *"$want"* ]]; then tap_ok "$name"; else
		tap_fail "$name" "rc=$rc out=$(echo "$out" | head -2)"; fi
}

refused "a group/world-writable --allow file is refused naming it" "$T/allow: group- and world-writable" \
	"$UDSPD" --listen tcp:127.0.0.1:1 --test-mode --allow "$T/allow"
refused "a missing --allow file is refused naming it" "$T/missing" \
	"$UDSPD" --listen tcp:127.0.0.1:1 --test-mode --allow "$T/missing"
refused "--window out of range is refused" "--window 1:" \
	"$UDSPD" --listen tcp:127.0.0.1:1 --test-mode --window 1
refused "an unknown transport is refused" "nonsense:1" "$UDSPD" --listen nonsense:1
refused "tls: without certificates is refused" "needs --tls-cert" "$UDSPD" --listen tls:127.0.0.1:1
refused "tcp: without --test-mode is refused" "needs --test-mode" "$UDSPD" --peer tcp:127.0.0.1:1
refused "--shared must be absolute" "--shared relative" \
	"$UDSPD" --listen tcp:127.0.0.1:1 --test-mode --shared relative
refused "an unknown config key is refused naming file and line" "bad.conf:2" \
	"$UDSPD" --config "$T/bad.conf"
refused "the openEuler form with a bad peer port is refused" "peer port 99999" \
	"$UDSPD" 1 1.2.3.4 12121 1.2.3.5 99999
refused "the openEuler form with missing words is refused" "THREADS ADDR PORT" "$UDSPD" 1 2 3
refused "--status without a daemon says so" "is udsproxyd running" "$UDSPD" --status
refused "qtcfg -y with a non-number is refused" "-y abc" "$QTCFG" -y abc
refused "qtcfg -y with no such index is refused" "no such index" "$QTCFG" -y 5
refused "qtcfg -w with a path-like type is refused" "list type '../x'" "$QTCFG" -w ../x -z
refused "qtcfg with two actions is refused" "exactly one of" "$QTCFG" -x /a -z
refused "qtcfg -x with .. is refused" "-x /a/../b" "$QTCFG" -x /a/../b
printf 'garbage line with spaces\n' >"$T/udsconnect.list"
refused "a malformed list file is reported with file and line" "udsconnect.list:1" "$QTCFG" -z
tap_done
