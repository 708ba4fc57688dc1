import type { Participant } from "../ipc";
import { isOn, type LocalDevice } from "./callState";

/** Everyone in the call, us first, with microphone and camera state and who is speaking. */
export function ParticipantList({
  identity,
  microphone,
  camera,
  participants,
  speaking,
}: {
  identity: string;
  microphone: LocalDevice;
  camera: LocalDevice;
  participants: Participant[];
  speaking: string[];
}) {
  const state = (mic: boolean, cam: boolean) => `${mic ? "mic on" : "mic off"} · ${cam ? "camera on" : "camera off"}`;
  return (
    <section className="people" aria-labelledby="people-title" data-testid="participant-list">
      <h2 id="people-title">People ({participants.length + 1})</h2>
      <ul>
        <li data-testid="person-self">
          <span>{identity} (you)</span>
          <span>{state(microphone === "on", camera === "on")}</span>
        </li>
        {participants.map((p) => (
          <li key={p.identity} data-testid={`person-${p.identity}`}>
            <span>
              {p.name || p.identity}
              {speaking.includes(p.identity) ? " (speaking)" : ""}
            </span>
            <span>{state(isOn(p, "audio"), isOn(p, "video"))}</span>
          </li>
        ))}
      </ul>
    </section>
  );
}
