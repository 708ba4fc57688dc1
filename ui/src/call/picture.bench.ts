// `npm run bench`: the 2D canvas's colour conversion of one 640x360 picture, against the
// straightforward per-pixel floating-point version it replaced (docs/BENCHMARKS.md).
import { bench, describe } from "vitest";
import { type Picture, i420ToRgba } from "./picture";

/** The per-pixel, floating-point BT.601 conversion (the reference). */
function i420ToRgbaFloat({ width, height, data }: Picture, out: Uint8ClampedArray) {
  const uOffset = width * height;
  const vOffset = uOffset + (width >> 1) * (height >> 1);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const chroma = (y >> 1) * (width >> 1) + (x >> 1);
      const luma = 1.164 * (data[y * width + x] - 16);
      const u = data[uOffset + chroma] - 128;
      const v = data[vOffset + chroma] - 128;
      const i = (y * width + x) * 4;
      out[i] = luma + 1.596 * v;
      out[i + 1] = luma - 0.392 * u - 0.813 * v;
      out[i + 2] = luma + 2.017 * u;
      out[i + 3] = 255;
    }
  }
}

const [width, height] = [640, 360];
const data = new Uint8Array((width * height * 3) / 2);
for (let i = 0; i < data.length; i++) data[i] = (i * 7919) & 0xff;
const picture: Picture = { width, height, data };
const out = new Uint8ClampedArray(width * height * 4);

describe("I420 -> RGBA, one 640x360 picture", () => {
  bench("integer, 2 x 2 blocks, 32-bit stores (the app's)", () => i420ToRgba(picture, out));
  bench("per-pixel floating point (reference)", () => i420ToRgbaFloat(picture, out));
});
