#!/usr/bin/env python3
"""A participant built on the official LiveKit Python SDK (`livekit` on PyPI), used as a
test peer: it joins URL with TOKEN, publishes a 440 Hz tone and a moving colour pattern,
waits until it has decoded video frames and audio from EXPECT_FROM, and prints one JSON line
with what it received, including the dominant frequency of that audio (`audio_hz`). Exits non-zero (with the reason in the JSON) on failure or timeout.

usage: python_peer.py URL TOKEN EXPECT_FROM [TIMEOUT_SECONDS]
"""
import asyncio
import json
import math
import sys

from livekit import rtc

WIDTH, HEIGHT, FPS = 320, 240, 15
SAMPLE_RATE, TONE_HZ = 48000, 440


async def publish_tone(source: rtc.AudioSource):
    samples = SAMPLE_RATE // 100  # 10 ms frames
    phase = 0.0
    step = 2 * math.pi * TONE_HZ / SAMPLE_RATE
    while True:
        frame = rtc.AudioFrame.create(SAMPLE_RATE, 1, samples)
        data = frame.data
        for i in range(samples):
            data[i] = int(0.3 * 32767 * math.sin(phase))
            phase += step
        await source.capture_frame(frame)


async def publish_pattern(source: rtc.VideoSource):
    n = 0
    while True:
        shade = (n * 8) % 256
        pixel = bytes((shade, 64, 255 - shade, 255))
        frame = rtc.VideoFrame(WIDTH, HEIGHT, rtc.VideoBufferType.RGBA, pixel * (WIDTH * HEIGHT))
        source.capture_frame(frame)
        n += 1
        await asyncio.sleep(1 / FPS)


async def count_video(track, counts):
    async for _ in rtc.VideoStream(track):
        counts["video_frames"] += 1


def dominant_hz(samples, rate):
    """Frequency of a clean tone from the spacing of rising zero crossings."""
    crossings = []
    for i in range(1, len(samples)):
        a, b = samples[i - 1], samples[i]
        if a < 0 <= b:
            crossings.append(i - 1 + (-a / (b - a) if b != a else 0.0))
    if len(crossings) < 2:
        return 0.0
    return rate * (len(crossings) - 1) / (crossings[-1] - crossings[0])


async def count_audio(track, counts):
    kept = []
    async for event in rtc.AudioStream(track, sample_rate=SAMPLE_RATE, num_channels=1):
        counts["audio_samples"] += event.frame.samples_per_channel
        # Measure the tone on 0.5 s of audio after the first 0.5 s (codec warm-up).
        if SAMPLE_RATE // 2 <= counts["audio_samples"] and len(kept) < SAMPLE_RATE // 2:
            kept.extend(event.frame.data)
            if len(kept) >= SAMPLE_RATE // 2:
                counts["audio_hz"] = round(dominant_hz(kept, SAMPLE_RATE), 1)


async def main(url, token, expect_from, timeout):
    room = rtc.Room()
    counts = {"video_frames": 0, "audio_samples": 0, "audio_hz": 0.0}
    tasks = []

    @room.on("track_subscribed")
    def on_track(track, _publication, participant):
        if participant.identity != expect_from:
            return
        if track.kind == rtc.TrackKind.KIND_VIDEO:
            tasks.append(asyncio.ensure_future(count_video(track, counts)))
        elif track.kind == rtc.TrackKind.KIND_AUDIO:
            tasks.append(asyncio.ensure_future(count_audio(track, counts)))

    await room.connect(url, token)
    audio = rtc.AudioSource(SAMPLE_RATE, 1)
    video = rtc.VideoSource(WIDTH, HEIGHT)
    await room.local_participant.publish_track(
        rtc.LocalAudioTrack.create_audio_track("tone", audio),
        rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE),
    )
    await room.local_participant.publish_track(
        rtc.LocalVideoTrack.create_video_track("pattern", video),
        rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_CAMERA),
    )
    tasks.append(asyncio.ensure_future(publish_tone(audio)))
    tasks.append(asyncio.ensure_future(publish_pattern(video)))

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    ok = False
    while loop.time() < deadline:
        if counts["video_frames"] >= 15 and counts["audio_samples"] >= SAMPLE_RATE and counts["audio_hz"] > 0:
            ok = True
            break
        await asyncio.sleep(0.2)
    # Keep publishing briefly so the other side can finish its own checks.
    await asyncio.sleep(float(sys.argv[5]) if len(sys.argv) > 5 else 0)
    print(json.dumps({"ok": ok, **counts, "identity": room.local_participant.identity}), flush=True)
    for task in tasks:
        task.cancel()
    await room.disconnect()
    return 0 if ok else 1


if __name__ == "__main__":
    url, token, expect_from = sys.argv[1], sys.argv[2], sys.argv[3]
    timeout = float(sys.argv[4]) if len(sys.argv) > 4 else 45.0
    sys.exit(asyncio.run(main(url, token, expect_from, timeout)))
