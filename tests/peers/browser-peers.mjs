// Test driver: livekit-client participants in headless Chromium (Debian's /usr/bin/chromium
// with fake camera and microphone), controlled by JSON lines on stdin; one JSON reply per
// line on stdout. Used by the Rust tests in crates/*/tests (see tests/peers/README.md).
//
// Commands: {"cmd":"open","id"} {"cmd":"join","id","url","token","publish"}
//   {"cmd":"wait_media","id","from","timeout_ms"} {"cmd":"send_data","id","text","topic","to"}
//   {"cmd":"wait_data","id","text","timeout_ms"} {"cmd":"wait_gone","id","identity","timeout_ms"}
//   {"cmd":"wait_present","id","identity","timeout_ms"} {"cmd":"wait_speaking","id","identity","timeout_ms"}
//   {"cmd":"mic","id","enabled"}
//   {"cmd":"simulate","id","scenario","arg"} (room.simulateScenario, e.g. "signal-reconnect")
//   {"cmd":"wait_event","id","event","identity","timeout_ms"} (a RoomEvent name, e.g. "reconnected")
//   {"cmd":"local","id"} {"cmd":"remotes","id"} (identities and sids)
//   {"cmd":"events","id"} {"cmd":"disconnect","id"} {"cmd":"quit"}
// wait_media takes an optional "baseline" (an earlier "decoded" result): then it waits for
// that many more frames and samples, i.e. for media still flowing.
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

// Browser errors quote the signaling URL, token included: never let one reach a log.
const redact = (text) =>
  text.replace(/(access_token=|join_request=)[^&'"\s]+/g, "$1<redacted>").replace(/eyJ[\w-]+\.[\w-]+\.[\w-]+/g, "<redacted-jwt>");
import { chromium } from "playwright-core";

const here = fileURLToPath(new URL(".", import.meta.url));
const bundle = `${here}/.build/peer.js`;
await build({ entryPoints: [`${here}/page-entry.js`], bundle: true, format: "iife", outfile: bundle, logLevel: "warning" });

const server = createServer(async (req, res) => {
  if (req.url === "/peer.js") {
    res.writeHead(200, { "content-type": "text/javascript" }).end(await readFile(bundle));
  } else {
    res.writeHead(200, { "content-type": "text/html" }).end('<!doctype html><body><script src="/peer.js"></script></body>');
  }
});
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
const pageUrl = `http://127.0.0.1:${server.address().port}/`;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
    "--allow-loopback-in-peer-connection", "--autoplay-policy=no-user-gesture-required",
  ],
});
const pages = new Map();

async function until(check, timeoutMs, what) {
  const deadline = Date.now() + (timeoutMs ?? 20000);
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function handle(msg) {
  const page = pages.get(msg.id);
  switch (msg.cmd) {
    case "open": {
      const context = await browser.newContext({ permissions: ["camera", "microphone"] });
      const p = await context.newPage();
      p.on("console", (m) => m.type() === "error" && process.stderr.write(`[${msg.id}] ${redact(m.text())}\n`));
      await p.goto(pageUrl);
      await p.waitForFunction(() => window.peer !== undefined);
      pages.set(msg.id, p);
      return {};
    }
    case "join":
      return page.evaluate(([u, t, pub]) => window.peer.join(u, t, pub), [msg.url, msg.token, msg.publish ?? true]);
    case "wait_media": {
      const base = msg.baseline ?? { videoFrames: 0, audioSamples: 0 };
      let last;
      return until(async () => {
        const d = await page.evaluate((who) => window.peer.decodedFrom(who), msg.from);
        last = d;
        return d.videoFrames >= base.videoFrames + 15 && d.audioSamples >= base.audioSamples + 48000 ? d : null;
      }, msg.timeout_ms, `media from ${msg.from}`).catch((error) => {
        throw new Error(`${error.message} (decoded ${JSON.stringify(last)}, baseline ${JSON.stringify(base)})`);
      });
    }
    case "decoded":
      return page.evaluate((who) => window.peer.decodedFrom(who), msg.from);
    case "send_data":
      await page.evaluate(([t, topic, to]) => window.peer.sendData(t, topic, to), [msg.text, msg.topic ?? null, msg.to ?? null]);
      return {};
    case "wait_data":
      return until(async () => {
        const all = await page.evaluate(() => window.peer.received());
        return all.find((r) => r.text === msg.text) ?? null;
      }, msg.timeout_ms, `data ${msg.text}`);
    case "wait_present":
      return until(async () => (await page.evaluate(() => window.peer.participants())).includes(msg.identity) && {}, msg.timeout_ms, `${msg.identity} present`);
    case "wait_gone":
      return until(async () => !(await page.evaluate(() => window.peer.participants())).includes(msg.identity) && {}, msg.timeout_ms, `${msg.identity} gone`);
    case "wait_speaking":
      return until(async () => (await page.evaluate(() => window.peer.speakers())).includes(msg.identity) && {}, msg.timeout_ms, `${msg.identity} speaking`);
    case "mic":
      await page.evaluate((e) => window.peer.setMicrophone(e), msg.enabled);
      return {};
    case "simulate":
      await page.evaluate(([s, a]) => window.peer.simulate(s, a), [msg.scenario, msg.arg ?? null]);
      return {};
    case "wait_event":
      return until(async () => {
        const all = await page.evaluate(() => window.peer.events());
        return all.find((e) => e.event === msg.event && (msg.identity == null || e.identity === msg.identity)) ?? null;
      }, msg.timeout_ms, `event ${msg.event}`);
    case "local":
      return page.evaluate(() => window.peer.local());
    case "remotes":
      return page.evaluate(() => window.peer.remotes());
    case "events":
      return { events: await page.evaluate(() => window.peer.events()) };
    case "disconnect":
      await page.evaluate(() => window.peer.disconnect());
      return {};
    case "quit":
      await browser.close();
      server.close();
      process.stdout.write(JSON.stringify({ ok: true }) + "\n");
      process.exit(0);
    default:
      throw new Error(`unknown command ${msg.cmd}`);
  }
}

const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  if (!line.trim()) continue;
  let msg;
  try {
    msg = JSON.parse(line);
    const result = await handle(msg);
    process.stdout.write(JSON.stringify({ ok: true, result }) + "\n");
  } catch (error) {
    process.stdout.write(JSON.stringify({ ok: false, error: String(error?.message ?? error) }) + "\n");
  }
}
await browser.close();
server.close();
