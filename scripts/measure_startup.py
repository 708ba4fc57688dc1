#!/usr/bin/python3
"""Start-up time of the Convene window, measured on an X display (run under xvfb-run).

For each run: starts the app, waits for its top-level window to be mapped (X MapNotify:
"window shown"), then for the join screen to be drawn in it (the window's picture stops
being one flat colour: "content shown"), then ends the app with SIGTERM (its normal,
bounded shutdown). Prints each run and the medians as JSON on the last line.

    xvfb-run -a -s "-screen 0 1280x800x24" /usr/bin/python3 scripts/measure_startup.py /usr/bin/convene 7

(/usr/bin/python3: Debian's python3-xlib is installed for the system Python.)
"""

import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time

from Xlib import X, display

NAME = "Convene"
LIMIT_S = 30.0


def window_named(disp, window, name):
    """`window` or a descendant whose WM_NAME is `name` (GTK maps a frame-less toplevel)."""
    try:
        if window.get_wm_name() == name:
            return window
        for child in window.query_tree().children:
            found = window_named(disp, child, name)
            if found:
                return found
    except Exception:  # the window went away while we looked
        return None
    return None


def is_drawn(window):
    """True once the window's picture holds more than one colour (text, buttons)."""
    try:
        geometry = window.get_geometry()
        width, height = min(geometry.width, 400), min(geometry.height, 300)
        image = window.get_image(0, 0, width, height, X.ZPixmap, 0xFFFFFFFF)
    except Exception:
        return False
    data = image.data
    return len(set(data[i : i + 4] for i in range(0, len(data), 4 * 97))) > 2


def one_run(binary, env):
    disp = display.Display()
    root = disp.screen().root
    root.change_attributes(event_mask=X.SubstructureNotifyMask)
    disp.sync()
    started = time.monotonic()
    app = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    shown = drawn = None
    window = None
    try:
        while time.monotonic() - started < LIMIT_S and shown is None:
            while disp.pending_events():
                event = disp.next_event()
                if event.type == X.MapNotify and window is None:
                    window = window_named(disp, event.window, NAME)
                    if window is not None:
                        shown = time.monotonic() - started
            if shown is None:
                time.sleep(0.002)
        while window is not None and time.monotonic() - started < LIMIT_S:
            if is_drawn(window):
                drawn = time.monotonic() - started
                break
            time.sleep(0.01)
    finally:
        app.send_signal(signal.SIGTERM)
        try:
            app.wait(timeout=10)
        except subprocess.TimeoutExpired:
            app.kill()
        disp.close()
    if shown is None or drawn is None:
        raise SystemExit(f"the window did not appear within {LIMIT_S} s")
    return shown, drawn


def main():
    binary = sys.argv[1]
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    env = dict(os.environ)
    config = tempfile.mkdtemp(prefix="convene-startup-")
    env.setdefault("CONVENE_CONFIG_DIR", config)
    env.setdefault("CONVENE_LOG_DIR", config)
    results = []
    for n in range(runs):
        shown, drawn = one_run(binary, env)
        results.append((shown, drawn))
        print(f"run {n + 1}: window shown {shown * 1000:.0f} ms, join screen drawn {drawn * 1000:.0f} ms")
    summary = {
        "binary": binary,
        "runs": runs,
        "window_shown_ms_median": round(statistics.median(r[0] for r in results) * 1000),
        "join_screen_drawn_ms_median": round(statistics.median(r[1] for r in results) * 1000),
        "join_screen_drawn_ms_max": round(max(r[1] for r in results) * 1000),
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
