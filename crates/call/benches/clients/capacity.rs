//! The local server's side: how much CPU it spends per forwarded Mbit/s, and how many
//! 640x360@30 publishers and subscribers one room holds on this machine before pictures
//! are lost. Load comes from two child processes that cost little themselves: publishers
//! that replay two seconds of pre-encoded VP8 (no encoder running) and subscribers that
//! count RTP packets and frames (no decoder running). Each step has k publishers and k
//! subscribers, every subscriber receiving every publisher (k² streams).

use std::io::{BufRead, BufReader, Write};
use std::process::Child;
use std::time::Duration;

use bytes::Bytes;
use convene_media::codec::VideoEncoderSettings;
use convene_media::codec::vp8::Vp8Encoder;
use convene_media::synthetic::TestPattern;
use convene_room::Room;
use convene_room::room::{LocalTrackOptions, RoomEvent};
use serde_json::{Value, json};

use super::usage::tree_usage;
use super::{child, first_line, now_ms, token_in, wait_for_stdin_to_close};

/// The room the load runs in (not the clients' room).
const ROOM: &str = "capacity";

/// Steps of k publishers x k subscribers.
const STEPS: [usize; 11] = [1, 2, 4, 6, 8, 10, 12, 14, 16, 20, 24];
/// A stream holds if it delivers at least this share of 30 pictures per second.
const HOLDS_FPS: f64 = 28.5;
const WARM_UP: Duration = Duration::from_secs(4);
const WINDOW: Duration = Duration::from_secs(6);
const FRAME: Duration = Duration::from_micros(33_333);

/// Child role: publishers replaying pre-encoded VP8 (tokens in `BENCH_TOKENS`).
pub async fn replay_publishers() {
    let url = std::env::var("BENCH_URL").expect("BENCH_URL");
    let tokens = std::env::var("BENCH_TOKENS").expect("BENCH_TOKENS");
    let frames = encoded_loop();
    let mut rooms = Vec::new();
    for token in tokens.split(',') {
        let (room, _events) = Room::connect(&url, token, convene_testkit::loopback_options())
            .await
            .expect("a publisher joins");
        let track = room
            .publish_track(LocalTrackOptions::camera(640, 360))
            .await
            .expect("publish");
        let frames = frames.clone();
        tokio::spawn(async move {
            let mut keyframes = track.keyframe_requests();
            let mut tick = tokio::time::interval(FRAME);
            let mut n = 0;
            loop {
                tick.tick().await;
                if keyframes.has_changed().unwrap_or(false) {
                    keyframes.mark_unchanged();
                    n = 0;
                }
                let _ = track.write_frame(frames[n].clone(), FRAME).await;
                n = (n + 1) % frames.len();
            }
        });
        rooms.push(room);
    }
    println!("ready");
    wait_for_stdin_to_close().await;
    for room in rooms {
        room.disconnect().await;
    }
}

/// Two seconds of the test pattern, encoded once; the first frame is a keyframe.
fn encoded_loop() -> Vec<Bytes> {
    let mut encoder = Vp8Encoder::new(VideoEncoderSettings::for_size(640, 360)).expect("vp8");
    let mut pattern = TestPattern::new(640, 360);
    let mut frames = Vec::new();
    let mut n = 0u32;
    while frames.len() < 60 {
        let picture = pattern.next_frame(now_ms());
        if let Some(encoded) = encoder
            .encode(&picture, FRAME * n)
            .expect("encode the pattern")
        {
            frames.push(encoded.data);
        }
        n += 1;
    }
    frames
}

/// Child role: subscribers counting what they receive; a JSON line a second with each
/// video stream's frames and all bytes so far.
pub async fn watchers() {
    let url = std::env::var("BENCH_URL").expect("BENCH_URL");
    let tokens = std::env::var("BENCH_TOKENS").expect("BENCH_TOKENS");
    let counters = std::sync::Arc::new(std::sync::Mutex::new(Vec::<(u64, u64)>::new()));
    let mut rooms = Vec::new();
    for token in tokens.split(',') {
        let (room, mut events) = Room::connect(&url, token, convene_testkit::loopback_options())
            .await
            .expect("a subscriber joins");
        let counters = counters.clone();
        tokio::spawn(async move {
            while let Some(event) = events.recv().await {
                if let RoomEvent::TrackSubscribed(mut track) = event {
                    let slot = {
                        let mut all = counters.lock().expect("counters");
                        all.push((0, 0));
                        all.len() - 1
                    };
                    let counters = counters.clone();
                    tokio::spawn(async move {
                        while let Some(packet) = track.recv().await {
                            let mut all = counters.lock().expect("counters");
                            all[slot].1 += packet.payload.len() as u64 + 12;
                            if packet.marker {
                                all[slot].0 += 1;
                            }
                        }
                    });
                }
            }
        });
        rooms.push(room);
    }
    println!("ready");
    let reporting = async {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            let all = counters.lock().expect("counters").clone();
            println!(
                "{}",
                json!({
                    "at_ms": now_ms(),
                    "frames": all.iter().map(|c| c.0).collect::<Vec<_>>(),
                    "bytes": all.iter().map(|c| c.1).sum::<u64>(),
                })
            );
            let _ = std::io::stdout().flush();
        }
    };
    tokio::select! {
        () = reporting => {}
        () = wait_for_stdin_to_close() => {}
    }
    for room in rooms {
        room.disconnect().await;
    }
}

