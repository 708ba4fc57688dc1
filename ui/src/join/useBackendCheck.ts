import { useEffect, useState } from "react";
import type { UiError } from "../ipc";

/** The state of one field's backend check. `idle` while the field is empty. */
export type Check<T> =
  | { status: "idle" }
  | { status: "ok"; value: T }
  | { status: "error"; error: UiError };

/**
 * Runs `check` on every change of `input` and keeps only the newest answer, so a slow reply
 * to an old keystroke can never overwrite the message for what is in the field now.
 */
export function useBackendCheck<T>(input: string, check: (input: string) => Promise<T>): Check<T> {
  const [state, setState] = useState<Check<T>>({ status: "idle" });
  useEffect(() => {
    if (input.trim() === "") {
      setState({ status: "idle" });
      return;
    }
    let current = true;
    check(input).then(
      (value) => current && setState({ status: "ok", value }),
      (error: UiError) => current && setState({ status: "error", error }),
    );
    return () => {
      current = false;
    };
  }, [input, check]);
  return state;
}
