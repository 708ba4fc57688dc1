import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./App";
import { setPreferredRenderer } from "./call/renderer";
import { backend } from "./ipc";
import "./styles.css";

const root = document.getElementById("root");
// Known before any video tile mounts (the first one waits for the devices anyway).
void backend.preferredRenderer().then(setPreferredRenderer, () => undefined);
if (root) {
  createRoot(root).render(
    <StrictMode>
      <App />
    </StrictMode>,
  );
}
