#!/usr/bin/env bash
# Everything the allowlist and the env policy refuse, each with exit 126 and a clear message;
# the server refusing an unsafe whitelist file; SIGHUP reloads that keep the old list on error.
source "$(dirname "$0")/common.bash"

rexec_setup
mkdir -p "$RX/bin" "$RX/links"
cp /usr/bin/true "$RX/bin/pinned"
cp /usr/bin/id "$RX/bin/unlisted"
chmod 0755 "$RX/bin/pinned" "$RX/bin/unlisted"
ln -s /usr/bin/true "$RX/links/true-link"      # unlisted place -> listed program
sha=$(sha256sum /usr/bin/true | cut -d' ' -f1)
rexec_whitelist "/usr/bin/true noargs" "$RX/bin/pinned sha256=$sha" \
	"/usr/bin/taskset args=-p" "/usr/bin/env" "/usr/bin/sh" "/usr/bin/id noargs" \
	"$RX/links/listed-link-target-is-checked"
rexec_server_start srv "tcp:$HOST_ADDR:$PORT" --test-mode --whitelist "$RX/whitelist" ||
	{ tap_fail "server starts"; tap_done; exit 1; }

refused() { # NAME EXPECTED-MESSAGE-PART CLIENT-ARGS...
	local name=$1 part=$2 rc
	shift 2
	on_dpu "$@" >/dev/null 2>"$RX/err"
	rc=$?
	if [ $rc -eq 126 ] && grep -qF -- "$part" "$RX/err" && [ "$(wc -l <"$RX/err")" -eq 1 ]; then
		tap_ok "$name"
	else
		tap_fail "$name" "rc=$rc stderr: $(cat "$RX/err")"
	fi
}

on_dpu $R /usr/bin/true
tap_expect_eq "a listed program runs" 0 $?
on_dpu $R true
tap_expect_eq "a bare name resolves through the server's PATH" 0 $?
refused "a program not listed is refused" "not in the whitelist" $R /usr/bin/whoami
refused "a relative program path is refused" "relative path" $R bin/true
refused "arguments forbidden by noargs are refused" "arguments not allowed" $R /usr/bin/true x

on_dpu $R "$RX/links/true-link"
tap_expect_eq "a symlink from an unlisted place to a listed program is judged as that program" 0 $?
refused "...including that program's argument rules" "arguments not allowed" \
	$R "$RX/links/true-link" x
# The listed name did not exist when the whitelist was loaded; it appears as a symlink.
ln -s "$RX/bin/unlisted" "$RX/links/listed-link-target-is-checked"
refused "a listed name that became a symlink to an unlisted program is refused" "resolves to $RX/bin/unlisted" \
	$R "$RX/links/listed-link-target-is-checked"

on_dpu $R "$RX/bin/pinned"
tap_expect_eq "a binary matching its sha256 pin runs" 0 $?
cp /usr/bin/false "$RX/bin/pinned"
refused "a binary whose SHA-256 no longer matches is refused" "sha256" $R "$RX/bin/pinned"

out=$(on_dpu $R /usr/bin/taskset -p 1)
if [ $? -eq 0 ] && grep -q "pid 1's current affinity" <<<"$out"; then
	tap_ok "taskset -p is allowed"; else tap_fail "taskset -p is allowed" "$out"; fi
refused "taskset launching another program is refused" "arguments not allowed" \
	$R /usr/bin/taskset 1 /usr/bin/sh -c id

# LD_PRELOAD: dropped by default (docs/rexec.md), so it neither reaches nor affects the program.
lib=$(ls /usr/lib/x86_64-linux-gnu/libm.so.6)
# (Under ASan the client itself would object to a preload coming first: tell it not to.)
out=$(on_dpu env LD_PRELOAD="$lib" LD_LIBRARY_PATH=/tmp ASAN_OPTIONS=verify_asan_link_order=0 \
	$R /usr/bin/env)
if [ $? -eq 0 ] && ! grep -q '^LD_' <<<"$out"; then
	tap_ok "LD_PRELOAD and LD_LIBRARY_PATH are dropped by default"
else
	tap_fail "LD_PRELOAD and LD_LIBRARY_PATH are dropped by default" "$out"
fi

chmod 0755 "$RX/bin/unlisted"
cp /usr/bin/true "$RX/bin/gw" && chmod 0775 "$RX/bin/gw"
WL=$RX/wl2 rexec_whitelist "$RX/bin/gw" /usr/bin/env
printf '[env]\ndangerous = refuse\nallow = TERM\n' >"$RX/refuse.conf"
PORT=7702
rexec_server_start srv2 "tcp:$HOST_ADDR:7702" --test-mode --whitelist "$RX/wl2" \
	--config "$RX/refuse.conf" || tap_fail "second server starts"
R2="$SV_BIN/rexec --server tcp:$HOST_ADDR:7702 --test-mode"
refused "with dangerous = refuse, LD_PRELOAD in the env is refused naming it" "LD_PRELOAD" \
	env -i PATH=/usr/bin:/bin LD_PRELOAD="$lib" ASAN_OPTIONS=verify_asan_link_order=0 $R2 /usr/bin/env
refused "a listed binary writable by its group is refused" "writable by group or others" \
	$R2 "$RX/bin/gw"

# The server refuses to start with an unsafe whitelist, naming the file.
cp "$RX/whitelist" "$RX/ww" && chmod 0666 "$RX/ww"
out=$(on_host timeout 5 "$SV_BIN/rexec_server" --listen "tcp:$HOST_ADDR:7703" --test-mode \
	--whitelist "$RX/ww" 2>&1)
