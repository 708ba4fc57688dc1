//! The reliability figures of docs/RELIABILITY.md (a measurement, ignored by `cargo test`;
//! run `scripts/reliability.sh`, as root). Each scenario runs in a fresh network lab
//! (`scripts/netlab.sh`): the server and a publisher (Opus silence, a numbered reliable data
//! message every 100 ms) on the server side, the participant under test (`convene-cli join`,
//! watching its network) on the client side. Measured from the participant's JSON lines:
//! how it reconnected, the time from the change to `reconnected`, the longest gap between
//! received audio packets, and whether any data message or track was lost.

mod support;

use std::fmt::Write as _;
use std::time::Duration;

use serde_json::Value;
use support::{Lab, lab_available, lab_with_flowing_media, packets, wait_line};
use tokio::sync::mpsc;

/// How long a scenario may take to come back before it counts as failed.
const RECOVERY_LIMIT: Duration = Duration::from_secs(60);
/// How long media must flow after recovery for the scenario to end.
const SETTLE: Duration = Duration::from_secs(3);

/// What happens to the network in a scenario.
#[derive(Clone, Copy)]
enum Change {
    /// WiFi down for this long, then up.
    Flap(Duration),
    /// WiFi gone for good: traffic must move to the cellular path.
    WifiToCellular,
    /// UDP blocked from now on (only TCP gets through).
    UdpBlocked,
    /// The server is killed and started again on the same address.
    ServerRestart,
    /// This share of the UDP dropped each way for 10 s, then none.
    Loss(u8),
}

struct Outcome {
    scenario: String,
    reconnect: String,
    to_reconnected_ms: Option<i64>,
    media_gap_ms: i64,
    probes_lost: u64,
    track_lost: bool,
}

fn at_ms(line: &Value) -> Option<i64> {
    line["atMs"].as_i64()
}

fn probe_number(line: &Value) -> Option<u64> {
    (line["event"] == "data" && line["topic"] == "convene-probe")
        .then(|| line["text"].as_str()?.strip_prefix("probe ")?.parse().ok())
        .flatten()
}

/// Applies `change`; returns when it started (ms since the epoch).
async fn apply(change: Change, lab: &mut Lab) -> i64 {
    let started = convene_room::clock::unix_now_millis();
    match change {
        Change::Flap(outage) => {
            lab.run(&["link", "wifi", "down"]);
            tokio::time::sleep(outage).await;
            lab.run(&["link", "wifi", "up"]);
        }
        Change::WifiToCellular => lab.run(&["link", "wifi", "gone"]),
        Change::UdpBlocked => lab.run(&["block-udp", "on"]),
        Change::ServerRestart => {
            lab.kill(0);
            // The address is free once the process is gone; start the server again.
            tokio::time::sleep(Duration::from_millis(500)).await;
            let server_ns = lab.server_ns.clone();
            let bind = format!("10.201.{}.1:7880", lab.lab);
            let _server = lab.spawn(&server_ns, &["server", "--dev", "--bind", &bind], None);
        }
        Change::Loss(percent) => {
            lab.run(&["loss", &percent.to_string(), "udp"]);
            tokio::time::sleep(Duration::from_secs(10)).await;
            lab.run(&["loss", "0"]);
        }
    }
    started
}

