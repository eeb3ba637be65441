#!/usr/bin/env python3
"""The host end of the vsock-over-unix-sockets test (Firecracker's model).

vsock_peer.py UDS_PATH GUEST_PORT HOST_PORT TIMEOUT
  guest -> host: accepts on UDS_PATH_HOST_PORT (created before the VM starts; the script
                 prints "listening" once it is), expects "hello-from-guest", answers
                 "reply-from-host", waits for the guest to close.
  host -> guest: connects to UDS_PATH, sends "CONNECT GUEST_PORT\\n", expects "OK <port>\\n",
                 sends BYTES bytes, expects them back prefixed "echo:", closes.
Prints a line per step; exits 0 when both directions worked.
"""
import os
import socket
import sys
import threading
import time


def recv_until(s, want, timeout):
    s.settimeout(timeout)
    buf = b""
    while len(buf) < want:
        chunk = s.recv(4096)
        if not chunk:
            break
        buf += chunk
    return buf


def main():
    uds, gport, hport, timeout = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    ok = {"g2h": False, "h2g": False}
    lpath = "%s_%d" % (uds, hport)
    try:
        os.unlink(lpath)
    except FileNotFoundError:
        pass
    ls = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    ls.bind(lpath)
    ls.listen(1)
    print("peer: listening", flush=True)

    def guest_to_host():
        ls.settimeout(timeout)
        c, _ = ls.accept()
        got = recv_until(c, 16, timeout)
        print("peer: guest sent %r" % got, flush=True)
        if got == b"hello-from-guest":
            c.sendall(b"reply-from-host")
            c.settimeout(timeout)
            rest = c.recv(100)  # b"" once the guest shuts the connection down
            ok["g2h"] = rest == b""
            print("peer: guest closed" if rest == b"" else "peer: extra %r" % rest, flush=True)
        c.close()

    t = threading.Thread(target=guest_to_host)
    t.start()
    deadline = time.time() + timeout
    while not os.path.exists(uds) and time.time() < deadline:
        time.sleep(0.05)
    hs = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    # The guest may still be setting up its driver: retry the handshake until it accepts.
    line = b""
    while time.time() < deadline:
        try:
            hs = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            hs.connect(uds)
            hs.sendall(b"CONNECT %d\n" % gport)
            hs.settimeout(5)
            line = b""
            while not line.endswith(b"\n"):
                ch = hs.recv(1)
                if not ch:
                    break
                line += ch
            if line.startswith(b"OK "):
                break
        except OSError:
            pass
        hs.close()
        time.sleep(0.2)
    print("peer: handshake %r" % line, flush=True)
    if line.startswith(b"OK "):
        msg = b"ping-from-host"
        hs.sendall(msg)
        got = recv_until(hs, 5 + len(msg), timeout)
        print("peer: guest echoed %r" % got, flush=True)
        ok["h2g"] = got == b"echo:" + msg
        hs.close()
    t.join(timeout)
    ls.close()
    os.unlink(lpath)
    return 0 if ok["g2h"] and ok["h2g"] else 1


if __name__ == "__main__":
    sys.exit(main())
