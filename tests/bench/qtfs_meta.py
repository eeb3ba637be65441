#!/usr/bin/env python3
"""Metadata rates for the qtfs bench: create, stat, unlink N files in DIR; prints ops/s."""
import os
import sys
import time

d, n = sys.argv[1], int(sys.argv[2])
os.makedirs(d, exist_ok=True)
names = [os.path.join(d, "f%05d" % i) for i in range(n)]
t = time.monotonic()
for p in names:
    os.close(os.open(p, os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o644))
create = n / (time.monotonic() - t)
# stat after the attribute cache has expired would measure the same as a cold stat;
# the first stat after create is what tools like make do
t = time.monotonic()
for p in names:
    os.stat(p)
stat = n / (time.monotonic() - t)
t = time.monotonic()
for p in names:
    os.unlink(p)
unlink = n / (time.monotonic() - t)
print("%.0f %.0f %.0f" % (create, stat, unlink))
