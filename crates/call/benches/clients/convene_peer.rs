//! The `convene-peer` role: Convene's client under test, speaking the bench peers' JSON
//! lines. It joins with `CallSession` (the app's call: `convene-room` + decoding in
//! `convene-call`), publishes the test pattern and tone with `BENCH_PUBLISH=1`, times
//! `connect` and the first decoded picture of `BENCH_FROM`, and reads the capture stamp of
//! every picture it sees.

use std::sync::Arc;
use std::time::{Duration, Instant};

use convene_call::{
    CallEvent, CallOptions, CallSession, FakeMedia, FakeMediaSettings, VideoSources,
};
use convene_media::synthetic::TestPattern;
use serde_json::json;

use super::{Latencies, now_ms};

fn say(value: serde_json::Value) {
    println!("{value}");
}

/// Runs until `BENCH_DURATION` seconds after connecting or stdin closes.
pub async fn run() {
    let env = |key: &str| std::env::var(key).unwrap_or_else(|_| panic!("{key}"));
    let (url, token) = (env("BENCH_URL"), env("BENCH_TOKEN"));
    let publish = env("BENCH_PUBLISH") == "1";
    let duration = Duration::from_secs_f64(env("BENCH_DURATION").parse().expect("seconds"));
    say(json!({ "event": "ready" }));

    let sink: convene_call::CallEventSink = Arc::new(|event| match event {
        CallEvent::Reconnecting { .. } => {
            say(json!({ "event": "reconnecting", "at_ms": now_ms() }));
        }
        CallEvent::Reconnected => say(json!({ "event": "reconnected", "at_ms": now_ms() })),
        CallEvent::Disconnected { reason, .. } => {
            say(
                json!({ "event": "disconnected", "at_ms": now_ms(), "reason": format!("{reason:?}") }),
            );
        }
        _ => {}
    });
    let options = CallOptions {
        microphone: false,
        camera: false,
        speaker: false,
        ..CallOptions::default()
    };
    let started = Instant::now();
    let session = match CallSession::join(
        &url,
        &token,
        options,
        convene_testkit::loopback_options(),
        sink,
    )
    .await
    {
        Ok(session) => session,
        Err(error) => {
            say(json!({ "event": "error", "message": error.to_string() }));
            std::process::exit(1);
        }
    };
    say(json!({
        "event": "connected",
        "connect_ms": started.elapsed().as_secs_f64() * 1000.0,
        "at_ms": now_ms(),
    }));
    let _media = if publish {
        Some(
            FakeMedia::publish(session.room(), FakeMediaSettings::default())
                .await
                .expect("publish the test pattern"),
        )
    } else {
        None
    };

    let (reading, latencies) = read_pictures(session.videos(), started);
    let stdin_closed = tokio::task::spawn_blocking(|| {
        let mut sink = Vec::new();
        let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut sink);
    });
    tokio::select! {
        () = reading => {}
        () = tokio::time::sleep_until((started + duration).into()) => {}
        _ = stdin_closed => {}
    }
    let latencies = latencies.lock().expect("latencies").clone();
    session.leave().await;
    say(latencies.line());
    say(json!({ "event": "done" }));
    std::process::exit(0);
}

/// Waits for the first video track, says `first_frame`, then reads every picture's stamp
/// (a `latency` line every 5 s) until the call ends; the shared latencies are readable at
/// any time.
fn read_pictures(
    videos: convene_call::VideoRegistry,
    started: Instant,
) -> (impl Future<Output = ()>, Arc<std::sync::Mutex<Latencies>>) {
    let shared = Arc::new(std::sync::Mutex::new(Latencies::default()));
    let kept = shared.clone();
    let reading = async move {
        let mut additions = videos.additions();
        let mut feed = loop {
            if let Some(sid) = videos.sids().first()
                && let Some(feed) = videos.find(sid)
            {
                break feed;
            }
            if additions.changed().await.is_err() {
                return;
            }
        };
        let pattern = TestPattern::new(640, 360);
        let mut first = true;
        let mut last_report = Instant::now();
        while feed.changed().await.is_ok() {
            let Some(picture) = feed.borrow_and_update().clone() else {
                continue;
            };
            let now = now_ms();
            if first {
                first = false;
                say(json!({
                    "event": "first_frame",
                    "since_connect_start_ms": started.elapsed().as_secs_f64() * 1000.0,
                    "at_ms": now,
                }));
            }
            if let Some(stamp) = pattern.read(&picture.frame) {
                kept.lock().expect("latencies").add(now, stamp.captured_ms);
            }
            if last_report.elapsed() >= Duration::from_secs(5) {
                last_report = Instant::now();
                say(kept.lock().expect("latencies").line());
            }
        }
    };
    (reading, shared)
}
