import { useCallback, useEffect, useState } from "react";
import { CallScreen } from "./call/CallScreen";
import { type CallState, initialCall, reduceCall } from "./call/callState";
import { backend, type JoinedCall, onCallEvent } from "./ipc";
import { JoinScreen } from "./join/JoinScreen";

/** The join screen until a call starts (from the form or a convene://join link), then the call. */
export function App() {
  const [call, setCall] = useState<CallState | null>(null);
  const [lastJoin, setLastJoin] = useState<{ url: string; token: string } | null>(null);

  useEffect(() => {
    const unlisten = onCallEvent((event) => {
      setCall((current) => {
        if (event.type === "joined") return initialCall(event);
        return current ? reduceCall(current, event) : current;
      });
    });
    // A call may have started before the window loaded (deep link).
    void backend.currentCall().then((joined) => joined && setCall((current) => current ?? initialCall(joined)));
    return () => void unlisten.then((stop) => stop());
  }, []);

  const joined = useCallback((result: JoinedCall, url: string, token: string) => {
    setLastJoin({ url, token });
    setCall((current) => (current && current.room === result.room ? current : initialCall(result)));
  }, []);

  return (
    <main className="app">
      {call ? (
        <CallScreen
          call={call}
          onLeave={() => void backend.leaveCall().finally(() => setCall(null))}
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
