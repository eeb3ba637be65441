#!/usr/bin/env python3
"""The host end of the virtio-net test: a raw AF_PACKET socket on the tap.

net_peer.py IFNAME GUEST_MAC COUNT TIMEOUT
Waits for the guest's "SVNET guest->host" frame (ethertype 0x88b5), then writes COUNT
frames "SVNET seq NNNNNN" to the tap back to back, then waits for the guest's
"SVNET echo first" frame. Prints one result line per step; exits 0 when all were seen.
"""
import socket
import sys
import time

ETH_P_ALL = 0x0003
ETHERTYPE = 0x88B5


def main():
    ifname, guest_mac, count, timeout = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    mac = bytes(int(x, 16) for x in guest_mac.split(":"))
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.bind((ifname, 0))
    host_mac = s.getsockname()[4][:6]
    s.settimeout(0.5)
    deadline = time.time() + timeout
    seen_hello = seen_echo = False
    while time.time() < deadline and not (seen_hello and seen_echo):
        try:
            frame, addr = s.recvfrom(65536)
        except socket.timeout:
            continue
        if addr[2] == socket.PACKET_OUTGOING or len(frame) < 14:
            continue
        if int.from_bytes(frame[12:14], "big") != ETHERTYPE:
            continue
        payload = frame[14:].rstrip(b"\0")
        if payload.startswith(b"SVNET guest->host") and not seen_hello:
            seen_hello = True
            print("peer: got guest frame src=%s" % frame[6:12].hex(":"), flush=True)
            for i in range(count):
                body = b"SVNET seq %06d" % i
                s.send(mac + host_mac + ETHERTYPE.to_bytes(2, "big") + body.ljust(46, b"\0"))
            print("peer: sent %d frames" % count, flush=True)
        elif payload.startswith(b"SVNET echo first"):
            seen_echo = True
            print("peer: got guest echo", flush=True)
    return 0 if seen_hello and seen_echo else 1


if __name__ == "__main__":
    sys.exit(main())
