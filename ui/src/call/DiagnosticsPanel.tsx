import { useEffect, useRef, useState } from "react";
import { CopyDiagnostics } from "../CopyDiagnostics";
import { backend, type Diagnostics } from "../ipc";
import { describeEntry, summarize } from "./diagnostics";

/** How often the panel reads the connection while open. */
const READ_EVERY_MS = 1000;
/** The most timeline lines shown (the export has them all). */
const SHOWN_EVENTS = 200;

/**
 * For testers: the candidate pair in use (host/srflx/relay, UDP/TCP/TLS), round trip,
 * loss, jitter and bitrates, read every second, and the timeline of every room event with
 * its time; "Export" saves it all as a JSON file to attach to a bug report.
 */
export function DiagnosticsPanel() {
  const [reading, setReading] = useState<Diagnostics | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [exported, setExported] = useState<string | null>(null);
  const panel = useRef<HTMLElement>(null);
  useEffect(() => panel.current?.scrollIntoView?.({ block: "nearest" }), []);
  useEffect(() => {
    let open = true;
    const read = () =>
      backend.diagnostics().then(
        (diagnostics) => {
          if (!open) return;
          setReading(diagnostics);
          setProblem(null);
        },
        (error: { message: string }) => open && setProblem(error.message),
      );
    void read();
    const timer = setInterval(() => void read(), READ_EVERY_MS);
    return () => {
      open = false;
      clearInterval(timer);
    };
  }, []);

  const exportTimeline = () => {
    setExported(null);
    backend.exportDiagnostics().then(
      (path) => setExported(`Saved to ${path}`),
      (error: { message: string }) => setExported(error.message),
    );
  };

  return (
    <section ref={panel} className="diagnostics" aria-label="Diagnostics" data-testid="diagnostics">
      {/* The button sits above the readings and the growing timeline, so it never moves
          under the pointer while they update. */}
      <div className="diagnostics-header">
        <h2>Diagnostics</h2>
        <button type="button" className="secondary" data-testid="export-diagnostics" onClick={exportTimeline}>
          Export timeline
        </button>
        <CopyDiagnostics />
      </div>
      {exported && (
        <p className="hint" data-testid="export-result">
          {exported}
        </p>
      )}
      {problem && <p className="field-message error">{problem}</p>}
      <dl data-testid="diagnostics-stats">
        {(reading ? summarize(reading) : []).map((row) => (
          <div key={row.label}>
            <dt>{row.label}</dt>
            <dd>{row.value}</dd>
          </div>
        ))}
      </dl>
      <ol className="timeline" data-testid="diagnostics-timeline">
        {(reading?.timeline ?? []).slice(-SHOWN_EVENTS).map((entry, index) => (
          <li key={`${entry.atMs}-${index}`}>{describeEntry(entry)}</li>
        ))}
      </ol>
    </section>
  );
}
