//! Convene's client beside the official LiveKit clients, on the same local server in the
//! same run: `cargo bench -p convene-call --bench clients` (about 6 minutes; results in
//! docs/BENCHMARKS.md).
//!
//! The room server and a publisher (the 640x360@30 VP8 test pattern with its capture-time
//! stamp, and a tone) run as child processes of this binary. Each client runs as a child
//! too (see `peer.rs`), one at a time, and is measured from outside:
//!
//! - connect: `connect()` to connected, as each SDK defines it (its own clock);
//! - first frame: from `connect()` to the first decoded picture of the publisher;
//! - glass to glass: capture stamp (drawn in the picture) to decode, median per run;
//! - reconnect: the client's signaling goes through a proxy that drops it and refuses it for
//!   1 s; time from the drop to the client's `Reconnected`;
//! - call: 30 s of a two-party 640x360@30 call (the client publishes its own camera and
//!   microphone and receives the publisher's): CPU and peak memory (proportional set size,
//!   so libraries shared between processes count once) of the client's process tree (for
//!   the browser: Chromium's processes, not the Node driver).
//!
//! Set `BENCH_RUNS` (default 5) for the timed runs and `BENCH_CALL_SECONDS` (default 30);
//! `BENCH_CLIENTS=convene,python` measures some clients only; `BENCH_CAPACITY=0` skips the
//! server's part (`capacity.rs`).

#[path = "../roles/mod.rs"]
mod roles;

mod capacity;
mod convene_peer;
mod peer;
mod usage;

use std::io::Write;
use std::time::{Duration, Instant};

use convene_devserver::DevServerConfig;
use convene_room::AccessToken;
use serde_json::{Value, json};

use peer::{Client, Peer, PeerRun};
use roles::{first_line, now_ms, wait_for_stdin_to_close};

const ROLE_ENV: &str = "CONVENE_BENCH_ROLE";
const ROOM: &str = "bench";
const PUBLISHER: &str = "publisher";
const SIGNAL_DROP: Duration = Duration::from_secs(1);

fn main() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    match std::env::var(ROLE_ENV).as_deref() {
        Ok("server") => runtime.block_on(serve()),
        Ok("publisher") => runtime.block_on(publish()),
        Ok("convene-peer") => runtime.block_on(convene_peer::run()),
        Ok("replay-publishers") => runtime.block_on(capacity::replay_publishers()),
        Ok("watchers") => runtime.block_on(capacity::watchers()),
        _ => runtime.block_on(measure()),
    }
}

/// Glass-to-glass samples of one run.
#[derive(Debug, Clone, Default)]
pub struct Latencies(Vec<u64>);

impl Latencies {
    /// Adds the latency of a picture stamped `captured_ms` (low 40 bits) seen at `now`.
    pub fn add(&mut self, now: u64, captured_ms: u64) {
        let latency = (now & ((1 << 40) - 1)).wrapping_sub(captured_ms) & ((1 << 40) - 1);
        if latency <= 10_000 {
            self.0.push(latency);
        }
    }

    /// The `latency` JSON line.
    pub fn line(&self) -> Value {
        let mut sorted = self.0.clone();
        sorted.sort_unstable();
        let at = |p: f64| {
            sorted
                .get(((sorted.len() as f64 - 1.0) * p) as usize)
                .copied()
        };
        json!({ "event": "latency", "count": sorted.len(), "median_ms": at(0.5), "p95_ms": at(0.95) })
    }
}

/// Child role: the room server; prints its URL, runs until stdin closes.
async fn serve() {
    let server = convene_testkit::start_server(Duration::from_secs(15)).await;
    println!("{}", server.url());
    wait_for_stdin_to_close().await;
    server.shutdown().await;
}

/// Child role: the publisher everyone watches.
async fn publish() {
    let url = std::env::var("BENCH_URL").expect("BENCH_URL");
    let token = std::env::var("BENCH_TOKEN").expect("BENCH_TOKEN");
    roles::publish_pattern(&url, &token).await;
}

/// Starts this binary in `role`.
fn child(role: &str, env: &[(&str, &str)]) -> std::process::Child {
    roles::child(ROLE_ENV, role, env)
}

fn token(identity: &str) -> String {
    token_in(ROOM, identity)
}

/// A token for `identity` in `room`, signed with the local server's default key.
fn token_in(room: &str, identity: &str) -> String {
    let config = DevServerConfig::default();
    AccessToken::new(&config.api_key, &config.api_secret)
        .identity(identity)
        .name(identity)
        .room_join(room)
        .ttl_secs(3600)
        .sign(convene_room::clock::unix_now_secs())
        .expect("token")
        .expose()
        .to_owned()
}

