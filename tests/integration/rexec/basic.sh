#!/usr/bin/env bash
# rexec over tcp (test mode) from the dpu namespace to rexec_server in the host namespace:
# exit codes, signal deaths, separate stdout/stderr, argv byte for byte, env, cwd, stdin
# streaming of a large volume, and the openEuler pid file.
source "$(dirname "$0")/common.bash"

rexec_setup
mkdir -p "$RX/bin"
printf '#!/bin/sh\necho "script $0 $#:$1"\n' >"$RX/bin/script"
chmod 0755 "$RX/bin/script"
rexec_whitelist "$RX/bin/script" /usr/bin/sh /usr/bin/cat /usr/bin/ls /usr/bin/grep /usr/bin/head /usr/bin/env /usr/bin/pwd /usr/bin/printf \
	/usr/bin/od /usr/bin/sleep "/usr/bin/true noargs"
printf '[env]\nallow = TERM REXEC_T_*\n' >"$RX/conf"
rexec_server_start srv "tcp:$HOST_ADDR:$PORT" --test-mode --whitelist "$RX/whitelist" \
	--config "$RX/conf" || { tap_fail "server starts"; tap_done; exit 1; }

# Every exit code 0-255 comes back exactly (one client process each).
got=$(on_dpu bash -c "for i in \$(seq 0 255); do $R /usr/bin/sh -c \"exit \$i\"; echo -n \"\$? \"; done")
want=$(for i in $(seq 0 255); do echo -n "$i "; done)
tap_expect_eq "exit codes 0-255 come back exactly" "$want" "$got"

on_dpu $R /usr/bin/sh -c 'kill -9 $$'
tap_expect_eq "a remote SIGKILL death exits 137" 137 $?
on_dpu $R /usr/bin/sh -c 'kill -TERM $$'
tap_expect_eq "a remote SIGTERM death exits 143" 143 $?

out=$(on_dpu $R /usr/bin/sh -c 'echo to-out; echo to-err >&2; echo more-out' 2>"$RX/err")
tap_expect_eq "stdout carries only stdout" "to-out
more-out" "$out"
tap_expect_eq "stderr carries only stderr" "to-err" "$(cat "$RX/err")"

