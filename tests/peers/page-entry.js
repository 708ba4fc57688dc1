// Runs inside headless Chromium: one livekit-client participant, driven by browser-peers.mjs
// through window.peer. Media checks read the receivers' WebRTC stats (frames and samples
// actually decoded), not the DOM.
import { Room, RoomEvent, Track } from "livekit-client";

const events = [];
const received = [];
let room;

function remoteTracks(identity) {
  const participant = [...room.remoteParticipants.values()].find((p) => p.identity === identity);
  if (!participant) return [];
  return [...participant.trackPublications.values()].filter((pub) => pub.track);
}

async function decodedFrom(identity) {
  const result = { videoFrames: 0, audioSamples: 0, audioPackets: 0, videoPackets: 0, audioTracks: 0, videoMuted: null, audioMuted: null };
  for (const pub of remoteTracks(identity)) {
    const report = await pub.track.getRTCStatsReport();
    report?.forEach((s) => {
      if (s.type !== "inbound-rtp") return;
      if (pub.kind === Track.Kind.Video) result.videoFrames += s.framesDecoded ?? 0;
      if (pub.kind === Track.Kind.Audio) result.audioSamples += s.totalSamplesReceived ?? 0;
      if (pub.kind === Track.Kind.Audio) result.audioPackets += s.packetsReceived ?? 0;
      if (pub.kind === Track.Kind.Video) result.videoPackets += s.packetsReceived ?? 0;
    });
    if (pub.kind === Track.Kind.Video) result.videoMuted = pub.isMuted;
    if (pub.kind === Track.Kind.Audio) result.audioMuted = pub.isMuted;
    if (pub.kind === Track.Kind.Audio) result.audioTracks += 1;
  }
  return result;
}

window.peer = {
  async join(url, token, publish) {
    room = new Room({ adaptiveStream: false, dynacast: false });
    for (const name of Object.values(RoomEvent)) {
      room.on(name, (...args) => {
        const who = args.find((a) => a && typeof a === "object" && "identity" in a);
        events.push({ event: name, identity: who?.identity ?? null, at: Date.now() });
      });
    }
    room.on(RoomEvent.DataReceived, (payload, participant, _kind, topic) => {
      received.push({ text: new TextDecoder().decode(payload), from: participant?.identity ?? null, topic: topic ?? null });
    });
    room.on(RoomEvent.TrackSubscribed, (track) => {
      // Attach so the video decoder runs like in an app.
      const element = track.attach();
      element.muted = true;
      document.body.appendChild(element);
    });
    await room.connect(url, token);
    if (publish) await room.localParticipant.enableCameraAndMicrophone();
    return { identity: room.localParticipant.identity, sid: room.localParticipant.sid, room: room.name };
  },
  decodedFrom,
  speakers() {
    return room.activeSpeakers.map((p) => p.identity);
  },
  participants() {
    return [...room.remoteParticipants.values()].map((p) => p.identity);
  },
  local() {
    return { identity: room.localParticipant.identity, sid: room.localParticipant.sid, state: room.state };
  },
  remotes() {
    return [...room.remoteParticipants.values()].map((p) => ({ identity: p.identity, sid: p.sid }));
  },
  async simulate(scenario, arg) {
    await room.simulateScenario(scenario, arg ?? undefined);
  },
  events() {
    return events;
  },
  received() {
    return received;
  },
  async sendData(text, topic, destinations) {
    await room.localParticipant.publishData(new TextEncoder().encode(text), {
      reliable: true,
      topic,
      destinationIdentities: destinations ?? undefined,
    });
  },
  async setMicrophone(enabled) {
    await room.localParticipant.setMicrophoneEnabled(enabled);
  },
  async disconnect() {
    await room.disconnect();
  },
};
