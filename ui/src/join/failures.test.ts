import { describe, expect, it } from "vitest";
import { describeJoinError } from "./failures";

describe("describeJoinError", () => {
  it("chooses the words by the failure's kind, not its text", () => {
    expect(describeJoinError({ kind: "joinFailed", cause: "unauthorized", message: "401 invalid signature" })).toMatch(
      /Ask for a new token/,
    );
    expect(describeJoinError({ kind: "joinFailed", cause: "unreachable", message: "connection refused" })).toMatch(
      /cannot be reached/,
    );
  });

  it("falls back to the backend's message", () => {
    expect(describeJoinError({ kind: "joinFailed", cause: "other", message: "something odd" })).toBe("something odd");
    expect(describeJoinError({ kind: "invalidToken", message: "not a JWT" })).toBe("not a JWT");
  });
});
