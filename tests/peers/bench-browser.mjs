// Benchmark peer: livekit-client in headless Chromium (Debian's /usr/bin/chromium, fake
// camera and microphone), the page being bench-page.js bundled with esbuild. Prints the same
// JSON lines as bench_peer.py (ready, connected, first_frame, latency, reconnecting,
// reconnected, disconnected, done / error), one per line, flushed.
//
// usage: node bench-browser.mjs --url URL --token TOKEN --from IDENTITY [--publish] [--duration S]
// The run ends DURATION seconds (default 30) after connecting, when stdin reaches its end, or
// on SIGTERM/SIGINT.
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";

let token = null;
// Browser errors quote the signaling URL, token included: never let one reach the output.
const redact = (text) => {
  let out = String(text);
  if (token) out = out.split(token).join("<redacted>");
  return out
    .replace(/(access_token=|join_request=)[^&'"\s]+/g, "$1<redacted>")
    .replace(/eyJ[\w-]+\.[\w-]+\.[\w-]+/g, "<redacted-jwt>");
};
const emit = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");

let browser = null;
let server = null;
async function cleanup() {
  const closing = Promise.allSettled([browser?.close(), new Promise((r) => (server ? server.close(r) : r()))]);
  await Promise.race([closing, new Promise((r) => setTimeout(r, 5000))]);
}
async function fail(error) {
  // The first line only: Playwright appends the page's stack trace.
  const message = String(error?.message ?? error).replace(/^page\.evaluate: /, "").split("\n")[0];
  emit({ event: "error", message: redact(message) });
  await cleanup();
  process.exit(1);
}
process.on("unhandledRejection", fail);
process.on("uncaughtException", fail);

function parseArgs(argv) {
  const args = { publish: false, duration: 30 };
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`bad arguments: ${name} needs a value`);
      return argv[++i];
    };
    if (name === "--url") args.url = value();
    else if (name === "--token") args.token = value();
    else if (name === "--from") args.from = value();
    else if (name === "--publish") args.publish = true;
    else if (name === "--duration") args.duration = Number(value());
    else throw new Error(`bad arguments: unknown ${name}`);
  }
  for (const required of ["url", "token", "from"]) {
    if (!args[required]) throw new Error(`bad arguments: --${required} is required`);
  }
  if (!Number.isFinite(args.duration) || args.duration < 0) throw new Error("bad arguments: --duration must be a number of seconds");
  return args;
}

try {
  const args = parseArgs(process.argv.slice(2));
  token = args.token;

  // Load everything before "ready": bundle, page server, browser, page.
  const { build } = await import("esbuild");
  const { chromium } = await import("playwright-core");
  const here = fileURLToPath(new URL(".", import.meta.url));
  const bundle = `${here}/.build/bench.js`;
  await build({ entryPoints: [`${here}/bench-page.js`], bundle: true, format: "iife", outfile: bundle, logLevel: "warning" });
  const script = await readFile(bundle);
  server = createServer((req, res) => {
    if (req.url === "/bench.js") {
      res.writeHead(200, { "content-type": "text/javascript" }).end(script);
    } else {
      res.writeHead(200, { "content-type": "text/html" }).end('<!doctype html><body><script src="/bench.js"></script></body>');
    }
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const pageUrl = `http://127.0.0.1:${server.address().port}/`;

  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
      "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
      "--allow-loopback-in-peer-connection", "--autoplay-policy=no-user-gesture-required",
    ],
  });
  const context = await browser.newContext({ permissions: ["camera", "microphone"] });
  const page = await context.newPage();
  page.on("console", (m) => m.type() === "error" && process.stderr.write(`[page] ${redact(m.text())}\n`));
  page.on("pageerror", (e) => process.stderr.write(`[page] ${redact(e.message)}\n`));

  // Ends the run: at the deadline, at stdin's end, on a signal or when the room goes away.
  let finish;
  const finished = new Promise((resolve) => (finish = resolve));
  let lostRoom = null;
  await page.exposeFunction("benchEmit", (obj) => {
    emit(obj);
    if (obj.event === "connected") setTimeout(() => finish("duration"), args.duration * 1000);
    if (obj.event === "disconnected") {
      lostRoom = obj.reason;
      finish("disconnected");
    }
  });
  await page.goto(pageUrl);
  await page.waitForFunction(() => window.bench !== undefined);
  await page.evaluate((publish) => window.bench.prepare(publish), args.publish);

  process.stdin.on("end", () => finish("stdin"));
  process.stdin.on("error", () => {});
  process.stdin.resume();
  process.on("SIGTERM", () => finish("signal"));
  process.on("SIGINT", () => finish("signal"));

  emit({ event: "ready" });
  const started = page.evaluate(([u, t, f]) => window.bench.start(u, t, f), [args.url, args.token, args.from]);
  started.catch(() => {}); // raced below; a failure is rethrown there
  await Promise.race([started.then(() => finished), finished]);
  await started.catch((error) => {
    if (lostRoom === null) throw error;
  });

  const stats = await page.evaluate(() => window.bench.stop());
  emit({ event: "latency", ...stats });
  if (lostRoom !== null) throw new Error(`room disconnected: ${lostRoom}`);
  emit({ event: "done" });
  await cleanup();
  process.exit(0);
} catch (error) {
  await fail(error);
}
