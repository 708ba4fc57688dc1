// Replaces the Tauri IPC in a plain browser with a scripted backend, so the UI can be tested
// in headless Chromium. Bundled to an IIFE by build-ipc-mock.mjs and injected before the page.
//
// Typed against the generated contract (src/bindings.gen.ts): every answer must have the
// shape the Rust command returns, so the mock cannot drift from the backend unnoticed.
import { emit } from "@tauri-apps/api/event";
import { mockIPC, mockWindows } from "@tauri-apps/api/mocks";
import type { commands, DeviceList, MediaChoice_Serialize, UiError } from "../../src/bindings.gen";

type Commands = typeof commands;
/** What a command resolves with (the `ok` side of a `Result`). */
type Data<K extends keyof Commands> = Awaited<ReturnType<Commands[K]>> extends infer R
  ? R extends { status: "ok"; data: infer D }
    ? D
    : R extends { status: "error" }
      ? never
      : R
  : never;
/** The mock's answers, by the name `invoke` uses. */
type Answers = {
  check_server_url: Data<"checkServerUrl">;
  inspect_token: Data<"inspectToken">;
  recent_servers: Data<"recentServers">;
  take_join_link: Data<"takeJoinLink">;
  join_room: Data<"joinRoom">;
  current_call: Data<"currentCall">;
  leave_call: Data<"leaveCall">;
  set_muted: Data<"setMuted">;
  video_feed_url: Data<"videoFeedUrl">;
  preferred_renderer: Data<"preferredRenderer">;
  send_chat: Data<"sendChat">;
  list_devices: Data<"listDevices">;
  remembered_media: Data<"rememberedMedia">;
  start_preview: Data<"startPreview">;
  stop_preview: Data<"stopPreview">;
  switch_device: Data<"switchDevice">;
  diagnostics: Data<"diagnostics">;
  export_diagnostics: Data<"exportDiagnostics">;
  start_local_room: Data<"startLocalRoom">;
  invite_test_participant: Data<"inviteTestParticipant">;
  support_report: Data<"supportReport">;
};
/** Checks `value` against what `command` returns. */
const answer = <K extends keyof Answers>(_command: K, value: Answers[K]): Answers[K] => value;
/** Rejects as the backend does. */
const fail = (error: UiError): never => {
  throw error;
};

declare global {
  interface Window {
    __ipcCalls: { cmd: string; args: Record<string, unknown> }[];
    __emit: typeof emit;
    __joinLink: Answers["take_join_link"] | { error: UiError } | null | undefined;
    __pluggedDevices: DeviceList["devices"] | undefined;
    __recentServers: string[] | undefined;
    __rememberedMedia: MediaChoice_Serialize | undefined;
  }
}

// Arguments as the page sends them (checked by the page's own types in src/).
// eslint-style: the mock reads them loosely.
type Args = Record<string, any>;

const VALID: Answers["inspect_token"] = {
  room: "standup",
  identity: "alice",
  name: "Alice",
  expiresAt: Math.floor(Date.now() / 1000) + 6 * 3600,
  expired: false,
};

