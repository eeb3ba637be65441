#!/usr/bin/env python3
"""Test peers for the udsproxy integration tests: echo servers and clients that check what
came back. Every client prints one result line and exits 0 only when the check held.

  udsp_helper.py serve PATH [stream|seqpacket|dgram]   echo server (also answers fd tests)
  udsp_helper.py errno PATH [stream|seqpacket|dgram]    prints OK or the errno name of connect
  udsp_helper.py echo PATH TYPE                         one request/reply, boundaries kept
  udsp_helper.py bigmsg PATH TYPE                       256 KiB messages echo; longer: EMSGSIZE
  udsp_helper.py dgram PATH                             unconnected sendto + reply to own name
  udsp_helper.py many PATH N                            N concurrent connections each echo
  udsp_helper.py stall PATH                             a stalled reader must not stop others
  udsp_helper.py pipe-to-host PATH | pipe-from-host PATH  fd passing of pipe ends
  udsp_helper.py pass-file PATH FILE                    passes FILE; prints OK or errno name
  udsp_helper.py hold PATH                              connects, streams, reports how it ended
  udsp_helper.py stall-ctl CTLPATH                      stalled control clients must be closed
  udsp_helper.py fuse-mount DIR                         mounts a minimal FUSE fs on DIR, serves
"""
import errno
import os
import selectors
import socket
import sys
import time

TYPES = {"stream": socket.SOCK_STREAM, "seqpacket": socket.SOCK_SEQPACKET,
         "dgram": socket.SOCK_DGRAM}


def ename(e):
    return errno.errorcode.get(e, str(e))


def sockname(path):
    """'@name' is an abstract address."""
    return "\0" + path[1:] if path.startswith("@") else path


def serve(path, kind="stream"):
    t = TYPES[kind]
    path = sockname(path)
    if not path.startswith("\0"):
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
    s = socket.socket(socket.AF_UNIX, t)
    s.bind(path)
    if t == socket.SOCK_DGRAM:
        # Room to echo messages up to 1 MiB whole (the kernel refuses longer than sndbuf).
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
        while True:
            data, addr = s.recvfrom(1 << 20)
            if addr:
                s.sendto(data, addr)
    s.listen(4096)
    s.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(s, selectors.EVENT_READ)
    pending = {}
    while True:
        for key, ev in sel.select():
            c = key.fileobj
            if c is s:
                try:
                    while True:
                        n, _ = s.accept()
                        n.setblocking(False)
                        if t == socket.SOCK_SEQPACKET:
                            n.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
                        pending[n] = b""
                        sel.register(n, selectors.EVENT_READ)
                except BlockingIOError:
                    pass
                continue
            try:
                if ev & selectors.EVENT_WRITE and pending[c]:
                    k = c.send(pending[c])
                    pending[c] = pending[c][k:]
                if ev & selectors.EVENT_READ:
                    data, fds, _, _ = socket.recv_fds(c, 1 << 20, 16)
                    if fds:
                        handle_fds(c, data, fds)
                        continue
                    if not data:
                        if not pending[c]:
                            close(sel, pending, c)
                        else:
                            sel.modify(c, selectors.EVENT_WRITE)
                        continue
                    if t == socket.SOCK_SEQPACKET:
                        c.setblocking(True)
                        c.send(data)
                        c.setblocking(False)
                        continue
                    pending[c] += data
                if pending.get(c):
                    k = c.send(pending[c])
                    pending[c] = pending[c][k:]
                if c in pending:
                    want = selectors.EVENT_READ | (selectors.EVENT_WRITE if pending[c] else 0)
                    if len(pending[c]) > 4 << 20:
                        want = selectors.EVENT_WRITE
                    sel.modify(c, want)
            except BlockingIOError:
                pass
            except OSError:
                close(sel, pending, c)


def close(sel, pending, c):
    sel.unregister(c)
    pending.pop(c, None)
    c.close()


