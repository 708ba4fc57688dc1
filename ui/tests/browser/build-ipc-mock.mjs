// Bundles ipc-mock-entry.ts (an ES module importing @tauri-apps/api/mocks) into one script
// that Playwright can inject with addInitScript.
import { build } from "esbuild";
import { fileURLToPath } from "node:url";

const here = fileURLToPath(new URL(".", import.meta.url));
await build({
  entryPoints: [`${here}/ipc-mock-entry.ts`],
  bundle: true,
  format: "iife",
  outfile: `${here}/.build/ipc-mock.js`,
  logLevel: "warning",
});
