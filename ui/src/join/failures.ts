import type { UiError } from "../ipc";

/** What the join screen says about a failed join: by the failure's kind, with what to do. */
export function describeJoinError(error: UiError): string {
  if (error.kind !== "joinFailed") return error.message;
  switch (error.cause) {
    case "unreachable":
      return "The server cannot be reached. Check the address and your connection, then try again.";
    case "unauthorized":
      return "The server refused this token (wrong key, or expired). Ask for a new token.";
    case "forbidden":
      return "This token does not allow joining this room. Ask for a token that does.";
    case "roomNotFound":
      return "This room does not exist on the server. Check the room with whoever invited you.";
    case "versionMismatch":
      return "This address does not answer like a LiveKit server. Check the server URL.";
    case "timeout":
      return "The server did not answer in time. Try again; if it keeps happening, the server may be overloaded.";
    case "mediaTimeout":
      return "Connected, but audio and video could not get through (a firewall may block them). Try another network.";
    case "refused":
      return "The server refused the join (the room may be full).";
    default:
      return error.message;
  }
}
