import { useEffect, useState } from "react";
import { CopyDiagnostics } from "../CopyDiagnostics";
import { DeviceSetup } from "../devices/DeviceSetup";
import { backend, type JoinedCall, type MediaChoice, type UiError } from "../ipc";
import { describeExpiry } from "./expiry";
import { describeJoinError } from "./failures";
import { type ArrivedLink, mediaForLink } from "./joinLinks";
import { LinkInvitation } from "./LinkInvitation";
import { useBackendCheck } from "./useBackendCheck";

const nowSecs = () => Math.floor(Date.now() / 1000);

/**
 * The first screen: join a LiveKit room with a server URL and a token, or start a local room.
 * Every field is checked by the backend as it is typed; problems show inline under the field.
 * Beside the form: the camera preview, microphone level and device choices to join with.
 * A convene://join `link` fills the form and turns the camera and microphone off; it never
 * joins by itself.
 */
export function JoinScreen({
  onJoined,
  link,
}: {
  onJoined: (call: JoinedCall, url: string, token: string, local: boolean) => void;
  link: ArrivedLink | null;
}) {
  const [url, setUrl] = useState("");
  const [token, setToken] = useState("");
  const [outcome, setOutcome] = useState<UiError | null>(null);
  const [busy, setBusy] = useState(false);
  const [joining, setJoining] = useState(false);
  const [localRoom, setLocalRoom] = useState<string | null>(null);
  const urlCheck = useBackendCheck(url, backend.checkServerUrl);
  const tokenCheck = useBackendCheck(token, backend.inspectToken);

  // Servers joined before are offered (and the newest filled in); tokens are never kept.
  const [recent, setRecent] = useState<string[]>([]);
  useEffect(() => {
    void backend
      .recentServers()
      .then((servers) => {
        setRecent(servers);
        if (servers.length > 0) setUrl((current) => current || servers[0]);
      })
      .catch(() => setRecent([]));
  }, []);

  // The devices of the last call, until changed here; with a link, camera and microphone
  // start off (nothing is opened for a page that opened the link).
  const [media, setMedia] = useState<MediaChoice | null>(null);
  const linked = link?.offer !== undefined;
  useEffect(() => {
    const choose = (remembered: MediaChoice) => setMedia(linked ? mediaForLink(remembered) : remembered);
    void backend.rememberedMedia().then(choose, () => choose({ devices: {}, microphone: true, camera: true }));
    // Only the first choice: a link arriving later is handled below.
  }, []);

  // A link fills the form (and turns the devices off); a malformed one says why.
  useEffect(() => {
    if (!link) return;
    if (link.error) {
      setOutcome(link.error);
      return;
    }
    setUrl(link.offer.url);
    setToken(link.offer.token);
    setOutcome(null);
    setMedia((current) => current && mediaForLink(current));
  }, [link]);

  const tokenExpired = tokenCheck.status === "ok" && tokenCheck.value.expired;
  const canJoin = urlCheck.status === "ok" && tokenCheck.status === "ok" && !tokenExpired && !busy;

  async function act(action: () => Promise<void>) {
    setBusy(true);
    setOutcome(null);
    try {
      await action();
    } catch (error) {
      // A join given up with Cancel needs no message.
      if ((error as UiError).kind !== "joinCancelled") setOutcome(error as UiError);
    } finally {
      setBusy(false);
      setJoining(false);
    }
  }

  return (
    <div className="join-layout">
      <section className="join" aria-labelledby="join-title" data-testid="join-screen">
        <h1 id="join-title">Join a meeting</h1>
        {link?.offer && token === link.offer.token && <LinkInvitation offer={link.offer} />}
        <form
          onSubmit={(event) => {
            event.preventDefault();
            if (!canJoin) return;
            setJoining(true);
            void act(async () =>
              onJoined(await backend.joinRoom(url, token, media ?? undefined), url, token, url === localRoom),
            );
          }}
        >
          <label htmlFor="server-url">Server URL</label>
          <input
            id="server-url"
            data-testid="server-url"
            type="text"
            inputMode="url"
            autoComplete="url"
            spellCheck={false}
            placeholder="wss://your-project.livekit.cloud"
            list="recent-servers"
            value={url}
            aria-invalid={urlCheck.status === "error"}
            aria-describedby="server-url-message"
            onChange={(event) => setUrl(event.target.value)}
          />
          <p id="server-url-message" className="field-message" data-testid="server-url-message" role="status">
            {urlCheck.status === "error" && <span className="error">{urlCheck.error.message}</span>}
          </p>

          <label htmlFor="token">Access token</label>
          <textarea
            id="token"
            data-testid="token"
            rows={3}
            spellCheck={false}
            autoComplete="off"
            placeholder="Paste the token you were given (eyJ...)"
            value={token}
            aria-invalid={tokenCheck.status === "error" || tokenExpired}
            aria-describedby="token-message"
            onChange={(event) => setToken(event.target.value)}
          />
          <div id="token-message" className="field-message" data-testid="token-message" role="status">
            {tokenCheck.status === "error" && <span className="error">{tokenCheck.error.message}</span>}
            {tokenCheck.status === "ok" && (
              <span className={tokenExpired ? "error" : "info"} data-testid="token-summary">
                Room <strong data-testid="token-room">{tokenCheck.value.room}</strong> as{" "}
                <strong data-testid="token-identity">{tokenCheck.value.identity}</strong>
                {tokenCheck.value.name && ` (${tokenCheck.value.name})`} ·{" "}
                <span data-testid="token-expiry">{describeExpiry(tokenCheck.value.expiresAt, nowSecs())}</span>
                {tokenExpired && " — ask for a new token"}
              </span>
            )}
          </div>

          <button type="submit" data-testid="join" disabled={!canJoin}>
            {joining ? "Joining…" : "Join"}
          </button>
          {joining && (
            <button
              type="button"
              className="secondary"
              data-testid="cancel-join"
              onClick={() => void backend.leaveCall()}
            >
              Cancel
            </button>
          )}
        </form>

        <div className="divider">or</div>
        <button
          type="button"
          className="secondary"
          data-testid="local-room"
          disabled={busy}
          onClick={() =>
            void act(async () => {
              const local = await backend.startLocalRoom();
              setUrl(local.url);
              setToken(local.token);
              setLocalRoom(local.url);
            })
          }
        >
          Start a local room
        </button>
        <p className="hint" data-testid="local-room-status">
          {localRoom
            ? `Local room server running at ${localRoom}, for this app only (its key is new at every start). "Invite test participant" in the call adds someone to talk to.`
            : "Runs a room server on this computer; nothing else to install."}
        </p>

        {outcome && (
          <p className="outcome error" role="alert" data-testid="join-outcome">
            {describeJoinError(outcome)}
          </p>
        )}
        <p className="support">
          <CopyDiagnostics />
        </p>
      </section>
      {/* Outside the section: WebKitWebDriver cannot read the text of a section holding one. */}
      <datalist id="recent-servers" data-testid="recent-servers">
        {recent.map((server) => (
          <option key={server} value={server} />
        ))}
      </datalist>
      {media && <DeviceSetup media={media} disabled={busy} onChange={setMedia} />}
    </div>
  );
}
