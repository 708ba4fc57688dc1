// Frame-server pictures as bytes: the message format (crates/call: frame_server.rs) and the
// I420 -> RGBA conversion of the 2D canvas. No DOM: used by the page and the tile worker.

/** One decoded picture, I420. */
export interface Picture {
  width: number;
  height: number;
  data: Uint8Array;
}

/** Parses a frame-server message: sid length, sid, width, height (u16 LE), I420 planes. */
export function parseMessage(buffer: ArrayBuffer): { sid: string; picture: Picture } | null {
  const bytes = new Uint8Array(buffer);
  if (bytes.length < 1) return null;
  const sidLength = bytes[0];
  const header = 1 + sidLength + 4;
  if (bytes.length < header) return null;
  const sid = new TextDecoder().decode(bytes.subarray(1, 1 + sidLength));
  const view = new DataView(buffer, 1 + sidLength, 4);
  const width = view.getUint16(0, true);
  const height = view.getUint16(2, true);
  const data = bytes.subarray(header);
  if (data.length < (width * height * 3) / 2) return null;
  return { sid, picture: { width, height, data } };
}

/** One RGBA pixel (little-endian 0xAABBGGRR) from scaled luma and a block's chroma terms. */
function pack(luma: number, red: number, green: number, blue: number): number {
  let r = (luma + red) >> 8;
  let g = (luma + green) >> 8;
  let b = (luma + blue) >> 8;
  r = r < 0 ? 0 : r > 255 ? 255 : r;
  g = g < 0 ? 0 : g > 255 ? 255 : g;
  b = b < 0 ? 0 : b > 255 ? 255 : b;
  return (0xff000000 | (b << 16) | (g << 8) | r) >>> 0;
}

/**
 * I420 (BT.601 limited range) to RGBA, into `out` (width * height * 4 bytes); sizes are
 * even, as every I420 picture of ours. Integer arithmetic, each 2 x 2 block sharing its
 * chroma terms, one 32-bit store per pixel (about twice as fast as per-pixel floats: `npm run bench`):
 * this runs for every picture of every tile when WebGL is not used (in the tile worker
 * when the webview has OffscreenCanvas).
 */
export function i420ToRgba(picture: Picture, out: Uint8ClampedArray) {
  const { width, height, data } = picture;
  const chromaWidth = width >> 1;
  const uOffset = width * height;
  const vOffset = uOffset + chromaWidth * (height >> 1);
  const pixels = new Uint32Array(out.buffer, out.byteOffset, width * height);
  for (let y = 0; y + 1 < height; y += 2) {
    const chromaRow = (y >> 1) * chromaWidth;
    const top = y * width;
    const bottom = top + width;
    for (let x = 0; x + 1 < width; x += 2) {
      const chroma = chromaRow + (x >> 1);
      const d = data[uOffset + chroma] - 128;
      const e = data[vOffset + chroma] - 128;
      const red = 409 * e + 128;
      const green = -100 * d - 208 * e + 128;
      const blue = 516 * d + 128;
      const a = top + x;
      const b = bottom + x;
      pixels[a] = pack(298 * (data[a] - 16), red, green, blue);
      pixels[a + 1] = pack(298 * (data[a + 1] - 16), red, green, blue);
      pixels[b] = pack(298 * (data[b] - 16), red, green, blue);
      pixels[b + 1] = pack(298 * (data[b + 1] - 16), red, green, blue);
    }
  }
}
