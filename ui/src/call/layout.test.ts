import { describe, expect, it } from "vitest";
import { gridColumns } from "./layout";

describe("call grid", () => {
  it("is as square as possible, at most four wide", () => {
    const columns = (n: number) => Number(/repeat\((\d+)/.exec(gridColumns(n))?.[1]);
    expect([1, 2, 3, 4, 5, 9, 10, 16, 30].map(columns)).toEqual([1, 2, 2, 2, 3, 3, 4, 4, 4]);
  });
});
