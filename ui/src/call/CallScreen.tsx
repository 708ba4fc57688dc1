import { useEffect, useState } from "react";
import { LOCAL_CAMERA_FEED } from "../ipc";
import { CallDevices } from "./CallDevices";
import { type CallState, isOn, type LocalDevice } from "./callState";
import { ChatPanel } from "./ChatPanel";
import { DiagnosticsPanel } from "./DiagnosticsPanel";
import { gridColumns } from "./layout";
import { ParticipantList } from "./ParticipantList";
import { VideoTile } from "./VideoTile";

/** How long "Reconnected" stays up. */
const RECONNECTED_BANNER_MS = 3000;

interface Props {
  call: CallState;
  onLeave: () => void;
  onRejoin: () => void;
  onToggle: (kind: "audio" | "video") => void;
  /** Present in the local room: adds a test participant (test pattern + tone). */
  onInvite?: () => Promise<string>;
  onSendChat: (text: string) => Promise<void>;
}

/** Ctrl+D toggles the microphone and Ctrl+E the camera (Cmd on macOS), as in Google Meet. */
function useMuteShortcuts(onToggle: (kind: "audio" | "video") => void) {
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if (!(event.ctrlKey || event.metaKey)) return;
      const key = event.key.toLowerCase();
      if (key !== "d" && key !== "e") return;
      event.preventDefault();
      onToggle(key === "d" ? "audio" : "video");
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [onToggle]);
}

function deviceLabel(name: string, state: LocalDevice): string {
  if (state === "none") return `Turn on ${name}`;
  return state === "on" ? `Mute ${name}` : `Unmute ${name}`;
}

/**
 * The call: a banner for the connection, a tile per participant (name, microphone and
 * camera state, speaking highlight, connection quality) with our own camera first, the
 * participant list, device switching, chat and the controls.
 */
export function CallScreen({ call, onLeave, onRejoin, onToggle, onInvite, onSendChat }: Props) {
  useMuteShortcuts(onToggle);
  const [inviteProblem, setInviteProblem] = useState<string | null>(null);
  const [hideReconnected, setHideReconnected] = useState(false);
  const [showDiagnostics, setShowDiagnostics] = useState(false);
  useEffect(() => {
    if (call.banner.kind !== "reconnected") {
      setHideReconnected(false);
      return;
    }
    const timer = setTimeout(() => setHideReconnected(true), RECONNECTED_BANNER_MS);
    return () => clearTimeout(timer);
  }, [call.banner]);

  const ended = call.banner.kind === "disconnected";
  return (
    <section className="call" aria-labelledby="call-title" data-testid="call-screen">
      <header className="call-header">
        <h1 id="call-title" data-testid="call-room">
          {call.room}
        </h1>
        <span className="hint" data-testid="call-identity">
          you are {call.identity}
        </span>
      </header>

      {call.banner.kind === "reconnecting" && (
        <p className="banner warning" role="status" data-testid="banner">
          Reconnecting…{call.banner.full ? " (rejoining the room)" : ""}
        </p>
      )}
      {call.banner.kind === "reconnected" && !hideReconnected && (
        <p className="banner ok" role="status" data-testid="banner">
          Reconnected
        </p>
      )}
      {call.banner.kind === "disconnected" && (
        <p className="banner error" role="alert" data-testid="banner">
          Disconnected: {call.banner.message}{" "}
          <button type="button" data-testid="rejoin" onClick={onRejoin}>
            Rejoin
          </button>
        </p>
      )}
      {inviteProblem && (
        <p className="banner error" role="alert" data-testid="invite-problem">
          {inviteProblem}
        </p>
      )}
      {call.problems.map((problem) => (
        <p className="banner warning" key={problem} data-testid="device-problem">
          {problem}
        </p>
      ))}

      <ul className="grid" data-testid="participants" style={{ gridTemplateColumns: gridColumns(call.participants.length + 1) }}>
        <li className="tile self" data-testid="tile-self">
          {call.camera === "on" && <VideoTile trackSid={LOCAL_CAMERA_FEED} testId="video-self" mirror />}
          <span className="name">{call.identity} (you)</span>
          <span className="state" data-testid="state-self">
            {call.microphone === "on" ? "mic on" : "mic off"} · {call.camera === "on" ? "camera on" : "camera off"}
          </span>
        </li>
        {call.participants.map((p) => (
          <li
            key={p.identity}
            className={`tile${call.speaking.includes(p.identity) ? " speaking" : ""}`}
            data-testid={`tile-${p.identity}`}
          >
            {p.tracks
              .filter((t) => t.kind === "video" && !t.muted)
              .slice(0, 1)
              .map((t) => (
                <VideoTile key={t.sid} trackSid={t.sid} testId={`video-${p.identity}`} />
              ))}
            <span className="name">{p.name || p.identity}</span>
            <span className="state" data-testid={`state-${p.identity}`}>
              {isOn(p, "audio") ? "mic on" : "mic off"} · {isOn(p, "video") ? "camera on" : "camera off"}
              {call.quality[p.identity] ? ` · ${call.quality[p.identity]}` : ""}
            </span>
          </li>
        ))}
      </ul>

      <div className="call-side">
        <ParticipantList
          identity={call.identity}
          microphone={call.microphone}
          camera={call.camera}
          participants={call.participants}
          speaking={call.speaking}
        />
        <CallDevices disabled={ended} />
      </div>

      <ChatPanel lines={call.chat} onSend={onSendChat} disabled={ended} />
      {showDiagnostics && <DiagnosticsPanel />}

      <footer className="call-controls">
        <button
          type="button"
          data-testid="toggle-mic"
          title="Ctrl+D"
          aria-pressed={call.microphone === "muted"}
          disabled={ended}
          onClick={() => onToggle("audio")}
        >
          {deviceLabel("microphone", call.microphone)}
        </button>
        <button
          type="button"
          data-testid="toggle-camera"
          title="Ctrl+E"
          aria-pressed={call.camera === "muted"}
          disabled={ended}
          onClick={() => onToggle("video")}
        >
          {deviceLabel("camera", call.camera)}
        </button>
        {onInvite && (
          <button
            type="button"
            className="secondary"
            data-testid="invite"
            disabled={ended}
            onClick={() => {
              setInviteProblem(null);
              onInvite().catch((error: { message?: string }) => setInviteProblem(error.message ?? String(error)));
            }}
          >
            Invite test participant
          </button>
        )}
        <button
          type="button"
          className="secondary"
          data-testid="toggle-diagnostics"
          aria-pressed={showDiagnostics}
          onClick={() => setShowDiagnostics((shown) => !shown)}
        >
          Diagnostics
        </button>
        <button type="button" className="danger" data-testid="leave" onClick={onLeave}>
          {ended ? "Back to the join screen" : "Leave"}
        </button>
      </footer>
    </section>
  );
}
