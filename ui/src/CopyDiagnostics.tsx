import { useState } from "react";
import { backend, type UiError } from "./ipc";

/** Puts `text` on the clipboard: the async Clipboard API, else a selected textarea and "copy". */
export async function copyText(text: string): Promise<void> {
  try {
    await navigator.clipboard.writeText(text);
    return;
  } catch {
    // Not allowed here (WebKitGTK without a user-activation grant): the old way below.
  }
  const area = document.createElement("textarea");
  area.value = text;
  area.setAttribute("readonly", "");
  area.style.position = "fixed";
  area.style.opacity = "0";
  document.body.appendChild(area);
  area.select();
  const copied = document.execCommand("copy");
  area.remove();
  if (!copied) throw new Error("the clipboard refused the text");
}

/**
 * "Copy diagnostics": the backend's support report (build, where settings and logs live, the
 * call's readings, the newest log lines; secrets redacted) onto the clipboard, for a bug report.
 */
export function CopyDiagnostics() {
  const [outcome, setOutcome] = useState<string | null>(null);
  async function copy() {
    try {
      await copyText(await backend.supportReport());
      setOutcome("Diagnostics copied: paste them into your bug report.");
    } catch (error) {
      setOutcome(`Not copied: ${(error as UiError).message ?? String(error)}`);
    }
  }
  return (
    <span className="copy-diagnostics">
      <button type="button" className="secondary" data-testid="copy-diagnostics" onClick={() => void copy()}>
        Copy diagnostics
      </button>
      {outcome && (
        <span className="hint" role="status" data-testid="copy-diagnostics-outcome">
          {outcome}
        </span>
      )}
    </span>
  );
}