rc=$?
if [ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -qF "$RX/ww" <<<"$out"; then
	tap_ok "a world-writable whitelist stops the server, naming the file"
else
	tap_fail "a world-writable whitelist stops the server, naming the file" "rc=$rc $out"
fi
cp "$RX/whitelist" "$RX/notroot" && chmod 0400 "$RX/notroot" && chown 65534 "$RX/notroot"
out=$(on_host timeout 5 "$SV_BIN/rexec_server" --listen "tcp:$HOST_ADDR:7703" --test-mode \
	--whitelist "$RX/notroot" 2>&1)
rc=$?
if [ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -qF "$RX/notroot" <<<"$out"; then
	tap_ok "a whitelist not owned by root stops the server, naming the file"
else
	tap_fail "a whitelist not owned by root stops the server, naming the file" "rc=$rc $out"
fi
out=$(on_host timeout 5 "$SV_BIN/rexec_server" --listen "tcp:$HOST_ADDR:7703" --test-mode \
	--whitelist "$RX/missing" 2>&1)
rc=$?
if [ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -qF "$RX/missing" <<<"$out"; then
	tap_ok "a missing whitelist stops the server, naming the file"
else
	tap_fail "a missing whitelist stops the server, naming the file" "rc=$rc $out"
fi
out=$(on_host timeout 5 "$SV_BIN/rexec_server" --listen "tcp:$HOST_ADDR:7703" \
	--whitelist "$RX/whitelist" 2>&1)
rc=$?
if [ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -q "tcp" <<<"$out"; then
	tap_ok "tcp: without --test-mode is refused"
else
	tap_fail "tcp: without --test-mode is refused" "rc=$rc $out"
fi

# --check validates configuration and whitelist; configuration errors name file:line.
out=$("$SV_BIN/rexec_server" --check --whitelist "$RX/whitelist" 2>&1)
rc=$?
if [ $rc -eq 0 ] && grep -q "configuration ok" <<<"$out"; then tap_ok "--check accepts a good setup"
else tap_fail "--check accepts a good setup" "rc=$rc $out"; fi
printf '[server]\nmax_sessions = 10\n[exec]\npaht = /bin\n' >"$RX/typo.conf"
out=$("$SV_BIN/rexec_server" --check --whitelist "$RX/whitelist" --config "$RX/typo.conf" 2>&1)
rc=$?
if [ $rc -ne 0 ] && grep -qF "$RX/typo.conf:4" <<<"$out" && [ "$(wc -l <<<"$out")" -eq 1 ]; then
	tap_ok "an unknown configuration key is refused naming file:line"
else
	tap_fail "an unknown configuration key is refused naming file:line" "rc=$rc $out"
fi
printf '[env]\ndangerous = sometimes\n' >"$RX/bad.conf"
out=$("$SV_BIN/rexec_server" --check --whitelist "$RX/whitelist" --config "$RX/bad.conf" 2>&1)
rc=$?
if [ $rc -ne 0 ] && grep -q "dangerous: expected drop or refuse" <<<"$out"; then
	tap_ok "a bad [env] dangerous value is refused"
else
	tap_fail "a bad [env] dangerous value is refused" "rc=$rc $out"
fi
# [exec] path is the only PATH for bare names.
printf '[exec]\npath = %s/bin\n' "$RX" >"$RX/path.conf"
cp /usr/bin/true "$RX/bin/only-here" && chmod 0755 "$RX/bin/only-here"
WL=$RX/wl3 rexec_whitelist "$RX/bin/only-here" /usr/bin/true
rexec_server_start srv3 "tcp:$HOST_ADDR:7704" --test-mode --whitelist "$RX/wl3" \
	--config "$RX/path.conf" || tap_fail "third server starts"
R3="$SV_BIN/rexec --server tcp:$HOST_ADDR:7704 --test-mode"
on_dpu $R3 only-here
tap_expect_eq "bare names resolve through [exec] path" 0 $?
on_dpu $R3 true 2>"$RX/err"
rc=$?
if [ $rc -eq 127 ] && grep -q "not found in the server's PATH" "$RX/err"; then
	tap_ok "a bare name outside [exec] path is not found (127), never the client's PATH"
else
	tap_fail "a bare name outside [exec] path is not found (127), never the client's PATH" "rc=$rc $(cat "$RX/err")"
fi

# SIGHUP reloads; a bad file on reload keeps the previous list and says why.
PORT=7701
refused "before reload, whoami is not listed" "not in the whitelist" $R /usr/bin/whoami
rexec_whitelist "/usr/bin/true noargs" /usr/bin/whoami
kill -HUP "$(pgrep -f -- "--whitelist $RX/whitelist" | head -1)"
wait_for 5 on_dpu $R /usr/bin/whoami
tap_expect_eq "after SIGHUP the new whitelist applies" 0 $?
chmod 0666 "$RX/whitelist"
kill -HUP "$(pgrep -f -- "--whitelist $RX/whitelist" | head -1)"
sleep 0.3
on_dpu $R /usr/bin/whoami >/dev/null
rc=$?
if [ $rc -eq 0 ] && grep -q "keeping the previous whitelist" "$RX/srv.log"; then
	tap_ok "a bad reload keeps the previous whitelist and logs why"
else
	tap_fail "a bad reload keeps the previous whitelist and logs why" "rc=$rc $(tail -2 "$RX/srv.log")"
fi
tap_done
