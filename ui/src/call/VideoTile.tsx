import { useEffect, useRef } from "react";
import { createRenderer } from "./renderer";
import { videoFeed } from "./videoFeed";

/**
 * Draws a remote video track's newest pictures (WebGL, canvas fallback). `data-frames`
 * counts pictures drawn and `data-renderer` names the renderer, for diagnostics and tests.
 */
export function VideoTile({ trackSid, testId }: { trackSid: string; testId: string }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    const element = canvas.current;
    if (!element) return;
    const renderer = createRenderer(element);
    if (!renderer) return;
    element.dataset.renderer = renderer.kind;
    let frames = 0;
    const width = Math.max(160, element.clientWidth || 640);
    const height = Math.max(90, element.clientHeight || 360);
    return videoFeed.subscribe(trackSid, width, height, (picture) => {
      renderer.draw(picture);
      frames += 1;
      element.dataset.frames = String(frames);
    });
  }, [trackSid]);
  return <canvas ref={canvas} className="video" data-testid={testId} data-frames="0" />;
}