/// One step's result.
#[derive(Debug, Clone)]
pub struct Step {
    pub k: usize,
    pub streams: usize,
    pub forwarded_mbps: f64,
    pub server_cpu_percent: f64,
    pub slowest_fps: f64,
    /// CPU of the load: the replaying publishers and the counting subscribers.
    pub load_cpu_percent: f64,
}

impl Step {
    fn holds(&self) -> bool {
        self.streams == self.k * self.k && self.slowest_fps >= HOLDS_FPS
    }
}

/// Runs the steps against the server child `server_pid` at `url` until one fails.
pub fn measure(url: &str, server_pid: u32, step: &mut u32) -> Vec<Step> {
    let mut results = Vec::new();
    for k in STEPS {
        *step += 1;
        let names = |role: &str| -> String {
            (0..k)
                .map(|n| token_in(ROOM, &format!("{role}-{step}-{n}")))
                .collect::<Vec<_>>()
                .join(",")
        };
        let (publisher_tokens, watcher_tokens) = (names("load"), names("watch"));
        let mut publishers = child(
            "replay-publishers",
            &[("BENCH_URL", url), ("BENCH_TOKENS", &publisher_tokens)],
        );
        assert_eq!(first_line(&mut publishers), "ready");
        let mut watchers = child(
            "watchers",
            &[("BENCH_URL", url), ("BENCH_TOKENS", &watcher_tokens)],
        );
        let mut lines = BufReader::new(watchers.stdout.take().expect("piped")).lines();
        assert_eq!(lines.next().and_then(Result::ok).as_deref(), Some("ready"));
        // The newest report, kept by a reader thread (reports arrive every second).
        let newest = std::sync::Arc::new(std::sync::Mutex::new(Value::Null));
        let reader = {
            let newest = newest.clone();
            std::thread::spawn(move || {
                for line in lines.map_while(Result::ok) {
                    if let Ok(value) = serde_json::from_str::<Value>(&line) {
                        *newest.lock().expect("newest") = value;
                    }
                }
            })
        };
        let read = || newest.lock().expect("newest").clone();
        std::thread::sleep(WARM_UP);
        let load = |which: &Child| tree_usage(which.id(), false).cpu_seconds;
        let load_before = load(&publishers) + load(&watchers);
        let (first, cpu_before) = (read(), tree_usage(server_pid, false));
        std::thread::sleep(WINDOW);
        let last = read();
        let cpu_after = tree_usage(server_pid, false);
        let load_cpu = load(&publishers) + load(&watchers) - load_before;
        let at = |value: &Value| value["at_ms"].as_u64().unwrap_or(0) as f64 / 1000.0;
        let elapsed = (at(&last) - at(&first)).max(0.001);
        let cpu = cpu_after.cpu_seconds - cpu_before.cpu_seconds;
        let cpu_elapsed = WINDOW.as_secs_f64();
        let frames = |value: &Value| -> Vec<u64> {
            value["frames"]
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_u64).collect())
                .unwrap_or_default()
        };
        let (before, after) = (frames(&first), frames(&last));
        let slowest = after
            .iter()
            .enumerate()
            .map(|(i, n)| (n - before.get(i).copied().unwrap_or(0)) as f64 / elapsed)
            .fold(f64::INFINITY, f64::min);
        let bytes = last["bytes"].as_u64().unwrap_or(0) - first["bytes"].as_u64().unwrap_or(0);
        let result = Step {
            k,
            streams: after.len(),
            forwarded_mbps: bytes as f64 * 8.0 / elapsed / 1e6,
            server_cpu_percent: 100.0 * cpu / cpu_elapsed,
            slowest_fps: if slowest.is_finite() { slowest } else { 0.0 },
            load_cpu_percent: 100.0 * load_cpu / cpu_elapsed,
        };
        eprintln!("  capacity {result:?}");
        for mut process in [publishers, watchers] {
            drop(process.stdin.take());
            let _ = process.wait();
        }
        let _ = reader.join();
        let holds = result.holds();
        results.push(result);
        if !holds {
            break;
        }
    }
    results
}

/// The capacity table and the CPU per forwarded Mbit/s.
pub fn print(steps: &[Step]) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "\nlocal server, one room, k publishers (pre-encoded 640x360@30 VP8) x k subscribers (counting, not decoding):\n"
    );
    let _ = writeln!(
        out,
        "| k | streams forwarded | Mbit/s forwarded | server CPU (one core = 100 %) | CPU % per Mbit/s | slowest stream | load generators' CPU |"
    );
    let _ = writeln!(out, "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for step in steps {
        let _ = writeln!(
            out,
            "| {} | {} | {:.1} | {:.0} % | {:.2} | {:.1} pictures/s | {:.0} % |",
            step.k,
            step.streams,
            step.forwarded_mbps,
            step.server_cpu_percent,
            step.server_cpu_percent / step.forwarded_mbps.max(0.001),
            step.slowest_fps,
            step.load_cpu_percent
        );
    }
    let held = steps.iter().filter(|s| s.holds()).map(|s| s.k).max();
    let _ = writeln!(
        out,
        "\nmost publishers x subscribers held with every stream at >= {HOLDS_FPS} pictures/s: {}",
        held.map_or("none".to_owned(), |k| format!("{k} x {k}"))
    );
}