fn env_number(key: &str, default: u64) -> u64 {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// What was measured for one client.
#[derive(Debug, Default)]
struct Figures {
    connect_ms: Vec<f64>,
    first_frame_ms: Vec<f64>,
    glass_ms: Vec<f64>,
    reconnect_ms: Vec<f64>,
    call_cpu_percent: Option<f64>,
    call_peak_mib: Option<f64>,
    call_glass_ms: Option<f64>,
    /// Runs that failed (a peer that never saw the picture, …), by name.
    failed: Vec<String>,
}

type SharedFigures = std::sync::Arc<std::sync::Mutex<Figures>>;

/// Runs one measurement on its own task: a run that fails (its peer panics the task) is
/// counted, and the bench goes on.
async fn attempt(
    figures: &SharedFigures,
    what: String,
    run: impl Future<Output = ()> + Send + 'static,
) {
    if let Err(error) = tokio::spawn(run).await {
        eprintln!("  {what} failed: {error}");
        figures.lock().expect("figures").failed.push(what);
    }
}

fn median(values: &[f64]) -> Option<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted.get(sorted.len() / 2).copied()
}

async fn measure() {
    let runs = env_number("BENCH_RUNS", 5);
    let call_seconds = env_number("BENCH_CALL_SECONDS", 30);
    let clients: Vec<Client> = match std::env::var("BENCH_CLIENTS") {
        Ok(list) => Client::ALL
            .into_iter()
            .filter(|c| list.split(',').any(|name| name.trim() == c.tag()))
            .collect(),
        Err(_) => Client::ALL.to_vec(),
    };

    let mut server = child("server", &[]);
    let url = first_line(&mut server);
    let signal_target: std::net::SocketAddr = url
        .trim_start_matches("ws://")
        .parse()
        .expect("the server's address");
    let publisher_token = token(PUBLISHER);
    let mut publisher = child(
        "publisher",
        &[("BENCH_URL", &url), ("BENCH_TOKEN", &publisher_token)],
    );
    assert_eq!(first_line(&mut publisher), "ready");

    let mut results = Vec::new();
    for client in clients {
        eprintln!("measuring {}", client.name());
        let shared = SharedFigures::default();
        for n in 0..runs {
            let run = timed_join(client, url.clone(), n, shared.clone());
            attempt(&shared, format!("join {n}"), run).await;
        }
        for n in 0..runs {
            let run = reconnect(client, signal_target, n, shared.clone());
            attempt(&shared, format!("reconnect {n}"), run).await;
        }
        let run = call(client, url.clone(), call_seconds, shared.clone());
        attempt(&shared, "call".to_owned(), run).await;
        let figures = std::mem::take(&mut *shared.lock().expect("figures"));
        eprintln!("  {figures:?}");
        results.push((client, figures));
    }

    print_table(&results, runs, call_seconds);
    drop(publisher.stdin.take());
    let _ = publisher.wait();
    if std::env::var("BENCH_CAPACITY").as_deref() != Ok("0") {
        eprintln!("measuring the local server");
        let mut step = 0;
        let steps = capacity::measure(&url, server.id(), &mut step);
        capacity::print(&steps);
    }
    drop(server.stdin.take());
    let _ = server.wait();
}

