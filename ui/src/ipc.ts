// Typed wrappers over the Rust commands. The shapes mirror src-tauri (serde camelCase);
// errors arrive as the tagged `UiError` and are narrowed here so screens can switch on `kind`.
import { invoke } from "@tauri-apps/api/core";
import { listen, type UnlistenFn } from "@tauri-apps/api/event";

/** What a pasted token says (src-tauri/src/join/mod.rs: TokenSummary). */
export interface TokenSummary {
  room: string;
  identity: string;
  name: string;
  expiresAt: number | null;
  expired: boolean;
}

/** How to join the embedded local room (src-tauri/src/local_room/mod.rs: LocalRoomInfo). */
export interface LocalRoomInfo {
  url: string;
  token: string;
  room: string;
}

/** Why a join failed, by kind (src-tauri/src/error.rs: JoinFailure). */
export type JoinFailure =
  | "unreachable"
  | "unauthorized"
  | "forbidden"
  | "roomNotFound"
  | "versionMismatch"
  | "timeout"
  | "mediaTimeout"
  | "refused"
  | "other";

/** Why a device could not be used (src-tauri/src/error.rs: DeviceFailure). */
export type DeviceFailure = "busy" | "notFound" | "denied" | "lost" | "unsupported" | "other";

/** The backend's error (src-tauri/src/error.rs: UiError). */
export type UiError =
  | { kind: "invalidServerUrl"; message: string }
  | { kind: "invalidToken"; message: string }
  | { kind: "localRoomFailed"; message: string }
  | { kind: "joinFailed"; cause: JoinFailure; message: string }
  | { kind: "joinCancelled"; message: string }
  | { kind: "deviceFailed"; cause: DeviceFailure; message: string }
  | { kind: "chatFailed"; message: string }
  | { kind: "notInCall"; message: string }
  | { kind: "exportFailed"; message: string }
  /** Not from the backend: a rejection of unknown shape. */
  | { kind: "unexpected"; message: string };

/** Narrows whatever `invoke` rejected with to a UiError (unknown shapes become `unexpected`). */
export function toUiError(raw: unknown): UiError {
  if (typeof raw === "object" && raw !== null && "kind" in raw && "message" in raw) {
    return raw as UiError;
  }
  return { kind: "unexpected", message: String(raw) };
}

/** A published track (crates/room: TrackInfo). */
export interface TrackInfo {
  sid: string;
  name: string;
  kind: "audio" | "video";
  source: string;
  muted: boolean;
}

/** Another participant (crates/room: RemoteParticipant). */
export interface Participant {
  sid: string;
  identity: string;
  name: string;
  tracks: TrackInfo[];
}

/** What the call screen starts from (src-tauri/src/call: JoinedCall). */
export interface JoinedCall {
  room: string;
  identity: string;
  participants: Participant[];
  /** Our published tracks; absent in the `joined` event (media is published after it). */
  localTracks?: TrackInfo[];
}

/** Why a call ended (crates/room: DisconnectReason, tagged). */
export interface DisconnectReason {
  kind: string;
  detail?: unknown;
}

/** Everything the backend reports about the call (crates/call: CallEvent). */
export type CallEvent =
  | { type: "joined"; room: string; identity: string; participants: Participant[] }
  | { type: "participantJoined"; participant: Participant }
  | { type: "participantLeft"; identity: string }
  | { type: "trackPublished"; identity: string; track: TrackInfo }
  | { type: "trackUnpublished"; identity: string; trackSid: string }
  | { type: "trackMuted"; identity: string; trackSid: string; muted: boolean }
  | { type: "localTrackPublished"; track: TrackInfo }
  | { type: "localTrackUnpublished"; track: TrackInfo }
  | { type: "activeSpeakers"; identities: string[] }
  | { type: "connectionQuality"; identity: string; quality: "excellent" | "good" | "poor" | "lost" }
  | { type: "reconnecting"; kind: "resume" | "full" }
  | { type: "reconnected" }
  | { type: "disconnected"; reason: DisconnectReason; message: string }
  | { type: "chat"; from: string | null; message: ChatMessage }
  | { type: "deviceProblem"; device: string; message: string };

/** What a device is for (crates/call: DeviceKind). */
export type DeviceKind = "microphone" | "camera" | "speaker";

