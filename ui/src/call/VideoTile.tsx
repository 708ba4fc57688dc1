import { useEffect, useRef } from "react";
import { videoFeed } from "./videoFeed";

/** The picture size to ask for: the tile's, rounded up to 16 pixels (fewer resubscriptions). */
function tileSize(width: number, height: number): [number, number] {
  const round = (n: number, min: number) => Math.max(min, Math.ceil((n || min) / 16) * 16);
  return [round(width || 640, 160), round(height || 360, 90)];
}

/**
 * Draws a video track's newest pictures as they arrive (WebGL, canvas fallback), in the
 * tile worker where the webview has OffscreenCanvas. `data-frames` counts pictures drawn
 * `data-renderer` names the renderer and `data-thread` where it runs, for diagnostics and tests. (Drawing in
 * requestAnimationFrame was tried: WebKitGTK under a virtual display runs it at about 5 Hz.)
 * A new `generation` subscribes again (the source was replaced, e.g. a new preview);
 * `mirror` flips our own camera, as people expect to see themselves.
 */
export function VideoTile({
  trackSid,
  testId,
  generation = 0,
  mirror = false,
}: {
  trackSid: string;
  testId: string;
  generation?: number;
  mirror?: boolean;
}) {
  const canvas = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    const element = canvas.current;
    if (!element) return;
    const size = () => tileSize(element.clientWidth, element.clientHeight);
    const [width, height] = size();
    const shown = videoFeed.show(trackSid, element, width, height, (frames, kind) => {
      element.dataset.frames = String(frames);
      element.dataset.renderer = kind;
    });
    if (!shown) return;
    element.dataset.thread = shown.thread;
    // The grid changes as people come and go: ask for pictures at the tile's new size.
    const resized = new ResizeObserver(() => shown.resize(...size()));
    resized.observe(element);
    return () => {
      resized.disconnect();
      shown.stop();
    };
  }, [trackSid, generation]);
  return <canvas ref={canvas} className={mirror ? "video mirror" : "video"} data-testid={testId} data-frames="0" />;
}
