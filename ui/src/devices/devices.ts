// Pure helpers for the device pickers: which devices of a kind, and which one is selected.
import type { DeviceChoice, DeviceKind, DeviceList, MediaDevice } from "../ipc";

/** The devices of `kind`, in the backend's order. */
export function devicesOf(list: DeviceList, kind: DeviceKind): MediaDevice[] {
  return list.devices.filter((device) => device.kind === kind);
}

/**
 * The id the picker shows for `kind`: the chosen one while it is present, else the default
 * (or the first), else "" (none of that kind).
 */
export function selectedId(list: DeviceList, choice: DeviceChoice, kind: DeviceKind): string {
  const devices = devicesOf(list, kind);
  const chosen = choice[kind];
  if (chosen && devices.some((device) => device.id === chosen)) return chosen;
  return (devices.find((device) => device.isDefault) ?? devices[0])?.id ?? "";
}

/** A meter's fill (0 to 1) for a level: -60 dBFS and below is empty, 0 dBFS is full. */
export function meterFill(level: number): number {
  if (!(level > 0)) return 0;
  const dbfs = 20 * Math.log10(level);
  return Math.min(1, Math.max(0, (dbfs + 60) / 60));
}
