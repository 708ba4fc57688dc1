// Pictures of video tracks from the backend's frame server (crates/call: frame_server.rs):
// one WebSocket, a subscription per tile, newest picture wins. Where the webview has
// OffscreenCanvas, the tile worker (tileWorker.ts) owns the socket and draws; otherwise the
// page does, on its own thread.
import { backend } from "../ipc";
import { type Picture, parseMessage } from "./picture";
import { type RendererKind, chooseRendererKind, createRenderer } from "./renderer";
import type { FromWorker, ToWorker } from "./tileMessages";

/** A tile being drawn: resize it, or stop. */
export interface ShownTile {
  /** Where pictures are drawn: the tile worker or the page's own thread. */
  readonly thread: "worker" | "page";
  /** Asks for pictures at the tile's new size (the layout changed). */
  resize(width: number, height: number): void;
  /** Stops drawing (the tile unmounts). */
  stop(): void;
}

/** Told after each picture drawn: how many so far, and how. */
export type DrawnListener = (frames: number, kind: RendererKind) => void;

type Listener = (picture: Picture) => void;

/** Draws on the page's thread: the fallback without OffscreenCanvas or workers. */
class PageFeed {
  private socket: WebSocket | null = null;
  private listeners = new Map<string, { listener: Listener; width: number; height: number }>();

  private async open(): Promise<WebSocket> {
    if (this.socket && this.socket.readyState <= WebSocket.OPEN) return this.socket;
    const socket = new WebSocket(await backend.videoFeedUrl());
    socket.binaryType = "arraybuffer";
    socket.onmessage = (event) => {
      const parsed = parseMessage(event.data as ArrayBuffer);
      if (parsed) this.listeners.get(parsed.sid)?.listener(parsed.picture);
    };
    socket.onopen = () => {
      for (const [sid, { width, height }] of this.listeners) this.send({ subscribe: sid, width, height });
    };
    this.socket = socket;
    return socket;
  }

  private send(message: object) {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(message));
  }

  show(sid: string, canvas: HTMLCanvasElement, width: number, height: number, drawn: DrawnListener): ShownTile | null {
    const renderer = createRenderer(canvas);
    if (!renderer) return null;
    let frames = 0;
    this.listeners.set(sid, {
      width,
      height,
      listener: (picture) => {
        renderer.draw(picture);
        frames += 1;
        drawn(frames, renderer.kind);
      },
    });
    void this.open().then(() => this.send({ subscribe: sid, width, height }));
    return {
      thread: "page",
      resize: (newWidth, newHeight) => {
        const current = this.listeners.get(sid);
        if (!current || (current.width === newWidth && current.height === newHeight)) return;
        this.listeners.set(sid, { ...current, width: newWidth, height: newHeight });
        this.send({ subscribe: sid, width: newWidth, height: newHeight });
      },
      stop: () => {
        this.listeners.delete(sid);
        this.send({ unsubscribe: sid });
      },
    };
  }
}

/** Draws in the tile worker: the page only hands over canvases and counts pictures. */
class WorkerFeed {
  private readonly worker: Worker;
  private readonly canvasIds = new WeakMap<HTMLCanvasElement, number>();
  private readonly listeners = new Map<string, DrawnListener>();
  private readonly dropped = new FinalizationRegistry<number>((canvasId) => this.post({ type: "forget", canvasId }));
  private nextCanvasId = 1;

  constructor(worker: Worker) {
    this.worker = worker;
    worker.onmessage = (event: MessageEvent<FromWorker>) => {
      const { sid, frames, kind } = event.data;
      this.listeners.get(sid)?.(frames, kind);
    };
    void backend.videoFeedUrl().then(
      (url) => this.post({ type: "connect", url }),
      () => undefined,
    );
  }

  private post(message: ToWorker, transfer: Transferable[] = []) {
    this.worker.postMessage(message, transfer);
  }

  show(sid: string, canvas: HTMLCanvasElement, width: number, height: number, drawn: DrawnListener): ShownTile {
    const kind = chooseRendererKind();
    let canvasId = this.canvasIds.get(canvas);
    if (canvasId === undefined) {
      // A canvas is handed over once; later tiles on it name it by id.
      canvasId = this.nextCanvasId++;
      this.canvasIds.set(canvas, canvasId);
      this.dropped.register(canvas, canvasId);
      const offscreen = canvas.transferControlToOffscreen();
      this.post({ type: "show", sid, canvasId, canvas: offscreen, kind, width, height }, [offscreen]);
    } else {
      this.post({ type: "show", sid, canvasId, kind, width, height });
    }
    this.listeners.set(sid, drawn);
    const shownOn = canvasId;
    return {
      thread: "worker",
      resize: (newWidth, newHeight) => this.post({ type: "resize", sid, width: newWidth, height: newHeight }),
      stop: () => {
        if (this.listeners.get(sid) === drawn) this.listeners.delete(sid);
        this.post({ type: "hide", sid, canvasId: shownOn });
      },
    };
  }
}

/** Whether pictures can be drawn off the page's thread here (`?tiles=page` says no). */
function workerDrawingAvailable(): boolean {
  if (new URLSearchParams(window.location.search).get("tiles") === "page") return false;
  return (
    typeof Worker !== "undefined" &&
    typeof OffscreenCanvas !== "undefined" &&
    typeof HTMLCanvasElement.prototype.transferControlToOffscreen === "function"
  );
}

function startWorker(): Worker | null {
  try {
    return new Worker(new URL("./tileWorker.ts", import.meta.url), { type: "module" });
  } catch {
    return null;
  }
}

/** The app's video feed: the worker's where it can run, the page's otherwise. */
class VideoFeed {
  private page: PageFeed | null = null;
  private worker: WorkerFeed | null | undefined;

  /**
   * Draws `sid`'s newest pictures on `canvas`, scaled by the server to `width` x `height`;
   * `drawn` is told after each one. `null` when the canvas cannot draw at all.
   */
  show(sid: string, canvas: HTMLCanvasElement, width: number, height: number, drawn: DrawnListener): ShownTile | null {
    if (this.worker === undefined) {
      const worker = workerDrawingAvailable() ? startWorker() : null;
      this.worker = worker ? new WorkerFeed(worker) : null;
    }
    if (this.worker) return this.worker.show(sid, canvas, width, height, drawn);
    this.page ??= new PageFeed();
    return this.page.show(sid, canvas, width, height, drawn);
  }
}

/** The app's one feed. */
export const videoFeed = new VideoFeed();
