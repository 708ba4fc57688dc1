#!/usr/bin/env python3
"""Closes the top-level X11 window of a process the way a window manager does: it sends
WM_DELETE_WINDOW (the close button), which Tauri turns into CloseRequested.

usage: close_window.py PID [TIMEOUT_SECONDS]
Waits (bounded) for a mapped window whose _NET_WM_PID is PID; exits 1 if none appears.
"""
import sys
import time

from Xlib import X, display
from Xlib.protocol import event


def find_window(disp, root, pid, pid_atom):
    stack = [root]
    while stack:
        window = stack.pop()
        try:
            prop = window.get_full_property(pid_atom, X.AnyPropertyType)
            if prop is not None and prop.value and prop.value[0] == pid:
                attrs = window.get_attributes()
                if attrs.map_state == X.IsViewable:
                    return window
            stack.extend(window.query_tree().children)
        except Exception:  # windows can vanish while we walk the tree
            continue
    return None


def main():
    pid = int(sys.argv[1])
    timeout = float(sys.argv[2]) if len(sys.argv) > 2 else 30.0
    disp = display.Display()
    root = disp.screen().root
    pid_atom = disp.intern_atom("_NET_WM_PID")
    protocols = disp.intern_atom("WM_PROTOCOLS")
    delete = disp.intern_atom("WM_DELETE_WINDOW")
    deadline = time.monotonic() + timeout
    window = None
    while window is None and time.monotonic() < deadline:
        window = find_window(disp, root, pid, pid_atom)
        if window is None:
            time.sleep(0.1)
    if window is None:
        print(f"no window for pid {pid}", file=sys.stderr)
        return 1
    message = event.ClientMessage(
        window=window, client_type=protocols, data=(32, [delete, X.CurrentTime, 0, 0, 0])
    )
    window.send_event(message, event_mask=X.NoEventMask)
    disp.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
