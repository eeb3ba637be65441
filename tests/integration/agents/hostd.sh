#!/usr/bin/env bash
# splitvirt-hostd's configuration checks and its rexec allowlist management.
source "$(dirname "$0")/../../lib/tap.sh"
source "$SV_ROOT/tests/lib/lab.sh"

H=$SV_BIN/splitvirt-hostd
[ -x "$H" ] || { tap_skip hostd "not built"; tap_done; exit 0; }
tmp=$(mktemp -d /tmp/sv-hostd.XXXXXX)
at_cleanup "rm -rf '$tmp'"

cat >"$tmp/ok.conf" <<CONF
[hostd]
run_dir = $tmp/run
image_dirs = $tmp/img
[rexec]
whitelist = $tmp/whitelist
splitvm = /bin/true
netctl = /bin/false
[child.sleeper]
exec = /bin/sleep 30
CONF
out=$("$H" -f "$tmp/ok.conf" --check 2>&1)
tap_expect_eq "--check accepts a good file" "$tmp/ok.conf: OK (1 children)" "$out"
printf '[hostd]\nrun_dir = /x\nrundir = /y\n' >"$tmp/bad1.conf"
out=$("$H" -f "$tmp/bad1.conf" --check 2>&1)
tap_expect_eq "--check names an unknown key and its line" "splitvirt-hostd: $tmp/bad1.conf:3: [hostd] rundir: unknown key" "$out"
printf '[child.x]\nexec = /nonexistent/qtfsd -l tcp:1.2.3.4:5\n' >"$tmp/bad2.conf"
out=$("$H" -f "$tmp/bad2.conf" --check 2>&1)
rc=$?
tap_check "--check names a child program that is missing" sh -c "[ $rc -eq 1 ] && echo '$out' | grep -q '/nonexistent/qtfsd'"
out=$("$H" -f "$tmp/none.conf" --check 2>&1)
tap_check "a missing config file is an error naming it" sh -c "echo '$out' | grep -q '$tmp/none.conf'"

printf '/usr/bin/true\n# the admin wrote this\n' >"$tmp/whitelist"
"$H" -f "$tmp/ok.conf" -D "$tmp/hostd.log" &
hp=$!
at_cleanup "kill $hp 2>/dev/null"
wait_for 5 grep -q "ready" "$tmp/hostd.log"
tap_check "the run and image directories are created" test -d "$tmp/run" -a -d "$tmp/img"
tap_check "the allowlist keeps the admin's lines" grep -qx "/usr/bin/true" "$tmp/whitelist"
tap_check "the allowlist pins splitvm by SHA-256" grep -q "^/bin/true sha256=$(sha256sum /bin/true | cut -d' ' -f1)\$" "$tmp/whitelist"
tap_check "and netctl to its verbs" grep -q "^/bin/false sha256=[0-9a-f]\{64\} args=add args=del" "$tmp/whitelist"
tap_expect_eq "the allowlist is mode 0400" "400" "$(stat -c %a "$tmp/whitelist")"
old=$(pgrep -P $hp sleep)
kill -9 "$old"
if wait_for 5 sh -c "n=\$(pgrep -P $hp sleep); [ -n \"\$n\" ] && [ \"\$n\" != $old ]"; then tap_ok "a killed child is restarted"; else tap_fail "a killed child is restarted" "$(cat "$tmp/hostd.log")"; fi
tap_check "with the reason logged" grep -q "sleeper: pid $old killed by signal 9" "$tmp/hostd.log"
kill -TERM $hp
wait $hp
tap_expect_eq "SIGTERM stops hostd cleanly" "0" "$?"
tap_check "and its children" sh -c "! pgrep -f '^/bin/sleep 30$' -P $hp"

# splitvirt-dpud --check, the DPU side's equivalent.
D=$SV_BIN/splitvirt-dpud
printf '[host]\nexec = local\nsocket = local\n[child.u]\nexec = /bin/sleep 1\n' >"$tmp/dpu-ok.conf"
tap_expect_eq "dpud --check accepts a good file" "$tmp/dpu-ok.conf: OK (1 children)" "$("$D" -f "$tmp/dpu-ok.conf" --check 2>&1)"
printf '[host]\nexec = ssh\n' >"$tmp/dpu-bad.conf"
tap_expect_eq "dpud --check names a bad value" "splitvirt-dpud: $tmp/dpu-bad.conf: [host] exec: 'ssh' is not rexec or local" "$("$D" -f "$tmp/dpu-bad.conf" --check 2>&1)"
printf '[host]\nrexec = /nonexistent/rexec\n' >"$tmp/dpu-bad2.conf"
out=$("$D" -f "$tmp/dpu-bad2.conf" --check 2>&1)
tap_check "dpud --check names a missing program" sh -c 'echo "$1" | grep -q "/nonexistent/rexec"' _ "$out"
tap_done
