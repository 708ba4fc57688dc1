import { defineConfig } from "vitest/config";

// The UI is embedded into the app binary from ui/dist (tauri.conf.json: frontendDist).
export default defineConfig({
  clearScreen: false,
  build: { outDir: "dist", emptyOutDir: true, target: "safari16" },
  test: { include: ["src/**/*.test.ts"], environment: "node" },
});
