#!/usr/bin/env bash
# Hostile peers: garbage, malformed requests, oversized frames and data beyond the flow-control
# credit each close only that connection, with a logged reason; the server keeps serving.
source "$(dirname "$0")/common.bash"

rexec_setup
rexec_whitelist /usr/bin/sh /usr/bin/cat /usr/bin/sleep
rexec_server_start srv "tcp:$HOST_ADDR:$PORT" --test-mode --whitelist "$RX/whitelist" ||
	{ tap_fail "server starts"; tap_done; exit 1; }

# A raw client speaking the wire format by hand (frame: magic, version, type, stream,
# request, length; HELLO: str proto, u16 version, u8 role, u32 max payload).
cat >"$RX/peer.py" <<'PY'
import socket, struct, sys, time
host, port, case = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def frame(t, payload=b"", length=None):
    return struct.pack(">HBBIII", 0x5356, 1, t, 0, 0,
                       len(payload) if length is None else length) + payload
def bstr(b):
    return struct.pack(">I", len(b)) + b
def hello():
    return frame(1, bstr(b"rexec") + struct.pack(">HBI", 1, 1, 4 * 1024 * 1024))
def exec_payload(argv, window=4 << 20):
    p = struct.pack(">IHHII", 0, 24, 80, window, len(argv))
    for a in argv:
        p += bstr(a)
    return p + struct.pack(">I", 0) + bstr(b"")
s = socket.create_connection((host, port))
s.settimeout(5)
if case == "garbage":
    s.sendall(b"GET / HTTP/1.0\r\n\r\n" * 4)
elif case == "bad-exec":
    s.sendall(hello() + frame(16, b"\x00\x01\x02"))
elif case == "oversized":
    s.sendall(hello() + frame(16, b"", length=0x7fffffff))
elif case == "over-credit":
    s.sendall(hello() + frame(16, exec_payload([b"/usr/bin/sleep", b"30"])))
    time.sleep(0.3)
    chunk = b"x" * (256 * 1024)
    try:
        for i in range(40):  # 10 MiB against a 4 MiB window and no CREDIT from the server
            s.sendall(frame(17, chunk))
    except OSError:
        pass
got = b""
try:
    while True:
        d = s.recv(65536)
        if not d:
            break
        got += d
except OSError:
    pass
# Report the frame types received, in order.
types, off = [], 0
while off + 16 <= len(got):
    magic, ver, t, st, rq, ln = struct.unpack(">HBBIII", got[off:off + 16])
    types.append(t)
    off += 16 + ln
print(" ".join(str(t) for t in types) or "none")
PY

run_peer() { on_dpu timeout 10 /usr/bin/python3 "$RX/peer.py" "$HOST_ADDR" "$PORT" "$1"; }

out=$(run_peer garbage)
if grep -q "handshake" "$RX/srv.log"; then tap_ok "garbage instead of HELLO is logged and closed"
else tap_fail "garbage instead of HELLO is logged and closed" "$out $(tail -2 "$RX/srv.log")"; fi

out=$(run_peer bad-exec)
if [ "$(awk '{print $NF}' <<<"$out")" = 2 ] && grep -q "malformed EXEC" "$RX/srv.log"; then
	tap_ok "a malformed EXEC gets an ERROR frame and a log line"
else
	tap_fail "a malformed EXEC gets an ERROR frame and a log line" "$out $(tail -2 "$RX/srv.log")"
fi

out=$(run_peer oversized)
if grep -q "reading the request: frame larger than the maximum" "$RX/srv.log"; then
	tap_ok "an oversized frame closes the connection with a logged reason"
else
	tap_fail "an oversized frame closes the connection with a logged reason" "$out $(tail -2 "$RX/srv.log")"
fi

out=$(run_peer over-credit)
sleep 0.3
line=$(grep "'/usr/bin/sleep' '30' pid=[0-9]*: link failed" "$RX/srv.log")
kpid=$(sed -n 's/.* pid=\([0-9]*\): link failed.*/\1/p' <<<"$line")
if grep -q "beyond its credit" "$RX/srv.log" && [ -n "$kpid" ] &&
	[ "$(cat /proc/$kpid/comm 2>/dev/null)" != sleep ]; then
	tap_ok "stdin beyond the credit ends the session and kills its program"
else
	tap_fail "stdin beyond the credit ends the session and kills its program" "$out $(tail -3 "$RX/srv.log")"
fi

on_dpu $R /usr/bin/sh -c 'exit 4'
tap_expect_eq "the server keeps serving after all of that" 4 $?
tap_done
