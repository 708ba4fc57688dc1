//! `convene-cli join`: a headless participant for QA and tests. It joins a room, prints every
//! room event as one JSON line on stdout (plus a `media` line with the RTP packets received
//! so far, at a fixed interval), optionally publishes a microphone track of Opus silence or
//! the synthetic camera and microphone (`--fake-media`),
//! and leaves cleanly on Ctrl+C, SIGTERM or (with `--leave-on-stdin-end`) when stdin closes.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use convene_room::room::{
    DataKind, DataSendOptions, LocalTrack, LocalTrackOptions, RemoteTrack, RoomEvent, RoomOptions,
};
use convene_room::{Room, RoomEvents};
use serde_json::{Value, json};
use tokio::io::AsyncReadExt;

use convene_call::{FakeMedia, FakeMediaSettings};
use convene_media::synthetic::{OPUS_SILENCE_FRAME, OPUS_SILENCE_FRAME_DURATION};

/// What `join` was asked to do.
pub struct JoinArgs {
    /// Server URL.
    pub url: String,
    /// Access token.
    pub token: String,
    /// Publish a microphone track carrying Opus silence.
    pub publish_silence: bool,
    /// Publish the test pattern camera and test tone microphone.
    pub fake_media: bool,
    /// Local address for the peer connections.
    pub bind: std::net::SocketAddr,
    /// Use only TURN relay candidates.
    pub relay_only: bool,
    /// PEM certificates trusted for TURN over TLS besides the system's.
    pub turn_tls_roots: Vec<String>,
    /// Watch the network interfaces for changes.
    pub watch_network: bool,
    /// How often to print the `media` line.
    pub report_every: Duration,
    /// Also leave when stdin reaches its end (for a parent process that holds the pipe).
    pub leave_on_stdin_end: bool,
    /// Print a `stats` line with each `media` line.
    pub stats: bool,
    /// Send a numbered probe message this often.
    pub probe_every: Option<Duration>,
}

/// The topic of probe messages (`--probe-every-ms`).
pub const PROBE_TOPIC: &str = "convene-probe";

/// Sends `probe 1`, `probe 2`, … reliably every `every`; a message that cannot be sent
/// (e.g. while reconnecting) is reported and the next one goes on.
async fn send_probes(room: Room, every: Duration) {
    let mut tick = tokio::time::interval(every);
    for sequence in 1_u64.. {
        tick.tick().await;
        let options = DataSendOptions {
            kind: DataKind::Reliable,
            topic: Some(PROBE_TOPIC.to_owned()),
            destination_identities: Vec::new(),
        };
        let sent = room
            .send_data(format!("probe {sequence}").as_bytes(), options)
            .await;
        if let Err(error) = sent {
            print(json!({"event": "probeNotSent", "seq": sequence, "error": error.to_string()}));
        }
    }
}

/// Prints one JSON line; a closed stdout (the reader went away) is not an error.
fn print(line: Value) {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{line}").and_then(|()| stdout.flush());
}

/// One event line: the event as the app's timeline shows it, with its time.
fn describe(event: &RoomEvent) -> Value {
    let mut line = convene_call::describe_event(event);
    line["atMs"] = json!(convene_room::clock::unix_now_millis());
    line
}

/// Counts a subscribed track's packets until it ends.
async fn count_packets(mut track: RemoteTrack, total: Arc<AtomicU64>) {
    while track.recv().await.is_some() {
        total.fetch_add(1, Ordering::Relaxed);
    }
}

/// Writes Opus silence every 20 ms until the process ends.
async fn publish_silence(track: LocalTrack) {
    let mut tick = tokio::time::interval(OPUS_SILENCE_FRAME_DURATION);
    loop {
        tick.tick().await;
        let frame = Bytes::from_static(&OPUS_SILENCE_FRAME);
        if let Err(error) = track.write_frame(frame, OPUS_SILENCE_FRAME_DURATION).await {
            tracing::debug!(%error, "silence frame not sent");
        }
    }
}

/// Resolves on Ctrl+C, SIGTERM, or (when `watch_stdin`) when stdin reaches its end.
async fn leave_requested(watch_stdin: bool) {
    let stdin_closed = async {
        if !watch_stdin {
            return std::future::pending::<()>().await;
        }
        let mut sink = [0u8; 256];
        let mut stdin = tokio::io::stdin();
        while matches!(stdin.read(&mut sink).await, Ok(n) if n > 0) {}
    };
    #[cfg(unix)]
    let terminated = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminated = std::future::pending::<()>();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = stdin_closed => {}
        () = terminated => {}
    }
}

async fn run_events(mut events: RoomEvents, total: Arc<AtomicU64>) {
    while let Some(event) = events.recv().await {
        print(describe(&event));
        match event {
            RoomEvent::TrackSubscribed(track) => {
                tokio::spawn(count_packets(track, Arc::clone(&total)));
            }
            RoomEvent::Disconnected(_) => return,
            _ => {}
        }
    }
}

/// Runs the participant until it leaves or is disconnected.
pub async fn join(args: JoinArgs) -> Result<String, String> {
    let options = RoomOptions {
        bind_addrs: vec![args.bind],
        watch_network: args.watch_network,
        relay_only: args.relay_only,
        turn_tls_roots: args.turn_tls_roots.clone(),
        ..RoomOptions::default()
    };
    let (room, events) = Room::connect(&args.url, &args.token, options)
        .await
        .map_err(|e| format!("cannot join: {e}"))?;
    let local = room.local_participant();
    print(json!({
        "event": "connected",
        "room": room.name(),
        "identity": local.identity,
        "sid": local.sid,
        "remotes": room.remote_participants(),
    }));
    if args.publish_silence {
        let track = room
            .publish_track(LocalTrackOptions::microphone())
            .await
            .map_err(|e| format!("cannot publish: {e}"))?;
        tokio::spawn(publish_silence(track));
    }
    // Kept alive until the participant leaves.
    let _fake_media = if args.fake_media {
        let media = FakeMedia::publish(&room, FakeMediaSettings::default())
            .await
            .map_err(|e| format!("cannot publish the synthetic devices: {e}"))?;
        print(json!({
            "event": "fakeMediaPublished",
            "camera": media.camera.sid(),
            "microphone": media.microphone.sid(),
        }));
        Some(media)
    } else {
        None
    };
    if let Some(every) = args.probe_every {
        tokio::spawn(send_probes(room.clone(), every));
    }
    let total = Arc::new(AtomicU64::new(0));
    let mut events_task = tokio::spawn(run_events(events, Arc::clone(&total)));
    let mut report = tokio::time::interval(args.report_every);
    let stats_reader = convene_call::StatsReader::default();
    let leave = leave_requested(args.leave_on_stdin_end);
    tokio::pin!(leave);
    loop {
        tokio::select! {
            _ = &mut events_task => return Ok(json!({"event": "ended"}).to_string()),
            () = &mut leave => {
                room.disconnect().await;
                let _ = tokio::time::timeout(Duration::from_secs(2), events_task).await;
                return Ok(json!({"event": "left"}).to_string());
            }
            _ = report.tick() => {
                print(json!({
                    "event": "media",
                    "packets": total.load(Ordering::Relaxed),
                    "atMs": convene_room::clock::unix_now_millis(),
                }));
                if args.stats {
                    let (stats, publisher, subscriber) = stats_reader.read(&room).await;
                    print(json!({
                        "event": "stats",
                        "stats": stats,
                        "publisherBitrates": publisher,
                        "subscriberBitrates": subscriber,
                    }));
                }
            }
        }
    }
}