def handle_fds(c, data, fds):
    """fd tests: 'W' a pipe write end to fill; 'R' send us a pipe write end and report;
    'F' a file to read back."""
    c.setblocking(True)
    if data == b"W":
        os.write(fds[0], b"written-on-host\n")
        os.close(fds[0])
        c.send(b"done")
    elif data == b"R":
        os.close(fds[0])
        r, w = os.pipe()
        socket.send_fds(c, [b"P"], [w])
        os.close(w)
        got = b""
        while True:
            b = os.read(r, 4096)
            if not b:
                break
            got += b
        os.close(r)
        c.send(b"host-read:" + got)
    elif data == b"S":
        peer = socket.socket(fileno=fds[0])
        peer.sendall(b"sock-on-host\n")
        peer.close()
        c.send(b"done")
    elif data == b"F":
        os.lseek(fds[0], 0, os.SEEK_SET)
        c.send(b"file:" + os.read(fds[0], 100))
        os.close(fds[0])
    c.setblocking(False)


def connect(path, kind="stream"):
    s = socket.socket(socket.AF_UNIX, TYPES[kind])
    s.settimeout(20)
    s.connect(sockname(path))
    return s


def cmd_errno(path, kind="stream"):
    try:
        connect(path, kind).close()
        print("OK")
    except OSError as e:
        print(ename(e.errno))
    return 0


def cmd_echo(path, kind):
    s = connect(path, kind)
    if kind == "stream":
        s.sendall(b"ping\n")
        print(s.recv(100).decode().strip())
        return 0
    sizes = [1, 100, 7000, 60000, 3]
    for n in sizes:
        s.send(bytes([n % 251]) * n)
    got = [len(s.recv(70000)) for _ in sizes]
    print("boundaries " + ("kept" if got == sizes else "lost %s" % got))
    return 0 if got == sizes else 1


def cmd_bigmsg(path, kind):
    """Messages up to 256 KiB (the link's limit) echo whole; a longer one fails at the
    sender's own send() with EMSGSIZE, and the socket still works afterwards."""
    s = connect(path, kind)
    out = []
    for n in (200 << 10, 256 << 10):
        s.send(bytes([n % 251]) * n)
        got = s.recv(1 << 20)
        out.append("%d %s" % (n, "echoed" if got == bytes([n % 251]) * n else "lost %d" % len(got)))
    try:
        s.send(b"x" * ((256 << 10) + 1))
        out.append("longer sent")
    except OSError as e:
        out.append("longer " + ename(e.errno))
    s.send(b"after")
    out.append("then " + s.recv(100).decode())
    print(", ".join(out))
    return 0


def cmd_dgram(path):
    me = "/run/udsp-dgram-client-%d.sock" % os.getpid()
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(me)
    s.settimeout(10)
    try:
        ok = True
        for i in range(5):
            msg = b"request-%d" % i
            s.sendto(msg, path)
            data = s.recv(1000)
            ok = ok and data == msg
        print("dgram reply " + ("ok" if ok else "wrong"))
        return 0 if ok else 1
    finally:
        os.unlink(me)


def cmd_many(path, n):
    n = int(n)
    socks = []
    for i in range(n):
        socks.append(connect(path))
    for i, s in enumerate(socks):
        s.sendall(b"conn-%06d|" % i * 20)
    bad = 0
    for i, s in enumerate(socks):
        want = b"conn-%06d|" % i * 20
        got = b""
        while len(got) < len(want):
            b = s.recv(len(want) - len(got))
            if not b:
                break
            got += b
        bad += got != want
        s.close()
    print("%d of %d echoed correctly" % (n - bad, n))
    return 0 if bad == 0 else 1


def cmd_threads(path, nthreads, each):
    """Many threads connecting, echoing and closing at once through the shim."""
    import threading
    bad = []

    def worker(k):
        for i in range(int(each)):
            try:
                s = connect(path)
                msg = b"t%d-%d|" % (k, i)
                s.sendall(msg)
                got = b""
                while len(got) < len(msg):
                    b = s.recv(100)
                    if not b:
                        break
                    got += b
                if got != msg:
                    bad.append((k, i))
                s.close()
            except OSError as e:
                bad.append((k, i, e.errno))

    ts = [threading.Thread(target=worker, args=(k,)) for k in range(int(nthreads))]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    total = int(nthreads) * int(each)
    print("%d of %d threaded connects echoed" % (total - len(bad), total))
    return 0 if not bad else 1


