import { useCallback, useEffect, useState } from "react";
import { CallScreen } from "./call/CallScreen";
import { addChat, type CallState, initialCall, reduceCall } from "./call/callState";
import { backend, type JoinedCall, onCallEvent, type UiError } from "./ipc";
import { JoinScreen } from "./join/JoinScreen";
import { useJoinLinks } from "./join/joinLinks";

/**
 * The join screen until a call starts, then the call. A convene://join link only fills the
 * join screen (during a call it waits there, with a notice): joining always takes Join.
 */
export function App() {
  const [call, setCall] = useState<CallState | null>(null);
  const links = useJoinLinks();
  const [lastJoin, setLastJoin] = useState<{ url: string; token: string; local: boolean } | null>(null);

  useEffect(() => {
    const unlisten = onCallEvent((event) => {
      setCall((current) => {
        if (event.type === "joined") return initialCall(event);
        return current ? reduceCall(current, event) : current;
      });
    });
    // A call may be in progress when the window (re)loads: asked once we listen, so its
    // "joined" event is either heard or already in the answer.
    void unlisten
      .then(() => backend.currentCall())
      .then((joined) => joined && setCall((current) => current ?? initialCall(joined)));
    return () => void unlisten.then((stop) => stop());
  }, []);

  const { dismiss: dismissLink } = links;
  const joined = useCallback((result: JoinedCall, url: string, token: string, local: boolean) => {
    setLastJoin({ url, token, local });
    // The link (if any) was used.
    dismissLink();
    const fresh = initialCall(result);
    // The "joined" event may have arrived first; keep what it gathered, add our devices.
    setCall((current) =>
      current && current.room === result.room ? { ...current, microphone: fresh.microphone, camera: fresh.camera } : fresh,
    );
  }, [dismissLink]);

  const waitingLink = call ? links.link?.offer : undefined;
  return (
    <main className="app">
      {waitingLink && (
        <p className="banner info link-notice" role="status" data-testid="link-notice">
          A link to join <strong>{waitingLink.summary.room}</strong> on <strong>{waitingLink.host}</strong> was opened.
          It waits on the join screen until you leave this call.{" "}
          <button type="button" className="secondary" onClick={links.dismiss}>
            Dismiss
          </button>
        </p>
      )}
      {call ? (
        <CallScreen
          call={call}
          onLeave={() => void backend.leaveCall().finally(() => setCall(null))}
          onInvite={lastJoin?.local ? () => backend.inviteTestParticipant() : undefined}
          onSendChat={async (text) => {
            const sent = await backend.sendChat(text);
            setCall((c) => (c ? addChat(c, { from: null, message: sent }) : c));
          }}
          onToggle={(kind) => {
            const key = kind === "audio" ? "microphone" : "camera";
            const current = call[key];
            // Off when on; on when muted or never published (joined with it off).
            void backend.setMuted(kind, current === "on").then(
              (on) => setCall((c) => (c ? { ...c, [key]: on ? "on" : current === "none" ? "none" : "muted" } : c)),
              (error: UiError) =>
                setCall((c) => (c ? { ...c, problems: [...c.problems, error.message] } : c)),
            );
          }}
          onRejoin={() => {
            if (!lastJoin) return setCall(null);
            void backend
              .joinRoom(lastJoin.url, lastJoin.token)
              .then((result) => setCall(initialCall(result)))
              .catch(() => setCall(null));
          }}
        />
      ) : (
        links.ready && <JoinScreen onJoined={joined} link={links.link} />
      )}
    </main>
  );
}
