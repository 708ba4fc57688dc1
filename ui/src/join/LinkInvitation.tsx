import type { LinkOffer } from "../ipc";
import { describeExpiry } from "./expiry";

const nowSecs = () => Math.floor(Date.now() / 1000);

/**
 * What a convene://join link asks for, shown before anything happens: whose server, which
 * room, as whom, until when. A page can open such a link, so the user checks it and presses
 * Join; a server reached without encryption is called out.
 */
export function LinkInvitation({ offer }: { offer: LinkOffer }) {
  const { summary } = offer;
  return (
    <div className="invitation" role="status" data-testid="link-offer">
      <p>
        A link invites you to join <strong data-testid="link-room">{summary.room}</strong> on{" "}
        <strong data-testid="link-host">{offer.host}</strong> as{" "}
        <strong data-testid="link-identity">{summary.name || summary.identity}</strong> (
        {describeExpiry(summary.expiresAt, nowSecs())}).
      </p>
      <p className="hint">
        Check that you expect this meeting, then press Join. Your camera and microphone stay off until you turn
        them on.
      </p>
      {offer.insecure && (
        <p className="error" data-testid="link-insecure">
          This server is reached without encryption (ws://): your token and the call's signaling would cross the
          network readable by others. Join only if you trust this network.
        </p>
      )}
    </div>
  );
}
