import { describe, expect, it } from "vitest";
import type { Participant } from "../ipc";
import { initialCall, isOn, reduceCall } from "./callState";

const bob: Participant = {
  sid: "PA_b",
  identity: "bob",
  name: "Bob",
  metadata: "",
  tracks: [{ sid: "TR_mic", name: "microphone", kind: "audio", source: "microphone", muted: false, mimeType: "", width: 0, height: 0 }],
};

describe("the call state", () => {
  const start = initialCall({ room: "standup", identity: "me", participants: [] });

  it("follows participants coming, muting and leaving", () => {
    let state = reduceCall(start, { type: "participantJoined", participant: bob });
    expect(state.participants.map((p) => p.identity)).toEqual(["bob"]);
    expect(isOn(state.participants[0], "audio")).toBe(true);
    state = reduceCall(state, { type: "trackMuted", identity: "bob", trackSid: "TR_mic", muted: true });
    expect(isOn(state.participants[0], "audio")).toBe(false);
    state = reduceCall(state, {
      type: "trackPublished",
      identity: "bob",
      track: { sid: "TR_cam", name: "camera", kind: "video", source: "camera", muted: false, mimeType: "", width: 0, height: 0 },
    });
    expect(isOn(state.participants[0], "video")).toBe(true);
    state = reduceCall(state, { type: "activeSpeakers", identities: ["bob"] });
    expect(state.speaking).toEqual(["bob"]);
    state = reduceCall(state, { type: "participantLeft", identity: "bob" });
    expect(state.participants).toEqual([]);
    expect(state.speaking).toEqual([]);
  });

  it("shows a banner while reconnecting, after, and when the call ends", () => {
    let state = reduceCall(start, { type: "reconnecting", kind: "full" });
    expect(state.banner).toEqual({ kind: "reconnecting", full: true });
    state = reduceCall(state, { type: "reconnected" });
    expect(state.banner.kind).toBe("reconnected");
    state = reduceCall(state, {
      type: "disconnected",
      reason: { kind: "duplicateIdentity" },
      message: "you joined this room from somewhere else",
    });
    expect(state.banner).toEqual({
      kind: "disconnected",
      message: "you joined this room from somewhere else",
      reasonKind: "duplicateIdentity",
    });
  });
});

describe("local devices", () => {
  it("start from what we publish", () => {
    const state = initialCall({
      room: "r",
      identity: "me",
      participants: [],
      localTracks: [{ sid: "TR_a", name: "microphone", kind: "audio", source: "microphone", muted: false, mimeType: "", width: 0, height: 0 }],
    });
    expect(state.microphone).toBe("on");
    expect(state.camera).toBe("none");
  });
});

describe("chat", () => {
  it("collects messages once each, ours marked as ours", async () => {
    const { addChat } = await import("./callState");
    let state = initialCall({ room: "r", identity: "me", participants: [] });
    const hello = { id: "1", timestamp: 1, message: "hello" };
    state = reduceCall(state, { type: "chat", from: "bob", message: hello });
    state = reduceCall(state, { type: "chat", from: "bob", message: hello });
    state = addChat(state, { from: null, message: { id: "2", timestamp: 2, message: "hi bob" } });
    expect(state.chat.map((line) => [line.from, line.message.message])).toEqual([
      ["bob", "hello"],
      [null, "hi bob"],
    ]);
  });
});

describe("our own tracks", () => {
  it("follow publish and unpublish events (joining from a link, full reconnects)", () => {
    let state = initialCall({ room: "r", identity: "me", participants: [] });
    const mic = { sid: "TR_m", name: "microphone", kind: "audio" as const, source: "microphone" as const, muted: false, mimeType: "", width: 0, height: 0 };
    state = reduceCall(state, { type: "localTrackPublished", track: mic });
    expect(state.microphone).toBe("on");
    state = reduceCall(state, { type: "localTrackUnpublished", track: mic });
    expect(state.microphone).toBe("none");
  });
});
