import { useEffect, useRef } from "react";
import { createRenderer } from "./renderer";
import { videoFeed } from "./videoFeed";

/**
 * Draws a video track's newest pictures (WebGL, canvas fallback). `data-frames` counts
 * pictures drawn and `data-renderer` names the renderer, for diagnostics and tests.
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
  }, [trackSid, generation]);
  return <canvas ref={canvas} className={mirror ? "video mirror" : "video"} data-testid={testId} data-frames="0" />;
}