def cmd_stall(path):
    # A writes and never reads: its echo backs up through the proxy to A's stream window.
    a = connect(path)
    a.setblocking(False)
    sent = 0
    deadline = time.time() + 5
    while time.time() < deadline:
        try:
            sent += a.send(b"x" * 65536)
        except BlockingIOError:
            # Blocked: the chain is full. Check a few times that it stays full.
            time.sleep(0.2)
            try:
                sent += a.send(b"x" * 65536)
            except BlockingIOError:
                break
    b = connect(path)
    t0 = time.time()
    for i in range(200):
        b.sendall(b"p")
        if b.recv(1) != b"p":
            print("other stream broken")
            return 1
    dt = time.time() - t0
    print("stalled stream holds %d bytes; other stream did 200 round trips" % sent)
    a.close()
    b.close()
    return 0 if dt < 15 else 1


def cmd_pipe_to_host(path):
    s = connect(path)
    r, w = os.pipe()
    socket.send_fds(s, [b"W"], [w])
    os.close(w)
    got = b""
    while True:
        b = os.read(r, 4096)
        if not b:
            break
        got += b
    ack = s.recv(10)
    print("dpu read: " + got.decode().strip() + " " + ack.decode())
    return 0 if got == b"written-on-host\n" else 1


def cmd_pipe_from_host(path):
    s = connect(path)
    r0, w0 = os.pipe()
    socket.send_fds(s, [b"R"], [r0])
    os.close(r0)
    os.close(w0)
    data, fds, _, _ = socket.recv_fds(s, 10, 1)
    if not fds:
        print("no fd from host")
        return 1
    os.write(fds[0], b"written-on-dpu")
    os.close(fds[0])
    reply = s.recv(100).decode()
    print(reply)
    return 0 if reply == "host-read:written-on-dpu" else 1


def cmd_sock_to_host(path):
    s = connect(path)
    x, y = socket.socketpair()
    socket.send_fds(s, [b"S"], [x.fileno()])
    x.close()
    y.settimeout(10)
    got = b""
    while True:
        b = y.recv(100)
        if not b:
            break
        got += b
    ack = s.recv(10)
    print("dpu read: " + got.decode().strip() + " " + ack.decode())
    return 0


def cmd_pass_file(path, f):
    s = connect(path)
    fd = os.open(f, os.O_RDONLY)
    try:
        socket.send_fds(s, [b"F"], [fd])
    except OSError as e:
        print(ename(e.errno))
        return 0
    print(s.recv(200).decode())
    return 0


def cmd_nbconnect(path):
    """A non-blocking connect: prints what connect() said, then SO_ERROR once writable,
    then (if connected) whether an echo works."""
    import select
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.setblocking(False)
    try:
        s.connect(path)
        first = "0"
    except BlockingIOError as e:
        first = ename(e.errno)
    except OSError as e:
        print(ename(e.errno))
        return 0
    select.select([], [s], [], 10)
    err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
    out = "%s then %s" % (first, ename(err) if err else "OK")
    if not err:
        s.setblocking(True)
        s.settimeout(10)
        s.sendall(b"nb\n")
        out += " echo " + s.recv(10).decode().strip()
    print(out)
    return 0


