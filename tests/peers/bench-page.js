// Runs inside headless Chromium, driven by bench-browser.mjs through window.bench: one
// livekit-client participant that watches a publisher's video and measures glass-to-glass
// latency from the capture time drawn into each frame. Progress goes out through
// window.benchEmit (a Playwright binding), one object per JSON line.
import { createLocalTracks, DisconnectReason, Room, RoomEvent, Track } from "livekit-client";

const WIDTH = 640;
const HEIGHT = 360;
const MAX_LATENCY_MS = 10000;
const REPORT_EVERY_MS = 5000;
const WRAP = 2 ** 40;

// Stamp layout: bands of `BAND` rows; band 0 a 24-bit counter, band 1 the capture time (low
// 40 bits of epoch ms). Bit i (MSB first) is a block of WIDTH / bits columns, white for 1.
const BAND = Math.floor(Math.max(Math.floor(HEIGHT / 8), 8) / 2) * 2;
const TIME_BITS = 40;

const emit = (event, fields = {}) => window.benchEmit({ event, ...fields });
const round3 = (x) => Math.round(x * 1000) / 1000;
const samples = [];
let room;
let localTracks = [];
let t0 = 0;
let firstFrame = false;
let connected = false;
let leaving = false;
let reportTimer;

function percentile(sorted, p) {
  // Linear interpolation between closest ranks (numpy's default), as the Python peer.
  const pos = (sorted.length - 1) * p;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

function latencyStats() {
  if (samples.length === 0) return { count: 0, median_ms: null, p95_ms: null };
  const sorted = Float64Array.from(samples).sort();
  const round = (x) => Math.round(x * 100) / 100;
  return { count: samples.length, median_ms: round(percentile(sorted, 0.5)), p95_ms: round(percentile(sorted, 0.95)) };
}

// Value of a row of `bits` bits whose band starts at `top` (rows of `pixels`, RGBA, width WIDTH).
function readRow(pixels, top, bits) {
  const block = Math.floor(WIDTH / bits);
  const y0 = top + Math.floor(BAND / 4);
  const y1 = top + Math.floor((3 * BAND) / 4);
  const x0 = Math.floor(block / 4);
  const x1 = Math.floor((3 * block) / 4);
  const cells = (y1 - y0) * (x1 - x0);
  let value = 0;
  for (let i = 0; i < bits; i++) {
    let sum = 0;
    for (let y = y0; y < y1; y++) {
      let at = (y * WIDTH + i * block + x0) * 4 + 1; // green: the stamp is grey
      for (let x = x0; x < x1; x++, at += 4) sum += pixels[at];
    }
    value = value * 2 + (sum / cells > 127.5 ? 1 : 0); // no bitwise ops: 40 bits
  }
  return value;
}

function watchVideo(track) {
  const video = track.attach();
  video.muted = true;
  document.body.appendChild(video);
  video.play().catch(() => {});
  // Only the two stamp bands are copied out, at the video's native scale.
  const canvas = document.createElement("canvas");
  canvas.width = WIDTH;
  canvas.height = 2 * BAND;
  const context = canvas.getContext("2d", { willReadFrequently: true });

  const onFrame = (_now, meta) => {
    const at = Date.now();
    if (!firstFrame) {
      firstFrame = true;
      emit("first_frame", { since_connect_start_ms: round3(performance.now() - t0), at_ms: at });
    }
    const width = meta.width ?? video.videoWidth;
    const height = meta.height ?? video.videoHeight;
    if (width === WIDTH && height === HEIGHT && video.videoWidth === WIDTH && video.videoHeight === HEIGHT) {
      context.drawImage(video, 0, 0, WIDTH, 2 * BAND, 0, 0, WIDTH, 2 * BAND);
      const pixels = context.getImageData(0, 0, WIDTH, 2 * BAND).data;
      const captured = readRow(pixels, BAND, TIME_BITS);
      let latency = (at % WRAP) - captured; // the time of this callback, not after our readback
      if (latency < -WRAP / 2) latency += WRAP;
      else if (latency > WRAP / 2) latency -= WRAP;
      if (latency >= 0 && latency <= MAX_LATENCY_MS) samples.push(latency);
    }
    if (track.mediaStreamTrack?.readyState !== "ended") video.requestVideoFrameCallback(onFrame);
  };
  video.requestVideoFrameCallback(onFrame);
}

window.bench = {
  // Opens the fake camera and microphone ahead of time, like a pre-join preview.
  async prepare(publish) {
    if (publish) {
      localTracks = await createLocalTracks({
        audio: true,
        video: { resolution: { width: WIDTH, height: HEIGHT, frameRate: 30 } },
      });
    }
    return { publish, tracks: localTracks.map((t) => t.kind) };
  },

  async start(url, token, from) {
    room = new Room({ adaptiveStream: false, dynacast: false });
    const stamp = () => ({ at_ms: Date.now() });
    // One "reconnecting" per outage: a signal-only reconnect can escalate to a full one.
    let reconnecting = false;
    const onReconnecting = () => {
      if (reconnecting) return;
      reconnecting = true;
      emit("reconnecting", stamp());
    };
    room.on(RoomEvent.Reconnecting, onReconnecting);
    if (RoomEvent.SignalReconnecting) room.on(RoomEvent.SignalReconnecting, onReconnecting);
    room.on(RoomEvent.Reconnected, () => {
      reconnecting = false;
      emit("reconnected", stamp());
    });
    room.on(RoomEvent.Disconnected, (reason) => {
      if (leaving || !connected) return; // a failed connect() rejects with its own error
      emit("disconnected", { ...stamp(), reason: DisconnectReason[reason] ?? String(reason ?? "UNKNOWN_REASON") });
    });
    room.on(RoomEvent.TrackSubscribed, (track, _publication, participant) => {
      if (participant.identity !== from) return;
      if (track.kind === Track.Kind.Video) {
        watchVideo(track);
      } else if (track.kind === Track.Kind.Audio) {
        document.body.appendChild(track.attach()); // played, as in a call
      }
    });
    room.on(RoomEvent.TrackUnsubscribed, (track) => {
      for (const element of track.detach()) element.remove();
    });

    t0 = performance.now();
    await room.connect(url, token, { autoSubscribe: true });
    connected = true;
    emit("connected", { connect_ms: round3(performance.now() - t0), at_ms: Date.now() });
    reportTimer = setInterval(() => emit("latency", latencyStats()), REPORT_EVERY_MS);
    for (const track of localTracks) await room.localParticipant.publishTrack(track);
    return { published: localTracks.length };
  },

  async stop() {
    leaving = true;
    clearInterval(reportTimer);
    await room?.disconnect();
    for (const track of localTracks) track.stop();
    return latencyStats();
  },
};
