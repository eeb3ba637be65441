#!/usr/bin/env python3
"""Host end of the virtio-net multiqueue/offload test, run inside the test's netns.

netx_peer.py IFNAME FLOWS TIMEOUT
The tap has 10.99.0.1/24 and a permanent neighbour entry for the guest (10.99.0.2).
1. Waits for the guest's UDP datagram to 10.99.0.1:9999 ("SVNET csum") on a UDP socket,
   and for the same frame on a packet socket with PACKET_AUXDATA: its status must say the
   checksum was left to the host (TP_STATUS_CSUMNOTREADY), i.e. the guest's NEEDS_CSUM
   vnet header reached the tap.
2. Sends FLOWS datagrams to 10.99.0.2:7777, each from its own source port (flows spread
   over the tap's queues).
"""
import socket
import struct
import sys
import time

SOL_PACKET = 263
PACKET_AUXDATA = 8
TP_STATUS_CSUMNOTREADY = 1 << 3


def main():
    ifname, flows, timeout = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    us = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    us.bind(("10.99.0.1", 9999))
    ps = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
    ps.bind((ifname, 0))
    ps.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
    ps.settimeout(0.2)
    us.settimeout(0.2)
    print("peer: ready", flush=True)
    deadline = time.time() + timeout
    got_udp = csum_partial = None
    while time.time() < deadline and (got_udp is None or csum_partial is None):
        try:
            data, ancdata, _, addr = ps.recvmsg(65536, socket.CMSG_SPACE(64))
            # Ethernet + IPv4 + UDP to port 9999 (0x270f).
            if len(data) >= 14 + 28 + 10 and data[14 + 9] == 17 and data[36:38] == b"\x27\x0f":
                for level, typ, cdata in ancdata:
                    if level == SOL_PACKET and typ == PACKET_AUXDATA:
                        status = struct.unpack_from("I", cdata)[0]
                        csum_partial = bool(status & TP_STATUS_CSUMNOTREADY)
        except socket.timeout:
            pass
        try:
            data, src = us.recvfrom(2048)
            got_udp = (data, src)
        except socket.timeout:
            pass
    print("peer: udp %r" % (got_udp,), flush=True)
    print("peer: csum_partial=%s" % csum_partial, flush=True)
    for i in range(flows):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("10.99.0.1", 20000 + i))
        s.sendto(b"SVNET flow %d" % i, ("10.99.0.2", 7777))
        s.close()
    print("peer: sent %d flows" % flows, flush=True)
    ok = got_udp is not None and got_udp[0] == b"SVNET csum" and got_udp[1] == ("10.99.0.2", 7777)
    return 0 if ok and csum_partial else 1


if __name__ == "__main__":
    sys.exit(main())
