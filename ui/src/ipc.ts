// Typed wrappers over the Rust commands. The shapes mirror src-tauri (serde camelCase);
// errors arrive as the tagged `UiError` and are narrowed here so screens can switch on `kind`.
import { invoke } from "@tauri-apps/api/core";
import { listen, type UnlistenFn } from "@tauri-apps/api/event";
import type * as Contract from "./bindings.gen";

// The shapes come from the Rust types (bindings.gen.ts, generated and checked by a test in
// src-tauri/src/contract.rs); what the backend sends is the `_Serialize` side.
export type TokenSummary = Contract.TokenSummary_Serialize;
export type LocalRoomInfo = Contract.LocalRoomInfo;
export type JoinFailure = Contract.JoinFailure;
export type DeviceFailure = Contract.DeviceFailure;
export type TrackInfo = Contract.TrackInfo;
export type Participant = Contract.RemoteParticipant;
export type JoinedCall = Contract.JoinedCall;
/** How a call starts: the `joined` event (before our tracks are published) or a join's answer. */
export type CallStart = Omit<JoinedCall, "localTracks"> & Partial<Pick<JoinedCall, "localTracks">>;
export type DisconnectReason = Contract.DisconnectReason;
export type CallEvent = Contract.CallEvent_Serialize;
export type DeviceKind = Contract.DeviceKind;
export type MediaDevice = Contract.MediaDevice;
export type DeviceList = Contract.DeviceList;
// What the UI sends: fields it leaves out are the defaults (serde `default` on the Rust side).
export type DeviceChoice = Contract.DeviceChoice_Deserialize;
export type MediaChoice = Required<Omit<Contract.MediaChoice_Deserialize, "devices">> & { devices: DeviceChoice };
export type PreviewStatus = Contract.PreviewStatus;
export type ChatMessage = Contract.ChatMessage;
export type DeviceNotice = Contract.DeviceNotice;
export type LinkOffer = Contract.LinkOffer_Serialize;
export type Candidate = Contract.Candidate_Serialize;
export type StreamStats = Contract.StreamStats_Serialize;
export type TransportStats = Contract.TransportStats_Serialize;
export type Bitrates = Contract.Bitrates;
export type TimelineEntry = Contract.TimelineEntry;
export type Diagnostics = Contract.Diagnostics_Serialize;

/** The backend's error, or (not from the backend) a rejection of unknown shape. */
export type UiError = Contract.UiError | { kind: "unexpected"; message: string };

/** Narrows whatever `invoke` rejected with to a UiError (unknown shapes become `unexpected`). */
export function toUiError(raw: unknown): UiError {
  if (typeof raw === "object" && raw !== null && "kind" in raw && "message" in raw) {
    return raw as UiError;
  }
  return { kind: "unexpected", message: String(raw) };
}

/** The frame server's name for our own camera, before and during a call. */
export const LOCAL_CAMERA_FEED = "local:camera";

/** Calls `handler` for every call event until the returned function is called. */
export function onCallEvent(handler: (event: CallEvent) => void): Promise<UnlistenFn> {
  return listen<CallEvent>("call-event", (message) => handler(message.payload));
}

/** Calls `handler` for every device change (hot-plug, a device in use lost) until stopped. */
export function onDeviceNotice(handler: (notice: DeviceNotice) => void): Promise<UnlistenFn> {
  return listen<DeviceNotice>("device-notice", (message) => handler(message.payload));
}

/** Calls `handler` with the previewed microphone's level (0 to 1), 20 times a second. */
export function onMicLevel(handler: (level: number) => void): Promise<UnlistenFn> {
  return listen<number>("mic-level", (message) => handler(message.payload));
}

/** Calls `handler` when a `convene://join` link was opened; then ask `backend.takeJoinLink`. */
export function onJoinLink(handler: () => void): Promise<UnlistenFn> {
  return listen<null>("join-link", () => handler());
}

async function call<T>(command: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(command, args);
  } catch (raw) {
    throw toUiError(raw);
  }
}

export const backend = {
  /** Validates and normalises the server URL field. */
  checkServerUrl: (url: string) => call<string>("check_server_url", { url }),
  /** Decodes the token field (no signature check). */
  inspectToken: (token: string) => call<TokenSummary>("inspect_token", { token }),
  /** The `convene://join` link opened and not yet shown, once (null: none); rejects for a malformed link. */
  takeJoinLink: () => call<LinkOffer | null>("take_join_link"),
  /** Servers joined recently, newest first (tokens are never stored). */
  recentServers: () => call<string[]>("recent_servers"),
  /** Joins the room the token names on the given server with `media` (absent: as last time); events follow. */
  joinRoom: (url: string, token: string, media?: MediaChoice) =>
    call<JoinedCall>("join_room", { url, token, media: media ?? null }),
  /** The microphones, cameras and speakers present now. */
  listDevices: () => call<DeviceList>("list_devices"),
  /** The devices (and on/off) of the last call. */
  rememberedMedia: () => call<MediaChoice>("remembered_media"),
  /** Previews the chosen camera (as LOCAL_CAMERA_FEED) and meters the microphone (onMicLevel). */
  startPreview: (media: MediaChoice) => call<PreviewStatus>("start_preview", { media }),
  /** Stops the preview and releases its devices. */
  stopPreview: () => call<void>("stop_preview"),
  /** Uses another device in the call (null: the default). */
  switchDevice: (kind: DeviceKind, id: string | null) => call<void>("switch_device", { kind, id }),
  /** The call in progress, if any (e.g. the window reloaded during a call). */
  currentCall: () => call<JoinedCall | null>("current_call"),
  /** Turns our microphone ("audio") or camera ("video") off or on (publishing it if needed); resolves with whether it is on. */
  setMuted: (kind: "audio" | "video", muted: boolean) => call<boolean>("set_muted", { kind, muted }),
  /** Leaves the call; the others see us go at once. */
  leaveCall: () => call<void>("leave_call"),
  /** Sends a chat message to everyone in the call; resolves with it as sent. */
  sendChat: (text: string) => call<ChatMessage>("send_chat", { text }),
  /** The connection now (path, RTT, loss, jitter, bitrates) and every room event so far. */
  diagnostics: () => call<Diagnostics>("diagnostics"),
  /** Build, settings and log locations, the call's diagnostics and the newest log lines, as text (secrets redacted). */
  supportReport: () => call<string>("support_report"),
  /** Saves the diagnostics as a JSON file; resolves with its path. */
  exportDiagnostics: () => call<string>("export_diagnostics"),
  /** "canvas" when the window paints in software (draw video with the 2D canvas), else "auto". */
  preferredRenderer: () => call<"canvas" | "auto">("preferred_renderer"),
  /** The token-protected local WebSocket serving decoded video pictures. */
  videoFeedUrl: () => call<string>("video_feed_url"),
  /** Adds a headless participant (test pattern + tone) to the local room; returns its identity. */
  inviteTestParticipant: () => call<string>("invite_test_participant"),
  /** Starts the embedded local room server (once) and returns how to join it. */
  startLocalRoom: () => call<LocalRoomInfo>("start_local_room"),
};
