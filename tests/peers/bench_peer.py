#!/usr/bin/env python3
"""Benchmark peer on the official LiveKit Python SDK (`livekit` on PyPI).

Joins a room, watches the video of the participant FROM and prints JSON lines on stdout
(flushed one by one) for the benchmark harness:

  {"event":"ready"}                                   everything loaded, about to connect
  {"event":"connected","connect_ms":..,"at_ms":..}    connect() returned
  {"event":"first_frame","since_connect_start_ms":..,"at_ms":..}
  {"event":"latency","count":..,"median_ms":..,"p95_ms":..}   every 5 s and at the end
  {"event":"reconnecting"|"reconnected","at_ms":..}
  {"event":"disconnected","at_ms":..,"reason":..}     the room went away (then an error)
  {"event":"done"} (exit 0)  or  {"event":"error","message":..} (exit 1)

Latency is glass to glass: the publisher draws its capture time (low 40 bits of epoch
milliseconds) into every frame; see `Stamp` below for the layout.

With --publish it also publishes a 640x360@30 camera (precomputed I420 frames) and a 48 kHz
mono microphone (a precomputed 440 Hz tone), like the other person of a two-party call.
The run ends DURATION seconds after connecting, when stdin reaches its end, or on
SIGTERM/SIGINT.

usage: bench_peer.py --url URL --token TOKEN --from IDENTITY [--publish] [--duration S]
"""
import argparse
import asyncio
import json
import os
import re
import signal
import sys
import threading
import time

WIDTH, HEIGHT, FPS = 640, 360, 30
SAMPLE_RATE, TONE_HZ = 48000, 440
REPORT_EVERY_S = 5.0
MAX_LATENCY_MS = 10000.0

_secrets = []


def redact(text):
    text = str(text)
    for secret in _secrets:
        if secret:
            text = text.replace(secret, "<redacted>")
    text = re.sub(r"(access_token=|join_request=)[^&'\"\s]+", r"\1<redacted>", text)
    return re.sub(r"eyJ[\w-]+\.[\w-]+\.[\w-]+", "<redacted-jwt>", text)


