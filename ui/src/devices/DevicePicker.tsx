import type { DeviceChoice, DeviceKind, DeviceList } from "../ipc";
import { devicesOf, selectedId } from "./devices";

const LABELS: Record<DeviceKind, string> = { microphone: "Microphone", camera: "Camera", speaker: "Speaker" };

/** A labelled list of the devices of one kind; "none found" when there are none. */
export function DevicePicker({
  kind,
  list,
  choice,
  disabled,
  onPick,
}: {
  kind: DeviceKind;
  list: DeviceList;
  choice: DeviceChoice;
  disabled?: boolean;
  onPick: (kind: DeviceKind, id: string) => void;
}) {
  const devices = devicesOf(list, kind);
  const id = `pick-${kind}`;
  return (
    <div className="device-picker">
      <label htmlFor={id}>{LABELS[kind]}</label>
      <select
        id={id}
        data-testid={id}
        value={selectedId(list, choice, kind)}
        disabled={disabled || devices.length === 0}
        onChange={(event) => onPick(kind, event.target.value)}
      >
        {devices.length === 0 && <option value="">No {kind} found</option>}
        {devices.map((device) => (
          <option key={device.id} value={device.id}>
            {device.label}
          </option>
        ))}
      </select>
    </div>
  );
}
