//! Test harness shared by Convene's crates (dev-dependency only).
//!
//! * [`start_server`]: the devserver on `127.0.0.1:0`, with test logging.
//! * [`BrowserPeers`]: `tests/peers/browser-peers.mjs`, which drives `livekit-client`
//!   pages in headless Chromium with fake camera and microphone (JSON lines over stdio).
//! * [`python_peer`]: the official Python SDK as a peer (`tests/peers/python_peer.py`).
//! * [`relay_frames`]: reassembles a subscribed track's RTP into frames and publishes them
//!   on one of our tracks, so an official client can decode media our client sent.

#![allow(missing_docs)]

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use convene_devserver::{DevServer, DevServerConfig};
use convene_room::room::{LocalTrack, RemoteTrack};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

pub mod tools;

/// Installs a test log subscriber once (RUST_LOG overrides the quiet default).
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,rtc=error,webrtc=error"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_test_writer()
        .try_init();
}

/// The devserver on an ephemeral loopback port.
pub async fn start_server(departure: Duration) -> DevServer {
    init_logging();
    DevServer::start(DevServerConfig {
        bind: "127.0.0.1:0".parse().expect("loopback address"),
        departure_timeout: departure,
        ..DevServerConfig::default()
    })
    .await
    .expect("start the devserver")
}

/// Room options for tests on one machine: candidates on loopback only, no network watch.
pub fn loopback_options() -> convene_room::RoomOptions {
    convene_room::RoomOptions {
        bind_addrs: vec!["127.0.0.1:0".parse().expect("loopback address")],
        watch_network: false,
        ..convene_room::RoomOptions::default()
    }
}

/// `tests/peers` at the repository root.
pub fn peers_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/peers")
}

/// The browser driver: one Chromium, any number of pages, each a `livekit-client` Room.
pub struct BrowserPeers {
    child: Child,
    stdin: ChildStdin,
    stdout: tokio::io::Lines<BufReader<ChildStdout>>,
}

