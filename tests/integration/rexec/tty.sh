#!/usr/bin/env bash
# rexec -t: the remote program gets a pty of the client's size, window changes arrive,
# and the local terminal's mode is restored afterwards. The client runs under script(1).
source "$(dirname "$0")/common.bash"

rexec_setup
rexec_whitelist /usr/bin/sh /usr/bin/tty /usr/bin/stty /usr/bin/sleep
rexec_server_start srv "tcp:$HOST_ADDR:$PORT" --test-mode --whitelist "$RX/whitelist" ||
	{ tap_fail "server starts"; tap_done; exit 1; }

# script's stdin stays open (sleep) so that it waits for its command rather than EOF;
# a process substitution, so that nobody waits for the sleep itself.
in_pty() { # SECONDS COMMAND
	on_dpu bash -c "script -qfec \"$2\" /dev/null < <(sleep $1 >/dev/null 2>&1)" | tr -d '\r'
}

out=$(in_pty 1 "stty rows 33 cols 101; $R -t /usr/bin/tty; $R -t /usr/bin/stty size")
# (script(1) occasionally injects a NUL that the remote pty echoes as "^@": not anchored.)
if grep -qE '/dev/pts/[0-9]+$' <<<"$out"; then tap_ok "-t: tty prints a pty"; else
	tap_fail "-t: tty prints a pty" "$out"; fi
if grep -qE '(^|@)33 101$' <<<"$out"; then tap_ok "-t: the pty has the client's window size"; else
	tap_fail "-t: the pty has the client's window size" "$out"; fi

out=$(on_dpu $R /usr/bin/tty)
tap_expect_eq "without -t there is no tty" "not a tty" "$out"

# A window change (SIGWINCH on the client after its terminal was resized) arrives.
out=$(in_pty 2 "stty rows 33 cols 101; $R -t /usr/bin/sh -c 'stty size; sleep 1; stty size' & sleep 0.5; stty rows 40 cols 120; kill -WINCH \\\$!; wait")
if grep -qE '(^|@)33 101$' <<<"$out" && grep -qE '(^|@)40 120$' <<<"$out"; then
	tap_ok "-t: a window change reaches the remote pty"
else
	tap_fail "-t: a window change reaches the remote pty" "$out"
fi

# The client restores the local terminal mode (raw while running).
out=$(in_pty 1 "stty -g > '$RX/before'; $R -t /usr/bin/tty >/dev/null; stty -g > '$RX/after'; echo done")
if [ -s "$RX/before" ] && cmp -s "$RX/before" "$RX/after"; then
	tap_ok "-t: the local terminal mode is restored on exit"
else
	tap_fail "-t: the local terminal mode is restored on exit" "$(cat "$RX/before" "$RX/after" 2>&1)"
fi

# Exit status through a pty, and a signal death.
in_pty 1 "$R -t /usr/bin/sh -c 'exit 5'; echo rc=\\\$?" >"$RX/rc"
tap_expect_eq "-t: the exit code comes back" "rc=5" "$(grep -o 'rc=[0-9]*' "$RX/rc")"
tap_done