/// Reads the participant's lines until it has recovered (or gave up) and media flowed for
/// [`SETTLE`]; works out the figures.
async fn measure(
    name: String,
    started: i64,
    client: &mut mpsc::Receiver<Value>,
    publisher: &mut mpsc::Receiver<Value>,
    mut log: Vec<Value>,
) -> Outcome {
    let deadline = tokio::time::Instant::now() + RECOVERY_LIMIT;
    let mut settle_until: Option<tokio::time::Instant> = None;
    let mut reconnecting_seen = false;
    let mut packets_at_change: Option<u64> = None;
    loop {
        let wait_until = settle_until.map_or(deadline, |until| until.min(deadline));
        match tokio::time::timeout_at(wait_until, client.recv()).await {
            Ok(Some(line)) => {
                let event = line["event"].as_str().unwrap_or_default().to_owned();
                reconnecting_seen |= event == "reconnecting";
                // Without a reconnection, recovered means audio arriving again after the
                // change (a change that stops media without the client noticing never
                // recovers and runs into the limit).
                let after_change = at_ms(&line) > Some(started);
                if event == "media" && after_change && packets_at_change.is_none() {
                    packets_at_change = Some(packets(&line));
                }
                let recovered = event == "reconnected"
                    || (!reconnecting_seen
                        && event == "media"
                        && packets_at_change.is_some_and(|then| packets(&line) > then + 10));
                if recovered && settle_until.is_none() {
                    settle_until = Some(tokio::time::Instant::now() + SETTLE);
                }
                let ended = event == "disconnected";
                log.push(line);
                if ended {
                    break;
                }
            }
            Ok(None) | Err(_) => break,
        }
    }
    let after: Vec<&Value> = log.iter().filter(|l| at_ms(l) >= Some(started)).collect();
    let kinds: Vec<&str> = after
        .iter()
        .filter(|l| l["event"] == "reconnecting")
        .filter_map(|l| l["kind"].as_str())
        .collect();
    let reconnected = after.iter().find(|l| l["event"] == "reconnected");
    let disconnected = after.iter().any(|l| l["event"] == "disconnected");
    let reconnect = match (kinds.last(), reconnected, disconnected) {
        (_, _, true) => "disconnected".to_owned(),
        (Some(_), Some(_), _) => kinds.join(", then "),
        (Some(_), None, _) => "never reconnected".to_owned(),
        (None, _, _) => "none needed".to_owned(),
    };
    // The longest time between two `media` lines whose packet count went up.
    let mut media_gap_ms = 0;
    let mut last_growth: Option<(i64, u64)> = None;
    for line in log.iter().filter(|l| l["event"] == "media") {
        let (Some(at), count) = (at_ms(line), packets(line)) else {
            continue;
        };
        match last_growth {
            Some((then, before)) if count > before => {
                if then >= started - 1_000 {
                    media_gap_ms = media_gap_ms.max(at - then);
                }
                last_growth = Some((at, count));
            }
            None => last_growth = Some((at, count)),
            _ => {}
        }
    }
    // Audio that stopped and never came back: the gap runs to the end of the observation.
    let observed_until = log.iter().rev().find_map(at_ms);
    if let (Some((then, _)), Some(end)) = (last_growth, observed_until) {
        media_gap_ms = media_gap_ms.max(end - then.max(started - 1_000));
    }
    let last_media = log
        .iter()
        .rev()
        .find(|l| l["event"] == "media")
        .map(packets);
    let growing_at_end = last_growth.is_some_and(|(at, _)| {
        log.iter()
            .rev()
            .find_map(at_ms)
            .is_some_and(|end| end - at < 1_000)
    }) && last_media.is_some();
    // Messages the publisher could not send (it was reconnecting too) are not lost.
    let mut not_sent = std::collections::BTreeSet::new();
    while let Ok(line) = publisher.try_recv() {
        if line["event"] == "probeNotSent" {
            not_sent.extend(line["seq"].as_u64());
        }
    }
    let probes: std::collections::BTreeSet<u64> = log.iter().filter_map(probe_number).collect();
    let probes_lost = match (probes.first(), probes.last()) {
        (Some(&first), Some(&last)) => (first..=last)
            .filter(|n| !probes.contains(n) && !not_sent.contains(n))
            .count() as u64,
        _ => 0,
    };
    Outcome {
        scenario: name,
        reconnect,
        to_reconnected_ms: reconnected.and_then(|l| at_ms(l)).map(|at| at - started),
        media_gap_ms,
        probes_lost,
        track_lost: !growing_at_end,
    }
}

async fn run(name: &str, change: Change) -> Outcome {
    let support::FlowingLab {
        mut lab,
        mut client,
        mut publisher,
        mut log,
    } = lab_with_flowing_media(&["--probe-every-ms", "100"], "100").await;
    // Probes and audio flow before the change.
    wait_line(&mut client, &mut log, |l| probe_number(l).is_some()).await;
    let started = apply(change, &mut lab).await;
    measure(name.to_owned(), started, &mut client, &mut publisher, log).await
}

fn table(outcomes: &[Outcome]) -> String {
    let mut text = String::from(
        "| scenario | reconnection | change to `Reconnected` | longest audio gap | data messages lost | track lost |\n| --- | --- | ---: | ---: | ---: | --- |\n",
    );
    for o in outcomes {
        let to = o
            .to_reconnected_ms
            .map_or("-".to_owned(), |ms| format!("{:.1} s", ms as f64 / 1000.0));
        let _ = writeln!(
            text,
            "| {} | {} | {} | {:.1} s | {} | {} |",
            o.scenario,
            o.reconnect,
            to,
            o.media_gap_ms as f64 / 1000.0,
            o.probes_lost,
            if o.track_lost { "yes" } else { "no" }
        );
    }
    text
}

#[tokio::test]
#[ignore = "a measurement: scripts/reliability.sh runs it and writes docs/RELIABILITY.md"]
async fn reliability_figures() {
    assert!(
        lab_available(),
        "the reliability run needs network namespaces (root)"
    );
    let scenarios = [
        ("WiFi flap 1 s", Change::Flap(Duration::from_secs(1))),
        ("WiFi flap 5 s", Change::Flap(Duration::from_secs(5))),
        ("WiFi flap 20 s", Change::Flap(Duration::from_secs(20))),
        ("WiFi -> cellular", Change::WifiToCellular),
        ("UDP blocked mid-call", Change::UdpBlocked),
        ("server restart", Change::ServerRestart),
        ("10 % UDP loss for 10 s", Change::Loss(10)),
        ("30 % UDP loss for 10 s", Change::Loss(30)),
    ];
    let mut outcomes = Vec::new();
    for (name, change) in scenarios {
        let outcome = run(name, change).await;
        println!(
            "{}",
            table(std::slice::from_ref(&outcome))
                .lines()
                .last()
                .unwrap_or_default()
        );
        outcomes.push(outcome);
    }
    let table = table(&outcomes);
    println!("{table}");
    if let Ok(path) = std::env::var("RELIABILITY_TABLE") {
        std::fs::write(path, table).expect("write the table");
    }
}
