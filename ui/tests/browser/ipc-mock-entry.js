// Replaces the Tauri IPC in a plain browser with a scripted backend, so the UI can be tested
// in headless Chromium. Bundled to an IIFE by build-ipc-mock.mjs and injected before the page.
import { emit } from "@tauri-apps/api/event";
import { mockIPC, mockWindows } from "@tauri-apps/api/mocks";

const VALID = {
  room: "standup",
  identity: "alice",
  name: "Alice",
  expiresAt: Math.floor(Date.now() / 1000) + 6 * 3600,
  expired: false,
};

window.__ipcCalls = [];
// A join to a "slow" server waits here until leave_call gives it up.
let giveUpSlowJoin = null;
// Tests play backend events with this (the call screen listens to "call-event").
window.__emit = emit;
mockWindows("main");
mockIPC((cmd, args) => {
  window.__ipcCalls.push({ cmd, args });
  switch (cmd) {
    case "check_server_url":
      if (/^(wss?|https?):\/\/\S+$/.test(args.url.trim())) return args.url.trim();
      throw { kind: "invalidServerUrl", message: "add ws://, wss://, http:// or https:// in front of the address" };
    case "inspect_token":
      if (args.token === "valid.jwt.token") return VALID;
      if (args.token === "expired.jwt.token")
        return { ...VALID, expiresAt: Math.floor(Date.now() / 1000) - 180, expired: true };
      throw { kind: "invalidToken", message: "this is not a JWT access token (expected three parts separated by dots)" };
    case "start_local_room":
      return { url: "ws://127.0.0.1:7880", token: "valid.jwt.token", room: "standup" };
    case "join_room":
      if (args.url.includes("slow"))
        return new Promise((_, reject) => {
          giveUpSlowJoin = () => reject({ kind: "joinCancelled", message: "Joining was cancelled." });
        });
      if (args.url.includes("unreachable"))
        throw { kind: "joinFailed", cause: "unreachable", message: "the server at ws://unreachable:7880 cannot be reached: connection refused" };
      return {
        room: "standup",
        identity: "alice",
        participants: [
          {
            sid: "PA_bob",
            identity: "bob",
            name: "Bob",
            tracks: [{ sid: "TR_mic", name: "microphone", kind: "audio", source: "microphone", muted: false }],
          },
        ],
        localTracks: [
          { sid: "TR_my_mic", name: "microphone", kind: "audio", source: "microphone", muted: false },
          { sid: "TR_my_cam", name: "camera", kind: "video", source: "camera", muted: false },
        ],
      };
    case "set_muted":
      return !args.muted;
    case "list_devices":
      return {
        devices: [
          ...(window.__pluggedDevices ?? []),
          { kind: "microphone", id: "synthetic:tone", label: "Test tone (440 Hz)", isDefault: true },
          { kind: "microphone", id: "pulseaudio:usb", label: "USB microphone", isDefault: false },
          { kind: "speaker", id: "pulseaudio:out", label: "Speakers", isDefault: true },
          { kind: "camera", id: "synthetic:pattern", label: "Test pattern", isDefault: true },
        ],
        problems: [],
      };
    case "remembered_media":
      return window.__rememberedMedia ?? { devices: {}, microphone: true, camera: true };
    case "start_preview":
      return { camera: args.media.camera, microphone: args.media.microphone, problems: [] };
    case "stop_preview":
      return null;
    case "switch_device":
      if (args.id === "pulseaudio:usb") throw { kind: "deviceFailed", message: "audio device pulseaudio:usb is busy" };
      return null;
    case "send_chat":
      return { id: `m${window.__ipcCalls.length}`, timestamp: Date.now(), message: args.text };
    case "diagnostics":
      return {
        stats: {
          takenAtMs: Date.now(),
          publisher: {
            path: {
              local: { kind: "relay", protocol: "udp", relayProtocol: "tls", address: "10.0.0.9", port: 50000 },
              remote: { kind: "host", protocol: "udp", relayProtocol: null, address: "10.0.0.1", port: 7882 },
            },
            roundTripMs: 21.5,
            bytesSent: 1000,
            bytesReceived: 100,
            streams: [],
          },
          subscriber: null,
        },
        publisherBitrates: { sent: 640000, received: 2000 },
        subscriberBitrates: null,
        timeline: [
          { atMs: Date.now() - 2000, event: { event: "reconnecting", kind: "resume" } },
          { atMs: Date.now() - 1000, event: { event: "reconnected" } },
        ],
      };
    case "export_diagnostics":
      return "/tmp/convene-diagnostics-1.json";
    case "preferred_renderer":
      return "auto";
    case "video_feed_url":
      return "ws://127.0.0.1:9/?token=none";
    case "take_join_link": {
      // Tests stage a link (or { error }) in window.__joinLink; it is taken once.
      const link = window.__joinLink ?? null;
      window.__joinLink = null;
      if (link?.error) throw link.error;
      return link;
    }
    case "recent_servers":
      return window.__recentServers ?? [];
    case "current_call":
      return null;
    case "support_report":
      return "Convene 0.1.0 on linux x86_64\nSettings: /home/a/.config/app.convene.desktop/settings.json\n";
    case "leave_call":
      giveUpSlowJoin?.();
      giveUpSlowJoin = null;
      return null;
    default:
      throw new Error(`unexpected command ${cmd}`);
  }
}, { shouldMockEvents: true });
