import { describe, expect, it } from "vitest";
import { i420ToRgba, parseMessage } from "./picture";

describe("the video feed", () => {
  it("parses a frame-server message and converts its colour", () => {
    const sid = new TextEncoder().encode("TR_x");
    const [width, height] = [4, 2];
    const planes = new Uint8Array(width * height * 1.5);
    planes.fill(81, 0, 8); // luma of pure red in BT.601 limited range
    planes.fill(90, 8, 10); // U
    planes.fill(240, 10, 12); // V
    const message = new Uint8Array(1 + sid.length + 4 + planes.length);
    message[0] = sid.length;
    message.set(sid, 1);
    new DataView(message.buffer).setUint16(1 + sid.length, width, true);
    new DataView(message.buffer).setUint16(3 + sid.length, height, true);
    message.set(planes, 5 + sid.length);
    const parsed = parseMessage(message.buffer);
    expect(parsed?.sid).toBe("TR_x");
    expect([parsed?.picture.width, parsed?.picture.height]).toEqual([4, 2]);
    const rgba = new Uint8ClampedArray(width * height * 4);
    i420ToRgba(parsed!.picture, rgba);
    expect(rgba[0]).toBeGreaterThan(240);
    expect(rgba[1]).toBeLessThan(15);
    expect(rgba[2]).toBeLessThan(15);
    expect(parseMessage(new Uint8Array([4, 1]).buffer)).toBeNull();
  });
});

describe("the colour conversion", () => {
  it("matches BT.601 limited range for grey, white, black and the primaries", () => {
    const convert = (y: number, u: number, v: number) => {
      const data = new Uint8Array([y, y, y, y, u, v]);
      const out = new Uint8ClampedArray(16);
      i420ToRgba({ width: 2, height: 2, data }, out);
      return Array.from(out.subarray(0, 4));
    };
    expect(convert(16, 128, 128)).toEqual([0, 0, 0, 255]);
    expect(convert(235, 128, 128)).toEqual([255, 255, 255, 255]);
    expect(convert(126, 128, 128)).toEqual([128, 128, 128, 255]);
    const [r, g, b] = convert(145, 54, 34); // green
    expect(r).toBeLessThan(10);
    expect(g).toBeGreaterThan(245);
    expect(b).toBeLessThan(10);
  });
});
