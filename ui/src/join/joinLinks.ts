import { useCallback, useEffect, useState } from "react";
import { backend, type LinkOffer, type MediaChoice, onJoinLink, type UiError } from "../ipc";

/** A `convene://join` link that reached the window: its offer, or why it cannot be used. */
export type ArrivedLink = { seq: number } & ({ offer: LinkOffer; error?: never } | { offer?: never; error: UiError });

/**
 * The links opened: the one the app was started with, and those opened while it runs (a
 * second launch hands them over). `ready` turns true once the start-up link was asked for,
 * so the join screen never opens a device before it knows whether a link asks for them off.
 */
export function useJoinLinks(): { ready: boolean; link: ArrivedLink | null; dismiss: () => void } {
  const [ready, setReady] = useState(false);
  const [link, setLink] = useState<ArrivedLink | null>(null);
  useEffect(() => {
    let live = true;
    let seq = 0;
    const take = () =>
      backend.takeJoinLink().then(
        (offer) => {
          if (live && offer) setLink({ seq: ++seq, offer });
        },
        (error: UiError) => {
          if (live) setLink({ seq: ++seq, error });
        },
      );
    const unlisten = onJoinLink(() => void take());
    // Asked once we listen, so a link staged meanwhile is either heard or in the answer.
    void unlisten.then(take).finally(() => live && setReady(true));
    return () => {
      live = false;
      void unlisten.then((stop) => stop());
    };
  }, []);
  const dismiss = useCallback(() => setLink(null), []);
  return { ready, link, dismiss };
}

/** A link's join starts with the camera and microphone off (the user turns them on). */
export function mediaForLink(media: MediaChoice): MediaChoice {
  return { ...media, microphone: false, camera: false };
}
