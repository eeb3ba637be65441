#!/usr/bin/env python3
"""Host end of the virtio-net TSO test: a packet socket with PACKET_VNET_HDR on the tap.

tso_peer.py IFNAME GUEST_MAC TIMEOUT
1. Waits for the guest's TCP segment to port 9998 and checks the host got it as ONE GSO
   packet: virtio_net_hdr gso_type TCPV4, gso_size 1000, NEEDS_CSUM, 14+40+3000 bytes.
2. Sends the guest one GSO TCPv4 frame (gso_size 1400, 4000 bytes of payload 'A'..'Z').
Prints a line per step; exits 0 when step 1 matched.
"""
import socket
import struct
import sys
import time

PACKET_VNET_HDR = 15
SOL_PACKET = 263


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def main():
    ifname, guest_mac, timeout = sys.argv[1], sys.argv[2], float(sys.argv[3])
    gmac = bytes(int(x, 16) for x in guest_mac.split(":"))
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
    s.setsockopt(SOL_PACKET, PACKET_VNET_HDR, 1)
    s.bind((ifname, 0))
    hmac = s.getsockname()[4][:6]
    s.settimeout(0.2)
    print("peer: ready", flush=True)
    deadline = time.time() + timeout
    ok = False
    while time.time() < deadline:
        try:
            pkt, addr = s.recvfrom(70000)
        except socket.timeout:
            continue
        if addr[2] == socket.PACKET_OUTGOING or len(pkt) < 10 + 54:
            continue
        flags, gso_type, hdr_len, gso_size, cstart, coff = struct.unpack_from("<BBHHHH", pkt)
        f = pkt[10:]
        if f[12:14] != b"\x08\x00" or f[23] != 6 or f[36:38] != b"\x27\x0e":
            continue
        print("peer: guest segment flags=%d gso_type=%d gso_size=%d len=%d" %
              (flags, gso_type, gso_size, len(f)), flush=True)
        ok = gso_type == 1 and gso_size == 1000 and (flags & 1) and len(f) == 14 + 40 + 3000
        break
    # One GSO frame to the guest.
    payload = bytes(ord("A") + i % 26 for i in range(4000))
    ip = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40 + len(payload), 1, 0x4000, 64, 6, 0,
                               bytes([10, 99, 0, 1]), bytes([10, 99, 0, 2])))
    ip[10:12] = struct.pack("!H", 0xFFFF - csum(bytes(ip)))
    pseudo = csum(bytes(ip[12:20]) + struct.pack("!BBH", 0, 6, 20 + len(payload)))
    tcp = struct.pack("!HHIIBBHHH", 9998, 7777, 1, 1, 5 << 4, 0x18, 65535, pseudo, 0)
    frame = gmac + hmac + b"\x08\x00" + bytes(ip) + tcp + payload
    vh = struct.pack("<BBHHHH", 1, 1, 54, 1400, 34, 16)
    s.send(vh + frame)
    print("peer: sent a %d-byte GSO frame" % len(frame), flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
