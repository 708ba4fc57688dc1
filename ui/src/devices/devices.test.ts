import { describe, expect, it } from "vitest";
import type { DeviceList } from "../ipc";
import { devicesOf, meterFill, selectedId } from "./devices";

const list: DeviceList = {
  devices: [
    { kind: "microphone", id: "pulseaudio:a", label: "A", isDefault: false },
    { kind: "microphone", id: "pulseaudio:b", label: "B", isDefault: true },
    { kind: "speaker", id: "pulseaudio:out", label: "Out", isDefault: false },
  ],
  problems: [],
};

describe("device pickers", () => {
  it("lists a kind's devices", () => {
    expect(devicesOf(list, "microphone").map((d) => d.id)).toEqual(["pulseaudio:a", "pulseaudio:b"]);
    expect(devicesOf(list, "camera")).toEqual([]);
  });

  it("shows the chosen device while present, else the default, else the first, else none", () => {
    expect(selectedId(list, { microphone: "pulseaudio:a" }, "microphone")).toBe("pulseaudio:a");
    expect(selectedId(list, { microphone: "pulseaudio:unplugged" }, "microphone")).toBe("pulseaudio:b");
    expect(selectedId(list, {}, "speaker")).toBe("pulseaudio:out");
    expect(selectedId(list, {}, "camera")).toBe("");
  });

  it("fills the meter on a dB scale", () => {
    expect(meterFill(0)).toBe(0);
    expect(meterFill(1)).toBe(1);
    expect(meterFill(0.001)).toBe(0);
    expect(meterFill(0.5)).toBeCloseTo(0.9, 1);
  });
});
