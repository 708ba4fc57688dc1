import { useCallback, useEffect, useState } from "react";
import { CallScreen } from "./call/CallScreen";
import { addChat, type CallState, initialCall, reduceCall } from "./call/callState";
import { backend, type JoinedCall, onCallEvent } from "./ipc";
import { JoinScreen } from "./join/JoinScreen";

/** The join screen until a call starts (from the form or a convene://join link), then the call. */
export function App() {
  const [call, setCall] = useState<CallState | null>(null);
  const [lastJoin, setLastJoin] = useState<{ url: string; token: string; local: boolean } | null>(null);

  useEffect(() => {
    const unlisten = onCallEvent((event) => {
      setCall((current) => {
        if (event.type === "joined") return initialCall(event);
        return current ? reduceCall(current, event) : current;
      });
    });
    // A call may have started, or be starting, before the window loaded (deep link): asked
    // once we listen, so its "joined" event is either heard or already in the answer.
    void unlisten
      .then(() => backend.currentCall())
      .then((joined) => joined && setCall((current) => current ?? initialCall(joined)));
    return () => void unlisten.then((stop) => stop());
  }, []);

  const joined = useCallback((result: JoinedCall, url: string, token: string, local: boolean) => {
    setLastJoin({ url, token, local });
    const fresh = initialCall(result);
    // The "joined" event may have arrived first; keep what it gathered, add our devices.
    setCall((current) =>
      current && current.room === result.room ? { ...current, microphone: fresh.microphone, camera: fresh.camera } : fresh,
    );
  }, []);

  return (
    <main className="app">
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
              (error: { message?: string }) =>
                setCall((c) => (c ? { ...c, problems: [...c.problems, error.message ?? String(error)] } : c)),
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
        <JoinScreen onJoined={joined} />
      )}
    </main>
  );
}