def cmd_serve_full(path):
    """A listener whose backlog is full and that never accepts."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.listen(0)
    fillers = []
    while True:
        c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        c.setblocking(False)
        try:
            c.connect(path)
            fillers.append(c)
        except BlockingIOError:
            break
    time.sleep(3600)


def cmd_nbpending(path):
    """A non-blocking connect whose far side cannot answer yet: the socket must not be
    writable while it waits."""
    import select
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.setblocking(False)
    try:
        s.connect(path)
        print("connected at once")
        return 1
    except BlockingIOError as e:
        first = ename(e.errno)
    _, w, _ = select.select([], [s], [], 1.0)
    mid = "writable" if w else "not writable"
    mid_err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
    select.select([], [s], [], 10)
    err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
    print("%s, %s after 1 s (SO_ERROR %d), then %s" % (first, mid, mid_err,
                                                   ename(err) if err else "OK"))
    return 0


def cmd_hold(path):
    """Streams until the connection ends; prints how (EOF or the errno) and when."""
    s = connect(path)
    s.settimeout(30)
    print("connected", flush=True)
    try:
        while True:
            s.sendall(b"y" * 65536)
            if not s.recv(65536):
                print("ended EOF %.3f" % time.time(), flush=True)
                return 0
    except OSError as e:
        print("ended %s %.3f" % (ename(e.errno), time.time()), flush=True)
        return 0


def cmd_stall_ctl(path):
    """Two control clients that stall: one never sends, one stops inside a frame header.
    The daemon must close both (bounded wait); prints how they ended."""
    silent = socket.socket(socket.AF_UNIX)
    silent.connect(path)
    partial = socket.socket(socket.AF_UNIX)
    partial.connect(path)
    partial.send(b"\x00\x01\x02")
    print("stalling", flush=True)
    for s in (silent, partial):
        s.settimeout(20)
        try:
            if s.recv(1) != b"":
                print("the daemon sent data")
                return 1
        except socket.timeout:
            print("still open after 20 s")
            return 1
        except OSError as e:
            print("ended %s" % ename(e.errno))
            return 1
    print("both closed by the daemon")
    return 0


def cmd_fuse_mount(d):
    """A minimal FUSE file system (an empty root directory) straight on /dev/fuse: enough
    for stat() and statfs() on the mount point. Serves until killed or unmounted."""
    import ctypes
    import struct
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open("/dev/fuse", os.O_RDWR)
    opts = ("fd=%d,rootmode=40000,user_id=0,group_id=0" % fd).encode()
    if libc.mount(b"udsptest", d.encode(), b"fuse.udsptest", 0, opts) != 0:
        print("mount failed: " + os.strerror(ctypes.get_errno()), flush=True)
        return 1
    print("mounted", flush=True)
    attr = struct.pack("<QQQQQQIIIIIIIIII", 1, 0, 0, 0, 0, 0, 0, 0, 0, 0o40755, 2, 0, 0, 0,
                       4096, 0)
    while True:
        try:
            req = os.read(fd, 1 << 17)
        except OSError:
            return 0
        length, op, unique = struct.unpack_from("<IIQ", req)
        if op == 26:  # INIT
            body = struct.pack("<IIIIHHIIHHI28x", 7, 31, 0, 0, 16, 12, 4096, 1, 1, 0, 0)
        elif op == 3:  # GETATTR
            body = struct.pack("<QII", 1, 0, 0) + attr
        elif op == 17:  # STATFS
            body = struct.pack("<QQQQQIIII24x", 0, 0, 0, 0, 0, 4096, 255, 4096, 0)
        elif op == 38:  # DESTROY
            return 0
        else:
            os.write(fd, struct.pack("<IiQ", 16, -38, unique))  # ENOSYS
            continue
        os.write(fd, struct.pack("<IiQ", 16 + len(body), 0, unique) + body)


def main():
    a = sys.argv[1:]
    cmds = {"serve": serve, "errno": cmd_errno, "echo": cmd_echo, "dgram": cmd_dgram,
            "many": cmd_many, "threads": cmd_threads, "stall": cmd_stall, "pipe-to-host": cmd_pipe_to_host,
            "pipe-from-host": cmd_pipe_from_host, "pass-file": cmd_pass_file, "sock-to-host": cmd_sock_to_host,
            "hold": cmd_hold, "nbconnect": cmd_nbconnect,
            "serve-full": cmd_serve_full, "nbpending": cmd_nbpending, "fuse-mount": cmd_fuse_mount,
            "stall-ctl": cmd_stall_ctl, "bigmsg": cmd_bigmsg}
    if not a or a[0] not in cmds:
        print(__doc__)
        return 2
    return cmds[a[0]](*a[1:]) or 0


if __name__ == "__main__":
    sys.exit(main())