window.__ipcCalls = [];
// A join to a "slow" server waits here until leave_call gives it up.
let giveUpSlowJoin: (() => void) | null = null;
// Tests play backend events with this (the call screen listens to "call-event").
window.__emit = emit;
mockWindows("main");
mockIPC((cmd, rawArgs) => {
  const args = (rawArgs ?? {}) as Args;
  window.__ipcCalls.push({ cmd, args });
  switch (cmd) {
    case "check_server_url":
      if (/^(wss?|https?):\/\/\S+$/.test(args.url.trim())) return args.url.trim();
      return fail({ kind: "invalidServerUrl", message: "add ws://, wss://, http:// or https:// in front of the address" });
    case "inspect_token":
      if (args.token === "valid.jwt.token") return VALID;
      if (args.token === "expired.jwt.token")
        return answer("inspect_token", { ...VALID, expiresAt: Math.floor(Date.now() / 1000) - 180, expired: true });
      return fail({ kind: "invalidToken", message: "this is not a JWT access token (expected three parts separated by dots)" });
    case "start_local_room":
      return answer("start_local_room", { url: "ws://127.0.0.1:7880", token: "valid.jwt.token", room: "standup" });
    case "join_room":
      if (args.url.includes("slow"))
        return new Promise((_, reject) => {
          giveUpSlowJoin = () => reject({ kind: "joinCancelled", message: "Joining was cancelled." });
        });
      if (args.url.includes("unreachable"))
        return fail({ kind: "joinFailed", cause: "unreachable", message: "the server at ws://unreachable:7880 cannot be reached: connection refused" });
      return answer("join_room", {
        room: "standup",
        identity: "alice",
        participants: [
          {
            sid: "PA_bob",
            identity: "bob",
            name: "Bob",
            metadata: "",
            tracks: [{ sid: "TR_mic", name: "microphone", kind: "audio", source: "microphone", muted: false, mimeType: "", width: 0, height: 0 }],
          },
        ],
        localTracks: [
          { sid: "TR_my_mic", name: "microphone", kind: "audio", source: "microphone", muted: false, mimeType: "", width: 0, height: 0 },
          { sid: "TR_my_cam", name: "camera", kind: "video", source: "camera", muted: false, mimeType: "", width: 0, height: 0 },
        ],
      });
    case "set_muted":
      return answer("set_muted", !args.muted);
    case "list_devices":
      return answer("list_devices", {
        devices: [
          ...(window.__pluggedDevices ?? []),
          { kind: "microphone", id: "synthetic:tone", label: "Test tone (440 Hz)", isDefault: true },
          { kind: "microphone", id: "pulseaudio:usb", label: "USB microphone", isDefault: false },
          { kind: "speaker", id: "pulseaudio:out", label: "Speakers", isDefault: true },
          { kind: "camera", id: "synthetic:pattern", label: "Test pattern", isDefault: true },
        ],
        problems: [],
      });
    case "remembered_media":
      return answer("remembered_media", window.__rememberedMedia ?? { devices: { microphone: null, camera: null, speaker: null }, microphone: true, camera: true });
    case "start_preview":
      return answer("start_preview", { camera: args.media.camera, microphone: args.media.microphone, problems: [] });
    case "stop_preview":
      return answer("stop_preview", null);
    case "switch_device":
      if (args.id === "pulseaudio:usb") return fail({ kind: "deviceFailed", cause: "busy", message: "audio device pulseaudio:usb is busy" });
      return answer("switch_device", null);
    case "send_chat":
      return answer("send_chat", { id: `m${window.__ipcCalls.length}`, timestamp: Date.now(), message: args.text });
    case "diagnostics":
      return answer("diagnostics", {
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
      });
    case "export_diagnostics":
      return answer("export_diagnostics", "/tmp/convene-diagnostics-1.json");
    case "preferred_renderer":
      return answer("preferred_renderer", "auto");
    case "video_feed_url":
      return answer("video_feed_url", "ws://127.0.0.1:9/?token=none");
    case "take_join_link": {
      // Tests stage a link (or { error }) in window.__joinLink; it is taken once.
      const link = window.__joinLink ?? null;
      window.__joinLink = null;
      if (link && "error" in link) return fail(link.error);
      return answer("take_join_link", link);
    }
    case "recent_servers":
      return answer("recent_servers", window.__recentServers ?? []);
    case "current_call":
      return answer("current_call", null);
    case "support_report":
      return answer("support_report", "Convene 0.1.0 on linux x86_64\nSettings: /home/a/.config/app.convene.desktop/settings.json\n");
    case "leave_call":
      giveUpSlowJoin?.();
      giveUpSlowJoin = null;
      return answer("leave_call", null);
    default:
      throw new Error(`unexpected command ${cmd}`);
  }
}, { shouldMockEvents: true });
