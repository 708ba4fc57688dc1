import { useEffect, useState } from "react";
import { DevicePicker } from "../devices/DevicePicker";
import { useDeviceList } from "../devices/DeviceSetup";
import { backend, type DeviceChoice, type DeviceKind, type UiError } from "../ipc";

/** Switching microphone, camera or speaker during the call; a refused switch says why. */
export function CallDevices({ disabled }: { disabled: boolean }) {
  const list = useDeviceList();
  const [choice, setChoice] = useState<DeviceChoice>({});
  const [problem, setProblem] = useState<string | null>(null);
  useEffect(() => {
    void backend.rememberedMedia().then((media) => setChoice(media.devices), () => undefined);
  }, []);
  const pick = (kind: DeviceKind, id: string) => {
    setProblem(null);
    void backend.switchDevice(kind, id || null).then(
      () => setChoice((current) => ({ ...current, [kind]: id })),
      (error: UiError) => setProblem(error.message),
    );
  };
  return (
    <section className="settings" aria-labelledby="devices-title" data-testid="call-devices">
      <h2 id="devices-title">Devices</h2>
      {(["microphone", "camera", "speaker"] as const).map((kind) => (
        <DevicePicker key={kind} kind={kind} list={list} choice={choice} disabled={disabled} onPick={pick} />
      ))}
      {problem && (
        <p className="field-message error" role="alert" data-testid="switch-problem">
          {problem}
        </p>
      )}
    </section>
  );
}
