// Typed wrappers over the Rust commands. The shapes mirror src-tauri (serde camelCase);
// errors arrive as the tagged `UiError` and are narrowed here so screens can switch on `kind`.
import { invoke } from "@tauri-apps/api/core";

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

/** The backend's error (src-tauri/src/error.rs: UiError). */
export type UiError =
  | { kind: "invalidServerUrl"; message: string }
  | { kind: "invalidToken"; message: string }
  | { kind: "localRoomFailed"; message: string }
  | { kind: "notYetAvailable"; message: string };

/** Narrows whatever `invoke` rejected with to a UiError (unknown shapes become a message). */
export function toUiError(raw: unknown): UiError {
  if (typeof raw === "object" && raw !== null && "kind" in raw && "message" in raw) {
    return raw as UiError;
  }
  return { kind: "notYetAvailable", message: String(raw) };
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
  /** Joins the room the token names on the given server. */
  joinRoom: (url: string, token: string) => call<void>("join_room", { url, token }),
  /** Starts the embedded local room server (once) and returns how to join it. */
  startLocalRoom: () => call<LocalRoomInfo>("start_local_room"),
};
