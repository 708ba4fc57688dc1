//! `convene-cli join --stats`: the diagnostics as JSON lines. Joined to a local server with
//! the synthetic devices, it prints the path in use (a host UDP pair on loopback), the
//! streams it sends and the bitrate; every event line carries its time.

use std::process::Stdio;
use std::time::Duration;

use convene_testkit::start_server;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

const WAIT: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_prints_the_connection_stats_as_json() {
    let server = start_server(Duration::from_secs(15)).await;
    let token = server.token("stats", "qa", 600).expect("token");
    let mut child = Command::new(env!("CARGO_BIN_EXE_convene-cli"))
        .args(["join", "--url", &server.url(), "--bind", "127.0.0.1:0"])
        .args([
            "--no-watch-network",
            "--fake-media",
            "--stats",
            "--report-ms",
            "300",
        ])
        .arg("--leave-on-stdin-end")
        .env("CONVENE_TOKEN", token.expose())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start convene-cli join");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut next_line = async || -> Value {
        let line = tokio::time::timeout(WAIT, lines.next_line())
            .await
            .expect("a line in time")
            .expect("read")
            .expect("still running");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"))
    };

    let mut timed_events = 0;
    let stats = loop {
        let line = next_line().await;
        match line["event"].as_str() {
            Some("stats") if line["publisherBitrates"]["sent"].as_f64() > Some(10_000.0) => {
                break line;
            }
            Some("localTrackPublished") => {
                assert!(line["atMs"].as_i64() > Some(1_700_000_000_000), "{line}");
                timed_events += 1;
            }
            _ => {}
        }
    };
    assert_eq!(
        timed_events, 2,
        "camera and microphone published, with their time"
    );
    let publisher = &stats["stats"]["publisher"];
    assert_eq!(publisher["path"]["local"]["kind"], "host", "{stats}");
    assert_eq!(publisher["path"]["local"]["protocol"], "udp", "{stats}");
    let sent_kinds: Vec<&str> = publisher["streams"]
        .as_array()
        .expect("streams")
        .iter()
        .filter(|s| s["direction"] == "outbound" && s["packets"].as_u64() > Some(0))
        .filter_map(|s| s["kind"].as_str())
        .collect();
    assert!(
        sent_kinds.contains(&"audio") && sent_kinds.contains(&"video"),
        "{stats}"
    );

    drop(child.stdin.take());
    loop {
        if next_line().await["event"] == "left" {
            break;
        }
    }
    server.shutdown().await;
}
