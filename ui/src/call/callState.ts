// The call screen's state, derived from the backend's events by one pure reducer.
import type { CallEvent, CallStart, ChatMessage, Participant } from "../ipc";

/** A chat line: who wrote it (null: us) and what. */
export interface ChatLine {
  from: string | null;
  message: ChatMessage;
}

/** The banner over the call: nothing, reconnecting, reconnected (briefly), or ended. */
export type Banner =
  | { kind: "none" }
  | { kind: "reconnecting"; full: boolean }
  | { kind: "reconnected" }
  | { kind: "disconnected"; message: string; reasonKind: string };

/** A local device's state: published and live, muted, or not published at all. */
export type LocalDevice = "on" | "muted" | "none";

export interface CallState {
  room: string;
  identity: string;
  participants: Participant[];
  speaking: string[];
  quality: Record<string, string>;
  banner: Banner;
  problems: string[];
  microphone: LocalDevice;
  camera: LocalDevice;
  chat: ChatLine[];
}

/** The state right after joining. */
export function initialCall(joined: CallStart): CallState {
  const device = (kind: "audio" | "video"): LocalDevice => {
    const track = joined.localTracks?.find((t) => t.kind === kind);
    if (!track) return "none";
    return track.muted ? "muted" : "on";
  };
  return {
    chat: [],
    microphone: device("audio"),
    camera: device("video"),
    room: joined.room,
    identity: joined.identity,
    participants: joined.participants,
    speaking: [],
    quality: {},
    banner: { kind: "none" },
    problems: [],
  };
}

function withParticipant(state: CallState, identity: string, update: (p: Participant) => Participant): CallState {
  return {
    ...state,
    participants: state.participants.map((p) => (p.identity === identity ? update(p) : p)),
  };
}

/** Applies one backend event. */
export function reduceCall(state: CallState, event: CallEvent): CallState {
  switch (event.type) {
    case "joined":
      return {
        ...initialCall(event),
        problems: state.problems,
        microphone: state.microphone,
        camera: state.camera,
        chat: state.chat,
      };
    case "participantJoined":
      return {
        ...state,
        participants: [...state.participants.filter((p) => p.identity !== event.participant.identity), event.participant],
      };
    case "participantLeft":
      return {
        ...state,
        participants: state.participants.filter((p) => p.identity !== event.identity),
        speaking: state.speaking.filter((id) => id !== event.identity),
      };
    case "trackPublished":
      return withParticipant(state, event.identity, (p) => ({
        ...p,
        tracks: [...p.tracks.filter((t) => t.sid !== event.track.sid), event.track],
      }));
    case "trackUnpublished":
      return withParticipant(state, event.identity, (p) => ({
        ...p,
        tracks: p.tracks.filter((t) => t.sid !== event.trackSid),
      }));
    case "trackMuted":
      return withParticipant(state, event.identity, (p) => ({
        ...p,
        tracks: p.tracks.map((t) => (t.sid === event.trackSid ? { ...t, muted: event.muted } : t)),
      }));
    case "localTrackPublished":
      return { ...state, [deviceOf(event.track.kind)]: event.track.muted ? "muted" : "on" };
    case "localTrackUnpublished":
      return { ...state, [deviceOf(event.track.kind)]: "none" };
    case "activeSpeakers":
      return { ...state, speaking: event.identities };
    case "connectionQuality":
      return { ...state, quality: { ...state.quality, [event.identity]: event.quality } };
    case "reconnecting":
      return { ...state, banner: { kind: "reconnecting", full: event.kind === "full" } };
    case "reconnected":
      return { ...state, banner: { kind: "reconnected" } };
    case "disconnected":
      return { ...state, banner: { kind: "disconnected", message: event.message, reasonKind: event.reason.kind } };
    case "chat":
      return addChat(state, { from: event.from, message: event.message });
    case "deviceProblem":
      return { ...state, problems: [...state.problems, `${event.device}: ${event.message}`] };
  }
}

/** Whether a participant's track of `kind` is published and unmuted. */
export function isOn(participant: Participant, kind: "audio" | "video"): boolean {
  return participant.tracks.some((t) => t.kind === kind && !t.muted);
}

/** Adds a chat line once (by message id), in arrival order. */
export function addChat(state: CallState, line: ChatLine): CallState {
  if (state.chat.some((existing) => existing.message.id === line.message.id)) return state;
  return { ...state, chat: [...state.chat, line] };
}

function deviceOf(kind: "audio" | "video"): "microphone" | "camera" {
  return kind === "audio" ? "microphone" : "camera";
}