def emit(event, **fields):
    sys.stdout.write(json.dumps({"event": event, **fields}, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def fail(message, code=1):
    emit("error", message=redact(message))
    os._exit(code)


def now_ms():
    return time.time() * 1000.0


class Args(argparse.ArgumentParser):
    def error(self, message):
        fail(f"bad arguments: {message}")


def parse_args():
    parser = Args(description="LiveKit Python SDK benchmark peer")
    parser.add_argument("--url", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--from", dest="source", required=True, help="identity of the publisher to watch")
    parser.add_argument("--publish", action="store_true", help="publish a camera and a microphone too")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds after connecting")
    return parser.parse_args()


# Everything is imported up front so that none of it lands in the connect time.
try:
    import numpy as np
    from livekit import rtc
except Exception as error:  # noqa: BLE001
    fail(f"import failed: {error}")


class Stamp:
    """Reads the frame counter and capture time drawn into the luma plane.

    The picture is cut in horizontal bands of `band` rows (max(H // 8, 8), even). Band 0
    holds a 24-bit counter, band 1 the capture time (low 40 bits of epoch ms). A row of
    `bits` bits has blocks of W // bits columns, most significant bit first; luma 235 is a
    1, luma 16 a 0. Each bit is the mean of the middle half of its block (both axes),
    compared with the midpoint.
    """

    THRESHOLD = (235 + 16) / 2

    def __init__(self, width, height):
        self.width, self.height = width, height
        self.band = max(height // 8, 8) // 2 * 2
        self.rows = [self._row(0, 24), self._row(self.band, 40)]

    def _row(self, top, bits):
        block = self.width // bits
        return (
            slice(top + self.band // 4, top + 3 * self.band // 4),
            bits,
            block,
            slice(block // 4, 3 * block // 4),
        )

    def _read(self, luma, row):
        ys, bits, block, xs = row
        cells = luma[ys, : bits * block].reshape(ys.stop - ys.start, bits, block)[:, :, xs]
        ones = cells.mean(axis=(0, 2)) > self.THRESHOLD
        return int.from_bytes(np.packbits(ones).tobytes(), "big") >> ((-bits) % 8)

    def captured_ms(self, luma):
        return self._read(luma, self.rows[1])


class Latency:
    def __init__(self):
        self.samples = []

    def add(self, captured_ms, now):
        wrap = float(1 << 40)
        latency = (now % wrap) - captured_ms
        if latency < -wrap / 2:
            latency += wrap
        elif latency > wrap / 2:
            latency -= wrap
        if 0.0 <= latency <= MAX_LATENCY_MS:
            self.samples.append(latency)

    def report(self):
        if not self.samples:
            emit("latency", count=0, median_ms=None, p95_ms=None)
            return
        median, p95 = np.percentile(np.asarray(self.samples), [50, 95])
        emit("latency", count=len(self.samples), median_ms=round(float(median), 2), p95_ms=round(float(p95), 2))


def camera_frames(count=FPS):
    """`count` I420 frames: a grey ramp with a bright bar sweeping across once a second."""
    y = np.tile(np.linspace(40, 200, WIDTH, dtype=np.uint8), (HEIGHT, 1))
    u = np.full((HEIGHT // 2, WIDTH // 2), 110, dtype=np.uint8)
    v = np.full((HEIGHT // 2, WIDTH // 2), 150, dtype=np.uint8)
    bar = WIDTH // 16
    frames = []
    for n in range(count):
        luma = y.copy()
        x = n * (WIDTH - bar) // max(count - 1, 1)
        luma[:, x : x + bar] = 235
        data = np.concatenate([luma.ravel(), u.ravel(), v.ravel()]).tobytes()
        frames.append(rtc.VideoFrame(WIDTH, HEIGHT, rtc.VideoBufferType.I420, data))
    return frames


def tone_frames():
    """One second of a 440 Hz tone (a whole number of periods) as 100 frames of 10 ms."""
    t = np.arange(SAMPLE_RATE) / SAMPLE_RATE
    pcm = (0.3 * 32767 * np.sin(2 * np.pi * TONE_HZ * t)).astype(np.int16)
    step = SAMPLE_RATE // 100
    return [
        rtc.AudioFrame(pcm[i : i + step].tobytes(), SAMPLE_RATE, 1, step)
        for i in range(0, SAMPLE_RATE, step)
    ]


async def feed_camera(source, frames):
    loop = asyncio.get_running_loop()
    period = 1.0 / FPS
    due = loop.time()
    n = 0
    while True:
        source.capture_frame(frames[n % len(frames)])
        n += 1
        due += period
        delay = due - loop.time()
        if delay < -period:  # fell behind (e.g. a stall): do not burst to catch up
            due = loop.time()
            delay = 0.0
        await asyncio.sleep(max(delay, 0.0))


async def feed_microphone(source, frames):
    n = 0
    while True:  # capture_frame waits while the source's queue is full: that paces it
        await source.capture_frame(frames[n % len(frames)])
        n += 1


def watch_stdin(loop, stop):
    def run():
        try:
            while os.read(0, 65536):
                pass
        except OSError:
            return  # no usable stdin: only the duration ends the run
        loop.call_soon_threadsafe(stop.set)

    threading.Thread(target=run, name="stdin-eof", daemon=True).start()


async def run(args):
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    stamp = Stamp(WIDTH, HEIGHT)
    latency = Latency()
    room = rtc.Room()
    state = {"t0": None, "first_frame": False, "leaving": False, "disconnect_reason": None, "reconnecting": False}
    watched = {}  # track sid -> task reading its frames
    tasks = []

    async def watch_video(track):
        stream = rtc.VideoStream(track, format=rtc.VideoBufferType.I420)
        try:
            async for event in stream:
                arrived_ms = now_ms()
                frame = event.frame
                if not state["first_frame"]:
                    state["first_frame"] = True
                    emit(
                        "first_frame",
                        since_connect_start_ms=round((time.perf_counter() - state["t0"]) * 1000.0, 3),
                        at_ms=round(arrived_ms, 3),
                    )
                if frame.width != WIDTH or frame.height != HEIGHT:
                    continue
                if frame.type != rtc.VideoBufferType.I420:
                    frame = frame.convert(rtc.VideoBufferType.I420)
                luma = np.frombuffer(frame.data, dtype=np.uint8, count=WIDTH * HEIGHT).reshape(HEIGHT, WIDTH)
                latency.add(stamp.captured_ms(luma), arrived_ms)
        finally:
            try:
                await asyncio.wait_for(stream.aclose(), timeout=1.0)
            except (asyncio.TimeoutError, asyncio.CancelledError):
                pass

    def maybe_watch(track, participant):
        if participant.identity != args.source or track.kind != rtc.TrackKind.KIND_VIDEO:
            return
        if track.sid in watched and not watched[track.sid].done():
            return
        task = asyncio.ensure_future(watch_video(track))
        task.add_done_callback(stop_on_failure)
        watched[track.sid] = task

    def stop_on_failure(task):
        if not task.cancelled() and task.exception() is not None:
            state.setdefault("failure", task.exception())
            stop.set()

    @room.on("track_subscribed")
    def on_track_subscribed(track, _publication, participant):
        maybe_watch(track, participant)

    @room.on("track_unsubscribed")
    def on_track_unsubscribed(track, _publication, _participant):
        task = watched.pop(track.sid, None)
        if task:
            task.cancel()

    @room.on("reconnecting")
    def on_reconnecting():
        if not state["reconnecting"]:  # one line per outage
            state["reconnecting"] = True
            emit("reconnecting", at_ms=round(now_ms(), 3))

    @room.on("reconnected")
    def on_reconnected():
        state["reconnecting"] = False
        emit("reconnected", at_ms=round(now_ms(), 3))

    @room.on("disconnected")
    def on_disconnected(reason):
        if state["leaving"]:
            return
        try:
            name = rtc.DisconnectReason.Name(reason)
        except Exception:  # noqa: BLE001
            name = str(reason)
        state["disconnect_reason"] = name
        emit("disconnected", at_ms=round(now_ms(), 3), reason=name)
        stop.set()

    publishing = None
    if args.publish:
        # Sources and frames are made before "ready", so none of it counts as connecting.
        publishing = (
            rtc.VideoSource(WIDTH, HEIGHT),
            camera_frames(),
            rtc.AudioSource(SAMPLE_RATE, 1, queue_size_ms=200),
            tone_frames(),
        )
    else:
        rtc.VideoFrame(2, 2, rtc.VideoBufferType.I420, bytes(6)).convert(rtc.VideoBufferType.RGBA)  # loads the FFI

    emit("ready")
    state["t0"] = time.perf_counter()
    await room.connect(args.url, args.token, rtc.RoomOptions(auto_subscribe=True))
    connect_ms = (time.perf_counter() - state["t0"]) * 1000.0
    emit("connected", connect_ms=round(connect_ms, 3), at_ms=round(now_ms(), 3))
    deadline = loop.time() + args.duration

    # Tracks subscribed during connect() were seen by the handler; this catches any other.
    for participant in room.remote_participants.values():
        for publication in participant.track_publications.values():
            if publication.track is not None:
                maybe_watch(publication.track, participant)

    if publishing:
        video_source, frames, audio_source, tone = publishing
        await room.local_participant.publish_track(
            rtc.LocalVideoTrack.create_video_track("camera", video_source),
            rtc.TrackPublishOptions(
                source=rtc.TrackSource.SOURCE_CAMERA, simulcast=True, video_codec=rtc.VideoCodec.VP8
            ),
        )
        await room.local_participant.publish_track(
            rtc.LocalAudioTrack.create_audio_track("microphone", audio_source),
            rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE),
        )
        for feeder in (feed_camera(video_source, frames), feed_microphone(audio_source, tone)):
            tasks.append(asyncio.ensure_future(feeder))
            tasks[-1].add_done_callback(stop_on_failure)

    watch_stdin(loop, stop)

    async def report_periodically():
        while True:
            await asyncio.sleep(REPORT_EVERY_S)
            latency.report()

    tasks.append(asyncio.ensure_future(report_periodically()))

    remaining = deadline - loop.time()
    if remaining > 0 and not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), timeout=remaining)
        except asyncio.TimeoutError:
            pass

    for task in tasks + list(watched.values()):
        task.cancel()
    if "failure" in state:  # a crashed feeder or frame reader fails the run
        raise state["failure"]
    if state["disconnect_reason"] is None:
        state["leaving"] = True
        try:
            await asyncio.wait_for(room.disconnect(), timeout=5.0)
        except asyncio.TimeoutError:
            pass
    latency.report()
    if state["disconnect_reason"] is not None:
        fail(f"room disconnected: {state['disconnect_reason']}")
    emit("done")


def main():
    args = parse_args()
    _secrets.append(args.token)
    try:
        asyncio.run(run(args))
    except BaseException as error:  # noqa: BLE001
        if isinstance(error, SystemExit):
            raise
        fail(f"{type(error).__name__}: {error}")
    sys.stdout.flush()
    os._exit(0)  # do not wait for the SDK's threads to wind down


if __name__ == "__main__":
    main()
