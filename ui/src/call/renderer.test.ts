import { describe, expect, it } from "vitest";
import { isSoftwareGl } from "./renderer";

describe("renderer choice", () => {
  it("recognises CPU rasterisers by their GL renderer name", () => {
    expect(isSoftwareGl("llvmpipe (LLVM 15.0.6, 256 bits)")).toBe(true);
    expect(isSoftwareGl("Google SwiftShader")).toBe(true);
    expect(isSoftwareGl("Mesa Intel(R) UHD Graphics 620 (KBL GT2)")).toBe(false);
    expect(isSoftwareGl("")).toBe(false);
  });
});