impl BrowserPeers {
    /// Starts the driver (`node tests/peers/browser-peers.mjs`).
    pub async fn start() -> Self {
        let mut child = Command::new("node")
            .arg(peers_dir().join("browser-peers.mjs"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("start node tests/peers/browser-peers.mjs (run scripts/setup.sh first)");
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
        Self {
            child,
            stdin,
            stdout,
        }
    }

    /// Sends one command; returns its result or the driver's error text.
    pub async fn call(&mut self, command: Value) -> Result<Value, String> {
        let line = format!("{command}\n");
        self.stdin
            .write_all(line.as_bytes())
            .await
            .expect("write to the driver");
        let reply = tokio::time::timeout(Duration::from_secs(90), self.stdout.next_line())
            .await
            .expect("driver reply within 90 s")
            .expect("read the driver")
            .expect("driver alive");
        let reply: Value = serde_json::from_str(&reply).expect("JSON reply");
        if reply["ok"] == true {
            Ok(reply["result"].clone())
        } else {
            Err(reply["error"]
                .as_str()
                .unwrap_or("unknown error")
                .to_owned())
        }
    }

    /// Opens page `id` and joins `url` with `token`, publishing camera and microphone when
    /// `publish` is set.
    pub async fn join_with(&mut self, id: &str, url: &str, token: &str, publish: bool) -> Value {
        self.call(json!({"cmd": "open", "id": id}))
            .await
            .expect("open a page");
        self.call(json!({"cmd": "join", "id": id, "url": url, "token": token, "publish": publish}))
            .await
            .unwrap_or_else(|e| panic!("{id} could not join: {e}"))
    }

    /// Opens page `id` and joins, publishing camera and microphone.
    pub async fn join(&mut self, id: &str, url: &str, token: &str) -> Value {
        self.join_with(id, url, token, true).await
    }

    /// Closes the browser.
    pub async fn quit(mut self) {
        let _ = self.call(json!({"cmd": "quit"})).await;
        let _ = self.child.wait().await;
    }
}

/// Starts the Python SDK peer: it joins, publishes a 440 Hz tone and a colour pattern, waits
/// for video and audio from `expect_from`, stays `linger_secs`, and prints a JSON report.
pub fn python_peer(
    url: &str,
    token: &str,
    expect_from: &str,
    timeout_secs: u32,
    linger_secs: u32,
) -> Child {
    let dir = peers_dir();
    Command::new(dir.join(".venv/bin/python"))
        .arg(dir.join("python_peer.py"))
        .args([
            url,
            token,
            expect_from,
            &timeout_secs.to_string(),
            &linger_secs.to_string(),
        ])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start the Python peer (scripts/setup.sh creates tests/peers/.venv)")
}

/// Reads the Python peer's JSON report.
pub async fn python_report(child: Child) -> Value {
    let output = child
        .wait_with_output()
        .await
        .expect("the Python peer ends");
    let report = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str(report.trim()).unwrap_or_else(|_| panic!("Python peer printed {report:?}"))
}

/// What [`relay_frames`] (or the audio side of [`relay_media_of`]) saw.
#[derive(Debug, Default, Clone, Copy)]
pub struct RelayStats {
    /// For audio: the dominant frequency of the peer's audio, decoded (0 if not measured).
    pub audio_hz: f32,
    /// RTP packets received ([`measure_tone`]); whole frames for [`relay_frames`], which
    /// reads frames the room reassembled.
    pub packets: u64,
    /// Whole frames reassembled and republished.
    pub frames: u64,
    /// Frames our track actually sent (published and unmuted).
    pub sent: u64,
}

/// Reassembles `remote` (VP8 or Opus) into frames and writes each to `local`, until
/// `remote` ends or `limit` passes. Returns what it saw.
pub async fn relay_frames(
    mut remote: RemoteTrack,
    local: LocalTrack,
    limit: Duration,
) -> RelayStats {
    let mut stats = RelayStats::default();
    let deadline = tokio::time::Instant::now() + limit;
    // Our receivers' keyframe requests go upstream to the original publisher: a relay
    // cannot make keyframes itself.
    let mut keyframe_requests = local.keyframe_requests();
    loop {
        let frame = tokio::select! {
            frame = tokio::time::timeout_at(deadline, remote.recv_frame()) => match frame {
                Ok(Some(frame)) => frame,
                _ => break,
            },
            changed = keyframe_requests.changed() => {
                if changed.is_ok() {
                    let _ = remote.request_keyframe().await;
                }
                continue;
            }
        };
        // Reassembled by the room: `packets` counts what arrived, here whole frames.
        stats.packets += 1;
        stats.frames += 1;
        if local
            .write_frame(frame.data, frame.duration)
            .await
            .unwrap_or(false)
        {
            stats.sent += 1;
        }
    }
    stats
}

/// Waits for the first event `pick` accepts (others are recorded in `seen`), failing the
/// test after `timeout`.
pub async fn wait_event<T>(
    events: &mut convene_room::RoomEvents,
    seen: &mut Vec<String>,
    timeout: Duration,
    mut pick: impl FnMut(convene_room::RoomEvent) -> Option<T>,
) -> T {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let event = tokio::time::timeout_at(deadline, events.recv())
            .await
            .unwrap_or_else(|_| panic!("timed out; events so far: {seen:#?}"))
            .unwrap_or_else(|| panic!("the room ended; events so far: {seen:#?}"));
        seen.push(format!("{event:?}"));
        if let Some(found) = pick(event) {
            return found;
        }
    }
}

/// A TCP relay in front of the devserver's signaling port whose connections can be cut, to
/// make a client's WebSocket drop while its media (direct UDP) keeps going.
pub struct SignalProxy {
    address: std::net::SocketAddr,
    accepted: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    cut: tokio::sync::watch::Sender<u64>,
    refuse_until: std::sync::Arc<std::sync::Mutex<Option<tokio::time::Instant>>>,
    task: tokio::task::JoinHandle<()>,
}

impl SignalProxy {
    /// Relays `127.0.0.1:<ephemeral>` to `target`.
    pub async fn start(target: std::net::SocketAddr) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the proxy");
        let address = listener.local_addr().expect("proxy address");
        let (cut, cuts) = tokio::sync::watch::channel(0u64);
        let refuse_until = std::sync::Arc::new(std::sync::Mutex::new(None));
        let refusing = refuse_until.clone();
        let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = accepted.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let refused = refusing
                    .lock()
                    .ok()
                    .and_then(|until| *until)
                    .is_some_and(|until| tokio::time::Instant::now() < until);
                if refused {
                    continue;
                }
                let mut cuts = cuts.clone();
                cuts.mark_unchanged();
                tokio::spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = cuts.changed() => {}
                    }
                });
            }
        });
        Self {
            address,
            accepted,
            cut,
            refuse_until,
            task,
        }
    }

    /// How many TCP connections clients have opened to the proxy so far (signaling and
    /// `/rtc/validate` alike): a test of "nothing connects before the user asks".
    pub fn connections(&self) -> usize {
        self.accepted.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// The URL clients use instead of the server's.
    pub fn url(&self) -> String {
        format!("ws://{}", self.address)
    }

    /// Drops every connection open now (new ones still go through).
    pub fn cut(&self) {
        self.cut.send_modify(|n| *n += 1);
    }

    /// Drops every connection and refuses new ones for `outage` (a signaling outage long
    /// enough to watch a client reconnect).
    pub fn cut_for(&self, outage: std::time::Duration) {
        if let Ok(mut until) = self.refuse_until.lock() {
            *until = Some(tokio::time::Instant::now() + outage);
        }
        self.cut();
    }
}