/** A device as the pickers show it (crates/call: MediaDevice). */
export interface MediaDevice {
  kind: DeviceKind;
  id: string;
  label: string;
  isDefault: boolean;
}

/** The devices present (crates/call: DeviceList); `problems` name kinds that could not be listed. */
export interface DeviceList {
  devices: MediaDevice[];
  problems: string[];
}

/** Which device of each kind; null or absent: the default (crates/call: DeviceChoice). */
export interface DeviceChoice {
  microphone?: string | null;
  camera?: string | null;
  speaker?: string | null;
}

/** Devices and whether the microphone and camera start on (src-tauri/src/call: MediaChoice). */
export interface MediaChoice {
  devices: DeviceChoice;
  microphone: boolean;
  camera: boolean;
}

/** What the preview could open (src-tauri/src/call: PreviewStatus). */
export interface PreviewStatus {
  camera: boolean;
  microphone: boolean;
  problems: string[];
}

/** The frame server's name for our own camera, before and during a call. */
export const LOCAL_CAMERA_FEED = "local:camera";

/** A chat message (crates/call: ChatMessage, LiveKit's chat format). */
export interface ChatMessage {
  id: string;
  timestamp: number;
  message: string;
}

/** Calls `handler` for every call event until the returned function is called. */
export function onCallEvent(handler: (event: CallEvent) => void): Promise<UnlistenFn> {
  return listen<CallEvent>("call-event", (message) => handler(message.payload));
}

/** A change to the devices (crates/call: DeviceNotice): list them again, or one in use was lost. */
export type DeviceNotice = { type: "listChanged" } | { type: "lost"; id: string };

/** Calls `handler` for every device change (hot-plug, a device in use lost) until stopped. */
export function onDeviceNotice(handler: (notice: DeviceNotice) => void): Promise<UnlistenFn> {
  return listen<DeviceNotice>("device-notice", (message) => handler(message.payload));
}

/** Calls `handler` with the previewed microphone's level (0 to 1), 20 times a second. */
export function onMicLevel(handler: (level: number) => void): Promise<UnlistenFn> {
  return listen<number>("mic-level", (message) => handler(message.payload));
}

/**
 * A `convene://join` link opened (src-tauri/src/join/deep_link.rs: LinkOffer). It only fills
 * the join screen: joining takes a click on Join, with the camera and microphone off.
 */
export interface LinkOffer {
  url: string;
  token: string;
  /** The server's host (and port): whom the call would be with. */
  host: string;
  /** `ws://` to another computer: the token would cross the network unencrypted. */
  insecure: boolean;
  summary: TokenSummary;
}

/** Calls `handler` when a `convene://join` link was opened; then ask `backend.takeJoinLink`. */
export function onJoinLink(handler: () => void): Promise<UnlistenFn> {
  return listen<null>("join-link", () => handler());
}

/** One ICE candidate (see crates/room: stats.rs). */
export interface Candidate {
  kind: "host" | "srflx" | "prflx" | "relay" | string;
  protocol: "udp" | "tcp" | string;
  relayProtocol: "udp" | "tcp" | "tls" | null;
  address: string;
  port: number;
}

/** One RTP stream, sent or received. */
export interface StreamStats {
  direction: "outbound" | "inbound";
  kind: "audio" | "video" | string;
  ssrc: number;
  packets: number;
  bytes: number;
  packetsLost: number | null;
  fractionLost: number | null;
  jitterMs: number | null;
  roundTripMs: number | null;
  framesPerSecond: number | null;
}

/** One peer connection. */
export interface TransportStats {
  path: { local: Candidate; remote: Candidate | null } | null;
  roundTripMs: number | null;
  bytesSent: number;
  bytesReceived: number;
  streams: StreamStats[];
}

/** Bits per second since the previous reading. */
export interface Bitrates {
  sent: number;
  received: number;
}

/** A room event and when it happened (ms since the epoch). */
export interface TimelineEntry {
  atMs: number;
  event: { event: string } & Record<string, unknown>;
}

/** The diagnostics panel's reading. */
export interface Diagnostics {
  stats: { takenAtMs: number; publisher: TransportStats | null; subscriber: TransportStats | null };
  publisherBitrates: Bitrates | null;
  subscriberBitrates: Bitrates | null;
  timeline: TimelineEntry[];
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
