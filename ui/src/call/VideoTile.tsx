import { useEffect, useRef } from "react";
import { i420ToRgba, videoFeed } from "./videoFeed";

/** Draws a remote video track's newest pictures; counts them in `data-frames` for tests. */
export function VideoTile({ trackSid, testId }: { trackSid: string; testId: string }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    const element = canvas.current;
    if (!element) return;
    const context = element.getContext("2d");
    if (!context) return;
    let frames = 0;
    const width = Math.max(160, element.clientWidth || 640);
    const height = Math.max(90, element.clientHeight || 360);
    return videoFeed.subscribe(trackSid, width, height, (picture) => {
      if (element.width !== picture.width || element.height !== picture.height) {
        element.width = picture.width;
        element.height = picture.height;
      }
      const image = context.createImageData(picture.width, picture.height);
      i420ToRgba(picture, image.data);
      context.putImageData(image, 0, 0);
      frames += 1;
      element.dataset.frames = String(frames);
    });
  }, [trackSid]);
  return <canvas ref={canvas} className="video" data-testid={testId} data-frames="0" />;
}