impl Drop for SignalProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The frequency of the tone we publish in [`relay_media_of`].
pub const OUR_TONE_HZ: f32 = 880.0;

/// Waits for `from`'s audio and video subscriptions and publishes a track of ours for
/// each: video relays the peer's own frames back (see [`relay_frames`]); audio is our own
/// [`OUR_TONE_HZ`] tone (Opus), while the peer's audio is decoded and its frequency
/// measured. Returns the tasks; each yields what it saw.
pub async fn relay_media_of(
    room: &convene_room::Room,
    events: &mut convene_room::RoomEvents,
    seen: &mut Vec<String>,
    from: &str,
) -> Vec<tokio::task::JoinHandle<RelayStats>> {
    use convene_room::room::{LocalTrackOptions, RoomEvent};
    use convene_room::webrtc_kit::MediaKind;
    let mut relays = Vec::new();
    while relays.len() < 2 {
        let mut track = wait_event(events, seen, Duration::from_secs(30), |event| match event {
            RoomEvent::TrackSubscribed(track) if track.participant_identity == from => Some(track),
            _ => None,
        })
        .await;
        let options = match track.info.kind {
            MediaKind::Audio => LocalTrackOptions::microphone(),
            MediaKind::Video => LocalTrackOptions::camera(track.info.width, track.info.height),
        };
        let local = room
            .publish_track(options)
            .await
            .expect("publish our track");
        assert!(local.sid().is_some_and(|sid| sid.starts_with("TR_")));
        relays.push(match track.info.kind {
            MediaKind::Video => tokio::spawn(relay_frames(track, local, Duration::from_secs(120))),
            MediaKind::Audio => tokio::spawn(async move {
                let tone = publish_tone(local, OUR_TONE_HZ);
                let stats = measure_tone(&mut track, Duration::from_secs(120)).await;
                // Keep reading so the track never backs up while the test goes on.
                while track.recv().await.is_some() {}
                tone.abort();
                stats
            }),
        });
    }
    relays
}

/// Writes Opus silence on `track` at 50 frames a second until the task is aborted.
pub fn publish_silence(track: LocalTrack) -> tokio::task::JoinHandle<()> {
    use convene_media::synthetic::{OPUS_SILENCE_FRAME, OPUS_SILENCE_FRAME_DURATION};
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(OPUS_SILENCE_FRAME_DURATION);
        loop {
            tick.tick().await;
            let frame = bytes::Bytes::from_static(&OPUS_SILENCE_FRAME);
            let _ = track.write_frame(frame, OPUS_SILENCE_FRAME_DURATION).await;
        }
    })
}

/// Encodes a `hz` tone with Opus and writes it on `track` in real time (20 ms frames) until
/// the task is aborted.
pub fn publish_tone(track: LocalTrack, hz: f32) -> tokio::task::JoinHandle<()> {
    use convene_media::codec::opus::{FRAME_DURATION, OpusEncoder, OpusSettings, SAMPLE_RATE};
    use convene_media::synthetic::SineTone;
    tokio::spawn(async move {
        let Ok(mut encoder) = OpusEncoder::new(OpusSettings::default()) else {
            return;
        };
        let mut tone = SineTone::new(hz, SAMPLE_RATE, 0.4);
        let mut frame = vec![0.0; encoder.frame_len()];
        let mut tick = tokio::time::interval(FRAME_DURATION);
        loop {
            tick.tick().await;
            tone.fill(&mut frame);
            if let Ok(packet) = encoder.encode(&frame) {
                let _ = track.write_frame(packet, FRAME_DURATION).await;
            }
        }
    })
}

/// Decodes an Opus track's packets until one second of audio (after 0.5 s of warm-up) is
/// in, and measures its dominant frequency; gives up after `limit`.
pub async fn measure_tone(track: &mut RemoteTrack, limit: Duration) -> RelayStats {
    use convene_media::analysis::dominant_frequency;
    use convene_media::codec::opus::{OpusDecoder, SAMPLE_RATE};
    let mut stats = RelayStats::default();
    let Ok(mut decoder) = OpusDecoder::new(1) else {
        return stats;
    };
    let warm_up = (SAMPLE_RATE / 2) as usize;
    let wanted = SAMPLE_RATE as usize;
    let mut decoded: Vec<f32> = Vec::new();
    let deadline = tokio::time::Instant::now() + limit;
    while decoded.len() < warm_up + wanted {
        let Ok(Some(packet)) = tokio::time::timeout_at(deadline, track.recv()).await else {
            break;
        };
        stats.packets += 1;
        if let Ok(samples) = decoder.decode(&packet.payload) {
            stats.frames += 1;
            decoded.extend_from_slice(samples);
        }
    }
    if decoded.len() > warm_up {
        stats.audio_hz = dominant_frequency(&decoded[warm_up..], SAMPLE_RATE);
    }
    stats
}
