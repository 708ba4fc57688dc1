// Bundles ipc-mock-entry.js (an ES module importing @tauri-apps/api/mocks) into one script
// that Playwright can inject with addInitScript.
import { build } from "esbuild";
import { fileURLToPath } from "node:url";

const here = fileURLToPath(new URL(".", import.meta.url));
await build({
  entryPoints: [`${here}/ipc-mock-entry.js`],
  bundle: true,
  format: "iife",
  outfile: `${here}/.build/ipc-mock.js`,
  logLevel: "warning",
});
