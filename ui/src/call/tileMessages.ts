// Messages between the page and the tile worker (tileWorker.ts), which owns the frame-server
// WebSocket and draws every tile's pictures on its OffscreenCanvas, off the page's thread.
import type { RendererKind } from "./renderer";

/** Page -> worker. */
export type ToWorker =
  /** The frame server's address (with its token); the worker connects when a tile needs it. */
  | { type: "connect"; url: string }
  /** Draw `sid` on canvas `canvasId` (sent with `canvas` the first time that canvas is used). */
  | {
      type: "show";
      sid: string;
      canvasId: number;
      canvas?: OffscreenCanvas;
      kind: RendererKind;
      width: number;
      height: number;
    }
  /** `sid`'s tile changed size: ask for pictures at the new size. */
  | { type: "resize"; sid: string; width: number; height: number }
  /** `sid`'s tile on canvas `canvasId` is gone (the canvas may be shown again). */
  | { type: "hide"; sid: string; canvasId: number }
  /** The page dropped canvas `canvasId`: forget it. */
  | { type: "forget"; canvasId: number };

/** Worker -> page: `sid`'s tile has drawn `frames` pictures with `kind`. */
export type FromWorker = { type: "drawn"; sid: string; frames: number; kind: RendererKind };