# argv byte for byte: spaces, newlines, empty strings, non-UTF-8, leading dashes.
expect=$(printf '%s\0' "a b" "line1
line2" "" $'\xff\xfe\x80' "--x" " " | od -An -tx1)
got=$(on_dpu $R /usr/bin/printf '%s\0' "a b" "line1
line2" "" $'\xff\xfe\x80' "--x" " " | od -An -tx1)
tap_expect_eq "argv with spaces, newlines, empty and non-UTF-8 arrives byte for byte" \
	"$expect" "$got"

got=$(on_dpu env REXEC_T_A="hello world" SECRET_X=1 $R /usr/bin/env)
if grep -qx 'REXEC_T_A=hello world' <<<"$got" && ! grep -q SECRET_X <<<"$got" &&
	grep -qx 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' <<<"$got"; then
	tap_ok "allowlisted env arrives, others do not, PATH is the server's"
else
	tap_fail "allowlisted env arrives, others do not, PATH is the server's" "$got"
fi

mkdir -p "$RX/cwd dir"
tap_expect_eq "the client's cwd arrives" "$RX/cwd dir" \
	"$(cd "$RX/cwd dir" && on_dpu $R /usr/bin/pwd)"
tap_expect_eq "-C sets the remote cwd" "/tmp" "$(on_dpu $R -C /tmp /usr/bin/pwd)"
on_dpu $R -C /nonexistent-dir /usr/bin/pwd 2>"$RX/err" >/dev/null
rc=$?
if [ $rc -eq 126 ] && grep -q "chdir /nonexistent-dir" "$RX/err"; then
	tap_ok "-C with a missing directory fails with 126 naming it"
else
	tap_fail "-C with a missing directory fails with 126 naming it" "rc=$rc $(cat "$RX/err")"
fi
tap_expect_eq "an implicit cwd missing on the server falls back to /" "/" \
	"$(on_dpu bash -c "mkdir -p /run/only-dpu && cd /run/only-dpu && $R /usr/bin/pwd")"

# Volume: stdin -> cat -> stdout keeps its SHA-256 (1 GiB; less under sanitizers).
mib=$(rexec_mib 1024 64)
head -c $((64 << 20)) /dev/urandom >"$RX/chunk"
reps=$((mib / 64))
want=$(for i in $(seq $reps); do cat "$RX/chunk"; done | sha256sum | cut -d' ' -f1)
got=$(on_dpu bash -c "for i in \$(seq $reps); do cat '$RX/chunk'; done | $R /usr/bin/cat | sha256sum" | cut -d' ' -f1)
tap_expect_eq "$mib MiB through stdin -> cat -> stdout keeps its SHA-256" "$want" "$got"

tap_expect_eq "a #! script runs with its real path as \$0 and its arguments" \
	"script $RX/bin/script 1:a b" "$(on_dpu $R "$RX/bin/script" "a b")"

# A closed local stdout behaves as in a local pipeline: the remote writer dies of SIGPIPE.
tap_expect_eq "a reader closing the client's stdout ends the remote writer with SIGPIPE (141)" 141 \
	"$(on_dpu bash -c "$R /usr/bin/head -c 1000000000 /dev/zero | head -c 10 >/dev/null; echo \${PIPESTATUS[0]}")"

# stdin from a regular file (not pollable) and from /dev/null.
got=$(on_dpu $R /usr/bin/cat <"$RX/chunk" | sha256sum | cut -d' ' -f1)
tap_expect_eq "stdin from a regular file streams" "$(sha256sum <"$RX/chunk" | cut -d' ' -f1)" "$got"
tap_expect_eq "stdin from /dev/null is an immediate EOF" "" "$(on_dpu $R /usr/bin/cat </dev/null)"

# openEuler compatibility: /var/run/rexec/pids/<client pid> holds the remote pid meanwhile.
on_dpu bash -c "$R /usr/bin/sleep 3 & p=\$!; for i in \$(seq 50); do [ -s /var/run/rexec/pids/\$p ] && break; sleep 0.05; done; cat /var/run/rexec/pids/\$p; wait \$p; test -e /var/run/rexec/pids/\$p && echo left-behind" >"$RX/pidout"
rpid=$(head -1 "$RX/pidout")
if [ -n "$rpid" ] && ! grep -q left-behind "$RX/pidout"; then
	tap_ok "the pid file holds the remote pid and is removed at exit"
else
	tap_fail "the pid file holds the remote pid and is removed at exit" "$(cat "$RX/pidout")"
fi

# The program inherits nothing of the server: only fds 0-2, no blocked or ignored signals,
# its own process group.
tap_expect_eq "the program gets only fds 0, 1 and 2" "0 1 2" \
	"$(on_dpu $R /usr/bin/sh -c 'ls /proc/$$/fd' | tr '\n' ' ' | sed 's/ $//')"
tap_expect_eq "the program starts with no blocked or ignored signals" \
	"SigBlk:	0000000000000000 SigIgn:	0000000000000000" \
	"$(on_dpu $R /usr/bin/grep -E '^Sig(Blk|Ign)' /proc/self/status | tr '\n' ' ' | sed 's/ $//')"
tap_expect_eq "the program leads its own process group" yes \
	"$(on_dpu $R /usr/bin/sh -c '[ "$(cut -d" " -f5 /proc/$$/stat)" = $$ ] && echo yes')"

# REXEC_LOG_FILE as openEuler's: a file gets the client's diagnostics, "std" is stderr,
# unset means none (user-facing errors are on stderr regardless).
on_dpu env REXEC_LOG_FILE="$RX/client.log" $R /usr/bin/sh -c 'exit 0' 2>"$RX/err"
if grep -q "remote pid" "$RX/client.log" && [ ! -s "$RX/err" ]; then
	tap_ok "REXEC_LOG_FILE=FILE logs the client's diagnostics there"
else
	tap_fail "REXEC_LOG_FILE=FILE logs the client's diagnostics there" "$(cat "$RX/client.log" "$RX/err" 2>&1)"
fi
on_dpu env REXEC_LOG_FILE=std $R /usr/bin/sh -c 'exit 0' 2>"$RX/err"
if grep -q "remote pid" "$RX/err"; then tap_ok "REXEC_LOG_FILE=std logs to stderr"
else tap_fail "REXEC_LOG_FILE=std logs to stderr" "$(cat "$RX/err")"; fi
on_dpu env -u REXEC_LOG_FILE $R /usr/bin/sh -c 'exit 0' 2>"$RX/err"
tap_expect_eq "without REXEC_LOG_FILE the client is silent" "" "$(cat "$RX/err")"

if grep -q "'/usr/bin/sh' '-c' 'exit 7'.*exit=7" "$RX/srv.log" && grep -q "tcp:$DPU_ADDR" "$RX/srv.log"; then
	tap_ok "the server logs one line per session with peer, argv and exit"
else
	tap_fail "the server logs one line per session with peer, argv and exit" "$(tail -3 "$RX/srv.log")"
fi
tap_done
