import { useEffect, useState } from "react";
import { VideoTile } from "../call/VideoTile";
import {
  backend,
  type DeviceKind,
  type DeviceList,
  LOCAL_CAMERA_FEED,
  type MediaChoice,
  onDeviceNotice,
  type PreviewStatus,
} from "../ipc";
import { DevicePicker } from "./DevicePicker";
import { MicMeter } from "./MicMeter";

const NO_DEVICES: DeviceList = { devices: [], problems: [] };

/** The join-with on/off buttons. */
const TOGGLES = [
  { kind: "microphone", testId: "prejoin-mic", name: "Microphone" },
  { kind: "camera", testId: "prejoin-camera", name: "Camera" },
] as const;

/** The device list, loaded once the screen shows and again whenever devices come or go. */
export function useDeviceList(): DeviceList {
  const [list, setList] = useState<DeviceList>(NO_DEVICES);
  useEffect(() => {
    let live = true;
    const load = () => void backend.listDevices().then((l) => live && setList(l), () => live && setList(NO_DEVICES));
    const unlisten = onDeviceNotice(load);
    load();
    return () => {
      live = false;
      void unlisten.then((stop) => stop());
    };
  }, []);
  return list;
}

/**
 * Before joining: our camera as others will see it, the microphone's level, device pickers
 * and whether to join with the camera and microphone on. The preview follows every change
 * and stops when the screen goes.
 */
export function DeviceSetup({
  media,
  disabled,
  onChange,
}: {
  media: MediaChoice;
  disabled: boolean;
  onChange: (media: MediaChoice) => void;
}) {
  const list = useDeviceList();
  const [status, setStatus] = useState<PreviewStatus | null>(null);
  // Bumped when a new preview starts, so the tile subscribes to its pictures.
  const [generation, setGeneration] = useState(0);

  useEffect(() => {
    let current = true;
    void backend.startPreview(media).then(
      (started) => {
        if (!current) return;
        setStatus(started);
        setGeneration((n) => n + 1);
      },
      () => current && setStatus(null),
    );
    return () => {
      current = false;
    };
  }, [media]);
  useEffect(() => () => void backend.stopPreview().catch(() => undefined), []);

  const pick = (kind: DeviceKind, id: string) => onChange({ ...media, devices: { ...media.devices, [kind]: id } });
  const problems = [...list.problems, ...(status?.problems ?? [])];

  return (
    <section className="device-setup" aria-label="Camera and microphone" data-testid="device-setup">
      <div className="preview" data-testid="preview">
        {status?.camera ? (
          <VideoTile trackSid={LOCAL_CAMERA_FEED} testId="preview-video" generation={generation} mirror />
        ) : (
          <p className="preview-off" data-testid="preview-off">
            {media.camera ? "Camera unavailable" : "Camera is off"}
          </p>
        )}
      </div>
      <MicMeter active={Boolean(status?.microphone)} />
      <div className="preview-toggles">
        {TOGGLES.map(({ kind, testId, name }) => (
          <button
            key={kind}
            type="button"
            className="secondary"
            data-testid={testId}
            aria-pressed={!media[kind]}
            disabled={disabled}
            onClick={() => onChange({ ...media, [kind]: !media[kind] })}
          >
            {`${name} ${media[kind] ? "on" : "off"}`}
          </button>
        ))}
      </div>
      {(["microphone", "camera", "speaker"] as const).map((kind) => (
        <DevicePicker key={kind} kind={kind} list={list} choice={media.devices} disabled={disabled} onPick={pick} />
      ))}
      {problems.map((problem) => (
        <p className="field-message error" key={problem} data-testid="preview-problem">
          {problem}
        </p>
      ))}
    </section>
  );
}
