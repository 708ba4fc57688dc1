//! Four video tiles: what the app's side of a call costs to show four participants'
//! 640x360@30 cameras.
//!
//! `cargo bench -p convene-call --bench tiles`. The room server and the four publishers
//! (test pattern, VP8) run as child processes (this same binary in another role), so this
//! process holds only what the app runs for the tiles: a `CallSession` receiving and
//! decoding four tracks, the `FrameServer`, and four WebSocket clients standing in for the
//! webview's tiles, each subscribed at 640x360. Printed: pictures per second delivered to
//! each tile, capture-to-tile latency (read from the pattern's stamp), and this process's
//! CPU and memory.

#[path = "roles/mod.rs"]
mod roles;

use std::io::{BufRead, BufReader, Write};
use std::process::Child;
use std::sync::Arc;
use std::time::{Duration, Instant};

use roles::{child, first_line, now_ms, wait_for_stdin_to_close};

use convene_call::{CallOptions, CallSession, FrameServer, VideoRegistry};
use convene_media::synthetic::TestPattern;
use convene_media::video::I420Frame;
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

const ROLE_ENV: &str = "CONVENE_TILES_ROLE";
const TILES: usize = 4;
const WARM_UP: Duration = Duration::from_secs(3);
const MEASURE: Duration = Duration::from_secs(10);
const TILE: (u16, u16) = (640, 360);

fn main() {
    // `cargo bench` passes `--bench`; the role comes from the environment.
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    match std::env::var(ROLE_ENV).as_deref() {
        Ok("server") => runtime.block_on(serve()),
        Ok("publisher") => runtime.block_on(publish()),
        _ => runtime.block_on(measure()),
    }
}

/// Child role: the room server; prints its URL and a token per identity, runs until stdin
/// closes.
async fn serve() {
    let server = convene_testkit::start_server(Duration::from_secs(15)).await;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", server.url()).expect("stdout");
    for identity in identities() {
        let token = server.token("tiles", &identity, 3600).expect("token");
        writeln!(out, "{identity} {}", token.expose()).expect("stdout");
    }
    out.flush().expect("stdout");
    drop(out);
    wait_for_stdin_to_close().await;
    server.shutdown().await;
}

/// Child role: a participant publishing the test pattern (and tone) until stdin closes.
async fn publish() {
    let url = std::env::var("TILES_URL").expect("TILES_URL");
    let token = std::env::var("TILES_TOKEN").expect("TILES_TOKEN");
    roles::publish_pattern(&url, &token).await;
}

fn identities() -> Vec<String> {
    let mut names = vec!["viewer".to_owned()];
    names.extend((0..TILES).map(|n| format!("camera-{n}")));
    names
}

/// Reads the whole of a child's announcement: the server's URL and tokens.
fn read_server(child: &mut Child) -> (String, Vec<(String, String)>) {
    let stdout = child.stdout.take().expect("piped");
    let mut lines = BufReader::new(stdout).lines();
    let url = lines.next().expect("url").expect("read");
    let tokens = (0..=TILES)
        .map(|_| {
            let line = lines.next().expect("token").expect("read");
            let (identity, token) = line.split_once(' ').expect("identity token");
            (identity.to_owned(), token.to_owned())
        })
        .collect();
    (url, tokens)
}

