#!/usr/bin/env python3
"""Keeps host data flowing towards a guest whose receive rings are malformed.

rx_feeder.py tap IFNAME SECONDS      broadcast frames on the tap
rx_feeder.py unix PATH SECONDS       bytes on a unix-socket chardev (reconnecting)
rx_feeder.py vsock PATH SECONDS      "CONNECT 1234" on a vsock device socket, over and over
Errors (a refused or reset socket) are expected and ignored.
"""
import socket
import sys
import time


def main():
    kind, target, secs = sys.argv[1], sys.argv[2], float(sys.argv[3])
    end = time.time() + secs
    s = None
    while time.time() < end:
        try:
            if kind == "tap":
                if s is None:
                    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
                    s.bind((target, 0))
                s.send(b"\xff" * 6 + b"\x02\x00\x00\x00\x00\x01" + b"\x88\xb5" + b"rx-feed".ljust(46, b"\0"))
            elif kind == "unix":
                if s is None:
                    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                    s.connect(target)
                s.send(b"feed")
            else:
                c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                c.settimeout(0.2)
                c.connect(target)
                c.send(b"CONNECT 1234\n")
                try:
                    c.recv(16)
                except OSError:
                    pass
                c.close()
        except OSError:
            if s is not None:
                s.close()
            s = None
        time.sleep(0.03)
    return 0


if __name__ == "__main__":
    sys.exit(main())
