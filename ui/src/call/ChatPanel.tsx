import type { UiError } from "../ipc";
import { useState } from "react";
import type { ChatLine } from "./callState";

interface Props {
  lines: ChatLine[];
  onSend: (text: string) => Promise<void>;
  disabled: boolean;
}

/** The call's chat: messages in order, and a field to write one (Enter sends). */
export function ChatPanel({ lines, onSend, disabled }: Props) {
  const [text, setText] = useState("");
  const [problem, setProblem] = useState<string | null>(null);
  return (
    <aside className="chat" aria-label="Chat" data-testid="chat">
      <ol className="chat-lines" data-testid="chat-lines">
        {lines.map((line) => (
          <li key={line.message.id} data-testid="chat-line">
            <strong>{line.from ?? "you"}:</strong> {line.message.message}
          </li>
        ))}
      </ol>
      <form
        onSubmit={(event) => {
          event.preventDefault();
          const message = text.trim();
          if (!message) return;
          setProblem(null);
          onSend(message)
            .then(() => setText(""))
            .catch((error: UiError) => setProblem(error.message));
        }}
      >
        <input
          data-testid="chat-input"
          aria-label="Message"
          placeholder="Message everyone"
          value={text}
          disabled={disabled}
          onChange={(event) => setText(event.target.value)}
        />
      </form>
      {problem && (
        <p className="error" role="alert" data-testid="chat-problem">
          {problem}
        </p>
      )}
    </aside>
  );
}
