#!/usr/bin/env python3
"""The lab's delay relay: this kernel has no netem qdisc, so delay is added in user space.

Creates two TAP devices (the two ends of a link, moved into the lab's namespaces by
netlab.sh) and copies every Ethernet frame from one to the other after a delay, in order.
The delay (and an optional jitter) is read from a control file whenever it changes:

    echo "150 20" > /run/convene-lab1.delay     # 150 ms each way, +-20 ms jitter

Frames queue in memory (at most MAX_QUEUED per direction; more are dropped, like a full
router queue). Runs until killed; the devices vanish with it.

    netlab_delay.py <tap-a> <tap-b> <control-file> <ready-file>
"""

import collections
import fcntl
import os
import random
import select
import struct
import sys
import time

TUNSETIFF = 0x400454CA
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000
MAX_QUEUED = 4096
CONTROL_POLL_S = 0.2


def open_tap(name):
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TAP | IFF_NO_PI))
    return fd


def read_control(path):
    """(delay_s, jitter_s) from the control file; no delay when it is missing or malformed."""
    try:
        with open(path, encoding="ascii") as control:
            fields = control.read().split()
        delay_ms = float(fields[0]) if fields else 0.0
        jitter_ms = float(fields[1]) if len(fields) > 1 else 0.0
        return max(delay_ms, 0.0) / 1000.0, max(jitter_ms, 0.0) / 1000.0
    except (OSError, ValueError):
        return 0.0, 0.0


def main():
    tap_a, tap_b, control_path, ready_path = sys.argv[1:5]
    fds = {open_tap(tap_a): None, open_tap(tap_b): None}
    a, b = list(fds)
    peer = {a: b, b: a}
    # Per direction (keyed by the device written to): (due time, frame), due times ascending.
    queues = {a: collections.deque(), b: collections.deque()}
    delay, jitter = read_control(control_path)
    control_mtime = None
    next_control_check = 0.0
    with open(ready_path, "w", encoding="ascii") as ready:
        ready.write(str(os.getpid()))
    while True:
        now = time.monotonic()
        if now >= next_control_check:
            next_control_check = now + CONTROL_POLL_S
            try:
                mtime = os.stat(control_path).st_mtime_ns
            except OSError:
                mtime = None
            if mtime != control_mtime:
                control_mtime = mtime
                delay, jitter = read_control(control_path)
        for out, queue in queues.items():
            while queue and queue[0][0] <= now:
                _, frame = queue.popleft()
                try:
                    os.write(out, frame)
                except OSError:
                    pass  # device down or its queue full: the frame is lost, as on a wire
        due = [queue[0][0] for queue in queues.values() if queue]
        wait = min([next_control_check] + due) - time.monotonic()
        readable, _, _ = select.select([a, b], [], [], max(wait, 0.0))
        now = time.monotonic()
        for source in readable:
            while True:
                try:
                    frame = os.read(source, 65536)
                except (BlockingIOError, OSError):
                    break
                queue = queues[peer[source]]
                if len(queue) >= MAX_QUEUED:
                    continue
                when = now + delay + (random.uniform(-jitter, jitter) if jitter else 0.0)
                # Frames leave in the order they came, even when the delay shrinks.
                if queue and when < queue[-1][0]:
                    when = queue[-1][0]
                queue.append((when, frame))


if __name__ == "__main__":
    main()