/// CPU seconds used by this process so far (user + system).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // Fields 14 and 15 of the file (utime, stime) are 11 and 12 after the name; USER_HZ
    // is 100 on Linux.
    let ticks = |n: usize| {
        fields
            .get(n)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

fn resident_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| {
            value
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<f64>()
                .ok()
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

/// What one tile saw while measuring.
#[derive(Default)]
struct TileCount {
    pictures: u64,
    latencies_ms: Vec<u64>,
}

/// Parses a frame-server message back into a picture (see `FrameServer`'s protocol).
fn picture(message: &[u8]) -> Option<I420Frame> {
    let sid_len = usize::from(*message.first()?);
    let header = 1 + sid_len + 4;
    let size = message.get(1 + sid_len..header)?;
    let width = usize::from(u16::from_le_bytes([size[0], size[1]]));
    let height = usize::from(u16::from_le_bytes([size[2], size[3]]));
    let planes = message.get(header..)?;
    let luma = width * height;
    let chroma = luma / 4;
    if planes.len() < luma + 2 * chroma {
        return None;
    }
    Some(I420Frame {
        width,
        height,
        y: planes[..luma].to_vec(),
        u: planes[luma..luma + chroma].to_vec(),
        v: planes[luma + chroma..luma + 2 * chroma].to_vec(),
    })
}

async fn run_tile(
    url: String,
    sid: String,
    measuring: Arc<tokio::sync::watch::Receiver<bool>>,
) -> TileCount {
    let (mut socket, _) = tokio_tungstenite::connect_async(url.as_str())
        .await
        .expect("connect to the frame server");
    let request = serde_json::json!({"subscribe": sid, "width": TILE.0, "height": TILE.1});
    socket
        .send(Message::Text(request.to_string().into()))
        .await
        .expect("subscribe");
    let pattern = TestPattern::new(640, 360);
    let mut count = TileCount::default();
    let mut done = (*measuring).clone();
    loop {
        tokio::select! {
            message = socket.next() => {
                let Some(Ok(Message::Binary(bytes))) = message else { break };
                if !*done.borrow() {
                    continue;
                }
                count.pictures += 1;
                if let Some(stamp) = picture(&bytes).and_then(|frame| pattern.read(&frame)) {
                    let now = now_ms() & ((1 << 40) - 1);
                    count.latencies_ms.push(now.saturating_sub(stamp.captured_ms));
                }
            }
            changed = done.changed() => {
                if changed.is_err() || !*done.borrow() {
                    break;
                }
            }
        }
    }
    count
}

async fn measure() {
    let mut server = child(ROLE_ENV, "server", &[]);
    let (url, tokens) = read_server(&mut server);
    let mut publishers: Vec<Child> = tokens
        .iter()
        .filter(|(identity, _)| identity != "viewer")
        .map(|(_, token)| {
            child(
                ROLE_ENV,
                "publisher",
                &[("TILES_URL", &url), ("TILES_TOKEN", token)],
            )
        })
        .collect();
    for publisher in &mut publishers {
        assert_eq!(first_line(publisher), "ready");
    }

    let viewer_token = &tokens
        .iter()
        .find(|(id, _)| id == "viewer")
        .expect("viewer")
        .1;
    let options = CallOptions {
        microphone: false,
        camera: false,
        speaker: false,
        ..CallOptions::default()
    };
    let session = CallSession::join(
        &url,
        viewer_token,
        options,
        convene_testkit::loopback_options(),
        Arc::new(|_| {}),
    )
    .await
    .expect("the viewer joins");
    let registry: VideoRegistry = session.videos();
    let deadline = Instant::now() + Duration::from_secs(30);
    let sids = loop {
        let sids = registry.sids();
        if sids.len() == TILES {
            break sids;
        }
        assert!(
            Instant::now() < deadline,
            "only {} video tracks",
            sids.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let frames = FrameServer::start(Arc::new(registry.clone()))
        .await
        .expect("frame server");

    let (start_tx, start_rx) = tokio::sync::watch::channel(false);
    let start_rx = Arc::new(start_rx);
    let tiles: Vec<_> = sids
        .iter()
        .map(|sid| tokio::spawn(run_tile(frames.url(), sid.clone(), start_rx.clone())))
        .collect();
    tokio::time::sleep(WARM_UP).await;
    let (cpu_before, started) = (cpu_seconds(), Instant::now());
    start_tx.send_replace(true);
    tokio::time::sleep(MEASURE).await;
    start_tx.send_replace(false);
    let (cpu, elapsed) = (cpu_seconds() - cpu_before, started.elapsed().as_secs_f64());
    let rss = resident_mib();

    println!("four tiles of 640x360@30 (VP8 decode + frame server + 4 tile sockets), {MEASURE:?}:");
    let mut all_latencies = Vec::new();
    for tile in tiles {
        let mut count = tile.await.expect("tile");
        count.latencies_ms.sort_unstable();
        let median = count
            .latencies_ms
            .get(count.latencies_ms.len() / 2)
            .copied();
        println!(
            "  tile: {:.1} pictures/s, capture-to-tile latency median {} ms",
            count.pictures as f64 / elapsed,
            median.map_or("?".to_owned(), |ms| ms.to_string())
        );
        all_latencies.extend(count.latencies_ms);
    }
    all_latencies.sort_unstable();
    let percentile = |p: f64| {
        all_latencies
            .get(((all_latencies.len() as f64 - 1.0) * p) as usize)
            .copied()
            .unwrap_or(0)
    };
    println!(
        "  latency over all tiles: median {} ms, p95 {} ms",
        percentile(0.5),
        percentile(0.95)
    );
    println!(
        "  this process: {:.0} % of one core, {rss:.0} MiB resident",
        100.0 * cpu / elapsed
    );

    drop(frames);
    session.leave().await;
    for mut process in publishers.into_iter().chain(std::iter::once(server)) {
        drop(process.stdin.take());
        let _ = process.wait();
    }
}
