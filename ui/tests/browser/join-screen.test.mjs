// The join screen in headless Chromium (Debian's /usr/bin/chromium) with the Tauri IPC mocked:
// inline validation, token summary, expiry flag and the Join button's state.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { extname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = fileURLToPath(new URL(".", import.meta.url));
const dist = join(here, "..", "..", "dist");
const artifacts = join(here, "..", "..", "..", "test-artifacts", "ui");
const types = { ".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".png": "image/png" };

let server;
let browser;
let baseUrl;

before(async () => {
  server = createServer(async (req, res) => {
    const path = normalize(new URL(req.url, "http://x").pathname).replace(/^\/+/, "") || "index.html";
    try {
      const body = await readFile(join(dist, path));
      res.writeHead(200, { "content-type": types[extname(path)] ?? "application/octet-stream" });
      res.end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  baseUrl = `http://127.0.0.1:${server.address().port}/`;
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
  });
});

after(async () => {
  await browser?.close();
  server?.close();
});

async function openJoinScreen({ joinLink } = {}) {
  const page = await browser.newPage();
  // A convene://join link the app was started with (see the mock's take_join_link).
  if (joinLink) await page.addInitScript((link) => (window.__joinLink = link), joinLink);
  await page.addInitScript({ path: join(here, ".build", "ipc-mock.js") });
  await page.goto(baseUrl);
  await page.getByTestId("join-screen").waitFor();
  return page;
}

test("a URL without a scheme gets an inline message and Join stays disabled", async () => {
  const page = await openJoinScreen();
  await page.getByTestId("server-url").fill("my-project.livekit.cloud");
  await page.getByTestId("server-url-message").getByText("add ws://").waitFor();
  assert.equal(await page.getByTestId("join").isDisabled(), true);
  await page.getByTestId("server-url").fill("wss://my-project.livekit.cloud");
  await page.waitForFunction(() => document.querySelector("[data-testid=server-url-message]").textContent === "");
  await page.close();
});

test("a token that is not a JWT is explained inline", async () => {
  const page = await openJoinScreen();
  await page.getByTestId("token").fill("hello");
  await page.getByTestId("token-message").getByText("not a JWT").waitFor();
  await page.close();
});

test("a valid token shows its room and identity and enables Join", async () => {
  const page = await openJoinScreen();
  await page.getByTestId("server-url").fill("ws://127.0.0.1:7880");
  await page.getByTestId("token").fill("valid.jwt.token");
  await page.getByTestId("token-summary").waitFor();
  assert.equal(await page.getByTestId("token-room").textContent(), "standup");
  assert.equal(await page.getByTestId("token-identity").textContent(), "alice");
  assert.match(await page.getByTestId("token-expiry").textContent(), /expires in 6 h/);
  await page.waitForFunction(() => !document.querySelector("[data-testid=join]").disabled);
  await page.screenshot({ path: join(artifacts, "join-valid-token.png") });
  await page.getByTestId("join").click();
  await page.getByTestId("call-screen").waitFor();
  const calls = await page.evaluate(() => window.__ipcCalls.filter((c) => c.cmd === "join_room"));
  assert.deepEqual(calls[0].args, {
    url: "ws://127.0.0.1:7880",
    token: "valid.jwt.token",
    media: { devices: { microphone: null, camera: null, speaker: null }, microphone: true, camera: true },
  });
  await page.close();
});

test("a join the server refuses shows why and stays on the join screen", async () => {
  const page = await openJoinScreen();
  await page.getByTestId("server-url").fill("ws://unreachable:7880");
  await page.getByTestId("token").fill("valid.jwt.token");
  await page.waitForFunction(() => !document.querySelector("[data-testid=join]").disabled);
  await page.getByTestId("join").click();
  await page.getByTestId("join-outcome").getByText("cannot be reached").waitFor();
  assert.equal(await page.getByTestId("join-screen").isVisible(), true);
  await page.close();
});

test("a join under way can be cancelled: back to the join screen, no error", async () => {
  const page = await openJoinScreen();
  await page.getByTestId("server-url").fill("ws://slow:7880");
  await page.getByTestId("token").fill("valid.jwt.token");
  await page.waitForFunction(() => !document.querySelector("[data-testid=join]").disabled);
  await page.getByTestId("join").click();
  await page.getByTestId("join").getByText("Joining…").waitFor();
  await page.getByTestId("cancel-join").click();
  await page.getByTestId("join").getByText("Join", { exact: true }).waitFor();
  assert.equal(await page.getByTestId("cancel-join").count(), 0);
  assert.equal(await page.getByTestId("join-outcome").count(), 0);
  const left = await page.evaluate(() => window.__ipcCalls.some((c) => c.cmd === "leave_call"));
  assert.equal(left, true, "Cancel asks the backend to leave");
  await page.close();
});

test("copy diagnostics puts the backend's report on the clipboard and says so", async () => {
  const page = await openJoinScreen();
  await page.evaluate(() => {
    window.__copied = null;
    navigator.clipboard.writeText = async (text) => {
      window.__copied = text;
    };
  });
  await page.getByTestId("copy-diagnostics").click();
  await page.getByTestId("copy-diagnostics-outcome").getByText("Diagnostics copied").waitFor();
  const copied = await page.evaluate(() => window.__copied);
  assert.match(copied, /^Convene 0\.1\.0 on linux/);
  await page.close();
});

test("the call screen follows participants and shows the connection banners", async () => {
  const page = await openJoinScreen();
  await page.getByTestId("server-url").fill("ws://127.0.0.1:7880");
  await page.getByTestId("token").fill("valid.jwt.token");
  await page.waitForFunction(() => !document.querySelector("[data-testid=join]").disabled);
  await page.getByTestId("join").click();
  await page.getByTestId("tile-bob").waitFor();
  assert.equal(await page.getByTestId("call-room").textContent(), "standup");
  assert.match(await page.getByTestId("state-bob").textContent(), /mic on · camera off/);
  const send = (event) => page.evaluate((e) => window.__emit("call-event", e), event);
  await send({ type: "trackMuted", identity: "bob", trackSid: "TR_mic", muted: true });
  await page.getByTestId("state-bob").getByText("mic off").waitFor();
  await send({ type: "activeSpeakers", identities: ["bob"] });
  await page.locator("[data-testid=tile-bob].speaking").waitFor();
  await page.getByTestId("toggle-mic").click();
  await page.getByTestId("toggle-mic").getByText("Unmute microphone").waitFor();
  await page.keyboard.press("Control+e");
  await page.getByTestId("toggle-camera").getByText("Unmute camera").waitFor();
  assert.match(await page.getByTestId("state-self").textContent(), /mic off · camera off/);
  const mutes = await page.evaluate(() => window.__ipcCalls.filter((c) => c.cmd === "set_muted").map((c) => c.args));
  assert.deepEqual(mutes, [
    { kind: "audio", muted: true },
    { kind: "video", muted: true },
  ]);
  await page.getByTestId("chat-input").fill("hello bob");
  await page.getByTestId("chat-input").press("Enter");
  await page.getByTestId("chat-lines").getByText("hello bob").waitFor();
  await send({ type: "chat", from: "bob", message: { id: "b1", timestamp: 1, message: "hi alice" } });
  await page.getByTestId("chat-lines").getByText("hi alice").waitFor();
  assert.deepEqual(
    await page.getByTestId("chat-line").allTextContents(),
    ["you: hello bob", "bob: hi alice"],
  );
  await page.screenshot({ path: join(artifacts, "call-screen.png") });
  await send({ type: "reconnecting", kind: "resume" });
  await page.getByTestId("banner").getByText("Reconnecting").waitFor();
  await page.screenshot({ path: join(artifacts, "call-reconnecting.png") });
  await send({ type: "reconnected" });
  await page.getByTestId("banner").getByText("Reconnected").waitFor();
  await send({ type: "participantLeft", identity: "bob" });
  await page.getByTestId("tile-bob").waitFor({ state: "detached" });
  await send({
    type: "disconnected",
    reason: { kind: "duplicateIdentity" },
    message: "you joined this room from somewhere else",
  });
  await page.getByTestId("banner").getByText("Disconnected: you joined this room from somewhere else").waitFor();
  await page.getByTestId("rejoin").waitFor();
  await page.screenshot({ path: join(artifacts, "call-disconnected.png") });
  await page.getByTestId("rejoin").click();
  await page.getByTestId("tile-bob").waitFor();
  await page.getByTestId("leave").click();
  await page.getByTestId("join-screen").waitFor();
  const left = await page.evaluate(() => window.__ipcCalls.some((c) => c.cmd === "leave_call"));
  assert.equal(left, true);
  await page.close();
});

test("an expired token is flagged and cannot be used to join", async () => {
  const page = await openJoinScreen();
  await page.getByTestId("server-url").fill("ws://127.0.0.1:7880");
  await page.getByTestId("token").fill("expired.jwt.token");
  await page.getByTestId("token-summary").getByText("ask for a new token").waitFor();
  assert.match(await page.getByTestId("token-expiry").textContent(), /expired 3 min ago/);
  assert.equal(await page.getByTestId("join").isDisabled(), true);
  await page.screenshot({ path: join(artifacts, "join-expired-token.png") });
  await page.close();
});

test("starting a local room fills in its URL and token", async () => {
  const page = await openJoinScreen();
  await page.getByTestId("local-room").click();
  await page.getByTestId("local-room-status").getByText("running at ws://127.0.0.1:7880").waitFor();
  assert.equal(await page.getByTestId("server-url").inputValue(), "ws://127.0.0.1:7880");
  await page.getByTestId("token-summary").waitFor();
  await page.waitForFunction(() => !document.querySelector("[data-testid=join]").disabled);
  await page.close();
});

test("before joining: preview, meter, pickers and toggles; the choice goes with the join", async () => {
  const page = await openJoinScreen();
  await page.getByTestId("device-setup").waitFor();
  // The remembered choice is previewed at once.
  await page.waitForFunction(() => window.__ipcCalls.some((c) => c.cmd === "start_preview"));
  await page.getByTestId("preview-video").waitFor();
  assert.equal(await page.getByTestId("pick-microphone").inputValue(), "synthetic:tone");
  assert.equal(await page.getByTestId("pick-camera").inputValue(), "synthetic:pattern");
  // The meter follows the level events (half amplitude: about -6 dBFS).
  await page.evaluate(() => window.__emit("mic-level", 0.5));
  await page.waitForFunction(() => Number(document.querySelector("[data-testid=mic-level]").dataset.level) > 0.8);
  // Picking another microphone and turning the camera off restart the preview with them.
  await page.getByTestId("pick-microphone").selectOption("pulseaudio:usb");
  await page.getByTestId("prejoin-camera").click();
  await page.getByTestId("preview-off").getByText("Camera is off").waitFor();
  const last = await page.evaluate(() => window.__ipcCalls.filter((c) => c.cmd === "start_preview").at(-1).args.media);
  assert.deepEqual(last, {
    devices: { microphone: "pulseaudio:usb", camera: null, speaker: null },
    microphone: true,
    camera: false,
  });
  await page.screenshot({ path: join(artifacts, "pre-join.png") });

  await page.getByTestId("server-url").fill("ws://127.0.0.1:7880");
  await page.getByTestId("token").fill("valid.jwt.token");
  await page.waitForFunction(() => !document.querySelector("[data-testid=join]").disabled);
  await page.getByTestId("join").click();
  await page.getByTestId("call-screen").waitFor();
  const joined = await page.evaluate(() => window.__ipcCalls.find((c) => c.cmd === "join_room").args);
  assert.deepEqual(joined.media, last);
  await page.close();
});

test("in the call: the participant list, a device joined off is turned on, a refused switch says why", async () => {
  const page = await openJoinScreen();
  await page.evaluate(() => {
    window.__ipcCalls.length = 0;
  });
  await page.getByTestId("server-url").fill("ws://127.0.0.1:7880");
  await page.getByTestId("token").fill("valid.jwt.token");
  await page.waitForFunction(() => !document.querySelector("[data-testid=join]").disabled);
  await page.getByTestId("join").click();
  await page.getByTestId("participant-list").waitFor();
  assert.match(await page.getByTestId("person-self").textContent(), /alice \(you\)mic on · camera on/);
  assert.match(await page.getByTestId("person-bob").textContent(), /Bobmic on · camera off/);
  const send = (event) => page.evaluate((e) => window.__emit("call-event", e), event);
  // Our camera goes away (e.g. unpublished in a full reconnect): the button turns it on again.
  await send({
    type: "localTrackUnpublished",
    track: { sid: "TR_my_cam", name: "camera", kind: "video", source: "camera", muted: false },
  });
  await page.getByTestId("toggle-camera").getByText("Turn on camera").waitFor();
  await page.getByTestId("toggle-camera").click();
  await page.getByTestId("toggle-camera").getByText("Mute camera").waitFor();
  // Switching: a busy device is refused with the reason.
  await page.getByTestId("call-devices").waitFor();
  await page.getByTestId("pick-microphone").selectOption("pulseaudio:usb");
  await page.getByTestId("switch-problem").getByText("is busy").waitFor();
  await page.getByTestId("pick-speaker").selectOption("pulseaudio:out");
  const switches = await page.evaluate(() => window.__ipcCalls.filter((c) => c.cmd === "switch_device").map((c) => c.args));
  assert.deepEqual(switches, [
    { kind: "microphone", id: "pulseaudio:usb" },
    { kind: "speaker", id: "pulseaudio:out" },
  ]);
  await page.screenshot({ path: join(artifacts, "call-devices.png") });

  // Diagnostics: the path in use (relayed over TLS here), round trip, bitrate, the timeline, export.
  await page.getByTestId("toggle-diagnostics").click();
  await page.getByTestId("diagnostics-stats").getByText("relay, UDP (TURN over TLS) 10.0.0.9:50000").waitFor();
  assert.match(await page.getByTestId("diagnostics-stats").textContent(), /21\.5 ms.*640 kbit\/s/);
  assert.match(await page.getByTestId("diagnostics-timeline").textContent(), /reconnecting kind=resume.*reconnected/);
  await page.getByTestId("export-diagnostics").click();
  await page.getByTestId("export-result").getByText("Saved to /tmp/convene-diagnostics-1.json").waitFor();
  await page.screenshot({ path: join(artifacts, "call-diagnostics.png") });
  await page.close();
});

/** What the backend offers for a convene://join link to `url` (src-tauri: LinkOffer). */
function linkOffer(url, host, insecure = false) {
  return {
    url,
    token: "valid.jwt.token",
    host,
    insecure,
    summary: { room: "standup", identity: "alice", name: "", expiresAt: Math.floor(Date.now() / 1000) + 600, expired: false },
  };
}

const previews = (page) =>
  page.evaluate(() => window.__ipcCalls.filter((c) => c.cmd === "start_preview").map((c) => c.args.media));

test("a link fills the join screen and joins only on a click, camera and microphone off", async () => {
  const page = await openJoinScreen({ joinLink: linkOffer("wss://meet.example.org", "meet.example.org") });
  await page.getByTestId("link-offer").waitFor();
  assert.equal(await page.getByTestId("link-room").textContent(), "standup");
  assert.equal(await page.getByTestId("link-host").textContent(), "meet.example.org");
  assert.equal(await page.getByTestId("link-identity").textContent(), "alice");
  assert.equal(await page.getByTestId("link-insecure").count(), 0);
  assert.equal(await page.getByTestId("server-url").inputValue(), "wss://meet.example.org");
  assert.equal(await page.getByTestId("token").inputValue(), "valid.jwt.token");
  await page.getByTestId("preview-off").getByText("Camera is off").waitFor();
  await page.waitForFunction(() => !document.querySelector("[data-testid=join]").disabled);
  // Nothing was opened on, and nothing joined, before the click.
  const before = await previews(page);
  assert.ok(before.length > 0);
  assert.ok(before.every((media) => !media.camera && !media.microphone), JSON.stringify(before));
  assert.equal(await page.evaluate(() => window.__ipcCalls.some((c) => c.cmd === "join_room")), false);
  await page.screenshot({ path: join(artifacts, "join-link.png") });

  await page.getByTestId("join").click();
  await page.getByTestId("call-screen").waitFor();
  const joined = await page.evaluate(() => window.__ipcCalls.filter((c) => c.cmd === "join_room"));
  assert.equal(joined.length, 1);
  assert.deepEqual(joined[0].args, {
    url: "wss://meet.example.org",
    token: "valid.jwt.token",
    media: { devices: { microphone: null, camera: null, speaker: null }, microphone: false, camera: false },
  });
  await page.close();
});

test("a link opened while the app runs turns the preview off and calls out an unencrypted server", async () => {
  const page = await openJoinScreen();
  await page.getByTestId("preview-video").waitFor();
  await page.evaluate((link) => {
    window.__joinLink = link;
    window.__emit("join-link", null);
  }, linkOffer("ws://meet.example.org:7880", "meet.example.org:7880", true));
  await page.getByTestId("link-insecure").getByText("without encryption").waitFor();
  await page.getByTestId("preview-off").getByText("Camera is off").waitFor();
  const last = (await previews(page)).at(-1);
  assert.equal(last.camera || last.microphone, false, JSON.stringify(last));
  assert.equal(await page.getByTestId("server-url").inputValue(), "ws://meet.example.org:7880");
  assert.equal(await page.evaluate(() => window.__ipcCalls.some((c) => c.cmd === "join_room")), false);
  await page.close();
});

test("a malformed link says why; a link opened during a call waits for the join screen", async () => {
  const page = await openJoinScreen({
    joinLink: { error: { kind: "invalidServerUrl", message: "This join link is not usable: the token is missing." } },
  });
  await page.getByTestId("join-outcome").getByText("the token is missing").waitFor();

  await page.getByTestId("server-url").fill("ws://127.0.0.1:7880");
  await page.getByTestId("token").fill("valid.jwt.token");
  await page.waitForFunction(() => !document.querySelector("[data-testid=join]").disabled);
  await page.getByTestId("join").click();
  await page.getByTestId("call-screen").waitFor();
  await page.evaluate((link) => {
    window.__joinLink = link;
    window.__emit("join-link", null);
  }, linkOffer("wss://other.example.org", "other.example.org"));
  await page.getByTestId("link-notice").getByText("other.example.org").waitFor();
  assert.equal(await page.evaluate(() => window.__ipcCalls.filter((c) => c.cmd === "join_room").length), 1);
  await page.getByTestId("leave").click();
  await page.getByTestId("link-offer").getByText("other.example.org").waitFor();
  assert.equal(await page.getByTestId("server-url").inputValue(), "wss://other.example.org");
  await page.close();
});

test("a microphone plugged in shows in the picker without reopening the screen", async () => {
  const page = await openJoinScreen();
  await page.getByTestId("device-setup").waitFor();
  await page.evaluate(() => {
    window.__pluggedDevices = [{ kind: "microphone", id: "pulseaudio:headset", label: "Headset", isDefault: false }];
    window.__emit("device-notice", { type: "listChanged" });
  });
  await page.getByTestId("pick-microphone").locator("option", { hasText: "Headset" }).waitFor({ state: "attached" });
  await page.close();
});