/// Join, first frame, glass to glass (a few seconds of pictures), leave.
async fn timed_join(client: Client, url: String, n: u64, figures: SharedFigures) {
    let identity = format!("{}-join-{n}", client.tag());
    let token = token(&identity);
    let run = PeerRun {
        url: &url,
        token: &token,
        from: PUBLISHER,
        publish: false,
        duration: Duration::from_secs(60),
    };
    let mut peer = Peer::start(client, &run).await;
    let connected = peer.wait_for("connected", Duration::from_secs(30)).await;
    let first = peer.wait_for("first_frame", Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let latency = peer.finish().await;
    let mut figures = figures.lock().expect("figures");
    figures.connect_ms.extend(connected["connect_ms"].as_f64());
    figures
        .first_frame_ms
        .extend(first["since_connect_start_ms"].as_f64());
    figures
        .glass_ms
        .extend(latency.and_then(|l| l["median_ms"].as_f64()));
}

/// Signaling dropped for 1 s behind a proxy; time to `reconnected`.
async fn reconnect(client: Client, target: std::net::SocketAddr, n: u64, figures: SharedFigures) {
    let proxy = convene_testkit::SignalProxy::start(target).await;
    let identity = format!("{}-reconnect-{n}", client.tag());
    let token = token(&identity);
    let url = proxy.url();
    let run = PeerRun {
        url: &url,
        token: &token,
        from: PUBLISHER,
        publish: false,
        duration: Duration::from_secs(90),
    };
    let mut peer = Peer::start(client, &run).await;
    peer.wait_for("first_frame", Duration::from_secs(30)).await;
    let dropped_at = now_ms();
    proxy.cut_for(SIGNAL_DROP);
    let back = peer.wait_for("reconnected", Duration::from_secs(60)).await;
    // Python's clock is a float, the others' whole milliseconds.
    if let Some(at) = back["at_ms"].as_f64() {
        let mut figures = figures.lock().expect("figures");
        figures.reconnect_ms.push(at - dropped_at as f64);
    }
    peer.finish().await;
}

/// A two-party call: CPU and peak memory of the client's processes.
async fn call(client: Client, url: String, seconds: u64, figures: SharedFigures) {
    let identity = format!("{}-call", client.tag());
    let token = token(&identity);
    let run = PeerRun {
        url: &url,
        token: &token,
        from: PUBLISHER,
        publish: true,
        duration: Duration::from_secs(seconds + 30),
    };
    let mut peer = Peer::start(client, &run).await;
    peer.wait_for("first_frame", Duration::from_secs(30)).await;
    let (pid, skip_root) = (peer.pid(), peer.root_is_driver());
    // Settle: publishing started, encoders warmed up.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let before = usage::tree_usage(pid, skip_root);
    let started = Instant::now();
    let mut peak = before.memory_mib;
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    while started.elapsed() < Duration::from_secs(seconds) {
        tick.tick().await;
        peak = peak.max(usage::tree_usage(pid, skip_root).memory_mib);
    }
    let after = usage::tree_usage(pid, skip_root);
    let elapsed = started.elapsed().as_secs_f64();
    let latency = peer.finish().await;
    let mut figures = figures.lock().expect("figures");
    figures.call_cpu_percent = Some(100.0 * (after.cpu_seconds - before.cpu_seconds) / elapsed);
    figures.call_peak_mib = Some(peak);
    figures.call_glass_ms = latency.and_then(|l| l["median_ms"].as_f64());
}

fn print_table(results: &[(Client, Figures)], runs: u64, call_seconds: u64) {
    let convene = results
        .iter()
        .find(|(client, _)| *client == Client::Convene)
        .map(|(_, f)| f);
    let cell = |value: Option<f64>, unit: &str, ours: Option<f64>| match (value, ours) {
        (Some(v), Some(o)) if o > 0.0 && v > 0.0 => format!("{v:.0} {unit} ({:.2}x)", v / o),
        (Some(v), _) => format!("{v:.0} {unit}"),
        (None, _) => "-".to_owned(),
    };
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "\nmedians of {runs} runs (ratio: the client's figure / Convene's); call: {call_seconds} s\n"
    );
    let _ = writeln!(
        out,
        "| client | connect | first frame | glass to glass | reconnect after 1 s signal drop | call CPU (one core = 100 %) | call peak memory | glass to glass in the call | failed runs |"
    );
    let _ = writeln!(
        out,
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
    );
    for (client, f) in results {
        let ours = |pick: fn(&Figures) -> Option<f64>| convene.and_then(pick);
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            client.name(),
            cell(median(&f.connect_ms), "ms", ours(|c| median(&c.connect_ms))),
            cell(
                median(&f.first_frame_ms),
                "ms",
                ours(|c| median(&c.first_frame_ms))
            ),
            cell(median(&f.glass_ms), "ms", ours(|c| median(&c.glass_ms))),
            cell(
                median(&f.reconnect_ms),
                "ms",
                ours(|c| median(&c.reconnect_ms))
            ),
            cell(f.call_cpu_percent, "%", ours(|c| c.call_cpu_percent)),
            cell(f.call_peak_mib, "MiB", ours(|c| c.call_peak_mib)),
            cell(f.call_glass_ms, "ms", ours(|c| c.call_glass_ms)),
            if f.failed.is_empty() {
                "none".to_owned()
            } else {
                f.failed.join(", ")
            },
        );
    }
    let _ = writeln!(
        out,
        "\nraw: {}",
        json!(
            results
                .iter()
                .map(|(client, f)| json!({
                    "client": client.tag(),
                    "connect_ms": f.connect_ms,
                    "first_frame_ms": f.first_frame_ms,
                    "glass_ms": f.glass_ms,
                    "reconnect_ms": f.reconnect_ms,
                    "call_cpu_percent": f.call_cpu_percent,
                    "call_peak_mib": f.call_peak_mib,
                    "call_glass_ms": f.call_glass_ms,
                    "failed": f.failed,
                }))
                .collect::<Vec<_>>()
        )
    );
}
