/// <reference lib="webworker" />
// The tile worker: one WebSocket to the frame server, a subscription per tile, each picture
// drawn on its tile's OffscreenCanvas as it arrives (newest picture wins: the server drops
// older ones). Colour conversion and drawing stay off the page's thread, which keeps the
// layout, buttons and chat responsive with four tiles at 30 pictures/s.
import { parseMessage } from "./picture";
import { type Renderer, rendererOfKind } from "./renderer";
import type { FromWorker, ToWorker } from "./tileMessages";

declare const self: DedicatedWorkerGlobalScope;

interface Tile {
  canvasId: number;
  renderer: Renderer;
  width: number;
  height: number;
  frames: number;
}

const canvases = new Map<number, { canvas: OffscreenCanvas; renderer: Renderer | null }>();
const tiles = new Map<string, Tile>();
let url: string | null = null;
let socket: WebSocket | null = null;

function send(message: object) {
  if (socket?.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
}

function open() {
  if (!url || (socket && socket.readyState <= WebSocket.OPEN)) return;
  const opened = new WebSocket(url);
  opened.binaryType = "arraybuffer";
  opened.onmessage = (event) => {
    const parsed = parseMessage(event.data as ArrayBuffer);
    const tile = parsed && tiles.get(parsed.sid);
    if (!parsed || !tile) return;
    tile.renderer.draw(parsed.picture);
    tile.frames += 1;
    const drawn: FromWorker = { type: "drawn", sid: parsed.sid, frames: tile.frames, kind: tile.renderer.kind };
    self.postMessage(drawn);
  };
  opened.onopen = () => {
    for (const [sid, { width, height }] of tiles) send({ subscribe: sid, width, height });
  };
  socket = opened;
}

/** The canvas's renderer, made on first use (a canvas keeps its first context). */
function rendererFor(canvasId: number, kind: Tile["renderer"]["kind"]): Renderer | null {
  const entry = canvases.get(canvasId);
  if (!entry) return null;
  entry.renderer ??= rendererOfKind(entry.canvas, kind);
  return entry.renderer;
}

self.onmessage = (event: MessageEvent<ToWorker>) => {
  const message = event.data;
  switch (message.type) {
    case "connect":
      url = message.url;
      if (tiles.size > 0) open();
      break;
    case "show": {
      if (message.canvas) canvases.set(message.canvasId, { canvas: message.canvas, renderer: null });
      const renderer = rendererFor(message.canvasId, message.kind);
      if (!renderer) return;
      const { sid, width, height } = message;
      tiles.set(sid, { canvasId: message.canvasId, renderer, width, height, frames: 0 });
      open();
      send({ subscribe: sid, width, height });
      break;
    }
    case "resize": {
      const tile = tiles.get(message.sid);
      if (!tile || (tile.width === message.width && tile.height === message.height)) return;
      tile.width = message.width;
      tile.height = message.height;
      send({ subscribe: message.sid, width: message.width, height: message.height });
      break;
    }
    case "hide":
      if (tiles.get(message.sid)?.canvasId !== message.canvasId) return;
      tiles.delete(message.sid);
      send({ unsubscribe: message.sid });
      break;
    case "forget":
      canvases.delete(message.canvasId);
      break;
  }
};
