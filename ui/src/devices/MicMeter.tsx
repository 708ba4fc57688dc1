import { useEffect, useState } from "react";
import { onMicLevel } from "../ipc";
import { meterFill } from "./devices";

/** The previewed microphone's level as a bar (dB scale), so people see they are heard. */
export function MicMeter({ active }: { active: boolean }) {
  const [level, setLevel] = useState(0);
  useEffect(() => {
    if (!active) {
      setLevel(0);
      return;
    }
    const unlisten = onMicLevel(setLevel);
    return () => void unlisten.then((stop) => stop());
  }, [active]);
  const fill = active ? meterFill(level) : 0;
  return (
    <div
      className="mic-meter"
      role="meter"
      aria-label="Microphone level"
      aria-valuemin={0}
      aria-valuemax={100}
      aria-valuenow={Math.round(fill * 100)}
      data-testid="mic-level"
      data-level={fill.toFixed(2)}
    >
      <div className="mic-meter-fill" style={{ width: `${fill * 100}%` }} />
    </div>
  );
}
