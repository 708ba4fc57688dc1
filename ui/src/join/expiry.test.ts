import { describe, expect, it } from "vitest";
import { describeExpiry } from "./expiry";

describe("describeExpiry", () => {
  const now = 1_800_000_000;
  it("counts down in the largest sensible unit", () => {
    expect(describeExpiry(now + 30, now)).toBe("expires in 30 s");
    expect(describeExpiry(now + 45 * 60, now)).toBe("expires in 45 min");
    expect(describeExpiry(now + 6 * 3600, now)).toBe("expires in 6 h");
    expect(describeExpiry(now + 5 * 86400, now)).toBe("expires in 5 days");
  });
  it("says how long ago an expired token ran out", () => {
    expect(describeExpiry(now - 180, now)).toBe("expired 3 min ago");
    expect(describeExpiry(now, now)).toBe("expired 0 s ago");
  });
  it("handles tokens without exp", () => {
    expect(describeExpiry(null, now)).toBe("never expires");
  });
});
